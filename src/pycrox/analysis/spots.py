"""Spots of an image's Fourier transform (positions in 1/nm, d-spacings) and the spot-mask filter.

`fft_spots` finds the local maxima of the (windowed, log) power spectrum of a 2-D image, refined
to sub-pixel positions, and reports them in ``1/nm`` with their lattice spacings ``d = 1/|k|``.
`spot_filter` keeps only the Fourier components within a radius of those spots (and of the
origin, or within a low-pass radius) and transforms back: pyTEMlib's adaptive Fourier filter
(``pyTEMlib.image_tools.adaptive_fourier_filter``).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pint
import scipy.fft
import scipy.ndimage
import xarray as xr

from pycrox import provenance, units
from pycrox.analysis._dims import (
    coordinate_spacing,
    coordinate_units,
    core_chunks_ok,
    quantity_in,
    resolve_dims,
)
from pycrox.analysis.stem4d import CalibrationWarning
from pycrox.errors import DimensionError, UnitError

__all__ = ["fft_spots", "spot_filter"]

DimArg = Hashable | Iterable[Hashable] | None


def _frequency_scale(da: xr.DataArray, dims: tuple[Hashable, ...], func: str) -> tuple[float, str]:
    """Factor from ``1/(coordinate unit)`` to ``1/nm``, and the unit reported (``1/nm`` or ``1/px``)."""
    spellings = {coordinate_units(da, d) for d in dims}
    if len(spellings) == 1:
        text, quantity = next(iter(spellings))
        try:
            unit = units.parse(text, quantity or "Length")
            if text and unit.dimensionality == units.ureg.meter.dimensionality:
                return float(units.ureg.Quantity(1, unit**-1).to("1/nm").m), "1/nm"
        except (UnitError, pint.errors.PintError):
            pass
    warnings.warn(
        f"{func}: the image dims {list(dims)} carry no length units (found {sorted(s[0] for s in spellings)}); "
        "spot positions are in 1/px and d-spacings in px",
        CalibrationWarning,
        stacklevel=3,
    )
    return 1.0, "1/px"


def _steps(da: xr.DataArray, dims: tuple[Hashable, ...], unit: str, func: str) -> list[float]:
    """Pixel sizes along `dims` in the coordinates' units, or 1 when working in pixels."""
    return [1.0 if unit == "1/px" else abs(coordinate_spacing(da, d, func)) for d in dims]


def _image_dims(da: xr.DataArray, dim: DimArg, func: str) -> tuple[Hashable, Hashable]:
    dims = resolve_dims(da, dim, default_type="SPATIAL", func=func)
    if len(dims) != 2:
        raise DimensionError(
            f"{func}: needs two image dims, got {list(dims)}; pass dim=(row_dim, column_dim)"
        )
    return dims[0], dims[1]


def _power_spectrum(image: np.ndarray) -> np.ndarray:
    window = np.outer(np.hanning(image.shape[0]), np.hanning(image.shape[1]))
    spectrum = scipy.fft.fftshift(scipy.fft.fft2((image - image.mean()) * window))
    return np.abs(spectrum) ** 2


