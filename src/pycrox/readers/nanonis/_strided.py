"""Columns of fixed-size records, read in blocks: the channels and parameters of a 3DS grid.

A 3DS grid stores one record per grid point: the point's parameters, then each channel's sweep.
One channel is therefore a strided slice of the file. `read_columns` copies such slices block by
block and converts to native byte order in the same copy:

* wide selections of a local file (at least half of every record, e.g. all channels at once) are
  read with ``readinto`` into one reusable buffer of `READ_BYTES` (4 MiB), so that nothing
  of the file is mapped and the copy out of the buffer runs from the CPU caches;
* narrow selections of a local file (one channel, one sweep point, the parameters) are copied
  from memory maps of `BLOCK_BYTES` of the file at a time, which touch only the pages that hold
  the selected values;
* URLs and file objects are read `BLOCK_BYTES` at a time into a reusable buffer.

Resident memory stays at the result plus one block.

`GridFile` is the file's layout, shared by the lazy arrays of its channels (`GridChannelArray`).
A read of part of a channel (rows, points, sweep values) reads only the records and values it
covers. A read of a whole channel passes over the whole file anyway, so it can fill the other
channels in the same pass at the cost of a strided copy each. The rule, by `read_together`:

* ``None`` (the default): the pass also reads the other channels that are still wanted — never
  read whole before and whose lazy array is still alive — up to `PARK_BYTES` (1 GiB) of them, and
  parks them;
* ``True``: the same without the bound; ``False``: a pass reads the asked channel only.

Parked data are released deterministically: a parked channel is handed out once (its next whole
read takes it and forgets it; a later read reads the file again); every parked channel is dropped
when the dataset or tree is closed (`GridFile.release`, which the reader sets as their closer);
a channel's parked data are dropped when its lazy array is garbage-collected (nobody can ask
for them any more). Reading every channel of a grid in turn therefore costs one pass when the
other channels fit the bound, and a grid held open after reading one channel holds at most 1 GiB
more until it is closed.
"""

from __future__ import annotations

import math
import threading
import weakref
from typing import IO, Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import check_extent
from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = [
    "BLOCK_BYTES",
    "PARK_BYTES",
    "READ_BYTES",
    "GridChannelArray",
    "GridFile",
    "GridParameterArray",
    "read_columns",
]

#: bytes of a local file read at once into the reusable buffer (wide selections; fits the L3 cache)
READ_BYTES = 4 * 2**20
#: bytes of a local file mapped at once (narrow selections), or read at once from URLs and file objects
BLOCK_BYTES = 64 * 2**20
#: the most bytes of other channels one whole-channel pass parks by default (``read_together=None``)
PARK_BYTES = 2**30


