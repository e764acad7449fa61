"""Bounded reads inside one MDT frame: header fields on demand, blocks at known offsets."""

from __future__ import annotations

import struct
from typing import IO, Any

from pycrox.errors import FormatError

__all__ = ["Cursor"]


class Cursor:
    """Reads a frame's fields from `fh`, never past the frame's end.

    `take` and `raw` read at the cursor ``pos`` (a frame offset from ``base``) through a small
    window, so skipping a data block (moving ``pos``) reads nothing of it; `block` reads a stretch
    at a frame offset directly.
    """

    def __init__(self, fh: IO[bytes], base: int, end: int, name: str) -> None:
        self.fh, self.base, self.end, self.name = fh, base, end, name
        self.pos = 0
        self._window, self._start = b"", 0  # bytes read last, and their frame offset

    def fail(self, message: str, at: int | None = None) -> FormatError:
        """A `FormatError` naming the file and the absolute offset `at` (default: the cursor)."""
        where = self.base + (self.pos if at is None else at)
        return FormatError(self.name, message, where=f"offset {where}")

    def _view(self, n: int) -> tuple[bytes, int]:
        """The window holding bytes ``pos .. pos + n`` and where `pos` is in it (reads when needed)."""
        if self.pos + n > self.end - self.base:
            raise self.fail(f"a frame field at {self.base + self.pos} runs past its frame (truncated?)")
        inside = self._start <= self.pos and self.pos + n <= self._start + len(self._window)
        if not inside:
            self.fh.seek(self.base + self.pos)
            want = min(max(n, 4096), self.end - self.base - self.pos)
            self._window, self._start = self.fh.read(want), self.pos
            if len(self._window) < n:
                got = self.pos + len(self._window)
                raise self.fail(f"file ends inside the frame at {self.base + got}", at=got)
        return self._window, self.pos - self._start

    def take(self, fmt: str) -> tuple[Any, ...]:
        """Unpack `fmt` at the cursor and move past it."""
        size = struct.calcsize(fmt)
        window, at = self._view(size)
        self.pos += size
        return struct.unpack_from(fmt, window, at)

    def raw(self, n: int) -> bytes:
        """The next `n` bytes."""
        if n < 0:
            raise self.fail(f"a negative block size at {self.base + self.pos}")
        window, at = self._view(n)
        self.pos += n
        return window[at : at + n]

    def remaining(self) -> int:
        """Bytes from the cursor to the end of the frame."""
        return self.end - self.base - self.pos

    def block(self, start: int, n: int, what: str) -> bytes:
        """`n` bytes at frame offset `start` (a data block; nothing before it is read)."""
        if start < 0 or n < 0 or self.base + start + n > self.end:
            raise self.fail(
                f"{what} claims bytes {self.base + start}..{self.base + start + n} past its frame "
                f"ending at {self.end} (truncated?)",
                at=start,
            )
        self.fh.seek(self.base + start)
        out = self.fh.read(n)
        if len(out) < n:
            raise self.fail(f"file ends inside {what}", at=start)
        return out
