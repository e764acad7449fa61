"""Bragg disks: positions in every diffraction pattern by cross-correlation with a probe template.

The template (a vacuum probe image) is centred on its centre of mass and its Fourier transform
multiplies every pattern's; local maxima of the correlation above a threshold are the disks,
refined to sub-pixel positions by a parabola through each maximum and its neighbours.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.fft
import scipy.ndimage
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok
from pycrox.analysis.stem4d._geometry import Geometry, detector_check, geometry, in_detector_units
from pycrox.analysis.stem4d.com import _QUANTITY
from pycrox.analysis.stem4d.virtual import result_attrs
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["find_disks", "probe_kernel"]


def probe_kernel(template: np.ndarray) -> np.ndarray:
    """Conjugate Fourier transform of the template, centred on its centre of mass and of unit sum.

    Raises
    ------
    ValueError
        A template that is not finite, or has no positive total.
    """
    probe = np.asarray(template, dtype=np.float64)
    total = probe.sum()
    if not np.isfinite(probe).all() or not total > 0:
        raise ArgumentError(
            "find_disks: the template must be finite with a positive total (a vacuum probe image)"
        )
    rows, cols = np.indices(probe.shape)
    shift = (-(rows * probe).sum() / total, -(cols * probe).sum() / total)
    spectrum = scipy.fft.fft2(probe / total)
    return np.conj(scipy.ndimage.fourier_shift(spectrum, shift))


def _disk_radius(template: np.ndarray) -> float:
    """Radius in pixels of the template's disk (area above half its maximum)."""
    return float(np.sqrt(np.count_nonzero(template > 0.5 * template.max()) / np.pi))


