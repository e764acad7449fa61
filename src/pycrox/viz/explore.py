"""Interactive viewers for notebooks (``da.pycro.explore()``), on matplotlib widgets.

In Jupyter, run ``%matplotlib widget`` (the ``ipympl`` package of the ``pycrox[view]`` extra) first:
the figure is then live. Every callback is also a method (`Explorer.click`, `Explorer.select_region`,
`Explorer.set_window`, `Explorer.set_frame`, `Explorer.set_detector`), so a script or a test drives
the viewer exactly as the mouse does. Only the part of a lazy signal a picture needs is read.
"""

from __future__ import annotations

from collections.abc import Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.backend_bases import MouseButton, MouseEvent
from matplotlib.figure import Figure
from matplotlib.widgets import RectangleSelector, Slider, SpanSelector

from pycrox.errors import DimensionError, PycroxError
from pycrox.viz._labels import label
from pycrox.viz._roles import Roles, TileCache, channel_window, roles, rows_columns

__all__ = ["Explorer", "explore"]


def _figure(figsize: tuple[float, float]) -> Figure:
    """A pyplot figure (so that ``%matplotlib widget`` makes it live), else a plain one."""
    try:
        from matplotlib import pyplot
    except ImportError:  # pragma: no cover - pyplot is part of matplotlib
        return Figure(figsize=figsize)
    return pyplot.figure(figsize=figsize)


_READER: list[ThreadPoolExecutor] = []


def _reader() -> ThreadPoolExecutor:
    """One background thread that reads a viewer's first picture while its figure is built."""
    if not _READER:
        _READER.append(ThreadPoolExecutor(1, thread_name_prefix="pycrox-explore"))
    return _READER[0]


def _values(da: xr.DataArray) -> np.ndarray:
    values = np.asarray(da.values)
    if np.iscomplexobj(values):
        values = np.abs(values)
    return values.astype(np.uint8) if values.dtype == bool else values


def _index(value: float | None, size: int) -> int | None:
    if value is None or not np.isfinite(value):
        return None
    k = int(np.floor(value + 0.5))
    return k if 0 <= k < size else None


def _span(lo: float, hi: float, size: int) -> slice:
    """The pixels whose centres lie in ``[lo, hi]`` (at least one)."""
    a, b = sorted((lo, hi))
    start = min(max(int(np.ceil(a - 0.5)), 0), size - 1)
    stop = min(max(int(np.floor(b + 0.5)), start + 1), size)
    return slice(start, stop)


