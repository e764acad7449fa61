"""Levelling by three points and by facets, and zero shifts (Gwyddion's "Three-Point Level", "Facet Level", "Fix Zero")."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import check_finite, coordinate_units, float_dtype, quantity_in
from pycrox.analysis.spm._image import DimArg, apply_image, image_dims, pixel_steps
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["fix_zero", "level_facets", "level_three_point"]

ZeroMode = Literal["minimum", "mean", "median"]


def level_three_point(
    da: xr.DataArray,
    points: Sequence[Mapping[Hashable, Any] | Sequence[Any]],
    *,
    radius: int = 0,
    dim: DimArg = None,
) -> xr.DataArray:
    """Subtract the plane through three chosen points, so those points end at height 0.

    Parameters
    ----------
    da : xarray.DataArray
        Image(s), numpy- or dask-backed; the plane is found in each image separately.
    points : sequence of three points
        Each a mapping ``{dim: position}`` over the two image dims or a ``(slow, fast)`` pair.
        Positions are numbers in the coordinate's units or strings with units (``"1.5 µm"``);
        the nearest pixel is taken.
    radius : int, optional
        Average the height over a ``(2 * radius + 1)`` pixel square around each point
        (clipped at the edges) before fitting, to beat noise.
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point; with provenance.

    Raises
    ------
    ValueError
        Not three points or a negative radius.
    DimensionError
        A point outside the image, or three points on one line.
    UnitError
        A position whose unit does not convert to its coordinate's.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    dims = image_dims(da, dim, "level_three_point")
    if len(points) != 3:
        raise ArgumentError(f"level_three_point: needs exactly three points, got {len(points)}")
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise ArgumentError(f"level_three_point: radius must be a non-negative integer, got {radius!r}")
    indices = np.array([_point_index(da, dims, point) for point in points], dtype=int)
    matrix = np.column_stack([np.ones(3), indices.astype(float)])
    if abs(np.linalg.det(matrix)) < 1e-9:
        raise DimensionError(
            f"level_three_point: the points fall on pixels {indices.tolist()}, which lie on one line; "
            "choose three points that span a plane"
        )
    result = apply_image(
        _three_point_kernel,
        da,
        dims,
        "level_three_point",
        indices=indices,
        inverse=np.linalg.inv(matrix),
        radius=int(radius),
    )
    return provenance.record(
        result,
        "spm.level_three_point",
        source=da,
        points=[list(map(provenance.jsonable, p.values() if isinstance(p, Mapping) else p)) for p in points],
        pixels=indices,
        radius=radius,
        dim=[str(d) for d in dims],
    )


def _point_index(da: xr.DataArray, dims: tuple[Hashable, Hashable], point: Any) -> tuple[int, int]:
    """Nearest pixel ``(slow, fast)`` of one point given in coordinate units."""
    if isinstance(point, Mapping):
        missing = [d for d in dims if d not in point]
        if missing or len(point) != 2:
            raise DimensionError(f"level_three_point: point {dict(point)} must give exactly {list(dims)}")
        values = [point[d] for d in dims]
    else:
        values = list(point)
        if len(values) != 2:
            raise ArgumentError(f"level_three_point: point {point!r} must be a ({dims[0]}, {dims[1]}) pair")
    index = []
    for d, value in zip(dims, values, strict=True):
        unit, quantity = coordinate_units(da, d)
        position = quantity_in(value, unit, quantity, "level_three_point", "points")
        coord = np.asarray(da.coords[d].values if d in da.coords else np.arange(da.sizes[d]), dtype=float)
        nearest = int(np.argmin(np.abs(coord - position)))
        half = abs(coord[-1] - coord[0]) / max(coord.size - 1, 1) / 2
        if abs(coord[nearest] - position) > half + 1e-12 * max(abs(position), 1.0):
            raise DimensionError(
                f"level_three_point: {d}={value!r} lies outside the image ({coord.min():g} to "
                f"{coord.max():g} {unit})"
            )
        index.append(nearest)
    return index[0], index[1]


def _three_point_kernel(
    values: np.ndarray, *, indices: np.ndarray, inverse: np.ndarray, radius: int
) -> np.ndarray:
    check_finite(values, "level_three_point")
    dtype = float_dtype(values.dtype)
    z = values.astype(np.float64, copy=False)
    rows, cols = z.shape[-2:]
    heights = np.stack(
        [
            z[..., max(i - radius, 0) : i + radius + 1, max(j - radius, 0) : j + radius + 1].mean(
                axis=(-2, -1)
            )
            for i, j in indices
        ],
        axis=-1,
    )
    coefficients = heights @ inverse.T
    ii, jj = np.meshgrid(np.arange(rows, dtype=float), np.arange(cols, dtype=float), indexing="ij")
    plane = coefficients[..., 0, None, None] + coefficients[..., 1, None, None] * ii
    plane = plane + coefficients[..., 2, None, None] * jj
    return (z - plane).astype(dtype, copy=False)


