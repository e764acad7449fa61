"""Checks and plumbing shared by the band-excitation functions: the spectral axis, units, blocks, results.

Each helper turns one input into what the numerics need or raises a pycrox error that says what
was found and what to do; `run_blocks` applies a numpy block function to every pixel of a
DataArray (lazily on dask) and `assemble` turns the stacked columns into a labelled Dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import units
from pycrox.analysis._dims import coordinate_units, core_chunks_ok, resolve_dims
from pycrox.analysis._matrix import derived_attrs
from pycrox.analysis.be import _names
from pycrox.analysis.be._kernels import BLOCK_PIXELS, blocks, each_block, warn_unconverged
from pycrox.analysis.models import FitError
from pycrox.errors import DimensionError, UnitError

__all__ = [
    "BLOCK_PIXELS",
    "assemble",
    "axis_in",
    "blocks",
    "each_block",
    "run_blocks",
    "spectral_dim",
    "warn_unconverged",
]


def spectral_dim(da: xr.DataArray, dim: Hashable | None, func: str) -> Hashable:
    """The one dim to work along: `dim`, or the single SPECTRAL dim of `da`."""
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"{func}: expected an xarray.DataArray, got {type(da).__name__}")
    dims = resolve_dims(da, dim, default_type="SPECTRAL", func=func)
    if len(dims) != 1:
        raise DimensionError(f"{func}: works along one dim, got {list(dims)}")
    return dims[0]


def require_complex(da: xr.DataArray, func: str) -> None:
    """Raise `FitError` unless `da` holds complex numbers."""
    if not np.issubdtype(da.dtype, np.complexfloating):
        raise FitError(
            f"{func}: {da.name!r} holds real values ({da.dtype}); band-excitation fits need the complex "
            "response. Build it from amplitude and phase, e.g. amplitude * np.exp(1j * phase)"
        )


def axis_in(da: xr.DataArray, dim: Hashable, target: str, func: str) -> np.ndarray:
    """The coordinate of `dim` as float64 in the unit `target` (``"Hz"``, ``"V"``).

    Raises
    ------
    DimensionError
        If `dim` has no coordinate, or it is not finite numbers.
    UnitError
        If the coordinate has no units, or units that do not convert to `target`.
    """
    if dim not in da.coords:
        raise DimensionError(
            f"{func}: dimension {dim!r} has no coordinate; assign one in {target}, e.g. "
            f"da.assign_coords({dim}=values)"
        )
    values = np.asarray(da.coords[dim].values)
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values.astype(np.float64)).all():
        raise DimensionError(f"{func}: the coordinate of {dim!r} must be finite numbers")
    text, quantity = coordinate_units(da, dim)
    if not text:
        raise UnitError(
            f"{func}: the coordinate {dim!r} has no units; set them, e.g. "
            f"da[{dim!r}].attrs['units'] = {target!r}"
        )
    try:
        factor = float(units.ureg.Quantity(1.0, units.parse(text, quantity)).to(target).m)
    except (pint.errors.DimensionalityError, UnitError) as exc:
        raise UnitError(
            f"{func}: the coordinate {dim!r} is in {text!r}, which is not a {target} unit: {exc}"
        ) from None
    return values.astype(np.float64) * factor


def run_blocks(
    da: xr.DataArray,
    dim: Hashable,
    kernel: Callable[..., np.ndarray],
    width: int,
    start: xr.DataArray | None = None,
    **kwargs: Any,
) -> xr.DataArray:
    """Apply ``kernel(values, start, **kwargs) -> (..., width)`` along `dim`, lazily on dask.

    `start` (optional) has a core dim ``"parameter"``; the output has a core dim ``"be_output"``.
    """
    inputs: list[xr.DataArray] = [core_chunks_ok(da, [dim], "be")]
    core: list[list[Hashable]] = [[dim]]
    if start is not None:
        if da.chunks is not None and start.chunks is None:
            start = start.chunk()
        inputs.append(start)
        core.append(["parameter"])
    return xr.apply_ufunc(
        kernel,
        *inputs,
        input_core_dims=core,
        output_core_dims=[["be_output"]],
        kwargs=kwargs,
        dask="parallelized",
        dask_gufunc_kwargs={
            "output_sizes": {"be_output": width},
            "meta": np.empty((0,) * da.ndim, np.float64),  # not the complex input's
        },
    )


def threads_for(da: xr.DataArray) -> int:
    """Threads for the blocks of one kernel call: the CPUs for numpy data, 1 on dask (dask runs chunks in parallel)."""
    if da.chunks is not None:
        return 1
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def stack_start(guess: xr.Dataset, names: Sequence[str], unit_of: dict[str, str], func: str) -> xr.DataArray:
    """Per-pixel starting values from a Dataset of parameters, as one DataArray over ``parameter``.

    BGlib's field names (``"Frequency [Hz]"``, ...) are accepted for pycrox's names.
    """
    guess = guess.rename(
        {k: _names.from_bglib(str(k)) for k in guess.data_vars if _names.from_bglib(str(k)) != k}
    )
    missing = [n for n in names if n not in guess.data_vars]
    if missing:
        raise FitError(
            f"{func}: guess Dataset lacks {missing}; it has {list(guess.data_vars)}. Pass the result of "
            "the matching *_guess function, or a method name"
        )
    parts = []
    for name in names:
        var = guess[name]
        target = unit_of.get(name, "")
        have = str(var.attrs.get("units", "") or "")
        if target and have and have != target:
            factor = float(units.ureg.Quantity(1.0, units.parse(have)).to(target).m)
            var = var * factor
        parts.append(var.astype(np.float64).drop_attrs())
    return xr.concat(parts, dim="parameter", coords="minimal", compat="override").transpose(..., "parameter")


def assemble(
    da: xr.DataArray,
    stacked: xr.DataArray,
    columns: Sequence[tuple[str, str, str]],
    title: str,
) -> xr.Dataset:
    """Split ``stacked`` (core dim ``be_output``) into variables ``(name, units, description)``.

    A column named ``converged`` becomes a boolean variable.
    """
    base = str(da.attrs.get("title") or da.name or "signal")
    variables: dict[str, xr.DataArray] = {}
    for index, (name, unit, text) in enumerate(columns):
        var = stacked.isel(be_output=index, drop=True)
        if name == "converged":
            var = var > 0.5
        var.attrs = derived_attrs(da, var, title=f"{base}: {text}", units=unit, quantity="")
        variables[name] = var
    result = xr.Dataset(variables)
    result.attrs = {"title": f"{base}: {title}"}
    return result