class Explorer:
    """A live view of one signal: a picture to click on and what the click shows.

    Build it with `explore`. Attributes hold what is on screen, for scripts and tests:

    Attributes
    ----------
    figure : matplotlib.figure.Figure
        The figure (``figure.canvas`` is the live widget under ``%matplotlib widget``).
    roles : pycrox.viz._roles.Roles
        The signal's kind (``"spectrum_image"``, ``"4d"``, ``"stack"``, ``"image"``, ``"line"``,
        ``"fit"``) and the dims to navigate.
    image : numpy.ndarray
        The picture shown on the left (navigator, frame, parameter map), rows × columns.
    shown : xarray.DataArray or None
        What the last click or selection shows (a spectrum, a pattern, the data at a fitted pixel).
    """

    def __init__(
        self,
        da: xr.DataArray,
        *,
        fit: xr.Dataset | None = None,
        parameter: str | None = None,
        window: tuple[int, int] | None = None,
        hover: bool = False,
    ) -> None:
        self.da = da.squeeze(drop=False)
        self.fit_result = fit
        self.roles: Roles = roles(self.da)
        if fit is not None:
            self._init_fit(fit, parameter)
        kind = self.roles.kind
        if kind == "other":
            raise DimensionError(
                f"explore: no viewer for dims {dict(self.da.sizes)} of dtype {self.da.dtype}; "
                "use .pycro.plot() or select a numeric signal of 1 to 4 dims"
            )
        self.shown: xr.DataArray | None = None
        self.position: tuple[int, int] | None = None
        self._start = self._stop = 0
        self._detector: tuple[slice, slice] | None = None
        pending: Future[np.ndarray] | None = None
        if kind in ("spectrum_image", "4d"):  # read the navigator while the figure is being built
            if kind == "spectrum_image":
                size = self.da.sizes[self.roles.signal[0]]
                self._start, self._stop = channel_window(size, *(window or (None, None)))
            pending = _reader().submit(self._navigator)
        self.figure = _figure((10.0, 4.2) if kind in ("spectrum_image", "4d", "fit") else (5.5, 4.6))
        self._widgets: list[Any] = []
        if kind == "line":
            ax = self.figure.add_subplot()
            self._line_axes = ax
            self._line = ax.plot(np.asarray(self._x(self.da)), _values(self.da))[0]
            self._label_line(ax, self.da)
            self.image = np.empty((0, 0))
            self.shown = self.da
            return
        self._nav_axes = self.figure.add_subplot(1, 2 if kind in ("spectrum_image", "4d", "fit") else 1, 1)
        if kind == "image":
            self.image = self._read({})
            self._draw_image(label(self.da))
        elif kind == "stack":
            self._frame = 0
            self.image = self._read({self.roles.signal[0]: 0})
            self._draw_image(f"{self.roles.signal[0]} 0")
            self.figure.subplots_adjust(bottom=0.2)
            slider_axes = self.figure.add_axes((0.2, 0.04, 0.6, 0.04))
            frames = self.da.sizes[self.roles.signal[0]]
            self._slider = Slider(slider_axes, str(self.roles.signal[0]), 0, frames - 1, valinit=0, valstep=1)
            self._slider.on_changed(lambda value: self.set_frame(int(value)))
            self._widgets.append(self._slider)
        elif kind == "spectrum_image" and pending is not None:
            self.image = pending.result()
            self._draw_image(self._window_title())
            self._line_axes = self.figure.add_subplot(1, 2, 2)
            first = self.da.isel(dict.fromkeys(self.roles.navigation, 0))
            self._line = self._line_axes.plot(np.asarray(self._x(first)), np.zeros(first.size))[0]
            self._label_line(self._line_axes, first)
            self._band = self._line_axes.axvspan(*self._window_edges(), alpha=0.15, color="tab:orange")
            span = SpanSelector(
                self._line_axes,
                self._on_span,
                "horizontal",
                useblit=False,
                props={"alpha": 0.2, "facecolor": "tab:orange"},
            )
            region = RectangleSelector(
                self._nav_axes,
                self._on_region,
                useblit=False,
                button=[MouseButton.LEFT],
                minspanx=1.0,
                minspany=1.0,
                spancoords="data",
                interactive=False,
            )
            self._widgets += [span, region]
        elif kind == "4d" and pending is not None:
            self.image = pending.result()
            self._draw_image("Σ pattern")
            self._pattern_axes = self.figure.add_subplot(1, 2, 2)
            rows, columns = self.roles.signal
            self._pattern = self._pattern_axes.imshow(
                np.zeros((self.da.sizes[rows], self.da.sizes[columns])), cmap="inferno"
            )
            self._pattern_axes.set(xlabel=str(columns), ylabel=str(rows), title="click the navigator")
            detector = RectangleSelector(
                self._pattern_axes,
                self._on_detector,
                useblit=False,
                minspanx=1.0,
                minspany=1.0,
                spancoords="data",
                interactive=True,
            )
            self._widgets.append(detector)
        elif kind == "fit":
            self.image = self._parameter_map()
            self._draw_image(label(self._parameter))
            self._line_axes = self.figure.add_subplot(1, 2, 2)
            first = self.da.isel(dict.fromkeys(self.roles.navigation, 0))
            x = np.asarray(self._x(first))
            self._line = self._line_axes.plot(x, np.zeros(x.size), ".", ms=3, label="data")[0]
            self._model_line = self._line_axes.plot(x, np.zeros(x.size), "-", label="model")[0]
            self._line_axes.legend(loc="best", fontsize="small")
            self._label_line(self._line_axes, first)
        if self.roles.kind in ("spectrum_image", "4d", "fit"):
            self._tiles = TileCache(self.da, self.roles.navigation)
        self.figure.canvas.mpl_connect("button_press_event", self._on_press)
        if hover:
            self.figure.canvas.mpl_connect("motion_notify_event", self._on_move)

    # -- set-up helpers ---------------------------------------------------------------------------
    def _init_fit(self, fit: xr.Dataset, parameter: str | None) -> None:
        if "fit" not in fit:
            raise PycroxError("explore: the fit result has no 'fit' curve; fit again with return_curve=True")
        names = [
            str(n)
            for n, v in fit.data_vars.items()
            if not str(n).endswith("_error") and n not in ("fit", "r2", "converged") and v.ndim == 2
        ]
        name = parameter if parameter is not None else (names[0] if names else "r2")
        if name not in fit:
            raise PycroxError(f"explore: the fit result has no parameter {name!r}; it has {names}")
        self._parameter = fit[name].squeeze(drop=False)
        if self._parameter.ndim != 2:
            raise DimensionError(
                f"explore: the parameter map {name!r} has dims {self._parameter.dims}, not two"
            )
        nav = rows_columns(self._parameter.dims)
        rest = tuple(d for d in self.da.dims if d not in nav)
        if len(rest) != 1:
            raise DimensionError(f"explore: data dims {self.da.dims} are not the map's {nav} plus one")
        self.roles = Roles("fit", nav, rest)

    def _x(self, line: xr.DataArray) -> Any:
        dim = line.dims[0]
        return line[dim].values if dim in line.coords else np.arange(line.sizes[dim])

    @staticmethod
    def _label_line(ax: Any, line: xr.DataArray) -> None:
        dim = line.dims[0]
        ax.set(xlabel=label(line[dim]) if dim in line.coords else str(dim), ylabel=label(line))

    def _read(self, selection: dict[Hashable, Any], sum_over: tuple[Hashable, ...] = ()) -> np.ndarray:
        """The picture `selection` cuts out (summed over `sum_over`), rows × columns."""
        part = self.da.isel(selection)
        values = _values(part)
        if sum_over:
            values = values.sum(axis=tuple(part.dims.index(d) for d in sum_over))
            part = part.isel(dict.fromkeys(sum_over, 0))
        rows, columns = self.roles.navigation
        return np.transpose(values, [part.dims.index(rows), part.dims.index(columns)])

    def _navigator(self) -> np.ndarray:
        if self.roles.kind == "spectrum_image":
            channel = self.roles.signal[0]
            return self._read({channel: slice(self._start, self._stop)}, (channel,))
        selection = dict(zip(self.roles.signal, self._detector, strict=True)) if self._detector else {}
        return self._read(selection, self.roles.signal)

    def _parameter_map(self) -> np.ndarray:
        rows, columns = self.roles.navigation
        return _values(self._parameter.transpose(rows, columns))

    def _draw_image(self, title: str) -> None:
        ax = self._nav_axes
        rows, columns = self.roles.navigation
        self._image = ax.imshow(
            self.image, cmap="gray" if self.roles.kind != "fit" else "viridis", interpolation="nearest"
        )
        ax.set(xlabel=f"{columns} (pixel)", ylabel=f"{rows} (pixel)", title=title)
        self._marker = ax.plot([], [], "s", mfc="none", mec="red", ms=8)[0]

    def _refresh_image(self, title: str) -> None:
        self._image.set_data(self.image)
        finite = self.image[np.isfinite(self.image)]
        if finite.size:
            self._image.set_clim(float(finite.min()), float(finite.max()))
        self._nav_axes.set_title(title)
        self.figure.canvas.draw_idle()

    def _window_edges(self) -> tuple[float, float]:
        x = np.asarray(self._x(self.da.isel(dict.fromkeys(self.roles.navigation, 0))), dtype=float)
        return float(x[self._start]), float(x[self._stop - 1])

    def _window_title(self) -> str:
        return f"Σ {self.roles.signal[0]} [{self._start}, {self._stop})"

    # -- what the mouse does ----------------------------------------------------------------------
    def click(self, i: int, j: int) -> xr.DataArray:
        """Show what lies at pixel (`i`, `j`) (row, column) of the picture; returns it.

        A spectrum image shows ``da.isel(rows=i, columns=j)``, a 4-D signal the pattern there, a fit
        the data there with the model (`shown` is then the data; ``model`` attribute the curve).
        """
        if self.roles.kind not in ("spectrum_image", "4d", "fit"):
            raise PycroxError(f"explore: clicking shows nothing more on a {self.roles.kind}")
        rows, columns = self.roles.navigation
        if not (0 <= i < self.da.sizes[rows] and 0 <= j < self.da.sizes[columns]):
            raise PycroxError(
                f"explore: pixel ({i}, {j}) is outside {self.da.sizes[rows]} × {self.da.sizes[columns]}"
            )
        at = {rows: i, columns: j}
        self.position = (i, j)
        self._marker.set_data([j], [i])
        shown = self.da.isel(at)
        values = np.asarray(self._tiles.read(i, j)[0])
        values = np.abs(values) if np.iscomplexobj(values) else values
        if self.roles.kind == "4d":
            prow, pcol = self.roles.signal
            self._pattern.set_data(np.transpose(values, [shown.dims.index(prow), shown.dims.index(pcol)]))
            self._pattern.autoscale()
            self._pattern_axes.set_title(f"{rows}={i}, {columns}={j}")
        else:
            self._line.set_ydata(values)
            if self.roles.kind == "fit" and self.fit_result is not None:
                model = self.fit_result["fit"].isel(at)
                self.model = model
                self._model_line.set_ydata(_values(model))
            self._line_axes.relim()
            self._line_axes.autoscale_view()
            self._line_axes.set_title(f"{rows}={i}, {columns}={j}")
        self.shown = shown.copy(data=values)
        self.figure.canvas.draw_idle()
        return self.shown

    def select_region(self, rows: slice, columns: slice) -> xr.DataArray:
        """Show the spectrum summed over a region of a spectrum image (pixel index slices)."""
        if self.roles.kind != "spectrum_image":
            raise PycroxError(f"explore: summing a region needs a spectrum image, not a {self.roles.kind}")
        nav_rows, nav_columns = self.roles.navigation
        region = self.da.isel({nav_rows: rows, nav_columns: columns})
        values = _values(region).sum(axis=(region.dims.index(nav_rows), region.dims.index(nav_columns)))
        self.shown = region.isel({nav_rows: 0, nav_columns: 0}, drop=True).copy(data=values)
        self._line.set_ydata(values)
        self._line_axes.relim()
        self._line_axes.autoscale_view()
        self._line_axes.set_title(
            f"Σ {nav_rows} {rows.start}:{rows.stop}, {nav_columns} {columns.start}:{columns.stop}"
        )
        self.figure.canvas.draw_idle()
        return self.shown

    def set_window(self, start: int, stop: int) -> np.ndarray:
        """Sum the navigator of a spectrum image over channels ``[start, stop)``; returns it."""
        if self.roles.kind != "spectrum_image":
            raise PycroxError(f"explore: a channel window needs a spectrum image, not a {self.roles.kind}")
        self._start, self._stop = channel_window(self.da.sizes[self.roles.signal[0]], start, stop)
        self.image = self._navigator()
        self._band.remove()
        self._band = self._line_axes.axvspan(*self._window_edges(), alpha=0.15, color="tab:orange")
        self._refresh_image(self._window_title())
        return self.image

    def set_detector(self, rows: slice | None, columns: slice | None = None) -> np.ndarray:
        """Virtual detector of a 4-D signal: the navigator sums the patterns over this region (None: all)."""
        if self.roles.kind != "4d":
            raise PycroxError(f"explore: a virtual detector needs 4-D data, not a {self.roles.kind}")
        self._detector = None if rows is None else (rows, columns if columns is not None else slice(None))
        self.image = self._navigator()
        title = (
            "Σ pattern"
            if self._detector is None
            else f"virtual detector {self._detector[0]}, {self._detector[1]}"
        )
        self._refresh_image(title)
        return self.image

    def set_frame(self, k: int) -> np.ndarray:
        """Show frame `k` of an image stack; returns it."""
        if self.roles.kind != "stack":
            raise PycroxError(f"explore: frames need an image stack, not a {self.roles.kind}")
        frame = self.roles.signal[0]
        self._frame = min(max(int(k), 0), self.da.sizes[frame] - 1)
        self.image = self._read({frame: self._frame})
        self._refresh_image(f"{frame} {self._frame}")
        return self.image

    # -- matplotlib events ------------------------------------------------------------------------
    def _on_press(self, event: MouseEvent) -> None:
        if event.inaxes is not getattr(self, "_nav_axes", None) or event.button != MouseButton.LEFT:
            return
        if self.roles.kind not in ("spectrum_image", "4d", "fit"):
            return
        i = _index(event.ydata, self.image.shape[0])
        j = _index(event.xdata, self.image.shape[1])
        if i is not None and j is not None:
            self.click(i, j)

    def _on_move(self, event: MouseEvent) -> None:
        if event.inaxes is not getattr(self, "_nav_axes", None) or self.roles.kind not in (
            "spectrum_image",
            "4d",
            "fit",
        ):
            return
        i = _index(event.ydata, self.image.shape[0])
        j = _index(event.xdata, self.image.shape[1])
        if i is not None and j is not None and (i, j) != self.position:
            self.click(i, j)

    def _on_region(self, press: MouseEvent, release: MouseEvent) -> None:
        if press.xdata is None or release.xdata is None or press.ydata is None or release.ydata is None:
            return
        self.select_region(
            _span(press.ydata, release.ydata, self.image.shape[0]),
            _span(press.xdata, release.xdata, self.image.shape[1]),
        )

    def _on_span(self, lo: float, hi: float) -> None:
        x = np.asarray(self._x(self.da.isel(dict.fromkeys(self.roles.navigation, 0))), dtype=float)
        inside = np.flatnonzero((x >= min(lo, hi)) & (x <= max(lo, hi)))
        if inside.size:
            self.set_window(int(inside[0]), int(inside[-1]) + 1)

    def _on_detector(self, press: MouseEvent, release: MouseEvent) -> None:
        if press.xdata is None or release.xdata is None or press.ydata is None or release.ydata is None:
            return
        rows, columns = self.roles.signal
        self.set_detector(
            _span(press.ydata, release.ydata, self.da.sizes[rows]),
            _span(press.xdata, release.xdata, self.da.sizes[columns]),
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Show the live figure in a notebook (the canvas widget under ``%matplotlib widget``)."""
        canvas = self.figure.canvas
        if hasattr(canvas, "_repr_mimebundle_"):
            return canvas._repr_mimebundle_(**kwargs)
        from io import BytesIO

        buffer = BytesIO()
        self.figure.savefig(buffer, format="png")
        return {"image/png": buffer.getvalue()}


def explore(
    da: xr.DataArray,
    *,
    fit: xr.Dataset | None = None,
    parameter: str | None = None,
    window: tuple[int, int] | None = None,
    hover: bool = False,
) -> Explorer:
    """An interactive viewer of a signal, chosen by its kind.

    ============== =================================================================================
    data           viewer
    ============== =================================================================================
    spectrum image navigator (sum over a channel window, first 64 channels) beside the spectrum of
                   the pixel clicked; drag on the navigator to sum a region, on the spectrum to
                   choose the window
    image stack    one frame with a slider
    4-D            navigator beside the pattern of the pixel clicked; drag a rectangle on the pattern
                   for a virtual detector
    fit results    a parameter map (`fit`, `parameter`) beside the data and model of the pixel clicked
    image, line    the picture, no interaction
    ============== =================================================================================

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox signal (lazy signals stay lazy: each picture reads only what it shows).
    fit : xarray.Dataset, optional
        The result of `pycrox.analysis.fitting.fit` on `da` with ``return_curve=True``.
    parameter : str, optional
        The parameter of `fit` to map (default: the first).
    window : tuple of int, optional
        First navigator channel window ``(start, stop)`` of a spectrum image.
    hover : bool, optional
        Also show what lies under the mouse as it moves over the navigator (no click needed).

    Returns
    -------
    Explorer
        The viewer (its figure shows itself in a notebook; run ``%matplotlib widget`` for clicks).

    Raises
    ------
    DimensionError
        No viewer suits the signal's dims.
    PycroxError
        `fit` has no ``fit`` curve or no such `parameter`.
    """
    return Explorer(da, fit=fit, parameter=parameter, window=window, hover=hover)
