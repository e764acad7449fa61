"""Columns of fixed-size records, read in blocks: the channels and parameters of a 3DS grid.

A 3DS grid stores one record per grid point: the point's parameters, then each channel's sweep.
One channel is therefore a strided slice of the file. `read_columns` copies such slices block by
block — memory-mapping each block of records in turn for local files (so that resident memory
stays at the result plus one block), reading the block's bytes for URLs and file objects — and
converts to native byte order in the same pass.

`GridFile` is the file's layout, shared by the lazy arrays of its channels (`GridChannelArray`).
By default a channel read reads that channel only. With ``read_together=True`` the first read of a
whole channel reads every channel in one pass over the file and keeps the others until they are
read (each handed out once): one pass instead of one per channel when all are wanted, at the
price of holding them all when only one is.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import check_extent
from pycrox.sources import Source

__all__ = ["BLOCK_BYTES", "GridChannelArray", "GridFile", "read_columns"]

#: bytes of file mapped or read at once
BLOCK_BYTES = 64 * 2**20


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

    Records are `record_values` values of `dtype` each, starting at byte `offset`; `columns` lists
    ``(column, width)`` pairs. Each result is native-endian ``(count, width)``; `outs` (C-contiguous,
    those shapes) are filled when given. Every block of records is mapped or read once for all
    columns.
    """
    dtype = np.dtype(dtype)
    record_bytes = record_values * dtype.itemsize
    if outs is None:
        outs = [np.empty((count, width), dtype.newbyteorder("=")) for _, width in columns]
    per_block = max(1, BLOCK_BYTES // max(record_bytes, 1))
    for start in range(0, count, per_block):
        n = min(per_block, count - start)
        block = _block(source, offset + (first + start) * record_bytes, n, record_values, dtype)
        for (column, width), out in zip(columns, outs, strict=True):
            out[start : start + n] = block[:, column : column + width]
        del block
    return outs


def _block(source: Source, begin: int, records: int, record_values: int, dtype: np.dtype) -> np.ndarray:
    if source.path is not None:
        return np.memmap(source.path, dtype=dtype, mode="r", offset=begin, shape=(records, record_values))
    with source.reading() as fh:
        fh.seek(begin)
        raw = fh.read(records * record_values * dtype.itemsize)
    return np.frombuffer(raw, dtype=dtype).reshape(records, record_values)


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
    read_together : bool
        Read every channel in one pass when one is read whole (see the module notes).
    """

    def __init__(
        self,
        source: Source,
        offset: int,
        grid: tuple[int, int],
        record_values: int,
        channels: list[tuple[int, int]],
        dtype: Any,
        *,
        read_together: bool = False,
    ) -> None:
        self.source, self.offset, self.grid = source, int(offset), grid
        self.record_values, self.channels = record_values, channels
        self.stored, self.read_together = np.dtype(dtype), read_together
        self._parked: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        check_extent(
            source, self.offset, math.prod(grid) * record_values * self.stored.itemsize, "the grid data"
        )

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_parked")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _parked={}, _lock=threading.Lock())

    def rows(self, channel: int, start: int, stop: int) -> np.ndarray:
        """Channel `channel` of grid rows ``[start, stop)`` as native ``(rows, nx, points)``."""
        nx, points = self.grid[1], self.channels[channel][1]
        whole = start == 0 and stop == self.grid[0]
        if not (whole and self.read_together):
            (out,) = read_columns(
                self.source,
                self.offset,
                self.record_values,
                start * nx,
                (stop - start) * nx,
                [self.channels[channel]],
                self.stored,
            )
            return out.reshape(stop - start, nx, points)
        with self._lock:
            if channel not in self._parked:
                wanted = [i for i in range(len(self.channels)) if i == channel or i not in self._parked]
                outs = read_columns(
                    self.source,
                    self.offset,
                    self.record_values,
                    0,
                    math.prod(self.grid),
                    [self.channels[i] for i in wanted],
                    self.stored,
                )
                self._parked.update(zip(wanted, outs, strict=True))
            out = self._parked.pop(channel)
        return out.reshape(*self.grid, points)


class GridChannelArray(BackendArray):
    """One channel of a 3DS grid, ``(y, x, sweep)``, read on demand (rows of the grid at a time)."""

    def __init__(self, grid: GridFile, channel: int) -> None:
        self.grid, self.channel = grid, channel
        self.dtype = grid.stored.newbyteorder("=")
        self.shape = (*grid.grid, grid.channels[channel][1])

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        rows = key[0] if key else slice(None)
        if isinstance(rows, int | np.integer):
            start, stop, rest = int(rows), int(rows) + 1, (0, *key[1:])
        else:
            start, stop, step = rows.indices(self.shape[0])
            if step < 0:
                start, stop = stop + 1, start + 1
            rest = (slice(None, None, step), *key[1:])
        if start >= stop:
            return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *key[1:])]
        return self.grid.rows(self.channel, start, stop)[rest]
