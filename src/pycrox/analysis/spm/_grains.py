"""Grain (particle) marking by height threshold or watershed, with per-grain measures."""

from __future__ import annotations

import heapq
from collections.abc import Hashable
from typing import Any, Literal, cast

import numpy as np
import pint
import xarray as xr
from scipy import ndimage

from pycrox import provenance, units
from pycrox.analysis._dims import check_finite, coordinate_units, length_in_pixels, quantity_in
from pycrox.analysis.spm._image import DimArg, data_units, image_dims, pixel_steps
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["grains", "otsu_threshold"]

GrainMethod = Literal["threshold", "watershed"]


def grains(
    da: xr.DataArray,
    method: GrainMethod = "threshold",
    *,
    threshold: Any = None,
    invert: bool = False,
    min_area: Any = None,
    min_distance: Any = 3,
    dim: DimArg = None,
) -> xr.Dataset:
    """Mark grains (particles, islands) in one height image and measure each.

    Parameters
    ----------
    da : xarray.DataArray
        One image (dims other than the two image dims must have length 1). Computed: the
        result's length (the number of grains) depends on the data.
    method : {"threshold", "watershed"}, optional
        ``"threshold"``: grains are the 4-connected regions above `threshold`.
        ``"watershed"``: the region above `threshold` is split between its local maxima (at
        least `min_distance` apart) by flooding down from them (a priority-flood watershed on
        the height), so touching grains are told apart along the valley between them.
    threshold : float, str or None, optional
        Height above which a pixel belongs to a grain (below, with `invert`): a number in the
        data's units, a string with units (``"2 nm"``), a percentage of the image's height
        range (``"50%"``, Gwyddion's "mark by height"), or None for Otsu's threshold.
    invert : bool, optional
        Mark pits (regions below the threshold) instead of hills.
    min_area : float or str, optional
        Drop grains smaller than this: a number in the image's area unit (the slow dim's
        length unit squared), a string with units (``"20 nm^2"``) or a pixel count (``"5 px"``).
    min_distance : float or str, optional
        For the watershed: smallest distance between two grains' maxima, a number in the slow
        coordinate's units, a string with units, or pixels (``"3 px"``; a bare number is taken as
        coordinate units, so the default 3 means 3 pixels only for pixel coordinates).
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims.

    Returns
    -------
    xarray.Dataset
        ``labels`` (image dims; 0 is background, grains are 1..count), ``count``, and per
        grain (dim ``grain``): ``area`` [length²], ``equivalent_diameter`` [length] (the
        diameter of the disc of the same area), ``height`` (maximum, or minimum with
        `invert`, in data units), ``mean_height`` and ``centroid_<dim>`` for both image dims;
        with provenance.

    Raises
    ------
    ValueError
        Unknown `method` or a malformed threshold.
    DimensionError
        Not two image dims, or more than one image.
    UnitError
        A threshold, area or distance whose unit does not convert.
    NonFiniteError
        If the image holds NaN or inf.
    """
    if method not in ("threshold", "watershed"):
        raise ArgumentError(f"grains: method must be 'threshold' or 'watershed', got {method!r}")
    slow, fast = image_dims(da, dim, "grains")
    extra = {d: n for d, n in da.sizes.items() if d not in (slow, fast) and n > 1}
    if extra:
        raise DimensionError(
            f"grains: works on one image but {da.name!r} also has {extra}; select one, "
            f"e.g. da.isel({next(iter(extra))}=0)"
        )
    image = da.squeeze([d for d in da.dims if d not in (slow, fast)], drop=True).transpose(slow, fast)
    z = np.asarray(image.values, dtype=np.float64)  # grain labelling is global: computing is the job
    check_finite(z, "grains")
    work = -z if invert else z
    level = _threshold(da, work, threshold, invert)
    mask = work > level
    if method == "threshold":
        labels, _ = ndimage.label(mask)
    else:
        distance = (
            length_in_pixels(min_distance, image, slow, "grains", "min_distance") if min_distance else 1.0
        )
        labels = _watershed(work, mask, max(1, round(distance)))
    step_slow, step_fast = pixel_steps(image, (slow, fast), "grains")
    pixel_area = step_slow * step_fast
    labels = _drop_small(labels, _min_pixels(min_area, pixel_area, image, slow))
    result = _measure(image, z, labels, (slow, fast), pixel_area, invert)
    return provenance.record(
        result,
        "spm.grains",
        source=da,
        method=method,
        threshold=threshold,
        threshold_value=-level if invert else level,
        invert=invert,
        min_area=min_area,
        min_distance=min_distance,
        dim=[str(slow), str(fast)],
    )


