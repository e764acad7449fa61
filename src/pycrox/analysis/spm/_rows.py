"""Row (scan-line) corrections: align rows and remove scars (Gwyddion's "Align Rows", "Remove Scars")."""

from __future__ import annotations

from typing import Literal

import numpy as np
import xarray as xr
from scipy import ndimage

from pycrox import provenance
from pycrox.analysis._dims import check_finite, float_dtype
from pycrox.analysis.spm._image import DimArg, apply_image, image_dims
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["align_rows", "remove_scars"]

AlignMethod = Literal["median", "median_difference", "polynomial"]
_METHODS = ("median", "median_difference", "polynomial")


def align_rows(
    da: xr.DataArray,
    method: AlignMethod = "median",
    *,
    degree: int = 1,
    dim: DimArg = None,
) -> xr.DataArray:
    """Remove the offsets between scan lines (rows along the fast-scan dim).

    Parameters
    ----------
    da : xarray.DataArray
        Height (or any channel) image(s), numpy- or dask-backed; dims other than the two image
        dims are looped over.
    method : {"median", "median_difference", "polynomial"}, optional
        ``"median"`` subtracts each row's median, so every row has median 0 (robust to features).
        ``"median_difference"`` shifts each row by the running sum of the medians of its
        differences to the previous row (the first row is kept), which keeps a global slope
        along the slow-scan dim; this is pySPM's ``correct_median_diff``.
        ``"polynomial"`` subtracts each row's least-squares polynomial of `degree` in the
        fast coordinate (like `pycrox.analysis.filters.level_lines`).
    degree : int, optional
        Polynomial degree for ``method="polynomial"``.
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims in the order of ``da.dims``
        (rows run along the second).

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs (units unchanged); floating point; with provenance.

    Raises
    ------
    ValueError
        Unknown `method` or a bad `degree`.
    DimensionError
        Not two image dims, or fewer than ``degree + 1`` points per row.
    NonFiniteError
        When computed, if the data hold NaN or inf.

    Examples
    --------
    >>> aligned = image.pycro.spm.align_rows("median_difference")  # doctest: +SKIP
    """
    if method not in _METHODS:
        raise ArgumentError(f"align_rows: method must be one of {_METHODS}, got {method!r}")
    dims = image_dims(da, dim, "align_rows")
    kwargs: dict = {"method": method}
    if method == "polynomial":
        if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 0:
            raise ArgumentError(f"align_rows: degree must be a non-negative integer, got {degree!r}")
        size = da.sizes[dims[1]]
        if size < degree + 1:
            raise DimensionError(
                f"align_rows: rows along {dims[1]!r} have {size} point(s), too few for degree {degree}"
            )
        coord = da.coords[dims[1]] if dims[1] in da.coords else np.arange(size)
        position = np.asarray(coord, dtype=float)
        centre, half = (position.max() + position.min()) / 2, (position.max() - position.min()) / 2
        design = np.vander((position - centre) / (half or 1.0), degree + 1, increasing=True)
        kwargs["design"] = design
        kwargs["solve"] = np.linalg.pinv(design)
    result = apply_image(_align_kernel, da, dims, "align_rows", **kwargs)
    return provenance.record(
        result, "spm.align_rows", source=da, method=method, degree=degree, dim=[str(d) for d in dims]
    )


def _align_kernel(
    values: np.ndarray,
    *,
    method: str,
    design: np.ndarray | None = None,
    solve: np.ndarray | None = None,
) -> np.ndarray:
    check_finite(values, "align_rows")
    dtype = float_dtype(values.dtype)
    z = values.astype(np.float64, copy=False)
    if method == "median":
        out = z - np.median(z, axis=-1, keepdims=True)
    elif method == "median_difference":
        differences = np.diff(z, axis=-2)
        offsets = np.zeros(z.shape[:-1])
        np.cumsum(np.median(differences, axis=-1), axis=-1, out=offsets[..., 1:])
        out = z - offsets[..., None]
    else:
        if design is None or solve is None:
            raise ArgumentError("align_rows: the polynomial method needs its design matrix")
        out = z - (z @ solve.T) @ design.T
    return out.astype(dtype, copy=False)


