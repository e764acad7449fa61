"""Filters with sizes in physical units and Fourier band filters; re-exports backgrounds and levelling.

Sizes are given as ``"0.5 nm"`` strings (or pint quantities, or ``"3 px"``), as numbers in the
coordinate's units, or per dim as ``{"x": "0.5 nm", "y": ...}``; they are converted to pixels
with the coordinate spacing. All functions keep dims, coordinates and attrs and add a
provenance step. `remove_background`, `level_plane` and `level_lines` live in
`pycrox.analysis.background` and are importable from here too.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, cast

import numpy as np
import pint
import scipy.fft
import scipy.ndimage
import xarray as xr

from pycrox import model, provenance, units
from pycrox.analysis._dims import (
    check_finite,
    coordinate_spacing,
    coordinate_units,
    float_dtype,
    length_in_pixels,
    map_core,
    per_dim,
    quantity_in,
    resolve_dims,
)
from pycrox.analysis.background import level_lines, level_plane, remove_background
from pycrox.errors import ArgumentError

__all__ = [
    "fourier_filter",
    "gaussian_filter",
    "level_lines",
    "level_plane",
    "median_filter",
    "remove_background",
]

Size = float | str | Mapping[Hashable, Any]
DimArg = Hashable | Iterable[Hashable] | None


def gaussian_filter(
    da: xr.DataArray, sigma: Size, dim: DimArg = None, *, mode: str = "reflect", truncate: float = 4.0
) -> xr.DataArray:
    """Gaussian smoothing with a width in physical units.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed; a dask array split along `dim` is rechunked (logged).
    sigma : float, str, pint.Quantity or mapping
        Standard deviation: ``"0.5 nm"``, ``"2 px"``, a number in the coordinate's units, or
        ``{dim: value}`` for every dim in `dim`.
    dim : hashable or sequence of hashable, optional
        Dims to smooth along; default the SPATIAL dims.
    mode : str, optional
        Edge handling of `scipy.ndimage.gaussian_filter` ("reflect", "nearest", "mirror",
        "wrap", "constant").
    truncate : float, optional
        Kernel radius in standard deviations.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point (float32 stays float32).

    Raises
    ------
    DimensionError
        Unknown dims or a non-uniform coordinate.
    UnitError
        If `sigma` cannot be expressed in the coordinate's units.
    NonFiniteError
        When computed, if the data hold NaN or inf.

    Examples
    --------
    >>> da = xr.DataArray(np.eye(5), dims=("y", "x"), coords={"x": ("x", np.arange(5) * 0.5, {"units": "nm"})})
    >>> smooth = gaussian_filter(da, {"x": "0.5 nm", "y": 1}, dim=("y", "x"))
    >>> smooth.x.attrs["units"], smooth.attrs["provenance"]["pycrox"]["000_gaussian_filter"]["parameters"]["sigma_pixels"]
    ('nm', [1.0, 1.0])
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func="gaussian_filter")
    pixels = [
        length_in_pixels(v, da, d, "gaussian_filter", "sigma")
        for d, v in per_dim(sigma, dims, "gaussian_filter", "sigma").items()
    ]
    kwargs = {"sigma": pixels, "mode": mode, "truncate": truncate}
    result = _filter(da, dims, scipy.ndimage.gaussian_filter, kwargs, "gaussian_filter")
    return provenance.record(
        model.refresh_data_type(result),
        "gaussian_filter",
        source=da,
        sigma=sigma,
        dim=list(dims),
        sigma_pixels=pixels,
        mode=mode,
        truncate=truncate,
    )


def median_filter(da: xr.DataArray, size: Size, dim: DimArg = None, *, mode: str = "reflect") -> xr.DataArray:
    """Median filter over a window given in physical units.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed.
    size : float, str, pint.Quantity or mapping
        Window width (``"1.5 nm"``, ``"3 px"``, a number in coordinate units, or per dim),
        rounded to a whole number of pixels (at least 1).
    dim : hashable or sequence of hashable, optional
        Dims of the window; default the SPATIAL dims.
    mode : str, optional
        Edge handling of `scipy.ndimage.median_filter`.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates, attrs and dtype class (integers are returned as floats).

    Raises
    ------
    DimensionError
        Unknown dims or a non-uniform coordinate.
    UnitError
        If `size` cannot be expressed in the coordinate's units.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func="median_filter")
    pixels = [
        max(1, round(length_in_pixels(v, da, d, "median_filter", "size")))
        for d, v in per_dim(size, dims, "median_filter", "size").items()
    ]
    result = _filter(da, dims, scipy.ndimage.median_filter, {"size": pixels, "mode": mode}, "median_filter")
    return provenance.record(
        model.refresh_data_type(result),
        "median_filter",
        source=da,
        size=size,
        dim=list(dims),
        size_pixels=pixels,
        mode=mode,
    )


def fourier_filter(
    da: xr.DataArray, dim: DimArg = None, *, low: Any = None, high: Any = None, order: int | None = None
) -> xr.DataArray:
    """Keep the spatial frequencies between `low` and `high` (band, high- or low-pass).

    The radial frequency ``|k| = sqrt(sum k_d**2)`` over `dim` is computed in physical units, so
    non-square pixels are handled.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed, real or complex.
    dim : hashable or sequence of hashable, optional
        Dims to filter along; default the SPATIAL dims. Their units must be convertible.
    low : float, str or pint.Quantity, optional
        Lowest frequency kept, e.g. ``"0.2 1/nm"`` (removes slow variations: high-pass). A
        number is in the reciprocal of the first dim's units.
    high : float, str or pint.Quantity, optional
        Highest frequency kept, e.g. ``"2 1/nm"`` (removes fine detail: low-pass).
    order : int, optional
        None: ideal (sharp) cut-off. An integer: Butterworth edges of that order (less ringing).

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates, attrs and floating dtype.

    Raises
    ------
    DimensionError
        Unknown dims or a non-uniform coordinate.
    UnitError
        Dims with units that cannot combine, or a cut-off that is not a frequency.
    ValueError
        Neither cut-off given, negative cut-offs or ``low >= high``.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func="fourier_filter")
    steps = _common_steps(da, dims)
    unit_text, quantity = coordinate_units(da, dims[0])
    inverse = cast(pint.Unit, units.parse(unit_text, quantity) ** -1)  # pint annotates ** as PlainUnit
    cut = {
        name: None if v is None else quantity_in(v, inverse, "", "fourier_filter", name)
        for name, v in (("low", low), ("high", high))
    }
    _check_band(cut["low"], cut["high"])
    real = not np.iscomplexobj(np.empty(0, da.dtype))
    gain = _band_gain([da.sizes[d] for d in dims], steps, cut["low"], cut["high"], order, real)
    gain = gain.astype(float_dtype(da.dtype).type(0).real.dtype)
    result = _filter(da, dims, _fourier_kernel, {"gain": gain, "real": real}, "fourier_filter")
    return provenance.record(
        model.refresh_data_type(result),
        "fourier_filter",
        source=da,
        dim=list(dims),
        low=low,
        high=high,
        order=order,
    )