def _subpixel(corr: np.ndarray, i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parabolic refinement along each axis of maxima at integer (i, j)."""
    rows, cols = corr.shape
    offsets = []
    for axis, (di, dj) in enumerate(((1, 0), (0, 1))):
        plus = corr[(i + di) % rows, (j + dj) % cols]
        minus = corr[(i - di) % rows, (j - dj) % cols]
        centre = corr[i, j]
        denom = plus - 2 * centre + minus
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(denom < 0, 0.5 * (minus - plus) / denom, 0.0)
        offsets.append(np.clip(step, -0.5, 0.5) + (i if axis == 0 else j))
    return offsets[0], offsets[1]


def _find_kernel(
    values: np.ndarray,
    kernel: np.ndarray,
    size: int,
    threshold: float,
    edge: int,
    max_disks: int,
    corr_power: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Disk positions (pixel row, pixel column) and correlation of every pattern: ``(..., max_disks)`` each."""
    lead = values.shape[:-2]
    patterns = values.reshape(-1, *values.shape[-2:]).astype(np.float64)
    product = scipy.fft.fft2(patterns) * kernel
    if corr_power != 1:
        product = product * np.abs(product) ** (corr_power - 1)
    corr = scipy.fft.ifft2(product).real
    peaks = corr == scipy.ndimage.maximum_filter(corr, size=(1, size, size), mode="wrap")
    out = np.full((3, patterns.shape[0], max_disks), np.nan)
    rows, cols = patterns.shape[-2:]
    inside = np.zeros((rows, cols), dtype=bool)
    inside[edge : rows - edge, edge : cols - edge] = True
    for n in range(patterns.shape[0]):
        found = peaks[n] & inside & (corr[n] > threshold * corr[n].max()) & (corr[n] > 0)
        i, j = np.nonzero(found)
        order = np.argsort(corr[n][i, j])[::-1][:max_disks]
        i, j = i[order], j[order]
        out[0, n, : i.size], out[1, n, : i.size] = _subpixel(corr[n], i, j)
        out[2, n, : i.size] = corr[n][i, j]
    shaped = out.reshape(3, *lead, max_disks)
    return shaped[0], shaped[1], shaped[2]


def _to_coordinates(pixels: xr.DataArray, values: np.ndarray) -> xr.DataArray:
    """Fractional pixel index -> detector coordinate (linear in the uniform coordinate)."""
    step = (values[-1] - values[0]) / (values.size - 1) if values.size > 1 else 1.0
    return values[0] + pixels * step


def find_disks(
    da: xr.DataArray,
    template: Any,
    *,
    threshold: float = 0.1,
    min_distance: Any = None,
    edge: Any = None,
    max_disks: int = 32,
    corr_power: float = 1.0,
) -> xr.Dataset:
    """Bragg disk positions in every pattern, by template cross-correlation, to sub-pixel precision.

    Parameters
    ----------
    da : xarray.DataArray
        4-D STEM data (two SPATIAL, two RECIPROCAL dims), numpy- or dask-backed (streamed).
    template : array-like or xarray.DataArray
        The probe image (e.g. a vacuum pattern, `virtual_diffraction` over a vacuum region) with
        the detector's shape; its centre of mass is taken as the disk centre.
    threshold : float, optional
        Keep maxima above this fraction of each pattern's highest correlation.
    min_distance : float, str or pint.Quantity, optional
        Smallest distance between two disks (detector units, or ``"3 px"``); default the
        template disk's radius.
    edge : float, str or pint.Quantity, optional
        Ignore maxima closer than this to the detector edge; default the template disk's radius.
    max_disks : int, optional
        Disks kept per pattern (the strongest); the ``disk`` dim has this length.
    corr_power : float, optional
        1: cross-correlation; 0: phase correlation; between: hybrid (sharper peaks).

    Returns
    -------
    xarray.Dataset
        On the navigation dims and ``disk``: ``disk_<ky>``, ``disk_<kx>`` (positions in the
        detector's units) and ``correlation``, sorted by correlation, NaN-padded when a pattern
        has fewer disks; lazy if `da` is.

    Raises
    ------
    DimensionError
        Not 4-D STEM dims, or a template whose shape or dims differ from the detector's.
    ValueError
        A template with no positive total, or a non-positive `max_disks`.

    Warns
    -----
    CalibrationWarning
        Uncalibrated detector (positions in pixels).
    """
    func = "find_disks"
    geom = geometry(da, func)
    probe = detector_check(template, geom, func, "template")
    if max_disks < 1:
        raise ArgumentError(f"{func}: max_disks must be at least 1, got {max_disks}")
    radius = max(1.0, _disk_radius(np.asarray(probe, dtype=np.float64)))
    size = 2 * round(_in_pixels(min_distance, geom, radius, "min_distance")) + 1
    margin = round(_in_pixels(edge, geom, radius, "edge"))
    kwargs = {
        "kernel": probe_kernel(probe), "size": size, "threshold": threshold, "edge": margin,
        "max_disks": max_disks, "corr_power": corr_power,
    }  # fmt: skip
    data = core_chunks_ok(da, geom.det, func)
    pixels = xr.apply_ufunc(
        _find_kernel,
        data,
        kwargs=kwargs,
        input_core_dims=[list(geom.det)],
        output_core_dims=[["disk"], ["disk"], ["disk"]],
        dask="parallelized",
        output_dtypes=[np.float64] * 3,
        dask_gufunc_kwargs={"output_sizes": {"disk": max_disks}},
    )
    return _disks_result(da, geom, pixels, kwargs)


def _in_pixels(value: Any, geom: Geometry, default: float, name: str) -> float:
    if value is None:
        return default
    pixels = in_detector_units(value, geom, "find_disks", name) / geom.step()
    if pixels < 0:
        raise ArgumentError(f"find_disks: {name} must not be negative, got {value!r}")
    return pixels


def _disks_result(
    da: xr.DataArray, geom: Geometry, pixels: tuple[xr.DataArray, ...], kwargs: dict[str, Any]
) -> xr.Dataset:
    title = da.attrs.get("title", da.name)
    variables: dict[Hashable, xr.DataArray] = {}
    for axis, values in ((0, geom.k_row), (1, geom.k_col)):
        dim = geom.det[axis]
        position = _to_coordinates(pixels[axis], values)
        position.attrs = result_attrs(da, f"Bragg disk position along {dim} in {title}", "UNKNOWN")
        position.attrs.update(units=geom.units, quantity=_QUANTITY[geom.kind])
        variables[f"disk_{dim}"] = position
    corr = pixels[2]
    corr.attrs = {"title": "template correlation", "quantity": "Correlation", "units": ""}
    variables["correlation"] = corr
    ds = xr.Dataset(
        variables, attrs={"title": f"Bragg disks of {title}", "detector_dims": [str(d) for d in geom.det]}
    )
    ds = ds.assign_coords(disk=np.arange(kwargs["max_disks"]))
    ds["disk"].attrs.update(quantity="Disk", dimension_type="POINT_CLOUD", units="")
    params = {k: v for k, v in kwargs.items() if k != "kernel"}
    return provenance.record(ds, "stem4d.find_disks", source=da, **params)


def check_disks(disks: xr.Dataset, func: str) -> tuple[str, str]:
    """Names of the ``(row, column)`` position variables of a `find_disks` result.

    Raises
    ------
    DimensionError
        If `disks` is not a `find_disks` result.
    """
    det = list(disks.attrs.get("detector_dims") or []) if isinstance(disks, xr.Dataset) else []
    names = (f"disk_{det[0]}", f"disk_{det[1]}") if len(det) == 2 else ("", "")
    if not (names[0] in disks and names[1] in disks and "disk" in disks.dims):
        raise DimensionError(
            f"{func}: expected the Dataset of find_disks (disk_<ky>, disk_<kx> on a 'disk' dim); "
            f"got {type(disks).__name__}"
        )
    return names
