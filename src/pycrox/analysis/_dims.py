"""Resolve the ``dim`` keyword of analysis functions and prepare dask chunks for core dims.

Every analysis function takes the dimensions it works on through one keyword, ``dim``: a
name, a sequence of names, or None for "the dims of the expected kind" (by the coordinates'
``dimension_type`` attribute). These helpers give one behaviour and one error wording to all.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, cast

import numpy as np
import pint
import xarray as xr

from pycrox import units
from pycrox.errors import DimensionError, NonFiniteError, UnitError

__all__ = [
    "NonFiniteError",
    "check_finite",
    "coordinate_spacing",
    "coordinate_units",
    "core_chunks_ok",
    "dims_of_type",
    "float_dtype",
    "length_in_pixels",
    "map_core",
    "per_dim",
    "quantity_in",
    "resolve_dims",
]

logger = logging.getLogger("pycrox.analysis")


def dims_of_type(da: xr.DataArray, dimension_type: str) -> tuple[Hashable, ...]:
    """Dims of `da` whose coordinate has ``attrs["dimension_type"] == dimension_type``.

    Parameters
    ----------
    da : xarray.DataArray
        Any pycrox signal.
    dimension_type : str
        A `pycrox.model.DimensionType` name, e.g. ``"SPATIAL"``.

    Returns
    -------
    tuple of hashable
        Matching dims in the order of ``da.dims``.
    """
    wanted = str(dimension_type).upper()
    found = []
    for name in da.dims:
        if name in da.coords:
            kind = da.coords[name].attrs.get("dimension_type", "")
            if str(kind).upper() == wanted:
                found.append(name)
    return tuple(found)


def _describe(da: xr.DataArray) -> str:
    """Dims with their dimension types, for error messages."""
    parts = []
    for name in da.dims:
        kind = da.coords[name].attrs.get("dimension_type", "?") if name in da.coords else "no coord"
        parts.append(f"{name!r} ({kind})")
    return "[" + ", ".join(parts) + "]"


def resolve_dims(
    da: xr.DataArray,
    dim: Hashable | Iterable[Hashable] | None,
    *,
    default_type: str | None = "SPECTRAL",
    func: str = "analysis",
) -> tuple[Hashable, ...]:
    """Turn the ``dim`` keyword into a tuple of existing dimension names.

    Parameters
    ----------
    da : xarray.DataArray
        The signal the function works on.
    dim : hashable, sequence of hashable or None
        A dim name (a string counts as one name), a sequence of names, or None to take every
        dim whose coordinate's ``dimension_type`` is `default_type`.
    default_type : str or None, optional
        `pycrox.model.DimensionType` name used when `dim` is None (``"SPECTRAL"``,
        ``"SPATIAL"``, ...). None means `dim` is required.
    func : str, optional
        Name of the calling function, used in error messages.

    Returns
    -------
    tuple of hashable
        The dims, in the order given (or in ``da.dims`` order for the default).

    Raises
    ------
    DimensionError
        If a name is not a dim of `da` (the message lists the dims and their types), a name is
        repeated, or `dim` is None and no dim (or, for SPECTRAL, more than one) has
        `default_type`.

    Examples
    --------
    >>> da = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"))
    >>> resolve_dims(da, "x"), resolve_dims(da, ["y", "x"])
    (('x',), ('y', 'x'))
    """
    if dim is None:
        return _default_dims(da, default_type, func)
    names = (dim,) if isinstance(dim, str) or not isinstance(dim, Iterable) else tuple(dim)
    if not names:
        raise DimensionError(f"{func}: dim is empty; give one or more of {_describe(da)}")
    unknown = [name for name in names if name not in da.dims]
    if unknown:
        raise DimensionError(
            f"{func}: {da.name!r} has no dimension {', '.join(map(repr, unknown))}; it has {_describe(da)}"
        )
    if len(set(names)) != len(names):
        raise DimensionError(f"{func}: dim {list(names)} names a dimension twice")
    return names


def _default_dims(da: xr.DataArray, default_type: str | None, func: str) -> tuple[Hashable, ...]:
    """Dims of `default_type` for ``dim=None``; raises when that is empty or ambiguous."""
    if default_type is None:
        raise DimensionError(f"{func}: dim is required; choose from {_describe(da)}")
    found = dims_of_type(da, default_type)
    if not found:
        raise DimensionError(
            f"{func}: no dim given and {da.name!r} has no {default_type} dimension; "
            f"pass dim= with one of {_describe(da)}"
        )
    if str(default_type).upper() == "SPECTRAL" and len(found) > 1:
        raise DimensionError(
            f"{func}: no dim given and {da.name!r} has several SPECTRAL dimensions "
            f"{list(found)}; pass dim= to choose"
        )
    return found


def core_chunks_ok(da: xr.DataArray, dims: Iterable[Hashable], func: str = "analysis") -> xr.DataArray:
    """Make every dim in `dims` a single dask chunk, so apply_ufunc can use it as a core dim.

    numpy-backed arrays are returned unchanged. A dask-backed array split along a core dim is
    rechunked (the other dims keep their chunks) and the change is logged at INFO level on
    the ``pycrox.analysis`` logger, naming the function, the dims and the old chunks.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed.
    dims : iterable of hashable
        Core dims that must be whole.
    func : str, optional
        Name of the calling function, used in the log message.

    Returns
    -------
    xarray.DataArray
        `da` itself, or `da` rechunked to one chunk along each of `dims`.
    """
    if da.chunks is None:
        return da
    chunks = dict(zip(da.dims, da.chunks, strict=True))
    split = {name: chunks[name] for name in dims if len(chunks[name]) > 1}
    if not split:
        return da
    logger.info(
        "%s: rechunking %s to one chunk along %s (was %s) because it works on whole %s",
        func,
        repr(da.name) if da.name is not None else "the data",
        list(split),
        split,
        "lines" if len(split) == 1 else "planes",
    )
    return da.chunk(dict.fromkeys(split, -1))


def check_finite(values: np.ndarray, func: str) -> None:
    """Raise `NonFiniteError` if `values` (a numpy block inside a kernel) holds NaN or inf.

    Parameters
    ----------
    values : numpy.ndarray
        The block to check.
    func : str
        Name of the calling function, used in the message.

    Raises
    ------
    NonFiniteError
        With the count of non-finite values and how to clean them.
    """
    finite = np.isfinite(values)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        raise NonFiniteError(
            f"{func}: the data hold {bad} NaN or infinite value(s); replace them first, e.g. with "
            "da.fillna(value) or da.interpolate_na(dim)"
        )


def coordinate_spacing(da: xr.DataArray, dim: Hashable, func: str = "analysis") -> float:
    """The step of a uniform dimension coordinate (1.0 when the dim has no coordinate).

    Parameters
    ----------
    da : xarray.DataArray
        The signal.
    dim : hashable
        One of its dims.
    func : str, optional
        Name of the calling function, used in messages.

    Returns
    -------
    float
        ``(last - first) / (n - 1)``; negative for a decreasing coordinate.

    Raises
    ------
    DimensionError
        If the dim has fewer than 2 points, or its coordinate is not uniform to 1e-3 of a step.
    """
    size = da.sizes[dim]
    if size < 2:
        raise DimensionError(f"{func}: dimension {dim!r} has {size} point(s); at least 2 are needed")
    if dim not in da.coords:
        return 1.0
    values = np.asarray(da.coords[dim].values, dtype=np.float64)
    step = float((values[-1] - values[0]) / (size - 1))
    deviation = float(np.max(np.abs(np.diff(values) - step)))
    if step == 0 or not np.isfinite(step) or deviation > 1e-3 * abs(step):
        raise DimensionError(
            f"{func}: coordinate {dim!r} is not uniform (mean step {step:g}, largest deviation "
            f"{deviation:g}); resample it first, e.g. da.interp({dim}=np.linspace(first, last, n))"
        )
    return step


def coordinate_units(da: xr.DataArray, dim: Hashable) -> tuple[str, str]:
    """``(units, quantity)`` of a dimension coordinate (empty strings when absent)."""
    attrs = da.coords[dim].attrs if dim in da.coords else {}
    return str(attrs.get("units", "") or ""), str(attrs.get("quantity", "") or "")


def per_dim(value: Any, dims: tuple[Hashable, ...], func: str, name: str) -> dict[Hashable, Any]:
    """Spread one value over `dims`, or check a ``{dim: value}`` mapping covers exactly `dims`.

    Raises
    ------
    DimensionError
        If a mapping names a dim outside `dims` or leaves one out.
    """
    if not isinstance(value, Mapping):
        return dict.fromkeys(dims, value)
    extra = [d for d in value if d not in dims]
    missing = [d for d in dims if d not in value]
    if extra or missing:
        raise DimensionError(
            f"{func}: {name} is given for {list(value)} but the function works on {list(dims)}"
            + (f"; unknown {extra}" if extra else "")
            + (f"; missing {missing}" if missing else "")
        )
    return {d: value[d] for d in dims}


def length_in_pixels(value: Any, da: xr.DataArray, dim: Hashable, func: str, name: str) -> float:
    """Convert a physical length along `dim` to pixels with the coordinate's spacing.

    Parameters
    ----------
    value : float, str or pint.Quantity
        A number is in the coordinate's own units; a string such as ``"0.5 nm"`` or ``"3 px"``
        (or a pint quantity) is converted with pint (pixels are taken as they are).
    da : xarray.DataArray
        The signal; ``da[dim]`` must be uniform.
    dim : hashable
        The dimension.
    func, name : str
        Calling function and parameter name, used in messages.

    Returns
    -------
    float
        Non-negative length in pixels.

    Raises
    ------
    UnitError
        If the value's unit cannot be converted to the coordinate's unit.
    DimensionError
        If the coordinate is not uniform.
    """
    step = abs(coordinate_spacing(da, dim, func))
    if isinstance(value, bool) or value is None:
        raise TypeError(f"{func}: {name} must be a number or a string with units, not {value!r}")
    if isinstance(value, int | float | np.number):
        return abs(float(value)) / step
    magnitude, unit = _split_quantity(value, func, name)
    if unit == units.ureg.pixel_unit:
        return abs(magnitude)
    coord_units, quantity = coordinate_units(da, dim)
    try:
        target = units.parse(coord_units, quantity)
        converted = float(units.ureg.Quantity(magnitude, unit).to(target).m)
    except (pint.errors.DimensionalityError, UnitError) as exc:
        raise UnitError(
            f"{func}: {name}={value!r} cannot be expressed in the units of {dim!r} ({coord_units!r}): {exc}"
        ) from None
    return abs(converted) / step


def _split_quantity(value: Any, func: str, name: str) -> tuple[float, pint.Unit]:
    """``"0.5 nm"`` / pint quantity -> (0.5, Unit('nm')) with pycrox's spellings."""
    if isinstance(value, pint.Quantity):
        return float(np.asarray(value.magnitude)), cast(pint.Unit, value.units)  # pint annotates PlainUnit
    if not isinstance(value, str):
        raise TypeError(f"{func}: {name} must be a number or a string such as '0.5 nm', not {value!r}")
    match = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*", value)
    if match is None:
        raise UnitError(f"{func}: {name}={value!r} is not a number followed by a unit, e.g. '0.5 nm'")
    return float(match.group(1)), units.parse(match.group(2))


