"""One panel each: an image, a line, a family of lines, a scatter of positions, on a given Axes."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable

from pycrox.errors import DimensionError
from pycrox.viz._dims import colour_dim, point_coordinates
from pycrox.viz._labels import axis_label, label
from pycrox.viz._scalebar import add_scale_bar

__all__ = [
    "MAX_LINES",
    "edges",
    "family",
    "image",
    "image_dims",
    "line",
    "pixel_centres",
    "points",
    "values_of",
]

#: a family with more lines than this is drawn as an image
MAX_LINES = 12
_COLUMN_NAMES = {"x", "kx", "u", "window_x"}
_ROW_NAMES = {"y", "ky", "v", "window_y"}


def values_of(da: xr.DataArray) -> np.ndarray:
    """The numbers to draw (computing a lazy array is the job here); bool becomes uint8."""
    values = np.asarray(da.values)
    return values.astype(np.uint8) if values.dtype == bool else values


def coordinate_values(da: xr.DataArray, dim: Hashable) -> np.ndarray:
    """The coordinate of `dim` as float64, or ``0, 1, 2...`` when it has none or it is not numeric."""
    if dim in da.coords and np.issubdtype(da[dim].dtype, np.number):
        return np.asarray(da[dim].values, dtype=np.float64)
    return np.arange(da.sizes[dim], dtype=np.float64)


def pixel_centres(da: xr.DataArray, dim: Hashable) -> np.ndarray:
    """`coordinate_values`, or ``0, 1, 2...`` when they are not finite and strictly monotonic."""
    values = coordinate_values(da, dim)
    steps = np.diff(values)
    if np.all(np.isfinite(values)) and (np.all(steps > 0) or np.all(steps < 0)):
        return values
    return np.arange(values.size, dtype=np.float64)


def edges(centres: np.ndarray) -> np.ndarray:
    """Pixel edges around 1-D pixel centres (uniform or not): midpoints, extrapolated at the ends."""
    if centres.size == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    middle = (centres[1:] + centres[:-1]) / 2
    return np.concatenate([[2 * centres[0] - middle[0]], middle, [2 * centres[-1] - middle[-1]]])


def _is_uniform(centres: np.ndarray) -> bool:
    if centres.size < 3:
        return True
    steps = np.diff(centres)
    return bool(np.allclose(steps, steps[0], rtol=1e-6, atol=0.0))


def image_dims(da: xr.DataArray) -> tuple[Hashable, Hashable]:
    """(rows, columns) of a 2-D image: ``y``/``x``-like names when present, else the native order.

    sidpy writes images as ``(x, y)``; microscopes show ``y`` down the rows and ``x`` across.
    """
    first, second = da.dims
    if str(first).lower() in _COLUMN_NAMES and str(second).lower() in _ROW_NAMES:
        return second, first
    return first, second


def _units(da: xr.DataArray, dim: Hashable) -> str:
    units = da[dim].attrs.get("units", "") if dim in da.coords else ""
    return units if isinstance(units, str) else ""


def image(ax: Axes, da: xr.DataArray, *, scale_bar: bool = True, colorbar: bool = True, **kwargs: Any) -> Any:
    """Draw a 2-D signal with row 0 at the top, axes in its coordinates' units.

    Uniform coordinates use ``imshow`` (with ``extent`` so pixel centres sit on the coordinate
    values), non-uniform ones ``pcolormesh`` on the pixel edges. Equal aspect and a scale bar when
    both axes have the same non-empty unit. `kwargs` reach ``imshow``/``pcolormesh``; a colour dim
    (`pycrox.viz._dims.colour_dim`) is drawn as RGB(A). Returns the image artist.
    """
    colour = colour_dim(da)
    rgb = colour is not None
    rows, cols = image_dims(da.isel({colour: 0}) if rgb else da)
    ordered = da.transpose(rows, cols, *([colour] if rgb else []))
    xs, ys = pixel_centres(da, cols), pixel_centres(da, rows)
    values = values_of(ordered)
    if not rgb:
        kwargs.setdefault("cmap", "gray")
    xe, ye = edges(xs), edges(ys)
    artist = _draw_grid(ax, xe, ye, values, uniform=_is_uniform(xs) and _is_uniform(ys), **kwargs)
    same_units = _units(da, rows) == _units(da, cols) != ""
    ax.set_aspect("equal" if same_units else "auto")
    ax.set_xlabel(axis_label(da, cols))
    ax.set_ylabel(axis_label(da, rows))
    if scale_bar and same_units:
        add_scale_bar(ax, abs(xe[-1] - xe[0]), _units(da, cols), height=abs(ye[-1] - ye[0]))
    if colorbar and not rgb:
        ax.figure.colorbar(artist, ax=ax, label=label(da))
    return artist


def _draw_grid(
    ax: Axes, xe: np.ndarray, ye: np.ndarray, values: np.ndarray, *, uniform: bool, **kwargs: Any
) -> Any:
    """``imshow`` (uniform pixels) or ``pcolormesh`` on the edges, row 0 at the top either way."""
    if uniform:  # matplotlib's "auto" interpolation: nearest when magnified, antialiased when reduced
        return ax.imshow(values, origin="upper", extent=(xe[0], xe[-1], ye[-1], ye[0]), **kwargs)
    artist = ax.pcolormesh(xe, ye, values, shading="flat", **kwargs)
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[-1], ye[0])  # the top of the axes is row 0
    return artist


def line(ax: Axes, da: xr.DataArray, **kwargs: Any) -> Any:
    """Draw a 1-D signal against its coordinate, both axes labelled; `kwargs` reach ``Axes.plot``."""
    (dim,) = da.dims
    (artist,) = ax.plot(coordinate_values(da, dim), values_of(da), **kwargs)
    ax.set_xlabel(axis_label(da, dim))
    ax.set_ylabel(label(da))
    return artist


def family(ax: Axes, da: xr.DataArray, along: Hashable, **kwargs: Any) -> list[Any]:
    """Draw a 2-D signal as one line per index of its other dim (an image beyond `MAX_LINES`)."""
    (other,) = (d for d in da.dims if d != along)
    if da.sizes[other] > MAX_LINES:
        return [image(ax, da.transpose(other, along), scale_bar=False, **kwargs)]
    positions, unit = coordinate_values(da, other), _units(da, other)
    artists = [
        line(ax, da.isel({other: i}), label=f"{other} = {positions[i]:g} {unit}".strip(), **kwargs)
        for i in range(da.sizes[other])
    ]
    ax.legend(fontsize="small")
    return artists


def points(ax: Axes, da: xr.DataArray, dim: Hashable, **kwargs: Any) -> ScalarMappable:
    """Scatter of the positions along point-cloud dim `dim`, coloured by the 1-D values `da`."""
    found = point_coordinates(da, dim)
    if found is None:
        raise DimensionError(f"plot: no two numeric coordinates along point-cloud dim {dim!r}")
    xc, yc = found
    kwargs.setdefault("cmap", "viridis")
    artist = ax.scatter(values_of(xc), values_of(yc), c=values_of(da), **kwargs)
    ax.set_xlabel(label(xc))
    ax.set_ylabel(label(yc))
    ax.invert_yaxis()  # as an image: y grows downwards
    if _label_units(xc) == _label_units(yc):
        ax.set_aspect("equal")
    ax.figure.colorbar(artist, ax=ax, label=label(da))
    return artist


def _label_units(coord: xr.DataArray) -> str:
    units = coord.attrs.get("units", "")
    return units if isinstance(units, str) else ""
