"""The EDS hypermap of a Bruker ``.bcf`` file (``EDSDatabase/SpectrumDataN``), decoded on access.

Stream layout (after the SFS container's decompression): ``int32 height, int32 width`` at 0, pixel
records from byte 0x1A0, line by line: ``uint32`` pixel count, then per pixel a 22-byte header
``<IHHIHHHI`` (x, channels, channels in pixel, ?, flag, ?, pulse count, data size) and its data:

* flag 0: ``uint16`` channel number of every pulse;
* flag 1: pulses packed in 12 bits (4 pulses in 6 bytes);
* flag > 1: "instructed" packing: runs of ``(width, n)`` heads, a ``width``-byte gain and ``n``
  values of ``4 * width`` bits (``width == 0``: ``n`` empty channels), then a ``uint32`` byte
  count and that many bytes of extra ``uint16`` pulses.

`HypermapArray` reads the stream once (first access), indexes the lines, and decodes only the
lines a key asks for, in batches of lines (`pycrox.readers.bruker_eds._bcf_unpack`: pixel headers are walked
in Python, the packed data decoded with numpy).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from pycrox._binary import LockedArray
from pycrox.errors import FormatError
from pycrox.readers.bruker_eds import _bcf_unpack as unpack
from pycrox.readers.bruker_eds._sfs import SFSContainer

__all__ = ["HypermapArray", "estimate_dtype"]

_PIXEL = struct.Struct("<IHHIHHHI")
_DATA_START = 0x1A0
_BATCH_VALUES = 2 * 2**20  # channel bins accumulated at once (16 MiB of int64)


def estimate_dtype(sum_spectrum: np.ndarray, height: int, width: int) -> np.dtype:
    """The smallest unsigned type Esprit's sum spectrum suggests for one pixel's counts.

    Twice the highest channel of the sum spectrum divided by the number of pixels, as Bruker's
    own tools and rosettasciio estimate it; `HypermapArray` raises if a pixel exceeds it.
    """
    peak = int(sum_spectrum.max()) if sum_spectrum.size else 0
    roof = peak // max(width, 1) // max(height, 1) * 2
    return np.dtype(np.uint8 if roof <= 0xFF else np.uint16 if roof <= 0xFFFF else np.uint32)


class HypermapArray(LockedArray):
    """A ``(y, x, energy)`` EDS cube stored as a Bruker hypermap stream.

    Parameters
    ----------
    container : SFSContainer
        The ``.bcf`` file.
    path : str
        Stream path, e.g. ``"EDSDatabase/SpectrumData0"``.
    shape : (int, int, int)
        ``(height, width, channels)``; pulses beyond ``channels`` are dropped.
    dtype : numpy dtype
        Unsigned integer type of the counts.
    """

    def __init__(self, container: SFSContainer, path: str, shape: tuple[int, int, int], dtype: Any) -> None:
        self.container, self.path = container, path
        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        entry = container.entry(path)
        if entry.size < _DATA_START and self.shape[0] * self.shape[1]:
            raise FormatError(
                container.source.name,
                f"{path} holds {entry.size} bytes, less than its {_DATA_START}-byte header",
                where=path,
            )
        self._stream: bytes | None = None
        self._lines: np.ndarray | None = None
        super().__init__()

    def _fresh(self) -> dict[str, Any]:
        return {**super()._fresh(), "_stream": None, "_lines": None}

    def _read(self, key: tuple) -> np.ndarray:
        first = key[0] if key else slice(None)
        if isinstance(first, int | np.integer):
            return self.decode_lines(int(first), int(first) + 1)[(0, *key[1:])]
        start, stop, step = first.indices(self.shape[0])
        if start >= stop:
            return np.zeros((0, *self.shape[1:]), self.dtype)[(slice(None), *key[1:])]
        block = self.decode_lines(start, stop)
        return block[(slice(None, None, step), *key[1:])]

    # ------------------------------------------------------------------ stream and line index
    def _load(self) -> tuple[bytes, np.ndarray]:
        with self._lock:
            if self._stream is None or self._lines is None:
                stream = self.container.read(self.path)  # inflation is bounded by zlib's 1032:1
                self._lines = self._index_lines(stream)
                self._stream = stream
            return self._stream, self._lines

    def _fail(self, problem: str, offset: int) -> FormatError:
        return FormatError(self.container.source.name, problem, where=f"{self.path} offset {offset}")

    def _index_lines(self, stream: bytes) -> np.ndarray:
        """Byte offset of every line (and of the end of the last one)."""
        if len(stream) < _DATA_START:
            raise self._fail(f"the hypermap stream has {len(stream)} bytes, less than its header", 0)
        height, width = struct.unpack_from("<ii", stream, 0)
        if (height, width) != self.shape[:2]:
            raise self._fail(
                f"the hypermap is {height} x {width} pixels but the header's image is "
                f"{self.shape[0]} x {self.shape[1]}",
                0,
            )
        offsets = np.empty(height + 1, dtype=np.int64)
        pos = _DATA_START
        for line in range(height):
            offsets[line] = pos
            pos = self._skip_line(stream, pos)
        offsets[height] = pos
        return offsets

    def _skip_line(self, stream: bytes, pos: int) -> int:
        if pos + 4 > len(stream):
            raise self._fail("the hypermap stream ends inside a line header; the file may be truncated", pos)
        (count,) = struct.unpack_from("<I", stream, pos)
        pos += 4
        for _ in range(count):
            pos = self._pixel_end(stream, pos)[0]
        return pos

    def _pixel_end(self, stream: bytes, pos: int) -> tuple[int, tuple]:
        if pos + _PIXEL.size > len(stream):
            raise self._fail("the hypermap stream ends inside a pixel header; the file may be truncated", pos)
        header = _PIXEL.unpack_from(stream, pos)
        end = pos + _PIXEL.size + header[7]
        if header[4] > 1:  # instructed packing: a uint32 byte count of extra pulses closes the data
            if end > len(stream):
                raise self._fail("a pixel's packed data run past the end of the stream", pos)
            end += struct.unpack_from("<I", stream, end - 4)[0] if header[6] else 0
        if end > len(stream) or header[0] >= self.shape[1]:
            raise self._fail(f"pixel header {header} points past the stream or the image width", pos)
        return end, header

    # ------------------------------------------------------------------ decoding
    def decode_lines(self, start: int, stop: int) -> np.ndarray:
        """Counts of lines ``start:stop`` as ``(lines, width, channels)`` of `dtype`.

        Raises
        ------
        FormatError
            When the stream is damaged, or a count exceeds `dtype` (read again with a wider
            ``hypermap_dtype``).
        """
        stream, lines = self._load()
        _, width, channels = self.shape
        out = np.zeros((stop - start, width, channels), self.dtype)
        batch = max(1, _BATCH_VALUES // max(width * channels, 1))
        for first in range(start, stop, batch):
            last = min(first + batch, stop)
            try:
                table = unpack.walk_lines(stream, lines, first, last, width)
                counts = unpack.channel_counts(stream, table, (last - first) * width, channels)
            except unpack.UnpackError as exc:
                raise self._fail(str(exc), exc.offset) from exc
            if counts.size and counts.max() > np.iinfo(self.dtype).max:
                raise self._fail(
                    f"a pixel holds {int(counts.max())} counts, more than {self.dtype} allows; "
                    "read it with pycrox.readers.bruker_eds.read_tree(path, hypermap_dtype='uint32')",
                    int(lines[first]),
                )
            out[first - start : last - start] = counts.reshape(last - first, width, channels)
        return out
