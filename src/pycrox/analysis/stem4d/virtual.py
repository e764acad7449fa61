"""Virtual detectors: images from a detector mask, and diffraction patterns from a scan region.

`virtual_image` integrates every diffraction pattern over a disk (bright field), an annulus
(annular dark field) or any mask, with radii in the detector's units (``mrad``, ``1/Å``) or
converted from the other kind with the beam energy. It is one matrix-vector product per dask
chunk, streamed over the scan (each chunk read once and never copied). `virtual_diffraction` is
the mean or maximum pattern over a region of the scan.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok
from pycrox.analysis.stem4d._geometry import (
    CalibrationWarning,
    Geometry,
    detector_check,
    geometry,
    in_detector_units,
    resolve_center,
    split_dims,
)
from pycrox.analysis.stem4d._kernels import contract, over_detector, work_dtype
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["annular_mask", "virtual_diffraction", "virtual_image"]

#: attrs of the source carried onto results
_KEPT = ("quantity", "units", "modality", "source", "metadata")


def result_attrs(da: xr.DataArray, title: str, data_type: str) -> dict[str, Any]:
    """Attrs of a result computed from `da`: its quantity, units, source, metadata and provenance."""
    attrs = {k: da.attrs[k] for k in _KEPT if k in da.attrs}
    attrs.update(title=title, data_type=data_type, provenance=dict(da.attrs.get("provenance") or {}))
    return attrs


def annular_mask(
    geom: Geometry, center: tuple[float, float], inner: float, outer: float, func: str
) -> np.ndarray:
    """Boolean mask ``inner <= |k - center| < outer`` on the detector.

    Raises
    ------
    DimensionError
        If no detector pixel falls inside (annulus off the detector or ``inner >= outer``).
    """
    if not 0 <= inner < outer:
        raise ArgumentError(
            f"{func}: need 0 <= inner < outer, got inner={inner:g}, outer={outer:g} {geom.units}"
        )
    k_row, k_col = geom.grids()
    radius = np.hypot(k_row - center[0], k_col - center[1])
    mask = (radius >= inner) & (radius < outer)
    if not mask.any():
        reach = float(radius.max())
        raise DimensionError(
            f"{func}: the annulus {inner:g}-{outer:g} {geom.units} around {center} holds no detector pixel "
            f"(the detector reaches {reach:g} {geom.units} from that centre, pixel size {geom.step():g}); "
            "choose radii inside the detector"
        )
    edge = min(
        center[0] - geom.k_row.min(), geom.k_row.max() - center[0],
        center[1] - geom.k_col.min(), geom.k_col.max() - center[1],
    )  # fmt: skip
    if np.isfinite(outer) and outer > edge + geom.step():
        warnings.warn(
            f"{func}: the outer radius {outer:g} {geom.units} reaches past the detector edge "
            f"({edge:g} {geom.units} from the centre {center}); the annulus is cut by the detector",
            CalibrationWarning,
            stacklevel=4,
        )
    return mask


def _weights(
    geom: Geometry, inner: Any, outer: Any, mask: Any, center: Any, func: str
) -> tuple[np.ndarray, dict[str, Any]]:
    """The detector weights (2-D) and a description for provenance and the title."""
    if mask is not None:
        if inner is not None or outer is not None:
            raise TypeError(f"{func}: give either mask= or inner=/outer=, not both")
        weights = detector_check(mask, geom, func, "mask").astype(np.float64)
        if not np.isfinite(weights).all():
            raise ArgumentError(f"{func}: mask holds NaN or infinite values; use 0 for pixels left out")
        if not weights.any():
            raise DimensionError(f"{func}: the mask selects no detector pixel (all zero)")
        return weights, {"mask_pixels": int(np.count_nonzero(weights)), "label": "mask"}
    if inner is None and outer is None:
        raise TypeError(f"{func}: give inner= and/or outer= (radii in detector units) or mask=")
    lo = 0.0 if inner is None else in_detector_units(inner, geom, func, "inner")
    hi = np.inf if outer is None else in_detector_units(outer, geom, func, "outer")
    k0 = resolve_center(center, geom, func)
    weights = annular_mask(geom, k0, lo, hi, func)
    label = f"{lo:g}-{hi:g} {geom.units}" if lo > 0 else f"disk < {hi:g} {geom.units}"
    return weights, {"inner": lo, "outer": hi, "center": list(k0), "units": geom.units, "label": label}


def virtual_image(
    da: xr.DataArray,
    inner: Any = None,
    outer: Any = None,
    *,
    mask: Any = None,
    center: tuple[Any, Any] | None = None,
) -> xr.DataArray:
    """Image of the intensity each diffraction pattern puts on a virtual detector.

    Parameters
    ----------
    da : xarray.DataArray
        4-D STEM data: two navigation (SPATIAL) and two detector (RECIPROCAL) dims, numpy- or
        dask-backed (streamed chunk by chunk over the scan; detector dims are made whole).
    inner, outer : float, str or pint.Quantity, optional
        Radii of the annulus ``inner <= |k - center| < outer``: a number in the detector's
        units, or ``"20 mrad"``, ``"0.4 1/Å"``, ``"12 px"``. ``inner`` alone: everything beyond it
        (dark field); ``outer`` alone: a disk (bright field).
    mask : array-like or xarray.DataArray, optional
        Any detector weights instead of radii: the detector's shape (a DataArray on the detector
        dims in any order), boolean or real.
    center : pair, optional
        ``(k_row, k_col)`` of the pattern centre in detector units (or strings with units).
        Default: the coordinates' origin when on the detector, else the detector's middle (with
        a `CalibrationWarning`).

    Returns
    -------
    xarray.DataArray
        The navigation dims with their coordinates; float32 for float32 data, else float64;
        lazy if `da` is. ``attrs["virtual_detector"]`` describes the detector used.

    Raises
    ------
    DimensionError
        Not 4-D STEM dims, a mask of the wrong shape, or an annulus off the detector.
    UnitError
        Radii that cannot be expressed in the detector's units.
    TypeError
        Neither radii nor a mask, or both.

    Warns
    -----
    CalibrationWarning
        Uncalibrated detector (pixels), an assumed centre, or an annulus cut by the detector edge.

    Examples
    --------
    >>> data = pycrox.from_array(np.ones((2, 3, 5, 5)), dims=("y", "x", "ky", "kx"),
    ...     coords={d: {"values": np.arange(-2.0, 3.0), "units": "mrad"} for d in ("ky", "kx")})
    >>> virtual_image(data, outer=1.5).values[0, 0]  # the 9 pixels within 1.5 mrad
    np.float64(9.0)
    """
    geom = geometry(da, "virtual_image")
    weights, info = _weights(geom, inner, outer, mask, center, "virtual_image")
    dtype = work_dtype(da.dtype)
    data = core_chunks_ok(da, geom.det, "virtual_image")
    result = xr.apply_ufunc(
        over_detector,
        data,
        kwargs={"kernel": contract, "weights": weights.astype(dtype).ravel()},
        input_core_dims=[list(geom.det)],
        dask="allowed",  # over_detector maps the blocks itself, without copying them
    )
    result.attrs = result_attrs(
        da, f"virtual image ({info['label']}) of {da.attrs.get('title', da.name)}", "IMAGE"
    )
    result.attrs["virtual_detector"] = {k: v for k, v in info.items() if k != "label"}
    result.name = "virtual_image"
    return provenance.record(result, "stem4d.virtual_image", source=da, **info)


def virtual_diffraction(da: xr.DataArray, region: Any = None, *, method: str = "mean") -> xr.DataArray:
    """Mean or maximum diffraction pattern over a region of the scan.

    Parameters
    ----------
    da : xarray.DataArray
        4-D STEM data (two SPATIAL, two RECIPROCAL dims), numpy- or dask-backed.
    region : mapping, array-like or xarray.DataArray, optional
        None: the whole scan. A mapping ``{nav_dim: slice or labels}`` selects by coordinate
        labels (``{"x": slice(0, 10)}``); a boolean array of the scan's shape, or a boolean
        DataArray on the navigation dims, selects any set of positions.
    method : {"mean", "max"}, optional
        How the patterns are combined.

    Returns
    -------
    xarray.DataArray
        The detector dims with their coordinates; lazy if `da` is.

    Raises
    ------
    DimensionError
        Not 4-D STEM dims, a region naming other dims, of the wrong shape, or empty.
    ValueError
        An unknown `method`.
    """
    nav, _ = split_dims(da, "virtual_diffraction")
    if method not in ("mean", "max"):
        raise ArgumentError(f"virtual_diffraction: method must be 'mean' or 'max', got {method!r}")
    subset, weights = _region(da, nav, region)
    if weights is None:
        pattern = subset.mean(nav) if method == "mean" else subset.max(nav)
        count = int(np.prod([subset.sizes[d] for d in nav]))
    else:
        count = int(weights.sum())
        if method == "mean":
            pattern = xr.dot(subset, weights.astype(work_dtype(da.dtype)), dim=list(nav)) / count
        else:
            pattern = subset.where(weights).max(nav)
    pattern.attrs = result_attrs(da, f"{method} diffraction of {count} positions", "IMAGE")
    pattern.name = "virtual_diffraction"
    return provenance.record(
        pattern, "stem4d.virtual_diffraction", source=da, region=_describe_region(region), method=method
    )


def _region(
    da: xr.DataArray, nav: tuple[Hashable, Hashable], region: Any
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """The selected data and, for a boolean region, its mask as a DataArray on the nav dims."""
    func = "virtual_diffraction"
    if region is None:
        return da, None
    if isinstance(region, Mapping):
        extra = [k for k in region if k not in nav]
        if extra:
            raise DimensionError(f"{func}: region names {extra}, which are not navigation dims {list(nav)}")
        subset = da.sel(dict(region))
        if any(subset.sizes.get(d, 1) == 0 for d in nav):
            raise DimensionError(f"{func}: region {dict(region)} selects no scan position")
        missing = [d for d in nav if d not in subset.dims]
        return (subset.expand_dims(missing) if missing else subset), None
    if isinstance(region, xr.DataArray):
        if set(region.dims) != set(nav):
            raise DimensionError(
                f"{func}: region has dims {list(region.dims)}; expected the navigation dims {list(nav)}"
            )
        mask = region.transpose(*nav).values
    else:
        mask = np.asarray(region)
    shape = (da.sizes[nav[0]], da.sizes[nav[1]])
    if mask.shape != shape or mask.dtype != bool:
        raise DimensionError(
            f"{func}: a region array must be boolean with the scan's shape {shape}; got {mask.dtype} {mask.shape}"
        )
    if not mask.any():
        raise DimensionError(f"{func}: the region mask selects no scan position")
    weights = xr.DataArray(mask, dims=nav, coords={d: da.coords[d] for d in nav if d in da.coords})
    return da, weights


def _describe_region(region: Any) -> Any:
    if region is None or isinstance(region, Mapping):
        return None if region is None else {str(k): str(v) for k, v in region.items()}
    return f"boolean mask of {int(np.count_nonzero(np.asarray(region)))} positions"