# --- shared machinery ------------------------------------------------------------------------


def _filter(
    da: xr.DataArray, dims: tuple[Hashable, ...], function: Any, kwargs: dict, func: str
) -> xr.DataArray:
    """Apply a numpy filter over the trailing core axes `dims`; keeps order, coords and attrs."""
    options = {"function": function, "kwargs": kwargs, "dtype": float_dtype(da.dtype), "func": func}
    return map_core(da, dims, _run_filter, options, func)


def _run_filter(values: np.ndarray, *, function: Any, kwargs: dict, dtype: np.dtype, func: str) -> np.ndarray:
    check_finite(values, func)
    axes = tuple(range(-_core_ndim(kwargs), 0))
    return np.asarray(function(values.astype(dtype, copy=False), axes=axes, **kwargs), dtype=dtype)


def _core_ndim(kwargs: dict) -> int:
    for key in ("sigma", "size"):
        if key in kwargs:
            return len(kwargs[key])
    return kwargs["gain"].ndim


def _fourier_kernel(values: np.ndarray, *, gain: np.ndarray, real: bool, axes: tuple[int, ...]) -> np.ndarray:
    if real:
        spectrum = scipy.fft.rfftn(values, axes=axes, workers=-1)
        spectrum *= gain
        return scipy.fft.irfftn(spectrum, s=values.shape[-len(axes) :], axes=axes, workers=-1)
    spectrum = scipy.fft.fftn(values, axes=axes, workers=-1)
    spectrum *= gain
    return scipy.fft.ifftn(spectrum, axes=axes, workers=-1, overwrite_x=True)


def _common_steps(da: xr.DataArray, dims: tuple[Hashable, ...]) -> list[float]:
    """Coordinate steps of `dims`, all in the units of the first dim (UnitError if impossible)."""
    first_units, first_quantity = coordinate_units(da, dims[0])
    steps = []
    for d in dims:
        step = coordinate_spacing(da, d, "fourier_filter")
        unit_text, _ = coordinate_units(da, d)
        if unit_text != first_units:
            label = f"the step of {d!r}"
            step = quantity_in(
                f"{step!r} {unit_text or 'dimensionless'}",
                first_units or "dimensionless",
                first_quantity,
                "fourier_filter",
                label,
            )
        steps.append(step)
    return steps


def _check_band(low: float | None, high: float | None) -> None:
    if low is None and high is None:
        raise ArgumentError("fourier_filter: give low= (high-pass), high= (low-pass) or both (band-pass)")
    if (low is not None and low < 0) or (high is not None and high < 0):
        raise ArgumentError(f"fourier_filter: cut-off frequencies must be >= 0, got low={low}, high={high}")
    if low is not None and high is not None and low >= high:
        raise ArgumentError(f"fourier_filter: low ({low:g}) must be below high ({high:g})")


def _band_gain(
    sizes: list[int], steps: list[float], low: float | None, high: float | None, order: int | None, real: bool
) -> np.ndarray:
    """Gain on the (r)fftn frequency grid: 1 inside the band, 0 (or Butterworth) outside."""
    axes = [scipy.fft.fftfreq(n, s) for n, s in zip(sizes, steps, strict=True)]
    if real:
        axes[-1] = scipy.fft.rfftfreq(sizes[-1], abs(steps[-1]))
    grids = np.meshgrid(*axes, indexing="ij", sparse=True)
    radius = np.sqrt(sum(g**2 for g in grids))
    gain = np.ones(radius.shape)
    with np.errstate(divide="ignore"):
        if high is not None:
            gain *= (radius <= high) if order is None else 1 / (1 + (radius / high) ** (2 * order))
        if low:  # low=0 keeps everything (and would make 0/0 at the zero frequency)
            gain *= (radius >= low) if order is None else 1 / (1 + (low / radius) ** (2 * order))
    return gain