def remove_scars(
    da: xr.DataArray,
    *,
    threshold_high: float = 0.666,
    threshold_low: float = 0.25,
    min_length: int = 16,
    max_width: int = 4,
    dim: DimArg = None,
) -> xr.DataArray:
    """Find and interpolate over scars: short stretches of scan lines that jump above or below both neighbours.

    A scar is a run of up to `max_width` adjacent rows over which the data lie above (or below)
    both the row just before and the row just after it by more than `threshold_low` times the
    rms difference between neighbouring rows, for at least `min_length` pixels along the row,
    and by more than `threshold_high` times it somewhere in the run (hysteresis, as Gwyddion's
    "Remove Scars"). Scar pixels are replaced by linear interpolation between the rows that
    enclose them; everything else is returned unchanged. The first and last rows are never
    treated as scars.

    Parameters
    ----------
    da : xarray.DataArray
        Image(s), numpy- or dask-backed.
    threshold_high, threshold_low : float, optional
        Hysteresis thresholds in units of the rms difference between neighbouring rows;
        ``threshold_low <= threshold_high``.
    min_length : int, optional
        Shortest scar, in pixels along the row.
    max_width : int, optional
        Widest scar, in rows.
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point; with provenance.

    Raises
    ------
    ValueError
        Thresholds not positive or in the wrong order, `min_length` or `max_width` below 1.
    DimensionError
        Not two image dims.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    if not 0 < threshold_low <= threshold_high:
        raise ArgumentError(
            f"remove_scars: need 0 < threshold_low <= threshold_high, got {threshold_low} and {threshold_high}"
        )
    if int(min_length) < 1 or int(max_width) < 1:
        raise ArgumentError(
            f"remove_scars: min_length and max_width must be >= 1, got {min_length}, {max_width}"
        )
    dims = image_dims(da, dim, "remove_scars")
    result = apply_image(
        _scars_kernel,
        da,
        dims,
        "remove_scars",
        high=float(threshold_high),
        low=float(threshold_low),
        min_length=int(min_length),
        max_width=int(max_width),
    )
    return provenance.record(
        result,
        "spm.remove_scars",
        source=da,
        threshold_high=threshold_high,
        threshold_low=threshold_low,
        min_length=min_length,
        max_width=max_width,
        dim=[str(d) for d in dims],
    )


def _scars_kernel(
    values: np.ndarray, *, high: float, low: float, min_length: int, max_width: int
) -> np.ndarray:
    check_finite(values, "remove_scars")
    dtype = float_dtype(values.dtype)
    z = np.array(values, dtype=np.float64)
    images = z.reshape(-1, *z.shape[-2:])
    for image in images:
        _remove_scars_2d(image, high, low, min_length, max_width)
    return images.reshape(z.shape).astype(dtype, copy=False)


_ROW_STRUCTURE = np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=bool)


def _remove_scars_2d(z: np.ndarray, high: float, low: float, min_length: int, max_width: int) -> None:
    """Remove scars from one image in place."""
    rows = z.shape[0]
    sigma = float(np.sqrt(np.mean(np.diff(z, axis=0) ** 2))) if rows > 1 else 0.0
    if sigma == 0:
        return
    for width in range(1, min(max_width, rows - 2) + 1):
        # candidates start at rows 1 .. rows - width - 1; block = rows i .. i + width - 1
        before = z[: rows - width - 1]
        after = z[width + 1 :]
        blocks = np.stack([z[1 + k : rows - width + k] for k in range(width)])
        above = blocks.min(axis=0) - np.maximum(before, after)
        below = np.minimum(before, after) - blocks.max(axis=0)
        excess = np.maximum(above, below) / sigma
        weak = excess > low
        if not weak.any():
            continue
        labels, count = ndimage.label(weak, structure=_ROW_STRUCTURE)
        index = np.arange(1, count + 1)
        lengths = ndimage.sum_labels(weak, labels, index)
        peaks = ndimage.maximum(excess, labels, index)
        keep = np.zeros(count + 1, dtype=bool)
        keep[1:] = (lengths >= min_length) & (peaks > high)
        scar = keep[labels]
        if not scar.any():
            continue
        starts, columns = np.nonzero(scar)
        first, last = z[starts, columns], z[starts + width + 1, columns]
        for k in range(width):
            fraction = (k + 1) / (width + 1)
            z[starts + 1 + k, columns] = first + fraction * (last - first)
