"""A contact sheet: one thumbnail per signal of a file (``pycrox preview FILE -o out.png``)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pycrox import model
from pycrox.errors import PycroxError
from pycrox.viz import _panels
from pycrox.viz._dims import frame_dim, navigation_dims, point_dim, spectral_dim
from pycrox.viz.plot import choose

__all__ = ["MAX_SIGNALS", "contact_sheet", "preview"]

#: most signals a contact sheet shows (the rest are counted in its title)
MAX_SIGNALS = 36


def contact_sheet(
    obj: xr.DataTree | xr.Dataset | xr.DataArray,
    *,
    title: str = "",
    max_signals: int = MAX_SIGNALS,
    figure: Figure | None = None,
) -> Figure:
    """One thumbnail per signal: the signal's main picture, titled with its node path and sizes.

    Parameters
    ----------
    obj : xarray.DataTree, xarray.Dataset or xarray.DataArray
        A file's tree (`pycrox.open_tree`), a compound signal or one signal. Signals are found
        with `pycrox.model.signal_nodes`; a compound signal shows its first numeric field.
    title : str, optional
        Title of the sheet (e.g. the file name).
    max_signals : int, optional
        Show at most this many signals.
    figure : matplotlib.figure.Figure, optional
        Draw into this figure (resized to fit); by default a new figure not registered with pyplot.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (save it with ``savefig``). Each thumbnail is the
        image, line, montage frame, navigator or scatter that `pycrox.viz.plot` would put first;
        a signal that cannot be drawn shows the reason as text.
    """
    signals = _signals(obj)
    shown = list(signals.items())[:max_signals]
    ncols = max(1, math.ceil(math.sqrt(len(shown))))
    nrows = max(1, math.ceil(len(shown) / ncols))
    size = (3.6 * ncols, 3.2 * nrows + 0.4)
    if figure is None:
        figure = Figure(figsize=size, layout="constrained")
    else:
        figure.set_size_inches(size)
        figure.set_layout_engine("constrained")
    axes = figure.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (path, signal) in zip(axes, shown, strict=False):
        _thumbnail(ax, path, signal)
    for ax in axes[len(shown) :]:
        ax.set_axis_off()
    more = f" (first {len(shown)} of {len(signals)} signals)" if len(signals) > len(shown) else ""
    figure.suptitle(f"{title}{more}".strip() or f"{len(signals)} signals")
    return figure


def preview(source: Any, out: str | os.PathLike, *, dpi: int = 100, **open_kwargs: Any) -> Path:
    """Write the `contact_sheet` of every signal in a readable file or URL to a PNG.

    Parameters
    ----------
    source : str, path or file object
        Anything `pycrox.open_tree` reads (local path, fsspec URL).
    out : str or path
        The PNG to write (replaced if it exists).
    dpi : int, optional
        Resolution of the PNG.
    **open_kwargs
        Passed to `pycrox.open_tree` (``engine``, ``storage_options``, reader options).

    Returns
    -------
    pathlib.Path
        `out`.
    """
    from pycrox import io

    tree = io.open_tree(source, **open_kwargs)
    try:
        figure = contact_sheet(tree, title=Path(str(source)).name)
        figure.savefig(out, dpi=dpi)
    finally:
        tree.close()
    return Path(out)


def _signals(obj: xr.DataTree | xr.Dataset | xr.DataArray) -> dict[str, xr.DataArray]:
    if isinstance(obj, xr.DataArray):
        return {str(obj.name or "signal"): obj}
    found = model.signal_nodes(obj) if isinstance(obj, xr.DataTree) else {"/": obj}
    signals = {}
    for path, signal in found.items():
        if isinstance(signal, xr.Dataset):
            numeric = [name for name, v in signal.data_vars.items() if v.dtype.kind in "biufc" and v.ndim]
            if not numeric:
                continue
            signal = signal[numeric[0]]
            path = f"{path}:{numeric[0]}"
        signals[path] = signal
    return signals


def _thumbnail(ax: Axes, path: str, signal: xr.DataArray) -> None:
    sizes = " × ".join(f"{d} {n}" for d, n in signal.sizes.items())
    name = path if len(path) <= 36 else "…" + path[-35:]
    ax.set_title(f"{name}\n{sizes}", fontsize="small")
    try:
        _draw_main(ax, signal)
    except (PycroxError, ValueError, TypeError) as exc:  # say why, and go on with the others
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"not drawn:\n{exc}"[:200],
            ha="center",
            va="center",
            wrap=True,
            fontsize="small",
            transform=ax.transAxes,
        )


def _draw_main(ax: Axes, da: xr.DataArray) -> None:
    """The first panel of `pycrox.viz.plot` for `da`, with small labels."""
    da = da.squeeze(drop=False)
    if da.size == 0 or da.ndim == 0:
        raise PycroxError("no values" if da.size == 0 else f"a single value: {da.values!r}")
    if np.issubdtype(da.dtype, np.complexfloating):
        da = abs(da).assign_attrs(da.attrs)
    kind = choose(da)
    if kind == "stack":
        da = da.isel({frame_dim(da): 0})
        kind = "image"
    elif kind == "navigator":
        nav = navigation_dims(da)
        summed = da.sum([d for d in da.dims if d not in nav], keep_attrs=True)
        da = summed.assign_attrs(
            long_name=f"Σ {da.attrs.get('long_name') or da.attrs.get('quantity') or 'signal'}"
        )
        kind = "image"
    if kind == "image":
        _panels.image(ax, da)
    elif kind == "line":
        _panels.line(ax, da)
    elif kind == "family":
        _panels.family(ax, da, spectral_dim(da))
    else:
        dim = point_dim(da)
        _panels.points(ax, da.sum([d for d in da.dims if d != dim], keep_attrs=True), dim)
    ax.xaxis.label.set_fontsize("small")
    ax.yaxis.label.set_fontsize("small")