def level_facets(
    da: xr.DataArray,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-10,
    dim: DimArg = None,
) -> xr.DataArray:
    """Tilt each image so that its facets (flat terraces) are horizontal, not its mean plane.

    Gwyddion's "Facet Level": the local slopes of every 2x2 pixel square are averaged as
    surface normals, weighted by ``exp(-|slope|**2 / s2)`` with ``s2`` one twentieth of the
    mean squared slope, so steps and edges barely count and the most common facet orientation
    dominates; that tilt is subtracted and the step repeated until it changes by less than
    `tolerance`. On a stepped (vicinal) surface the terraces come out flat, where
    `level_plane` would leave them tilted against the staircase.

    Parameters
    ----------
    da : xarray.DataArray
        Image(s), numpy- or dask-backed. Slopes use the coordinates' spacings, the fast dim
        converted to the slow dim's length unit.
    max_iterations : int, optional
        Upper bound on the refinement steps.
    tolerance : float, optional
        Stop when the tilt removed in one step changes the height across one pixel by less
        than ``tolerance`` times the image's standard deviation.
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; the mean height is kept; with provenance.

    Raises
    ------
    DimensionError
        Not two image dims, or fewer than two pixels along one.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    dims = image_dims(da, dim, "level_facets")
    steps = pixel_steps(da, dims, "level_facets")
    if int(max_iterations) < 1:
        raise ArgumentError(f"level_facets: max_iterations must be >= 1, got {max_iterations}")
    result = apply_image(
        _facets_kernel,
        da,
        dims,
        "level_facets",
        steps=steps,
        max_iterations=int(max_iterations),
        tolerance=float(tolerance),
    )
    return provenance.record(
        result,
        "spm.level_facets",
        source=da,
        max_iterations=max_iterations,
        tolerance=tolerance,
        dim=[str(d) for d in dims],
    )


def _facets_kernel(
    values: np.ndarray, *, steps: tuple[float, float], max_iterations: int, tolerance: float
) -> np.ndarray:
    check_finite(values, "level_facets")
    dtype = float_dtype(values.dtype)
    z = np.array(values, dtype=np.float64)
    images = z.reshape(-1, *z.shape[-2:])
    for image in images:
        _level_facets_2d(image, steps, max_iterations, tolerance)
    return images.reshape(z.shape).astype(dtype, copy=False)


def _level_facets_2d(
    z: np.ndarray, steps: tuple[float, float], max_iterations: int, tolerance: float
) -> None:
    """Facet-level one image in place."""
    dy, dx = steps
    rows, cols = z.shape
    y = (np.arange(rows) - (rows - 1) / 2) * dy
    x = (np.arange(cols) - (cols - 1) / 2) * dx
    scale = float(np.std(z)) or 1.0
    for _ in range(max_iterations):
        vx = 0.5 * (z[:-1, 1:] + z[1:, 1:] - z[:-1, :-1] - z[1:, :-1]) / dx
        vy = 0.5 * (z[1:, :-1] + z[1:, 1:] - z[:-1, :-1] - z[:-1, 1:]) / dy
        squared = vx * vx + vy * vy
        s2 = 0.05 * float(squared.mean())
        if s2 == 0:
            return
        weight = np.exp(-squared / s2) / np.sqrt(1.0 + squared)  # weight x the normal's z component
        total = float(weight.sum())
        if total == 0:
            return
        bx = float((weight * vx).sum()) / total
        by = float((weight * vy).sum()) / total
        z -= by * y[:, None] + bx * x[None, :]
        if max(abs(bx) * dx, abs(by) * dy) <= tolerance * scale:
            return


def fix_zero(da: xr.DataArray, to: ZeroMode = "minimum", *, dim: DimArg = None) -> xr.DataArray:
    """Shift each image so that its minimum (or mean, or median) is zero.

    Parameters
    ----------
    da : xarray.DataArray
        Image(s), numpy- or dask-backed.
    to : {"minimum", "mean", "median"}, optional
        Which statistic of each image becomes 0 (Gwyddion's "Fix Zero" is ``"minimum"``,
        its "Zero Mean Value" ``"mean"``).
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs; floating point; with provenance.

    Raises
    ------
    ValueError
        Unknown `to`.
    DimensionError
        Not two image dims.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    """
    modes = ("minimum", "mean", "median")
    if to not in modes:
        raise ArgumentError(f"fix_zero: to must be one of {modes}, got {to!r}")
    dims = image_dims(da, dim, "fix_zero")
    result = apply_image(_zero_kernel, da, dims, "fix_zero", to=to)
    return provenance.record(result, "spm.fix_zero", source=da, to=to, dim=[str(d) for d in dims])


def _zero_kernel(values: np.ndarray, *, to: str) -> np.ndarray:
    check_finite(values, "fix_zero")
    dtype = float_dtype(values.dtype)
    z = values.astype(np.float64, copy=False)
    flat = z.reshape(*z.shape[:-2], -1)
    if to == "minimum":
        offset = flat.min(axis=-1)
    elif to == "mean":
        offset = flat.mean(axis=-1)
    else:
        offset = np.median(flat, axis=-1)
    return (z - offset[..., None, None]).astype(dtype, copy=False)
