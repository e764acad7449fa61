"""Centre of mass of every diffraction pattern, and differential phase contrast from it.

`center_of_mass` is one matrix product per dask chunk (the weights are ``[1, k_row, k_col]``
per detector pixel), streamed over the scan. `dpc` removes the descan (a plane fitted to the
CoM over the scan), rotates the CoM vectors from the detector frame into the scan frame (the
rotation, and a possible axis flip, calibrated by the least curl of the rotated field) and
integrates them in Fourier space into the iDPC image.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.stats
import xarray as xr

from pycrox import provenance, units
from pycrox.analysis._dims import coordinate_spacing, coordinate_units, core_chunks_ok
from pycrox.analysis.stem4d._geometry import CalibrationWarning, detector_check, geometry
from pycrox.analysis.stem4d._kernels import com_kernel, over_detector, work_dtype
from pycrox.analysis.stem4d.virtual import result_attrs
from pycrox.errors import DimensionError, UnitError

__all__ = ["center_of_mass", "dpc"]

_QUANTITY = {"angle": "Scattering angle", "reciprocal": "Reciprocal length", "pixel": "Detector position"}


def center_of_mass(da: xr.DataArray, *, mask: Any = None) -> xr.Dataset:
    """Centre of mass of every diffraction pattern, in the detector's units.

    Parameters
    ----------
    da : xarray.DataArray
        4-D STEM data (two SPATIAL, two RECIPROCAL dims), numpy- or dask-backed; streamed
        chunk by chunk over the scan (detector dims are made whole).
    mask : array-like or xarray.DataArray, optional
        Detector weights (the detector's shape, boolean or real) applied before the moments,
        e.g. to leave out a beam stop or dead pixels.

    Returns
    -------
    xarray.Dataset
        ``com_<kx>`` and ``com_<ky>`` (named after the detector dims: column, then row) on the
        navigation dims, in the detector coordinates' units (pixels when uncalibrated), NaN
        where a pattern has no counts; lazy if `da` is. ``attrs["detector_dims"]`` lists the
        detector dims.

    Raises
    ------
    DimensionError
        Not 4-D STEM dims, or a mask of the wrong shape.

    Warns
    -----
    CalibrationWarning
        Uncalibrated detector (the result is in pixels).

    Examples
    --------
    >>> data = pycrox.from_array(np.zeros((1, 1, 4, 4)), dims=("y", "x", "ky", "kx"),
    ...     coords={d: {"values": np.arange(4.0), "units": "mrad"} for d in ("ky", "kx")})
    >>> data[0, 0, 1, 3] = 1.0
    >>> com = center_of_mass(data)
    >>> float(com.com_kx[0, 0]), float(com.com_ky[0, 0]), com.com_kx.attrs["units"]
    (3.0, 1.0, 'mrad')
    """
    geom = geometry(da, "center_of_mass")
    k_row, k_col = geom.grids()
    base = np.ones(geom.shape) if mask is None else detector_check(mask, geom, "center_of_mass", "mask")
    dtype = work_dtype(da.dtype)
    weights = np.stack([base, base * k_row, base * k_col], axis=-1).reshape(-1, 3).astype(dtype)
    data = core_chunks_ok(da, geom.det, "center_of_mass")
    moments = xr.apply_ufunc(
        over_detector,
        data,
        kwargs={"kernel": com_kernel, "weights": weights, "size": 2, "squeeze": False},
        input_core_dims=[list(geom.det)],
        output_core_dims=[["_one", "_com"]],
        dask="allowed",  # over_detector maps the blocks itself, without copying them
    )
    title = da.attrs.get("title", da.name)
    variables = {}
    for index, dim in ((1, geom.det[1]), (0, geom.det[0])):
        part = moments.isel(_one=0, _com=index, drop=True)  # one small indexing task per chunk
        part.attrs = result_attrs(da, f"centre of mass along {dim} of {title}", "IMAGE")
        part.attrs.update(units=geom.units, quantity=_QUANTITY[geom.kind])
        variables[f"com_{dim}"] = part
    ds = xr.Dataset(
        variables, attrs={"title": f"centre of mass of {title}", "detector_dims": [str(d) for d in geom.det]}
    )
    return provenance.record(ds, "stem4d.center_of_mass", source=da, masked=mask is not None)


def dpc(
    data: xr.DataArray | xr.Dataset,
    *,
    rotation: float | None = None,
    flip: bool | None = None,
    descan: bool = True,
    mask: Any = None,
) -> xr.Dataset:
    """Differential phase contrast: descanned, rotated CoM vectors and their integral (iDPC).

    Parameters
    ----------
    data : xarray.DataArray or xarray.Dataset
        4-D STEM data, or the result of `center_of_mass`. The CoM maps are computed (one pass
        over the data): the descan fit and the rotation need them whole.
    rotation : float, optional
        Angle in degrees that turns detector-frame vectors into the scan frame (counter-clockwise
        from the scan's column axis towards its row axis). None calibrates it: the angle whose
        rotated field has the least curl (found exactly, as the smallest eigenvector of a 2x2
        matrix); the remaining 180° ambiguity is resolved so that the divergence is negatively
        skewed (the projected potential peaks sharply at atoms).
    flip : bool, optional
        Swap the detector axes before rotating (a transposed detector). None: with a calibrated
        rotation, the choice with the lower curl; with a given rotation, False.
    descan : bool, optional
        Fit a plane ``a + b x + c y`` to each CoM component over the scan and subtract it (the
        probe's drift across the detector as the beam scans, and the pattern centre).
    mask : array-like or xarray.DataArray, optional
        Detector weights for `center_of_mass` (4-D input only).

    Returns
    -------
    xarray.Dataset
        ``dpc_<kx>``, ``dpc_<ky>``: the CoM shift along the scan's column and row axes, in the
        detector's units; ``idpc``: its Fourier integral, in detector units times scan units.
        attrs: ``rotation`` (deg), ``flip``, ``curl_fraction`` (curl energy left over the total
        gradient energy, small when the calibration fits), ``descan`` (plane coefficients).

    Raises
    ------
    DimensionError
        Not 4-D STEM dims (or a Dataset that is not a `center_of_mass` result), fewer than 2
        positions along a scan dim.

    Warns
    -----
    CalibrationWarning
        Uncalibrated detector, or positions with no counts (their CoM is set to the fit).

    Notes
    -----
    The iDPC integral is ``phi = F^-1[(k_x G_x + k_y G_y) / (2 pi i |k|^2)]`` with ``G`` the
    Fourier transforms of the DPC components (Lazić et al., Ultramicroscopy 160 (2016) 265,
    doi:10.1016/j.ultramic.2015.10.011); the rotation calibration follows the least-curl idea
    of py4DSTEM (Savitzky et al., Microsc. Microanal. 27 (2021) 712).
    """
    com = center_of_mass(data, mask=mask) if isinstance(data, xr.DataArray) else data
    if isinstance(data, xr.Dataset) and mask is not None:
        raise TypeError("dpc: mask= applies to 4-D data only; the CoM maps were given")
    det, names = _com_names(com)
    first = com[names[0]]
    nav = first.dims
    if len(nav) != 2:
        raise DimensionError(f"dpc: the CoM maps must be 2-D over the scan, got dims {list(nav)}")
    steps = [coordinate_spacing(first, d, "dpc") for d in nav]
    u_col, u_row = (np.asarray(com[n].values, dtype=np.float64) for n in names)
    planes: dict[str, list[float]] = {}
    if descan:
        u_col, planes[names[0]] = _remove_plane(u_col)
        u_row, planes[names[1]] = _remove_plane(u_row)
    u_col, u_row = _fill_missing(u_col, u_row)
    if rotation is None:
        theta, flip, curl = _calibrate(u_col, u_row, steps, flip)
    else:
        theta, flip = math.radians(float(rotation)), bool(flip)
        curl = _curl_fraction(u_col, u_row, steps, theta, flip)
    g_col, g_row = _rotate(u_col, u_row, theta, flip)
    phase = _integrate(g_col, g_row, steps)
    return _dpc_result(com, det, nav, (g_col, g_row, phase), steps, math.degrees(theta), flip, curl, planes)


def _com_names(com: xr.Dataset) -> tuple[list[Hashable], tuple[str, str]]:
    det = list(com.attrs.get("detector_dims") or [])
    names = (f"com_{det[1]}", f"com_{det[0]}") if len(det) == 2 else ("", "")
    if not all(n and n in com.data_vars for n in names):
        raise DimensionError(
            f"dpc: expected the Dataset of center_of_mass (com_<kx>, com_<ky>, attrs['detector_dims']); "
            f"got variables {list(com.data_vars)}"
        )
    return det, names


def _remove_plane(values: np.ndarray) -> tuple[np.ndarray, list[float]]:
    """Subtract the least-squares plane ``a + b * column + c * row`` (NaN ignored); returns its coefficients."""
    grid = np.indices(values.shape, dtype=np.float64)
    rows, cols = grid[0], grid[1]
    good = np.isfinite(values)
    design = np.stack([np.ones(good.sum()), cols[good], rows[good]], axis=1)
    coef: np.ndarray = np.linalg.lstsq(design, values[good], rcond=None)[0]
    return values - (coef[0] + coef[1] * cols + coef[2] * rows), [float(c) for c in coef]


def _fill_missing(u_col: np.ndarray, u_row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~(np.isfinite(u_col) & np.isfinite(u_row))
    if bad.any():
        warnings.warn(
            f"dpc: {int(bad.sum())} scan position(s) have no counts (no centre of mass); their DPC "
            "signal is set to 0",
            CalibrationWarning,
            stacklevel=3,
        )
        u_col, u_row = np.where(bad, 0.0, u_col), np.where(bad, 0.0, u_row)
    return u_col, u_row


def _rotate(u_col: np.ndarray, u_row: np.ndarray, theta: float, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    if flip:
        u_col, u_row = u_row, u_col
    c, s = math.cos(theta), math.sin(theta)
    return c * u_col - s * u_row, s * u_col + c * u_row


def _curl_div(u_col: np.ndarray, u_row: np.ndarray, steps: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Curl and divergence of the field (column, row components) on the scan grid."""
    d_row, d_col = steps
    curl = np.gradient(u_row, d_col, axis=1) - np.gradient(u_col, d_row, axis=0)
    div = np.gradient(u_col, d_col, axis=1) + np.gradient(u_row, d_row, axis=0)
    return curl, div


def _curl_fraction(
    u_col: np.ndarray, u_row: np.ndarray, steps: list[float], theta: float, flip: bool
) -> float:
    curl, div = _curl_div(*_rotate(u_col, u_row, theta, flip), steps)
    total = float(np.sum(curl**2) + np.sum(div**2))
    return float(np.sum(curl**2)) / total if total > 0 else 0.0


def _calibrate(
    u_col: np.ndarray, u_row: np.ndarray, steps: list[float], flip: bool | None
) -> tuple[float, bool, float]:
    """``(theta, flip, curl_fraction)`` minimising the curl of the rotated field."""
    best: tuple[float, bool, float] | None = None
    for swap in (False, True) if flip is None else (bool(flip),):
        a, b = _curl_div(*((u_row, u_col) if swap else (u_col, u_row)), steps)
        # curl(R(theta) u) = cos(theta) a + sin(theta) b: minimise its energy over theta
        matrix = np.array([[np.sum(a * a), np.sum(a * b)], [np.sum(a * b), np.sum(b * b)]])
        values, vectors = np.linalg.eigh(matrix)
        cos, sin = vectors[:, 0]
        theta = math.atan2(sin, cos)
        if scipy.stats.skew((cos * b - sin * a).ravel()) > 0:  # div(R(theta) u); atoms: sharp negative
            theta += math.pi
        fraction = float(values[0] / np.trace(matrix)) if np.trace(matrix) > 0 else 0.0
        if best is None or fraction < best[2]:
            best = ((theta + math.pi) % (2 * math.pi) - math.pi, swap, fraction)
    if best is None:  # pragma: no cover  (the loop runs at least once)
        raise RuntimeError("dpc: rotation calibration did not run")
    return best


def _integrate(g_col: np.ndarray, g_row: np.ndarray, steps: list[float]) -> np.ndarray:
    """Fourier integration of a gradient field: the potential whose gradient is (g_col, g_row)."""
    k_row = np.fft.fftfreq(g_col.shape[0], steps[0])[:, None]
    k_col = np.fft.fftfreq(g_col.shape[1], steps[1])[None, :]
    k2 = k_row**2 + k_col**2
    k2[0, 0] = 1.0
    spectrum = (k_col * np.fft.fft2(g_col) + k_row * np.fft.fft2(g_row)) / (2j * np.pi * k2)
    spectrum[0, 0] = 0.0  # the mean of the potential is not measured
    return np.fft.ifft2(spectrum).real


def _dpc_result(
    com: xr.Dataset,
    det: list[Hashable],
    nav: tuple[Hashable, ...],
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray],
    steps: list[float],
    rotation: float,
    flip: bool,
    curl: float,
    planes: dict[str, list[float]],
) -> xr.Dataset:
    first = com[f"com_{det[1]}"]
    coords = {d: first.coords[d] for d in nav if d in first.coords}
    det_units = str(first.attrs.get("units", ""))
    scan_units, scan_quantity = coordinate_units(first, nav[1])
    try:
        product = units.parse(det_units or "px", "Reciprocal length") * units.parse(
            scan_units or "px", scan_quantity
        )
        phase_units = units.format(product)
    except UnitError:
        phase_units = ""
    base = {k: v for k, v in first.attrs.items() if k not in ("title", "provenance")}
    variables = {}
    for name, values, title in (
        (f"dpc_{det[1]}", arrays[0], f"DPC along {nav[1]}"),
        (f"dpc_{det[0]}", arrays[1], f"DPC along {nav[0]}"),
        ("idpc", arrays[2], "integrated DPC"),
    ):
        attrs = {**base, "title": title, "provenance": dict(first.attrs.get("provenance") or {})}
        if name == "idpc":
            attrs.update(units=phase_units, quantity="Integrated DPC")
        variables[name] = xr.DataArray(values.astype(np.float64), dims=nav, coords=coords, attrs=attrs)
    ds = xr.Dataset(
        variables,
        attrs={
            "title": f"DPC of {com.attrs.get('title', '')}",
            "rotation": rotation,
            "flip": flip,
            "curl_fraction": curl,
            "descan": planes,
            "scan_steps": steps,
        },
    )
    return provenance.record(ds, "stem4d.dpc", source=com, rotation=rotation, flip=flip, descan=bool(planes))