def _peaks(logp: np.ndarray, size: int, threshold: float, exclude: float) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of the log power above ``median + threshold * (highest - median)``, origin excluded."""
    centre = np.array(logp.shape) // 2
    rows, cols = np.indices(logp.shape)
    far = np.hypot(rows - centre[0], cols - centre[1]) > exclude
    far[[0, -1], :] = far[:, [0, -1]] = False
    if not far.any():
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    median, top = np.median(logp[far]), logp[far].max()
    maxima = logp == scipy.ndimage.maximum_filter(logp, size=size, mode="wrap")
    rows_found, cols_found = np.nonzero(maxima & far & (logp > median + threshold * (top - median)))
    return rows_found, cols_found


def _parabola(logp: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    out = []
    for di, dj, base in ((1, 0, i), (0, 1, j)):
        plus, minus, centre = logp[i + di, j + dj], logp[i - di, j - dj], logp[i, j]
        denom = plus - 2 * centre + minus
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(denom < 0, 0.5 * (minus - plus) / denom, 0.0)
        out.append(base + np.clip(step, -0.5, 0.5))
    return out[0], out[1]


def fft_spots(
    da: xr.DataArray,
    dim: DimArg = None,
    *,
    threshold: float = 0.5,
    min_distance: int = 3,
    exclude: Any = None,
    max_spots: int = 64,
) -> xr.Dataset:
    """Spots of the image's Fourier transform with their positions in 1/nm and d-spacings.

    Parameters
    ----------
    da : xarray.DataArray
        One 2-D image (numpy- or dask-backed; it is computed: finding spots is the job).
    dim : pair of hashable, optional
        The image dims ``(row, column)``; default the SPATIAL dims.
    threshold : float, optional
        A spot's log power must exceed the median by this fraction of the way from the median to
        the strongest spot (0: every local maximum; 1: the strongest only).
    min_distance : int, optional
        Smallest distance between two spots, in Fourier pixels.
    exclude : float, str or pint.Quantity, optional
        Ignore spots within this radius of the origin (``"0.5 1/nm"``, or a number in 1/nm);
        default 2 Fourier pixels.
    max_spots : int, optional
        Keep the strongest spots only.

    Returns
    -------
    xarray.Dataset
        On a ``spot`` dim, sorted by distance from the origin: ``k_<row>``, ``k_<col>`` (1/nm),
        ``k`` (1/nm), ``d_spacing`` (nm), ``angle`` (deg, of k from the column axis towards
        the row axis) and ``power`` (relative to the median of the power spectrum). Friedel
        pairs (``k`` and ``-k``) are both listed. Pixels instead of nm, with a
        `CalibrationWarning`, when the image dims have no length units.

    Raises
    ------
    DimensionError
        Not exactly two image dims, other dims left over, or a non-uniform coordinate.

    Examples
    --------
    >>> x = np.arange(64) * 0.05  # nm
    >>> image = xr.DataArray(np.cos(2 * np.pi * x / 0.4)[None, :] * np.ones((64, 1)), dims=("y", "x"),
    ...     coords={d: (d, x, {"units": "nm", "dimension_type": "SPATIAL"}) for d in ("y", "x")})
    >>> spots = fft_spots(image)
    >>> np.round(spots.d_spacing.values, 3)
    array([0.4, 0.4])
    """
    func = "fft_spots"
    rows_dim, cols_dim = _image_dims(da, dim, func)
    extra = [d for d in da.dims if d not in (rows_dim, cols_dim)]
    if extra:
        raise DimensionError(
            f"{func}: works on one image; {da.name!r} also has dims {extra}; select one first"
        )
    scale, unit = _frequency_scale(da, (rows_dim, cols_dim), func)
    steps = _steps(da, (rows_dim, cols_dim), unit, func)
    image = np.asarray(da.transpose(rows_dim, cols_dim).values, dtype=np.float64)
    power = _power_spectrum(image)
    logp = np.log(scipy.ndimage.gaussian_filter(power, 0.5) + 1e-30 * power.max() + 1e-300)
    df = [1.0 / (n * s) * scale for n, s in zip(image.shape, steps, strict=True)]  # 1/nm per Fourier pixel
    limit = 2.0 if exclude is None else quantity_in(exclude, unit, "", func, "exclude") / min(df)
    i, j = _peaks(logp, 2 * int(min_distance) + 1, threshold, limit)
    order = np.argsort(logp[i, j])[::-1][:max_spots]
    fi, fj = _parabola(logp, i[order], j[order])
    centre = np.array(image.shape) // 2
    k_row, k_col = (fi - centre[0]) * df[0], (fj - centre[1]) * df[1]
    k = np.hypot(k_row, k_col)
    sort = np.argsort(k, kind="stable")
    return _spots_result(
        da,
        (rows_dim, cols_dim),
        unit,
        k_row[sort],
        k_col[sort],
        power[i[order], j[order]][sort] / np.median(power),
    )


def _spots_result(
    da: xr.DataArray,
    dims: tuple[Hashable, Hashable],
    unit: str,
    k_row: np.ndarray,
    k_col: np.ndarray,
    power: np.ndarray,
) -> xr.Dataset:
    k = np.hypot(k_row, k_col)
    length = "nm" if unit == "1/nm" else "px"
    names = {d: f"k{d}" if str(d) in ("x", "y", "z") else f"k_{d}" for d in dims}
    values = {
        names[dims[0]]: (k_row, unit, "Reciprocal length"),
        names[dims[1]]: (k_col, unit, "Reciprocal length"),
        "k": (k, unit, "Reciprocal length"),
        "d_spacing": (1.0 / k, length, "Length"),
        "angle": (np.degrees(np.arctan2(k_row, k_col)), "deg", "Angle"),
        "power": (power, "", "Relative power"),
    }
    ds = xr.Dataset(
        {name: ("spot", v, {"units": u, "quantity": q}) for name, (v, u, q) in values.items()},
        coords={
            "spot": (
                "spot",
                np.arange(k.size),
                {"dimension_type": "POINT_CLOUD", "quantity": "Spot", "units": ""},
            )
        },
        attrs={
            "title": f"FFT spots of {da.attrs.get('title', da.name)}",
            "image_dims": [str(d) for d in dims],
        },
    )
    return provenance.record(ds, "fft_spots", source=da, dim=list(dims))


def spot_filter(
    da: xr.DataArray,
    spots: xr.Dataset | None = None,
    dim: DimArg = None,
    *,
    radius: Any = 0.3,
    low_pass: Any = None,
    **spot_options: Any,
) -> xr.DataArray:
    """The image keeping only the Fourier components near its FFT spots (adaptive Fourier filter).

    Parameters
    ----------
    da : xarray.DataArray
        Image(s), numpy- or dask-backed; other dims (a stack) are filtered image by image with
        the same mask.
    spots : xarray.Dataset, optional
        The result of `fft_spots`; default ``fft_spots(da, dim, **spot_options)`` (`da` must
        then be one image).
    dim : pair of hashable, optional
        The image dims; default the SPATIAL dims.
    radius : float, str or pint.Quantity, optional
        Radius of the disk kept around every spot, in 1/nm (a number) or with units.
    low_pass : float, str or pint.Quantity, optional
        Radius of the disk kept around the origin (slow intensity variations); default `radius`.
    **spot_options
        Passed to `fft_spots` when `spots` is None.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs, floating point; lazy if `da` is.

    Raises
    ------
    DimensionError
        Not two image dims, or `spots` found on other dims.
    UnitError
        Radii that are not reciprocal lengths.

    Notes
    -----
    pyTEMlib (G. Duscher), ``image_tools.adaptive_fourier_filter``: the mask is the union of
    disks of radius ``reflection_radius`` around the spots and of radius ``low_pass`` around the
    origin; the filtered image is the real part of the inverse transform of the masked spectrum.
    """
    func = "spot_filter"
    dims = _image_dims(da, dim, func)
    if spots is None:
        spots = fft_spots(da, dims, **spot_options)
    if list(spots.attrs.get("image_dims") or []) != [str(d) for d in dims]:
        raise DimensionError(
            f"{func}: the spots were found on dims {spots.attrs.get('image_dims')}, not {list(dims)}"
        )
    unit = str(spots["k"].attrs.get("units", "1/nm"))
    scale, found = _frequency_scale(da, dims, func) if unit != "1/px" else (1.0, "1/px")
    if found != unit:
        raise UnitError(f"{func}: spots in {unit!r} but the image frequencies are in {found!r}")
    r = quantity_in(radius, unit, "", func, "radius")
    low = r if low_pass is None else quantity_in(low_pass, unit, "", func, "low_pass")
    mask = _spot_mask(da, dims, scale, unit, spots, r, low)
    data = core_chunks_ok(da, dims, func)
    result = xr.apply_ufunc(
        _filter_kernel, data, kwargs={"mask": mask}, input_core_dims=[list(dims)], output_core_dims=[list(dims)],
        dask="parallelized", output_dtypes=[np.float64],
    ).transpose(*da.dims)  # fmt: skip
    result.attrs = dict(da.attrs)
    return provenance.record(
        result, "spot_filter", source=da, radius=r, low_pass=low, spots=int(spots.sizes["spot"]), units=unit
    )


def _spot_mask(
    da: xr.DataArray,
    dims: tuple[Hashable, Hashable],
    scale: float,
    unit: str,
    spots: xr.Dataset,
    radius: float,
    low: float,
) -> np.ndarray:
    """Boolean mask on the unshifted FFT grid: disks around every spot and around the origin."""
    steps = _steps(da, dims, unit, "spot_filter")
    freq = [scipy.fft.fftfreq(da.sizes[d], s) * scale for d, s in zip(dims, steps, strict=True)]
    k_row, k_col = np.meshgrid(*freq, indexing="ij")
    names = [n for n in spots.data_vars if n not in ("k", "d_spacing", "angle", "power")]
    mask = np.hypot(k_row, k_col) < low
    for q_row, q_col in zip(spots[names[0]].values, spots[names[1]].values, strict=True):
        mask |= np.hypot(k_row - q_row, k_col - q_col) < radius
    return mask


def _filter_kernel(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return scipy.fft.ifft2(scipy.fft.fft2(values, axes=(-2, -1)) * mask, axes=(-2, -1)).real
