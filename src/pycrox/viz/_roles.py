"""What a viewer shows of a signal: its kind, the dims to navigate, the pictures cut out of it.

Shared by the notebook viewers (`pycrox.viz.explore`) and the browser viewer (`pycrox.viz.web`);
only the indexed part of a lazy signal is read.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from pycrox.errors import DimensionError
from pycrox.viz._dims import dim_types, frame_dim, navigation_dims, spectral_dim
from pycrox.viz._panels import _COLUMN_NAMES, _ROW_NAMES
from pycrox.viz.plot import choose

__all__ = ["NAVIGATOR_WINDOW", "Roles", "TileCache", "chunks_touched", "roles"]

#: channels summed for a spectrum image's first navigator
NAVIGATOR_WINDOW = 64


@dataclass(frozen=True)
class Roles:
    """The part each dim plays in a viewer.

    Attributes
    ----------
    kind : str
        ``"image"``, ``"line"``, ``"stack"``, ``"spectrum_image"``, ``"4d"`` or ``"other"``.
    navigation : tuple
        The two dims of the picture shown first, as (rows, columns): the image's, or those a click
        picks a position in (spectrum image, 4-D); a stack's frame; ``()`` for lines.
    signal : tuple
        The dims of what a click shows (one for a spectrum, two for a pattern); for a stack, the frame dim.
    """

    kind: str
    navigation: tuple[Hashable, ...]
    signal: tuple[Hashable, ...]


def roles(da: xr.DataArray) -> Roles:
    """The `Roles` of a signal's dims (length-1 dims should be dropped first).

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox signal.

    Returns
    -------
    Roles
        Its viewer kind and dims.
    """
    if not np.issubdtype(da.dtype, np.number) and da.dtype != bool:
        return Roles("other", (), ())
    try:
        kind = choose(da)
    except DimensionError:
        return Roles("other", (), ())
    if kind == "image" and da.ndim == 2:
        return Roles("image", rows_columns(da.dims), ())
    if kind == "line" and da.ndim == 1:
        return Roles("line", (), (da.dims[0],))
    if kind == "stack" and da.ndim == 3:
        frame = frame_dim(da)
        return Roles("stack", rows_columns(tuple(d for d in da.dims if d != frame)), (frame,))
    if kind == "navigator" and da.ndim in (3, 4):
        try:
            nav = rows_columns(navigation_dims(da))
        except DimensionError:
            return Roles("other", (), ())
        rest = tuple(d for d in da.dims if d not in nav)
        if da.ndim == 3:
            return Roles("spectrum_image", nav, (spectral_dim(da) if spectral_dim(da) in rest else rest[0],))
        return Roles("4d", nav, rows_columns(rest))
    return Roles("other", (), ())


def rows_columns(dims: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
    """Two dims as (rows, columns) of a picture: ``y``/``x``-like names when present, else as given."""
    first, second = dims
    if str(first).lower() in _COLUMN_NAMES and str(second).lower() in _ROW_NAMES:
        return second, first
    return first, second


def channel_window(size: int, start: int | None = None, stop: int | None = None) -> tuple[int, int]:
    """A valid ``[start, stop)`` channel window; by default the first `NAVIGATOR_WINDOW` channels."""
    lo = 0 if start is None else min(max(int(start), 0), size - 1)
    hi = min(lo + NAVIGATOR_WINDOW, size) if stop is None else min(max(int(stop), lo + 1), size)
    return lo, hi


def stored_chunks(da: xr.DataArray) -> tuple[int, ...] | None:
    """The chunk shape the data are read by: dask chunks, else the store's (``encoding["chunks"]``)."""
    if da.chunks is not None:
        return tuple(int(c[0]) for c in da.chunks)
    chunks = da.encoding.get("preferred_chunks") or {}
    if isinstance(chunks, dict) and all(d in chunks for d in da.dims):
        return tuple(int(chunks[d]) for d in da.dims)
    shape = da.encoding.get("chunks")
    if isinstance(shape, tuple | list) and len(shape) == da.ndim:
        return tuple(int(c) for c in shape)
    return None