def read_columns(
    source: Source,
    offset: int,
    record_values: int,
    first: int,
    count: int,
    columns: list[tuple[int, int]],
    dtype: np.dtype,
    outs: list[np.ndarray] | None = None,
) -> list[np.ndarray]:
    """Values ``[column, column + width)`` of records ``[first, first + count)``, per column.

    Parameters
    ----------
    source : Source
        The file.
    offset : int
        Byte offset of record 0.
    record_values : int
        Values of `dtype` per record.
    first, count : int
        The records to read.
    columns : list of (int, int)
        ``(column, width)`` pairs.
    dtype : numpy dtype
        Stored type, with its byte order.
    outs : list of numpy.ndarray, optional
        C-contiguous native-endian ``(count, width)`` arrays to fill.

    Returns
    -------
    list of numpy.ndarray
        Native-endian ``(count, width)`` per column. Every block of records is read once for all
        columns.
    """
    dtype = np.dtype(dtype)
    record_bytes = record_values * dtype.itemsize
    if outs is None:
        outs = [np.empty((count, width), dtype.newbyteorder("=")) for _, width in columns]
    if count <= 0 or not columns:
        return outs
    begin = offset + first * record_bytes
    wide = 2 * sum(width for _, width in columns) >= record_values
    if source.path is not None and not wide:
        per_block = max(1, BLOCK_BYTES // record_bytes)
        for start in range(0, count, per_block):
            n = min(per_block, count - start)
            mapped = np.memmap(
                source.path,
                dtype=dtype,
                mode="r",
                offset=begin + start * record_bytes,
                shape=(n, record_values),
            )
            _copy(mapped, columns, outs, start)
            del mapped
        return outs
    per_block = max(1, (READ_BYTES if source.path is not None else BLOCK_BYTES) // record_bytes)
    buffer = np.empty(min(per_block, count) * record_values, dtype)
    view = buffer.data.cast("B")
    fh: IO[bytes] = open(source.path, "rb", buffering=0) if source.path is not None else source.open()  # noqa: SIM115
    try:
        fh.seek(begin)
        for start in range(0, count, per_block):
            n = min(per_block, count - start)
            _fill(fh, view[: n * record_bytes], source, begin + start * record_bytes)
            _copy(buffer[: n * record_values].reshape(n, record_values), columns, outs, start)
    finally:
        if source.fileobj is None:
            fh.close()
    return outs


def _copy(block: np.ndarray, columns: list[tuple[int, int]], outs: list[np.ndarray], start: int) -> None:
    """One strided copy per column, converting to the outputs' (native) byte order."""
    for (column, width), out in zip(columns, outs, strict=True):
        out[start : start + len(block)] = block[:, column : column + width]


def _fill(fh: IO[bytes], view: memoryview, source: Source, at: int) -> None:
    """Fill `view` from the file's current position (``readinto`` where the handle has it)."""
    got, size = 0, len(view)
    readinto = getattr(fh, "readinto", None)
    while got < size:
        if readinto is not None:
            n = readinto(view[got:])
        else:
            chunk = fh.read(size - got)
            n = len(chunk)
            view[got : got + n] = chunk
        if not n:
            raise FormatError(
                source.name, f"the grid data end early, {size - got} bytes short", where=f"offset {at + got}"
            )
        got += n


class GridFile:
    """The record layout of one 3DS grid, shared by its channels' lazy arrays.

    Parameters
    ----------
    source : Source
        The file.
    offset : int
        Byte offset of the first record.
    grid : tuple of int
        ``(ny, nx)`` grid points; records run x fastest.
    record_values : int
        Values per record (parameters plus every channel's sweep).
    channels : list of (int, int)
        ``(first value, sweep points)`` of each channel inside a record.
    dtype : numpy dtype
        Stored type (``>f4``).
    read_together : bool or None
        Which other channels a whole-channel pass reads and parks (see the module notes): None up
        to `PARK_BYTES`, True all, False none.
    n_params : int
        Parameter values at the start of each record (`parameters`).
    """

    _parked: dict[int, np.ndarray]
    _read: set[int]
    _live: dict[int, int]
    _params: np.ndarray | None
    _lock: threading.RLock

    def __init__(
        self,
        source: Source,
        offset: int,
        grid: tuple[int, int],
        record_values: int,
        channels: list[tuple[int, int]],
        dtype: Any,
        *,
        read_together: bool | None = None,
        n_params: int = 0,
    ) -> None:
        self.source, self.offset, self.grid, self.n_params = source, int(offset), grid, n_params
        self.record_values, self.channels = record_values, channels
        self.stored, self.read_together = np.dtype(dtype), read_together
        self.__dict__.update(self._fresh())
        check_extent(
            source, self.offset, math.prod(grid) * record_values * self.stored.itemsize, "the grid data"
        )

    @staticmethod
    def _fresh() -> dict[str, Any]:
        """Per-process state: parked channels, live arrays per channel, the parameters, the lock."""
        return {"_parked": {}, "_read": set(), "_live": {}, "_params": None, "_lock": threading.RLock()}

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in self._fresh()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, **self._fresh())

    @property
    def parked(self) -> tuple[int, ...]:
        """The channels read ahead and not handed out yet."""
        return tuple(sorted(self._parked))

    def parameters(self) -> np.ndarray:
        """Every point's parameters, native ``(ny, nx, n_params)``.

        Read on first use, in one narrow pass over the file (the first values of each record), and
        kept: they are a small fraction of the file (10 values in a record of thousands, typically).
        """
        with self._lock:
            if self._params is None:
                (values,) = read_columns(
                    self.source,
                    self.offset,
                    self.record_values,
                    0,
                    math.prod(self.grid),
                    [(0, self.n_params)],
                    self.stored,
                )
                self._params = values.reshape(*self.grid, self.n_params)
            return self._params

    def register(self, array: GridChannelArray) -> None:
        """Count `array` as a live reader of its channel, until it is garbage-collected."""
        channel = array.channel
        self._live[channel] = self._live.get(channel, 0) + 1
        weakref.finalize(array, _forget, weakref.ref(self), channel)

    def release(self) -> None:
        """Drop every parked channel (the closer of the datasets over this grid)."""
        self._parked.clear()

    def read(
        self, channel: int, rows: tuple[int, int], xs: tuple[int, int], sweep: tuple[int, int]
    ) -> np.ndarray:
        """Channel `channel` over grid rows, columns and sweep values ``[lo, hi)``, native ``(y, x, sweep)``.

        A read of the whole channel goes through the parking rule (module notes); any other reads
        only the records and values it covers: the records of the rows, or of the points of a
        single row.
        """
        ny, nx = self.grid
        column, points = self.channels[channel]
        if rows == (0, ny) and xs == (0, nx) and sweep == (0, points):
            return self._whole(channel).reshape(ny, nx, points)
        if rows[1] - rows[0] > 1:
            xs = (0, nx)
        first, count = rows[0] * nx + xs[0], (rows[1] - rows[0] - 1) * nx + xs[1] - xs[0]
        with self._lock if self.source.fileobj is not None else _NO_LOCK:  # one shared handle
            (out,) = read_columns(
                self.source,
                self.offset,
                self.record_values,
                first,
                count,
                [(column + sweep[0], sweep[1] - sweep[0])],
                self.stored,
            )
        return out.reshape(rows[1] - rows[0], xs[1] - xs[0], sweep[1] - sweep[0])

    def _whole(self, channel: int) -> np.ndarray:
        with self._lock:
            self._read.add(channel)
            parked = self._parked.pop(channel, None)
            if parked is not None:
                return parked
            wanted = [channel, *self._to_park(channel)]
            outs = read_columns(
                self.source,
                self.offset,
                self.record_values,
                0,
                math.prod(self.grid),
                [self.channels[i] for i in wanted],
                self.stored,
            )
            for index, out in zip(wanted[1:], outs[1:], strict=True):
                if self._live.get(index):
                    self._parked[index] = out
            return outs[0]

    def _to_park(self, channel: int) -> list[int]:
        """The other channels worth reading in the pass for `channel`, the next ones first.

        Those not parked, never read whole before, and whose lazy array is alive, within the bound.
        """
        if self.read_together is False:
            return []
        budget = math.inf if self.read_together else PARK_BYTES
        n = len(self.channels)
        chosen = []
        for index in ((channel + k) % n for k in range(1, n)):
            nbytes = math.prod(self.grid) * self.channels[index][1] * self.stored.itemsize
            wanted = index not in self._parked and index not in self._read and self._live.get(index)
            if wanted and nbytes <= budget:
                chosen.append(index)
                budget -= nbytes
        return chosen


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


_NO_LOCK = _NoLock()


def _forget(grid_ref: weakref.ref[GridFile], channel: int) -> None:
    """A channel's lazy array is gone: one reader fewer; at none, drop what was parked for it."""
    grid = grid_ref()
    if grid is None:
        return
    left = grid._live.get(channel, 1) - 1
    grid._live[channel] = left
    if left <= 0:
        grid._parked.pop(channel, None)


def _span(key: Any, n: int) -> tuple[int, int, Any]:
    """``(lo, hi, rest)``: the index range ``[lo, hi)`` a basic key covers, and the key relative to lo."""
    if isinstance(key, int | np.integer):
        return int(key), int(key) + 1, 0
    picked = range(*key.indices(n))
    if not picked:
        return 0, 0, slice(0, 0)
    lo, hi = min(picked[0], picked[-1]), max(picked[0], picked[-1]) + 1
    stop = picked[-1] - lo + (1 if picked.step > 0 else -1)
    return lo, hi, slice(picked[0] - lo, stop if stop >= 0 else None, picked.step)


class GridParameterArray(BackendArray):
    """One per-point parameter of a 3DS grid, ``(y, x)``, read with the others on first use."""

    def __init__(self, grid: GridFile, index: int) -> None:
        self.grid, self.index = grid, index
        self.dtype = grid.stored.newbyteorder("=")
        self.shape = grid.grid

    def __deepcopy__(self, memo: dict) -> GridParameterArray:
        return GridParameterArray(self.grid, self.index)  # the same file: one parameter cache

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        return np.array(self.grid.parameters()[..., self.index][key])


class GridChannelArray(BackendArray):
    """One channel of a 3DS grid, ``(y, x, sweep)``, read on demand (see `GridFile.read`)."""

    def __init__(self, grid: GridFile, channel: int) -> None:
        self.grid, self.channel = grid, channel
        self.dtype = grid.stored.newbyteorder("=")
        self.shape = (*grid.grid, grid.channels[channel][1])
        grid.register(self)

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.grid.register(self)  # a copy in this process is a reader too

    def __deepcopy__(self, memo: dict) -> GridChannelArray:
        return GridChannelArray(self.grid, self.channel)  # the same file: shares its parked channels

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (3 - len(key))
        spans = [_span(k, n) for k, n in zip(key, self.shape, strict=True)]
        rest = tuple(s[2] for s in spans)
        if any(lo >= hi for lo, hi, _ in spans):
            return np.empty(tuple(hi - lo for lo, hi, _ in spans), self.dtype)[rest]
        (y0, y1, _), (x0, x1, _), (s0, s1, _) = spans
        block = self.grid.read(self.channel, (y0, y1), (x0, x1), (s0, s1))
        if y1 - y0 > 1:  # several rows: every x was read
            rest = (rest[0], key[1], rest[2])
        return block[rest]
