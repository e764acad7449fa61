"""Lazy access to raw binary blocks: the data of DM, MRC, TIA, MIB and raw TIFF files.

`RawArray` is an xarray `BackendArray` over ``shape`` records of ``dtype`` starting at a byte
offset, records along the first axis separated by ``record_stride`` bytes (a header between
frames, as in MIB). A full read allocates the result once and reads into it; a slice along the
first axis reads only the bytes it covers, from local files or fsspec URLs alike.
"""

from __future__ import annotations

import abc
import math
import threading
from typing import Any, Protocol

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["LazyArray", "LockedArray", "RawArray", "check_extent", "lazy_raw"]


class LazyArray(Protocol):
    """What a wrapper needs of the backend array it wraps (xarray's `BackendArray` declares none of it)."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> np.dtype: ...

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray: ...


def check_extent(source: Source, offset: int, nbytes: int, what: str) -> None:
    """Raise `FormatError` when a header claims more bytes than the file holds."""
    size = source.size()
    if offset < 0 or nbytes < 0 or offset + nbytes > size:
        raise FormatError(
            source.name,
            f"{what} claims bytes {offset}..{offset + nbytes} but the file has {size}; it may be truncated",
            where=f"offset {offset}",
        )


class LockedArray(BackendArray, abc.ABC):
    """A backend array whose `_read` runs under its own lock, and that pickles without the lock.

    Subclasses set ``shape`` and ``dtype`` and implement ``_read(key)`` for basic indexing keys.
    The lock, and any per-process cache a subclass adds in `_fresh`, is made anew in every process
    and left out of the pickle (a lock does not pickle; a cache need not travel).
    """

    shape: tuple[int, ...]
    dtype: np.dtype
    _lock: threading.Lock

    def __init__(self) -> None:
        self.__dict__.update(self._fresh())

    def _fresh(self) -> dict[str, Any]:
        """The per-process state: attribute name -> its value in a new process."""
        return {"_lock": threading.Lock()}

    def __getstate__(self) -> dict:
        transient = self._fresh()
        return {k: v for k, v in self.__dict__.items() if k not in transient}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, **self._fresh())

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    @abc.abstractmethod
    def _read(self, key: tuple) -> np.ndarray:
        """The values at `key`, a tuple of ints and slices (basic indexing), as a numpy array."""


class RawArray(BackendArray):
    """A block of fixed-size records in a binary file, read on demand.

    Parameters
    ----------
    source : Source
        The file.
    offset : int
        Byte offset of the first element.
    dtype : numpy dtype
        Element type, with byte order.
    shape : tuple of int
        Array shape in C order (first axis = slowest = records).
    record_stride : int, optional
        Bytes from the start of one record (``shape[1:]`` elements) to the next; default contiguous.
    """

    def __init__(
        self,
        source: Source,
        offset: int,
        dtype: Any,
        shape: tuple[int, ...],
        record_stride: int | None = None,
    ) -> None:
        self.source, self.offset = source, int(offset)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in shape)
        self._record_bytes = (
            math.prod(self.shape[1:]) * self.dtype.itemsize if self.shape else self.dtype.itemsize
        )
        self.record_stride = int(record_stride) if record_stride else self._record_bytes
        total = (
            self.record_stride * (self.shape[0] - 1) + self._record_bytes
            if self.shape and self.shape[0]
            else 0
        )
        check_extent(source, self.offset, total if self.shape else self.dtype.itemsize, "the data block")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        if not self.shape:
            return self._read_records(0, 1).reshape(())[key]
        first = key[0] if key else slice(None)
        if isinstance(first, int | np.integer):
            start, stop, step = int(first), int(first) + 1, 1
            rest: tuple = (0, *key[1:])
        else:
            start, stop, step = first.indices(self.shape[0])
            if start >= stop:
                return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *key[1:])]
            rest = (slice(None, None, step), *key[1:])
        block = self._read_records(start, stop - start)
        return block[rest] if any(not (isinstance(k, slice) and k == slice(None)) for k in rest) else block

    def _read_records(self, start: int, count: int) -> np.ndarray:
        shape = (count, *self.shape[1:]) if self.shape else ()
        out = np.empty(shape, self.dtype)
        begin = self.offset + start * self.record_stride
        contiguous = self.record_stride == self._record_bytes
        with self._handle() as fh:
            if contiguous:
                fh.seek(begin)
                _readinto(fh, out.reshape(-1).view(np.uint8).data, self.source, begin)
            else:
                flat = out.reshape(count, -1).view(np.uint8)
                for i in range(count):
                    fh.seek(begin + i * self.record_stride)
                    _readinto(fh, memoryview(flat[i]), self.source, begin + i * self.record_stride)
        return out

    def _handle(self) -> Any:
        if self.source.path is not None:
            return open(self.source.path, "rb", buffering=0)
        return self.source.reading()


def _readinto(fh: Any, view: memoryview, source: Source, offset: int) -> None:
    done = 0
    while done < len(view):
        n = fh.readinto(view[done:]) if hasattr(fh, "readinto") else None
        if n is None:
            chunk = fh.read(len(view) - done)
            n = len(chunk)
            view[done : done + n] = chunk
        if not n:
            raise FormatError(
                source.name,
                f"file ends after {offset + done} bytes inside the data block",
                where=f"offset {offset}",
            )
        done += n


def lazy_raw(
    source: Source, offset: int, dtype: Any, shape: tuple[int, ...], record_stride: int | None = None
) -> indexing.LazilyIndexedArray:
    """Data for an `xarray.Variable`: a lazily indexed `RawArray`."""
    return indexing.LazilyIndexedArray(RawArray(source, offset, dtype, shape, record_stride))