def otsu_threshold(values: np.ndarray, bins: int = 256) -> float:
    """Otsu's threshold: the level that maximises the between-class variance of a histogram.

    Parameters
    ----------
    values : numpy.ndarray
        Finite values.
    bins : int, optional
        Histogram bins.

    Returns
    -------
    float
        The threshold (a bin edge between the two classes).
    """
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_low = np.cumsum(counts)
    weight_high = weight_low[-1] - weight_low
    sum_low = np.cumsum(counts * centres)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_low = sum_low / weight_low
        mean_high = (sum_low[-1] - sum_low) / weight_high
        between = weight_low * weight_high * (mean_low - mean_high) ** 2
    between = np.nan_to_num(between, nan=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def _threshold(da: xr.DataArray, work: np.ndarray, threshold: Any, invert: bool) -> float:
    """The threshold on the working image (``-z`` when inverted)."""
    if threshold is None:
        return otsu_threshold(work)
    if isinstance(threshold, str) and threshold.strip().endswith("%"):
        try:
            fraction = float(threshold.strip()[:-1]) / 100
        except ValueError:
            raise ArgumentError(
                f"grains: threshold {threshold!r} is not a percentage such as '50%'"
            ) from None
        low, high = float(work.min()), float(work.max())
        return low + fraction * (high - low)
    unit, quantity = data_units(da)
    value = quantity_in(threshold, unit, quantity, "grains", "threshold")
    return -value if invert else value


def _watershed(work: np.ndarray, mask: np.ndarray, distance: int) -> np.ndarray:
    """Split `mask` between the local maxima of `work` by flooding down from them (priority flood).

    Pixels are taken highest first from a heap of the labelled region's 4-neighbours; each one
    joins the grain that reached it first, so grains meet along the valleys between maxima.
    """
    size = 2 * distance + 1
    peaks = (ndimage.maximum_filter(work, size=size, mode="nearest") == work) & mask
    markers, count = ndimage.label(peaks)
    labels = markers.astype(np.int32)
    if count == 0:
        return labels
    rows, cols = work.shape
    flat_labels = labels.ravel()
    flat_work = work.ravel()
    flat_mask = mask.ravel()
    queued = flat_labels > 0
    heap: list[tuple[float, int, int]] = []
    counter = 0
    for seed in np.flatnonzero(queued):
        heapq.heappush(heap, (-float(flat_work[seed]), counter, int(seed)))
        counter += 1
    while heap:
        _, _, index = heapq.heappop(heap)
        label = flat_labels[index]
        row, col = divmod(index, cols)
        for neighbour in (
            index - cols if row > 0 else -1,
            index + cols if row < rows - 1 else -1,
            index - 1 if col > 0 else -1,
            index + 1 if col < cols - 1 else -1,
        ):
            if neighbour >= 0 and flat_mask[neighbour] and not queued[neighbour]:
                queued[neighbour] = True
                flat_labels[neighbour] = label
                heapq.heappush(heap, (-float(flat_work[neighbour]), counter, neighbour))
                counter += 1
    # parts of the mask with no maximum of their own (cut off by min_distance) get their own labels
    orphans, _extra = ndimage.label(mask & (labels == 0))
    labels[orphans > 0] = orphans[orphans > 0] + count
    return labels


def _min_pixels(min_area: Any, pixel_area: float, image: xr.DataArray, slow: Hashable) -> float:
    if min_area is None:
        return 0.0
    if isinstance(min_area, str) and min_area.strip().endswith("px"):
        return float(min_area.strip()[:-2])
    unit, _ = coordinate_units(image, slow)
    area_unit = _squared(unit)
    return quantity_in(min_area, area_unit, "", "grains", "min_area") / pixel_area


def _drop_small(labels: np.ndarray, min_pixels: float) -> np.ndarray:
    """Remove grains with fewer than `min_pixels` pixels and number the rest 1..n in scan order."""
    sizes = np.bincount(labels.ravel())
    keep = sizes >= max(min_pixels, 1)
    keep[0] = False
    renumber = np.zeros(sizes.size, dtype=np.int32)
    renumber[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    # number by first appearance in scan order, so threshold and watershed agree on ordering
    first = np.unique(renumber[labels.ravel()], return_index=True)
    order = np.zeros(int(keep.sum()) + 1, dtype=np.int32)
    found = first[0][first[0] > 0]
    positions = first[1][first[0] > 0]
    order[found[np.argsort(positions)]] = np.arange(1, found.size + 1, dtype=np.int32)
    return order[renumber[labels]]


def _measure(
    image: xr.DataArray,
    z: np.ndarray,
    labels: np.ndarray,
    dims: tuple[Hashable, Hashable],
    pixel_area: float,
    invert: bool,
) -> xr.Dataset:
    slow, fast = dims
    count = int(labels.max()) if labels.size else 0
    index = np.arange(1, count + 1)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)[1:].astype(float)
    area = pixels * pixel_area
    reduce = ndimage.minimum if invert else ndimage.maximum
    height = np.asarray(reduce(z, labels, index), dtype=float) if count else np.zeros(0)
    mean_height = np.asarray(ndimage.mean(z, labels, index), dtype=float) if count else np.zeros(0)
    centres = np.asarray(ndimage.center_of_mass(np.ones_like(z), labels, index), dtype=float).reshape(-1, 2)
    length_unit, length_quantity = coordinate_units(image, slow)
    area_unit = _squared(length_unit)
    z_unit, z_quantity = data_units(image)
    grain = xr.DataArray(index, dims=("grain",), attrs={"units": "", "long_name": "grain number"})

    def per_grain(values: np.ndarray, unit: str, quantity: str, long_name: str) -> xr.DataArray:
        attrs = {"units": unit, "quantity": quantity, "long_name": long_name}
        return xr.DataArray(values, dims=("grain",), coords={"grain": grain}, attrs=attrs)

    variables: dict[Hashable, xr.DataArray] = {
        "labels": xr.DataArray(
            labels.astype(np.int32),
            dims=(slow, fast),
            coords=image.coords,
            attrs={"units": "", "long_name": "grain label (0 = background)"},
        ).transpose(*[d for d in image.dims if d in (slow, fast)]),
        "count": xr.DataArray(count, attrs={"units": "", "long_name": "number of grains"}),
        "area": per_grain(area, area_unit, "Area", "projected area"),
        "equivalent_diameter": per_grain(
            np.sqrt(4 * area / np.pi), length_unit, length_quantity, "equivalent disc diameter"
        ),
        "height": per_grain(height, z_unit, z_quantity, "minimum height" if invert else "maximum height"),
        "mean_height": per_grain(mean_height, z_unit, z_quantity, "mean height"),
    }
    for axis, d in enumerate(dims):
        coord = np.asarray(
            image.coords[d].values if d in image.coords else np.arange(image.sizes[d]), dtype=float
        )
        centre = np.interp(centres[:, axis], np.arange(coord.size), coord) if count else np.zeros(0)
        unit, quantity = coordinate_units(image, d)
        variables[f"centroid_{d}"] = per_grain(centre, unit, quantity, f"grain centroid along {d}")
    result = xr.Dataset(variables)
    result.attrs = {"title": f"grains of {image.attrs.get('title') or image.name or 'image'}"}
    return result


def _squared(unit: str) -> str:
    """``"nm"`` -> ``"nm**2"`` (pycrox's spelling of a length unit squared); ``""`` stays ``""``."""
    if not unit:
        return ""
    return units.format(cast(pint.Unit, units.parse(unit) ** 2))
