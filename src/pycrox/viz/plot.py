"""``da.pycro.plot()``: one call that picks the picture by ``data_type`` and the dimension types."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import dask
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

from pycrox import model
from pycrox.errors import DimensionError
from pycrox.viz import _panels
from pycrox.viz._dims import colour_dim, dim_types, frame_dim, navigation_dims, point_dim, spectral_dim
from pycrox.viz._labels import label

__all__ = ["MAX_FRAMES", "choose", "plot"]

#: most frames an image-stack montage shows (evenly spaced through the stack)
MAX_FRAMES = 16
_NDIM = {
    "SPECTRUM": 1,
    "LINE_PLOT": 1,
    "IMAGE": 2,
    "LINE_PLOT_FAMILY": 2,
    "IMAGE_STACK": 3,
    "IMAGE_MAP": 3,
    "SPECTRAL_IMAGE": 3,
    "IMAGE_4D": 4,
}
_KINDS = {
    "SPECTRUM": "line",
    "LINE_PLOT": "line",
    "IMAGE": "image",
    "LINE_PLOT_FAMILY": "family",
    "IMAGE_STACK": "stack",
    "IMAGE_MAP": "stack",
    "SPECTRAL_IMAGE": "navigator",
    "IMAGE_4D": "navigator",
}


def choose(da: xr.DataArray) -> str:
    """The picture `plot` draws for `da` (after dropping length-1 dims).

    Returns
    -------
    str
        ``"line"`` (SPECTRUM, LINE_PLOT, any 1-D data), ``"family"`` (LINE_PLOT_FAMILY),
        ``"image"`` (IMAGE, also an RGB image), ``"stack"`` (IMAGE_STACK, IMAGE_MAP: a montage),
        ``"navigator"`` (SPECTRAL_IMAGE, IMAGE_4D and any other data of three or more dims: a
        navigator image beside the mean signal) or ``"points"`` (POINT_CLOUD with per-position
        coordinates).
        The ``data_type`` attr decides when it fits the number of dims; otherwise the dimension
        types (`pycrox.model.guess_data_type`), otherwise the number of dims.
    """
    if point_dim(da) is not None:
        return "points"
    if colour_dim(da) is not None:
        return "image"
    stated = str(da.attrs.get("data_type", "UNKNOWN"))
    if _NDIM.get(stated) == da.ndim:
        return _KINDS[stated]
    guessed = model.guess_data_type(list(dim_types(da).values()))
    if _NDIM.get(guessed) == da.ndim:
        return _KINDS[guessed]
    return {1: "line", 2: "image"}.get(da.ndim, "navigator")


def plot(da: xr.DataArray, *, figure: Figure | None = None, **kwargs: Any) -> Figure:
    """Draw a pycrox signal the way its data type is usually looked at.

    Length-1 dims are dropped first; complex data are drawn as amplitude and phase side by side.

    ============== ==================================================================
    data           picture
    ============== ==================================================================
    image          row 0 at the top, equal aspect, axes in physical units, a scale bar
                   of round length, colour bar "quantity [units]"
    spectrum, line the values against the coordinate, both axes labelled
    line family    one line per index of the non-spectral dim (an image beyond 12)
    spectral image navigator (sum over the spectral dim) beside the mean spectrum
    image stack    a montage of up to 16 evenly spaced frames with one colour scale
    4-D            navigator (sum over the pattern dims) beside the mean pattern
    point cloud    positions as a scatter coloured by the (summed) values
    ============== ==================================================================

    Non-uniform coordinates are honoured (images use ``pcolormesh`` on the pixel edges).

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox signal, numpy- or dask-backed (reductions run lazily; only what is drawn is
        computed).
    figure : matplotlib.figure.Figure, optional
        Draw into this figure; by default a new ``matplotlib.pyplot`` figure.
    **kwargs
        Passed to the call that draws the data: ``imshow``/``pcolormesh`` for image panels,
        ``Axes.plot`` for line panels, ``Axes.scatter`` for point clouds.

    Returns
    -------
    matplotlib.figure.Figure
        The figure; ``figure.axes`` holds the panels (then the colour bars).

    Raises
    ------
    DimensionError
        For data with no dims, or whose signal part has more than two dims after summing.

    See Also
    --------
    choose : which picture a signal gets.
    pycrox.viz.contact_sheet : one thumbnail per signal of a file.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> img = pycrox.from_array(np.arange(12.0).reshape(3, 4), quantity="Intensity", units="counts",
    ...                         coords={"x": {"values": np.arange(4.0), "units": "nm"},
    ...                                 "y": {"values": np.arange(3.0), "units": "nm"}})
    >>> fig = img.pycro.plot()
    >>> fig.axes[0].get_xlabel(), fig.axes[1].get_ylabel()
    ('Length [nm]', 'Intensity [counts]')

    .. versionadded:: 0.2
    """
    da = da.squeeze(drop=False)
    if da.size == 0 or da.ndim == 0:
        found = "no values" if da.size == 0 else f"a single value ({da.values!r})"
        raise DimensionError(f"plot: {da.name!r} holds {found}; there is nothing to draw")
    if figure is None:
        from matplotlib import pyplot

        figure = pyplot.figure(layout="constrained")
    if np.issubdtype(da.dtype, np.complexfloating):
        _complex(figure, da, **kwargs)
        return figure
    kind = choose(da)
    _DRAW[kind](figure, da, **kwargs)
    return figure


def _complex(figure: Figure, da: xr.DataArray, **kwargs: Any) -> None:
    quantity = da.attrs.get("long_name") or da.attrs.get("quantity")
    amplitude = abs(da).assign_attrs(
        da.attrs, long_name=f"Amplitude of {quantity}" if quantity else "Amplitude"
    )
    phase = xr.apply_ufunc(np.angle, da, dask="allowed").assign_attrs(
        da.attrs, long_name="Phase", units="rad"
    )
    kind = choose(amplitude)
    if kind not in ("image", "line", "family"):  # navigator, stack, points: the amplitude only
        _DRAW[kind](figure, amplitude, **kwargs)
        return
    left, right = figure.subplots(1, 2)
    for ax, part in ((left, amplitude), (right, phase)):
        cyclic = {"cmap": "twilight"} if part is phase and kind == "image" else {}
        _draw_single(ax, part, kind, **{**cyclic, **kwargs})
        ax.set_title(str(part.attrs["long_name"]))
    figure.set_size_inches(10, 4)


def _draw_single(ax: Any, da: xr.DataArray, kind: str, **kwargs: Any) -> None:
    if kind == "image":
        _panels.image(ax, da, **kwargs)
    elif kind == "line":
        _panels.line(ax, da, **kwargs)
    else:
        _panels.family(ax, da, spectral_dim(da), **kwargs)


def _one(figure: Figure, da: xr.DataArray, kind: str, **kwargs: Any) -> None:
    ax = figure.subplots()
    _draw_single(ax, da, kind, **kwargs)
    ax.set_title(_title(da))


def _quantity(da: xr.DataArray) -> str:
    return str(da.attrs.get("long_name") or da.attrs.get("quantity") or "signal")


def _title(da: xr.DataArray) -> str:
    return str(da.attrs.get("title") or (da.name if da.name is not None else ""))


def _navigator(figure: Figure, da: xr.DataArray, **kwargs: Any) -> None:
    """Navigator image (sum over the signal dims) beside the mean signal (over the navigation dims)."""
    nav = navigation_dims(da)
    signal_dims = [d for d in da.dims if d not in nav]
    navigator, mean = dask.compute(da.sum(signal_dims, keep_attrs=True), da.mean(nav, keep_attrs=True))
    while mean.ndim > 2:  # 5-D and more: sum the leading signal dims away
        mean = mean.sum([mean.dims[0]], keep_attrs=True)
    left, right = figure.subplots(1, 2)
    _panels.image(left, navigator.assign_attrs(long_name=f"Σ {_quantity(da)}"), **kwargs)
    left.set_title(f"{_title(da)} — sum over {', '.join(map(str, signal_dims))}".strip(" —"))
    if mean.ndim == 1:
        _panels.line(right, mean)
    else:
        _panels.image(right, mean, **kwargs)
    right.set_title(f"mean over {', '.join(map(str, nav))}")
    figure.set_size_inches(11, 4.5)


def _stack(figure: Figure, da: xr.DataArray, **kwargs: Any) -> None:
    """A montage of up to `MAX_FRAMES` evenly spaced frames, one shared colour scale."""
    frames_along = frame_dim(da)
    count = da.sizes[frames_along]
    picks = np.unique(np.linspace(0, count - 1, min(count, MAX_FRAMES)).round().astype(int))
    frames = da.isel({frames_along: picks}).compute()
    finite = frames.values[np.isfinite(frames.values)] if frames.dtype.kind == "f" else frames.values
    kwargs.setdefault("vmin", float(finite.min()) if finite.size else 0.0)
    kwargs.setdefault("vmax", float(finite.max()) if finite.size else 1.0)
    ncols = math.ceil(math.sqrt(picks.size))
    nrows = math.ceil(picks.size / ncols)
    axes = np.atleast_1d(figure.subplots(nrows, ncols, squeeze=False)).ravel()
    positions, unit = _panels.coordinate_values(da, frames_along)[picks], _coord_units(da, frames_along)
    artist: Any = None
    for i, ax in enumerate(axes):
        if i >= picks.size:
            ax.set_axis_off()
            continue
        artist = _panels.image(ax, frames.isel({frames_along: i}), colorbar=False, scale_bar=i == 0, **kwargs)
        ax.set_title(f"{frames_along} = {positions[i]:g} {unit}".strip(), fontsize="small")
        if i != (nrows - 1) * ncols:  # labels on the lower-left panel only
            ax.set_xlabel("")
            ax.set_ylabel("")
    figure.colorbar(artist, ax=list(axes), label=label(da))
    figure.suptitle(f"{_title(da)} ({picks.size} of {count} frames)".strip())
    figure.set_size_inches(2.6 * ncols + 1.5, 2.4 * nrows + 0.8)


def _coord_units(da: xr.DataArray, dim: Hashable) -> str:
    units = da[dim].attrs.get("units", "") if dim in da.coords else ""
    return units if isinstance(units, str) else ""


def _points(figure: Figure, da: xr.DataArray, **kwargs: Any) -> None:
    dim = point_dim(da)
    others = [d for d in da.dims if d != dim]
    values = da.sum(others, keep_attrs=True) if others else da
    if others:
        values = values.assign_attrs(long_name=f"Σ {_quantity(da)}")
    axes = figure.subplots(1, 2 if len(others) in (1, 2) else 1, squeeze=False).ravel()
    _panels.points(axes[0], values, dim, **kwargs)
    axes[0].set_title(_title(da))
    if len(axes) == 2:
        mean = da.mean([dim], keep_attrs=True)
        _draw_single(axes[1], mean, "line" if mean.ndim == 1 else "image")
        axes[1].set_title(f"mean over {dim}")
        figure.set_size_inches(11, 4.5)


_DRAW: dict[str, Any] = {
    "line": lambda fig, da, **kw: _one(fig, da, "line", **kw),
    "image": lambda fig, da, **kw: _one(fig, da, "image", **kw),
    "family": lambda fig, da, **kw: _one(fig, da, "family", **kw),
    "stack": _stack,
    "navigator": _navigator,
    "points": _points,
}
