"""The GWYP object serialisation of Gwyddion 2 ``.gwy`` files, parsed without reading bulk data.

A file is ``b"GWYP"`` and one serialised object. An object is its type name (NUL-terminated),
a ``uint32`` byte size and that many bytes of components; a component is its name
(NUL-terminated), a one-letter type and a value, all little-endian: ``b`` bool, ``c`` char,
``i`` int32, ``q`` int64, ``d`` double, ``s`` NUL-terminated string, ``o`` object, and the
upper-case letters arrays of those (a ``uint32`` count, then the items). Arrays of numbers larger
than `INLINE_LIMIT` items are not read: they come back as `Block` (offset, dtype, count) so that
the reader can map them lazily.
"""

from __future__ import annotations

import io
import mmap
import struct
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from pycrox.errors import FormatError

__all__ = ["MAGIC", "Block", "GwyObject", "parse"]

MAGIC = b"GWYP"
INLINE_LIMIT = 64
_CHUNK = 1 << 13
_SCALARS = {"b": ("<?", 1), "c": ("<c", 1), "i": ("<i", 4), "q": ("<q", 8), "d": ("<d", 8)}
_ARRAYS = {"C": "u1", "I": "<i4", "Q": "<i8", "D": "<f8"}


@dataclass(frozen=True)
class Block:
    """A numeric array left in the file: `count` items of `dtype` from byte `offset`."""

    offset: int
    dtype: str
    count: int


@dataclass
class GwyObject:
    """One serialised object: its type name and components (in file order)."""

    type_name: str
    components: dict[str, Any] = field(default_factory=dict)
    offset: int = 0

    def get(self, name: str, default: Any = None) -> Any:
        """The component `name`, or `default`."""
        return self.components.get(name, default)


class _Cursor:
    """Buffered forward reading of a file handle; big arrays are skipped by seeking."""

    def __init__(self, fh: IO[bytes], name: str, size: int) -> None:
        self.fh, self.name, self.size = fh, name, size
        self.buf, self.base, self.pos = b"", 0, 0  # buf holds file bytes [base, base + len(buf))

    def _fill(self, n: int) -> None:
        end = self.pos + n
        if end <= self.base + len(self.buf):
            return
        if end > self.size:
            raise FormatError(
                self.name,
                f"file ends after {self.size} bytes inside a GWY object "
                f"(needs {n} bytes from {self.pos}); it may be truncated",
                where=f"offset {self.pos}",
            )
        self.fh.seek(self.pos)
        self.buf = self.fh.read(max(n, _CHUNK))
        self.base = self.pos
        if len(self.buf) < n:
            raise FormatError(
                self.name, f"file ends after {self.pos + len(self.buf)} bytes", where=f"offset {self.pos}"
            )

    def take(self, n: int) -> bytes:
        self._fill(n)
        start = self.pos - self.base
        self.pos += n
        return self.buf[start : start + n]

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise FormatError(
                self.name,
                f"an array of {n} bytes at {self.pos} runs past the end of the file "
                f"({self.size} bytes); it may be truncated",
                where=f"offset {self.pos}",
            )
        self.pos += n

    def cstring(self) -> str:
        start = self.pos
        self._fill(1)
        while True:
            local = self.pos - self.base
            end = self.buf.find(b"\x00", local)
            if end >= 0:
                self.pos = self.base + end + 1
                return self.buf[local:end].decode("utf-8", errors="replace")
            stop = self.base + len(self.buf)
            if stop >= self.size:
                raise FormatError(
                    self.name,
                    "a string is not NUL-terminated before the end of the file",
                    where=f"offset {start}",
                )
            self.fh.seek(stop)
            more = self.fh.read(_CHUNK)
            if not more:
                raise FormatError(self.name, f"file ends after {stop} bytes", where=f"offset {start}")
            self.buf = self.buf[local:] + more
            self.base = self.pos


def parse(fh: IO[bytes], name: str, size: int) -> GwyObject:
    """The top object of a GWYP file open as `fh` (`size` bytes).

    Raises
    ------
    FormatError
        On a wrong magic, an unknown component type or a size that does not add up.
    """
    cursor = _Cursor(fh, name, size)
    mapped = _map(fh, size)
    if mapped is not None:  # a local file: parse the page-cached map, copying only what is read
        cursor.buf, cursor.base = mapped, 0
    magic = cursor.take(4)
    if magic != MAGIC:
        hint = " (Gwyddion 1 'GWYO' files are not supported)" if magic == b"GWYO" else ""
        raise FormatError(name, f"expected the GWY magic {MAGIC!r}, found {magic!r}{hint}", where="offset 0")
    return _object(cursor, depth=0)


def _map(fh: IO[bytes], size: int) -> Any:
    """A read-only memory map of `fh` when it is a local file, else None."""
    try:
        return mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_READ) if size else None
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None


def _object(cursor: _Cursor, depth: int) -> GwyObject:
    if depth > 64:
        raise FormatError(cursor.name, "objects nested more than 64 deep", where=f"offset {cursor.pos}")
    start = cursor.pos
    type_name = cursor.cstring()
    (nbytes,) = struct.unpack("<I", cursor.take(4))
    end = cursor.pos + nbytes
    if end > cursor.size:
        raise FormatError(
            cursor.name,
            f"object {type_name!r} claims {nbytes} bytes, past the end of the file "
            f"({cursor.size} bytes); it may be truncated",
            where=f"offset {start}",
        )
    obj = GwyObject(type_name, offset=start)
    while cursor.pos < end:
        comp_name = cursor.cstring()
        kind = cursor.take(1).decode("latin-1")
        obj.components[comp_name] = _value(cursor, kind, depth, f"{type_name}.{comp_name}")
    if cursor.pos != end:
        raise FormatError(
            cursor.name,
            f"object {type_name!r} components end at {cursor.pos}, not at {end}",
            where=f"offset {start}",
        )
    return obj


def _value(cursor: _Cursor, kind: str, depth: int, what: str) -> Any:
    if kind in _SCALARS:
        fmt, n = _SCALARS[kind]
        value = struct.unpack(fmt, cursor.take(n))[0]
        return value.decode("latin-1") if kind == "c" else value
    if kind == "s":
        return cursor.cstring()
    if kind == "o":
        return _object(cursor, depth + 1)
    if kind in "CIQDSO" and kind:
        (count,) = struct.unpack("<I", cursor.take(4))
        if kind == "S":
            return [cursor.cstring() for _ in range(count)]
        if kind == "O":
            return [_object(cursor, depth + 1) for _ in range(count)]
        dtype = np.dtype(_ARRAYS[kind])
        nbytes = count * dtype.itemsize
        if count > INLINE_LIMIT:
            block = Block(cursor.pos, _ARRAYS[kind], count)
            cursor.skip(nbytes)
            return block
        return np.frombuffer(cursor.take(nbytes), dtype).astype(dtype.newbyteorder("="))
    raise FormatError(
        cursor.name, f"unknown component type {kind!r} in {what}", where=f"offset {cursor.pos - 1}"
    )
