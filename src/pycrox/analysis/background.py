"""Polynomial backgrounds along a dim and levelling of scanning-probe images.

Fits are linear least squares in the coordinates scaled to [-1, 1], solved once for all
spectra/lines/images (one pseudo-inverse, then a matrix product), so a known polynomial is
removed to machine precision. `pycrox.analysis.filters` re-exports these functions.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import (
    check_finite,
    coordinate_units,
    float_dtype,
    map_core,
    quantity_in,
    resolve_dims,
)
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["level_lines", "level_plane", "remove_background"]

DimArg = Hashable | Iterable[Hashable] | None


def remove_background(
    da: xr.DataArray,
    dim: DimArg = None,
    degree: int = 1,
    *,
    mask: Any = None,
    ranges: Sequence[tuple[Any, Any]] | None = None,
) -> xr.DataArray:
    """Subtract a least-squares polynomial along one dim (e.g. a spectrum's background).

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed.
    dim : hashable, optional
        The dim to fit along; default the single SPECTRAL dim.
    degree : int, optional
        Polynomial degree (0 = offset, 1 = linear, ...).
    mask : array-like of bool or DataArray along `dim`, optional
        True marks points left out of the fit (peaks).
    ranges : sequence of (start, stop), optional
        Only points with ``start <= coordinate <= stop`` in one of the ranges are fitted;
        values are numbers in the coordinate's units or strings such as ``"300 eV"``.

    Returns
    -------
    xarray.DataArray
        `da` minus the polynomial (evaluated over the whole dim), floating point.

    Raises
    ------
    DimensionError
        Unknown dim, or fewer than ``degree + 1`` points left to fit.
    UnitError
        If a range bound cannot be expressed in the coordinate's units.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    (axis,) = _one_dim(da, dim, "remove_background", "SPECTRAL")
    positions = _positions(da, axis)
    fit = _fit_points(da, axis, positions, mask, ranges, "remove_background")
    result = _subtract_polynomial(da, (axis,), _powers(1, degree), [positions], fit, "remove_background")
    return provenance.record(
        model.refresh_data_type(result),
        "remove_background",
        source=da,
        dim=axis,
        degree=degree,
        mask=None if mask is None else np.asarray(mask, dtype=bool),
        ranges=ranges,
    )


def level_plane(da: xr.DataArray, dim: DimArg = None, *, degree: int = 1) -> xr.DataArray:
    """Subtract the least-squares plane (or polynomial surface) of each image.

    Parameters
    ----------
    da : xarray.DataArray
        Scanning-probe image(s), numpy- or dask-backed; other dims are looped over.
    dim : sequence of two hashables, optional
        The image dims; default the SPATIAL dims (there must be two).
    degree : int, optional
        1 removes a tilted plane; higher degrees a polynomial surface (all ``y**i * x**j`` with
        ``i + j <= degree``).

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point.

    Raises
    ------
    DimensionError
        Unknown dims or not exactly two.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func="level_plane")
    if len(dims) != 2:
        raise DimensionError(f"level_plane: needs two image dims, got {list(dims)}; pass dim=('y', 'x')")
    positions = [_positions(da, d) for d in dims]
    result = _subtract_polynomial(da, dims, _powers(2, degree), positions, None, "level_plane")
    return provenance.record(
        model.refresh_data_type(result), "level_plane", source=da, dim=list(dims), degree=degree
    )


def level_lines(da: xr.DataArray, dim: Hashable = "x", degree: int = 1) -> xr.DataArray:
    """Subtract a polynomial from every scan line along `dim` (line-by-line levelling).

    Parameters
    ----------
    da : xarray.DataArray
        Scanning-probe image(s), numpy- or dask-backed.
    dim : hashable, optional
        The fast-scan dim along which each line is fitted.
    degree : int, optional
        0 removes each line's mean offset, 1 its slope too, and so on.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point.

    Raises
    ------
    DimensionError
        Unknown dim or too few points per line.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    (axis,) = _one_dim(da, dim, "level_lines", None)
    positions = _positions(da, axis)
    result = _subtract_polynomial(da, (axis,), _powers(1, degree), [positions], None, "level_lines")
    return provenance.record(
        model.refresh_data_type(result), "level_lines", source=da, dim=axis, degree=degree
    )


# --- polynomial machinery -------------------------------------------------------------------


def _one_dim(da: xr.DataArray, dim: DimArg, func: str, default: str | None) -> tuple[Hashable]:
    dims = resolve_dims(da, dim, default_type=default, func=func)
    if len(dims) != 1:
        raise DimensionError(f"{func}: works along one dim, got {list(dims)}")
    return dims  # type: ignore[return-value]


def _positions(da: xr.DataArray, dim: Hashable) -> np.ndarray:
    """Coordinate values scaled to [-1, 1] (well-conditioned polynomial fits)."""
    values = np.asarray(da.coords[dim].values if dim in da.coords else np.arange(da.sizes[dim]), dtype=float)
    centre, half = (values.max() + values.min()) / 2, (values.max() - values.min()) / 2
    return (values - centre) / (half or 1.0)


def _powers(ndim: int, degree: int) -> list[tuple[int, ...]]:
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
        raise ArgumentError(f"degree must be a non-negative integer, got {degree!r}")
    if ndim == 1:
        return [(p,) for p in range(degree + 1)]
    return [(i, j) for i in range(degree + 1) for j in range(degree + 1 - i)]


def _fit_points(
    da: xr.DataArray, dim: Hashable, positions: np.ndarray, mask: Any, ranges: Any, func: str
) -> np.ndarray | None:
    """Indices of the points used in the fit (None = all)."""
    if mask is None and ranges is None:
        return None
    use = np.ones(positions.size, dtype=bool)
    if mask is not None:
        excluded = np.asarray(mask.values if isinstance(mask, xr.DataArray) else mask, dtype=bool)
        if excluded.shape != use.shape:
            raise DimensionError(f"{func}: mask has shape {excluded.shape}, {dim!r} has {use.size} points")
        use &= ~excluded
    if ranges is not None:
        coord = np.asarray(da.coords[dim].values if dim in da.coords else np.arange(use.size), dtype=float)
        unit_text, quantity = coordinate_units(da, dim)
        inside = np.zeros_like(use)
        for start, stop in ranges:
            lo, hi = sorted(quantity_in(v, unit_text, quantity, func, "ranges") for v in (start, stop))
            inside |= (coord >= lo) & (coord <= hi)
        use &= inside
    return np.flatnonzero(use)


def _subtract_polynomial(
    da: xr.DataArray,
    dims: tuple[Hashable, ...],
    powers: list[tuple[int, ...]],
    positions: list[np.ndarray],
    fit: np.ndarray | None,
    func: str,
) -> xr.DataArray:
    """Least-squares polynomial in the scaled coordinates over `dims`, subtracted from `da`."""
    grids = np.meshgrid(*positions, indexing="ij")
    design = np.stack(
        [np.prod([g**p for g, p in zip(grids, pw, strict=True)], axis=0).ravel() for pw in powers], axis=-1
    )
    rows = design if fit is None else design[fit]
    if rows.shape[0] < len(powers) or np.linalg.matrix_rank(rows) < len(powers):
        raise DimensionError(
            f"{func}: {rows.shape[0]} point(s) along {list(dims)} cannot fit {len(powers)} polynomial "
            "terms; lower the degree or widen the fit ranges"
        )
    kwargs = {"solve": np.linalg.pinv(rows).T, "design": design, "fit": fit, "ndim": len(dims), "func": func}
    return map_core(da, dims, _polynomial_kernel, kwargs, func)


def _polynomial_kernel(
    values: np.ndarray, *, solve: np.ndarray, design: np.ndarray, fit: np.ndarray | None, ndim: int, func: str
) -> np.ndarray:
    check_finite(values, func)
    core = values.shape[values.ndim - ndim :]
    flat = values.reshape(*values.shape[: values.ndim - ndim], -1).astype(np.float64)
    coefficients = (flat if fit is None else flat[..., fit]) @ solve
    background = coefficients @ design.T
    return (
        (flat - background)
        .reshape(*values.shape[: values.ndim - ndim], *core)
        .astype(float_dtype(values.dtype))
    )