def quantity_in(value: Any, target: str | pint.Unit, quantity: str, func: str, name: str) -> float:
    """A number (already in `target`) or a string/quantity converted to the unit `target`.

    Raises
    ------
    UnitError
        If the unit cannot be converted to `target`.
    """
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return float(value)
    magnitude, unit = _split_quantity(value, func, name)
    try:
        return float(units.ureg.Quantity(magnitude, unit).to(units.parse(target, quantity)).m)
    except (pint.errors.DimensionalityError, UnitError) as exc:
        shown = target if isinstance(target, str) else units.format(target)
        raise UnitError(f"{func}: {name}={value!r} cannot be expressed in {shown!r}: {exc}") from None


def float_dtype(dtype: np.dtype) -> np.dtype:
    """The floating dtype a filter returns: float32 for float16/float32, complex kept, else float64."""
    dtype = np.dtype(dtype)
    if np.issubdtype(dtype, np.complexfloating):
        return dtype
    return np.dtype(np.float32) if dtype in (np.float16, np.float32) else np.dtype(np.float64)


def map_core(
    da: xr.DataArray,
    dims: Iterable[Hashable],
    kernel: Any,
    kwargs: Mapping[str, Any],
    func: str,
) -> xr.DataArray:
    """Run ``kernel(values, **kwargs)`` over the core dims `dims` of `da`, lazily on dask.

    The kernel gets a float array with `dims` as its trailing axes and returns one of the same
    shape. The result keeps the dims of `da` in their order, its coordinates and attrs.

    Raises
    ------
    DimensionError
        If a core dim is split into several dask chunks (see `core_chunks_ok`).
    """
    dims = list(dims)
    source = core_chunks_ok(da, dims, func)
    dtype = float_dtype(da.dtype)
    result = xr.apply_ufunc(
        kernel,
        source,
        input_core_dims=[dims],
        output_core_dims=[dims],
        kwargs=dict(kwargs),
        dask="parallelized",
        output_dtypes=[dtype],
        keep_attrs=True,
    )
    return result.transpose(*da.dims)