def chunks_touched(da: xr.DataArray, selection: dict[Hashable, slice | int]) -> tuple[int, int]:
    """How many stored chunks, and how many uncompressed bytes, reading ``da.isel(selection)`` touches.

    Parameters
    ----------
    da : xarray.DataArray
        The signal as opened (lazily).
    selection : dict
        Integer index or slice (step 1) per dim; dims not named are read whole.

    Returns
    -------
    tuple of int
        ``(chunks, bytes)``; ``(0, 0)`` when the data are in memory or their chunking is unknown.
    """
    shape = stored_chunks(da)
    if shape is None:
        return 0, 0
    count = 1
    for dim, chunk in zip(da.dims, shape, strict=True):
        size = da.sizes[dim]
        key = selection.get(dim, slice(None))
        if isinstance(key, slice):
            lo, hi, _ = key.indices(size)
            hi = max(hi - 1, lo)
        else:
            lo = hi = int(key) % size
        count *= hi // chunk - lo // chunk + 1
    return count, count * math.prod(shape) * da.dtype.itemsize


def pixel_size(da: xr.DataArray, dim: Hashable) -> tuple[float, str]:
    """The step of a uniform numeric coordinate and its units; ``(0.0, "")`` otherwise."""
    if dim not in da.coords or da.sizes[dim] < 2 or not np.issubdtype(da[dim].dtype, np.number):
        return 0.0, ""
    values = np.asarray(da[dim].values, dtype=float)
    steps = np.diff(values)
    if not np.all(np.isfinite(steps)) or not np.allclose(steps, steps[0], rtol=1e-3) or steps[0] == 0:
        return 0.0, ""
    units = da[dim].attrs.get("units", "")
    return float(abs(steps[0])), units if isinstance(units, str) else ""


def types_of(da: xr.DataArray) -> dict[Hashable, str]:
    """``{dim: dimension_type}`` (re-exported for the viewers)."""
    return dim_types(da)


class TileCache:
    """The values at one navigation position, read a stored tile at a time and kept for the next clicks.

    Reading one pixel of a chunked store decodes its whole chunk; the tile (the chunk-aligned block
    of navigation positions, all of the other dims) costs the same chunks, so it is read once and
    kept (least recently used dropped past `budget` bytes): later clicks in the tile read nothing.

    Parameters
    ----------
    da : xarray.DataArray
        The signal (lazy or not).
    navigation : tuple
        The two navigation dims.
    budget : int, optional
        Bytes of tiles kept.
    """

    def __init__(self, da: xr.DataArray, navigation: tuple[Hashable, ...], budget: int = 256 << 20) -> None:
        self.da, self.navigation, self.budget = da, navigation, budget
        chunks = stored_chunks(da)
        shape = dict(zip(da.dims, chunks, strict=True)) if chunks is not None else {}
        self.tile = tuple(int(shape.get(d, 1)) for d in navigation)
        self._tiles: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, i: int, j: int) -> tuple[np.ndarray, int, int]:
        """``(values at (i, j) in the order of the other dims, chunks read, bytes read)``."""
        rows, columns = self.navigation
        key = (i // self.tile[0], j // self.tile[1])
        selection: dict[Hashable, Any] = {
            rows: slice(key[0] * self.tile[0], (key[0] + 1) * self.tile[0]),
            columns: slice(key[1] * self.tile[1], (key[1] + 1) * self.tile[1]),
        }
        chunks = nbytes = 0
        with self._lock:
            block = self._tiles.get(key)
            if block is not None:
                self._tiles.move_to_end(key)
        if block is None:
            chunks, nbytes = chunks_touched(self.da, selection)
            block = np.asarray(self.da.isel(selection).values)
            with self._lock:
                self._tiles[key] = block
                while len(self._tiles) > 1 and sum(b.nbytes for b in self._tiles.values()) > self.budget:
                    self._tiles.popitem(last=False)
        index: list[int | slice] = [slice(None)] * self.da.ndim
        index[self.da.dims.index(rows)] = i - key[0] * self.tile[0]
        index[self.da.dims.index(columns)] = j - key[1] * self.tile[1]
        return block[tuple(index)], chunks, nbytes
