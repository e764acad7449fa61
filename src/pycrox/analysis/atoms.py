"""Atom (bright spot) finding: local maxima of a smoothed image, refined to sub-pixel positions.

Peaks are the pixels that are the maximum of their ``min_distance`` neighbourhood and above a
relative threshold; weaker peaks closer than `min_distance` to a stronger one are dropped. Each
peak is refined by a least-squares 2-D quadratic fitted to the 3 x 3 pixels around it, in the
logarithm of the intensity ("gaussian": exact for Gaussian peaks) or in the intensity itself.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.spatial
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import (
    check_finite,
    coordinate_spacing,
    coordinate_units,
    length_in_pixels,
    per_dim,
    resolve_dims,
)
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["find_atoms"]

REFINEMENTS = ("gaussian", "quadratic", None)
_OFFSETS = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)], dtype=np.float64)
_DESIGN = np.column_stack(
    [
        np.ones(9),
        _OFFSETS[:, 0],
        _OFFSETS[:, 1],
        _OFFSETS[:, 0] ** 2,
        _OFFSETS[:, 0] * _OFFSETS[:, 1],
        _OFFSETS[:, 1] ** 2,
    ]
)
_SOLVE = np.linalg.pinv(_DESIGN).T  # (9, 6): patch values -> quadratic coefficients


def find_atoms(
    image: xr.DataArray,
    *,
    sigma: Any = "1 px",
    threshold: float = 0.2,
    min_distance: Any = None,
    refine: str | None = "gaussian",
    dim: Hashable | Iterable[Hashable] | None = None,
) -> xr.Dataset:
    """Positions of bright atomic columns (local maxima) with sub-pixel refinement.

    Parameters
    ----------
    image : xarray.DataArray
        One 2-D image (extra dims must have size 1); a dask array is computed.
    sigma : float, str or mapping, optional
        Gaussian smoothing before the search (``"0.05 nm"``, ``"1 px"``, a number in coordinate
        units, per dim as a mapping); 0 = none.
    threshold : float, optional
        Peaks below ``min + threshold * (max - min)`` of the smoothed image are ignored (0-1).
    min_distance : float, str or mapping, optional
        Smallest distance between two atoms; default ``max(2, 2 * sigma)`` pixels.
    refine : {"gaussian", "quadratic", None}, optional
        Sub-pixel refinement by a 3 x 3 quadratic fit of log-intensity, of intensity, or none.
    dim : sequence of two hashables, optional
        Image dims; default the SPATIAL dims.

    Returns
    -------
    xarray.Dataset
        Along dim ``position`` (dimension type POINT_CLOUD), sorted by decreasing intensity:
        one variable per image dim (e.g. ``y``, ``x``) in the coordinate's units, ``<d>_pixels``
        in fractional pixel indices, and ``intensity`` (the image at the nearest pixel).

    Raises
    ------
    DimensionError
        Unknown dims, not two image dims, other dims larger than 1, a non-uniform coordinate.
    UnitError
        If `sigma` or `min_distance` cannot be expressed in the coordinate's units.
    NonFiniteError
        If the image holds NaN or inf.
    ValueError
        `threshold` outside 0-1 or unknown `refine`.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:20, 0:20]
    >>> spot = np.exp(-((yy - 7.3) ** 2 + (xx - 12.6) ** 2) / 4.0)
    >>> atoms = find_atoms(model.from_array(spot), sigma=0)
    >>> atoms.sizes["position"], round(atoms.y.item(), 3), round(atoms.x.item(), 3)
    (1, 7.3, 12.6)
    """
    dims = _image_dims(image, dim)
    if not 0 <= threshold <= 1:
        raise ArgumentError(f"find_atoms: threshold is relative to the image range, 0-1; got {threshold!r}")
    if refine not in REFINEMENTS:
        raise ArgumentError(f"find_atoms: refine must be one of {list(REFINEMENTS)}, got {refine!r}")
    steps = {d: coordinate_spacing(image, d, "find_atoms") for d in dims}
    sigma_px = [
        length_in_pixels(v, image, d, "find_atoms", "sigma")
        for d, v in per_dim(sigma, dims, "find_atoms", "sigma").items()
    ]
    distance_px = _min_distance(image, dims, min_distance, sigma_px)
    raw = np.asarray(image.squeeze(drop=True).transpose(*dims).values)
    check_finite(raw, "find_atoms")
    smooth = (
        scipy.ndimage.gaussian_filter(raw.astype(np.float64), sigma_px)
        if any(sigma_px)
        else raw.astype(float)
    )
    peaks = _local_maxima(smooth, distance_px, threshold)
    offsets = _refine(smooth, peaks, refine)
    result = _point_cloud(image, dims, peaks, offsets, raw[tuple(peaks.T)], steps)
    return provenance.record(
        model.refresh_data_type(result),
        "find_atoms",
        source=image,
        sigma=sigma,
        threshold=threshold,
        min_distance=min_distance,
        refine=refine,
        dim=list(dims),
        sigma_pixels=sigma_px,
        min_distance_pixels=distance_px,
    )


def _image_dims(image: xr.DataArray, dim: Any) -> tuple[Hashable, ...]:
    dims = resolve_dims(image, dim, default_type="SPATIAL", func="find_atoms")
    if len(dims) != 2:
        raise DimensionError(f"find_atoms: needs two image dims, got {list(dims)}; pass dim=('y', 'x')")
    extra = {d: n for d, n in image.sizes.items() if d not in dims and n > 1}
    if extra:
        raise DimensionError(
            f"find_atoms: works on one image but {image.name!r} also has {extra}; select one, "
            f"e.g. image.isel({next(iter(extra))}=0)"
        )
    return dims


def _min_distance(
    image: xr.DataArray, dims: tuple[Hashable, ...], value: Any, sigma_px: list[float]
) -> list[float]:
    if value is None:
        return [max(2.0, 2.0 * s) for s in sigma_px]
    pixels = [
        length_in_pixels(v, image, d, "find_atoms", "min_distance")
        for d, v in per_dim(value, dims, "find_atoms", "min_distance").items()
    ]
    return [max(1.0, p) for p in pixels]


def _local_maxima(smooth: np.ndarray, distance_px: list[float], threshold: float) -> np.ndarray:
    """``(n, 2)`` integer peak indices, strongest first, at least `distance_px` apart, off the border."""
    footprint = [2 * int(np.floor(d)) + 1 for d in distance_px]
    is_max = smooth == scipy.ndimage.maximum_filter(smooth, size=footprint, mode="nearest")
    low, high = float(smooth.min()), float(smooth.max())
    is_max &= smooth > low + threshold * (high - low)
    is_max[[0, -1], :] = False  # the 3 x 3 refinement needs a neighbour on every side
    is_max[:, [0, -1]] = False
    candidates = np.argwhere(is_max)
    candidates = candidates[np.argsort(-smooth[tuple(candidates.T)], kind="stable")]
    if len(candidates) < 2:
        return candidates
    scaled = candidates / np.asarray(distance_px)
    tree = scipy.spatial.cKDTree(scaled)
    keep = np.ones(len(candidates), dtype=bool)
    for i, neighbours in enumerate(tree.query_ball_point(scaled, r=1.0 - 1e-9)):
        if keep[i]:
            keep[[j for j in neighbours if j > i]] = False
    return candidates[keep]


def _refine(smooth: np.ndarray, peaks: np.ndarray, refine: str | None) -> np.ndarray:
    """Sub-pixel offsets ``(n, 2)`` from a quadratic fitted to each 3 x 3 patch (clipped to +-1)."""
    offsets = np.zeros((len(peaks), 2))
    if refine is None or len(peaks) == 0:
        return offsets
    rows = peaks[:, None, 0] + _OFFSETS[None, :, 0].astype(int)
    cols = peaks[:, None, 1] + _OFFSETS[None, :, 1].astype(int)
    patches = smooth[rows, cols]
    if refine == "gaussian":
        floor = float(smooth.min())
        lifted = patches - floor
        usable = (lifted > 0).all(axis=1)
        patches = np.where(usable[:, None], np.log(np.where(lifted > 0, lifted, 1.0)), patches)
    c = patches @ _SOLVE  # c0 + c1 dy + c2 dx + c3 dy^2 + c4 dy dx + c5 dx^2
    hessian = np.stack([np.stack([2 * c[:, 3], c[:, 4]], -1), np.stack([c[:, 4], 2 * c[:, 5]], -1)], -2)
    is_peak = (np.linalg.det(hessian) > 0) & (hessian[:, 0, 0] < 0)
    good = np.flatnonzero(is_peak)
    offsets[good] = np.linalg.solve(hessian[good], -c[good, 1:3, None])[..., 0]
    return np.clip(offsets, -1.0, 1.0)


def _point_cloud(
    image: xr.DataArray,
    dims: tuple[Hashable, ...],
    peaks: np.ndarray,
    offsets: np.ndarray,
    intensity: np.ndarray,
    steps: dict[Hashable, float],
) -> xr.Dataset:
    position = model.coordinate("position", np.arange(len(peaks)))
    common = {
        "data_type": "POINT_CLOUD",
        "modality": image.attrs.get("modality", ""),
        "source": image.attrs.get("source", ""),
        "metadata": image.attrs.get("metadata", {}),
    }
    variables = {}
    for axis, d in enumerate(dims):
        pixels = peaks[:, axis] + offsets[:, axis]
        origin = float(image.coords[d].values[0]) if d in image.coords else 0.0
        unit_text, quantity = coordinate_units(image, d)
        variables[str(d)] = model.from_array(
            origin + steps[d] * pixels,
            dims=["position"],
            coords={"position": position},
            title=f"atom {d} position",
            units=unit_text,
            quantity=quantity or "Length",
            **common,
        )
        variables[f"{d}_pixels"] = model.from_array(
            pixels,
            dims=["position"],
            coords={"position": position},
            title=f"atom {d} position in pixels",
            units="px",
            quantity="Pixel index",
            **common,
        )
    variables["intensity"] = model.from_array(
        intensity,
        dims=["position"],
        coords={"position": position},
        title="atom intensity",
        units=image.attrs.get("units", ""),
        quantity=image.attrs.get("quantity", ""),
        **common,
    )
    title = f"atoms in {image.attrs.get('title') or image.name or 'image'}"
    return xr.Dataset(variables, attrs={"title": title, "source": image.attrs.get("source", "")})
