"""Shared plumbing of the scanning-probe tools: image dims, one-image kernels, units."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import units
from pycrox.analysis._dims import (
    coordinate_spacing,
    coordinate_units,
    float_dtype,
    map_core,
    resolve_dims,
)
from pycrox.errors import DimensionError, UnitError

__all__ = ["apply_image", "image_dims", "length_factor", "pixel_steps"]

DimArg = Hashable | Iterable[Hashable] | None


def image_dims(da: xr.DataArray, dim: DimArg, func: str) -> tuple[Hashable, Hashable]:
    """``(slow, fast)`` image dims: `dim` as given, or the two SPATIAL dims in ``da.dims`` order.

    Raises
    ------
    DimensionError
        Unknown dims, or not exactly two.
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func=func)
    if len(dims) != 2:
        raise DimensionError(
            f"{func}: needs two image dims (slow, fast), got {list(dims)}; pass dim=('y', 'x')"
        )
    return dims[0], dims[1]


def apply_image(
    kernel: Callable[..., np.ndarray],
    da: xr.DataArray,
    dims: tuple[Hashable, Hashable],
    func: str,
    **kwargs: Any,
) -> xr.DataArray:
    """Run ``kernel(values, **kwargs)`` on every ``(slow, fast)`` image of `da`, lazily on dask.

    The kernel gets a float array ``(..., slow, fast)`` and returns one of the same shape.
    Attrs and coordinates are kept; the result has the dims of `da` in their order.
    """
    if np.issubdtype(float_dtype(da.dtype), np.complexfloating):
        raise TypeError(f"{func}: works on real height data, {da.name!r} is {da.dtype}; take .real or abs()")
    return map_core(da, dims, kernel, kwargs, func)


def pixel_steps(da: xr.DataArray, dims: tuple[Hashable, Hashable], func: str) -> tuple[float, float]:
    """Absolute pixel steps along ``(slow, fast)``, the fast one in the slow dim's units when both are lengths."""
    slow, fast = dims
    step_slow = abs(coordinate_spacing(da, slow, func))
    step_fast = abs(coordinate_spacing(da, fast, func)) * length_factor(da, fast, slow)
    return step_slow, step_fast


def length_factor(da: xr.DataArray, source: Hashable, target: Hashable) -> float:
    """Factor turning `source`'s coordinate units into `target`'s (1.0 when either has none)."""
    unit_source, quantity_source = coordinate_units(da, source)
    unit_target, quantity_target = coordinate_units(da, target)
    if not unit_source or not unit_target or unit_source == unit_target:
        return 1.0
    try:
        return float(
            units.ureg.Quantity(1.0, units.parse(unit_source, quantity_source))
            .to(units.parse(unit_target, quantity_target))
            .m
        )
    except (pint.errors.DimensionalityError, UnitError) as exc:
        raise UnitError(
            f"image dims {source!r} ({unit_source!r}) and {target!r} ({unit_target!r}) have units that do "
            f"not convert into each other: {exc}"
        ) from None


def data_units(da: xr.DataArray) -> tuple[str, str]:
    """``(units, quantity)`` of the data values (empty strings when absent)."""
    return str(da.attrs.get("units", "") or ""), str(da.attrs.get("quantity", "") or "")
