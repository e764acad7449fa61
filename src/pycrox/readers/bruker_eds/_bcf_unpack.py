"""Vectorised decoding of Bruker hypermap pixel records (see `pycrox.readers.bruker_eds._bcf` for the layout).

The pixel headers of a batch of lines, and the heads of "instructed" runs, are walked once in
Python (a sequential chain of variable-length records); every value is then decoded for all
pixels at once with numpy gathers: plain 16-bit pulses, 12-bit pulses (4 per 6 bytes) and the
runs' packed values. `channel_counts` sums everything into ``(pixels, channels)`` counts.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

__all__ = ["PixelTable", "channel_counts", "ragged_arange"]

PIXEL = struct.Struct("<IHHIHHHI")
_BYTES_LUT = np.zeros(256, np.int64)
_BYTES_LUT[[2, 4, 8]] = [1, 2, 4]


class UnpackError(ValueError):
    """A damaged record; `offset` is the byte offset in the stream."""

    def __init__(self, problem: str, offset: int) -> None:
        super().__init__(problem)
        self.offset = offset


@dataclass
class PixelTable:
    """Pixel records of a batch of lines, by packing (stream offsets, counts, pixel numbers)."""

    pulses16: list[tuple[int, int, int]] = field(default_factory=list)  # (pixel, data offset, pulses)
    pulses12: list[tuple[int, int, int]] = field(default_factory=list)
    runs: list[tuple[int, int, int]] = field(default_factory=list)  # (pixel, data offset, data end)


def walk_lines(stream: bytes, line_offsets: np.ndarray, first: int, last: int, width: int) -> PixelTable:
    """Read the pixel headers of lines ``first:last`` (pixel numbers relative to line `first`)."""
    table = PixelTable()
    size = len(stream)
    for line in range(first, last):
        pos = int(line_offsets[line])
        (count,) = struct.unpack_from("<I", stream, pos)
        pos += 4
        base = (line - first) * width
        for _ in range(count):
            if pos + PIXEL.size > size:
                raise UnpackError("the stream ends inside a pixel header; the file may be truncated", pos)
            x, _, _, _, flag, _, n_pulses, data_size = PIXEL.unpack_from(stream, pos)
            data = pos + PIXEL.size
            end = data + data_size
            if x >= width or end > size:
                raise UnpackError(
                    f"pixel x={x} with {data_size} data bytes does not fit the map or stream", pos
                )
            if flag == 0:
                table.pulses16.append((base + x, data, min(n_pulses, data_size // 2)))
            elif flag == 1:
                table.pulses12.append((base + x, data, n_pulses))
            else:
                table.runs.append((base + x, data, end - 4))
                extra = struct.unpack_from("<I", stream, end - 4)[0] if n_pulses else 0
                if end + extra > size:
                    raise UnpackError("a pixel's extra pulses run past the end of the stream", end)
                if extra:
                    table.pulses16.append((base + x, end, extra // 2))
                end += extra
            pos = end
    return table


def ragged_arange(counts: np.ndarray) -> np.ndarray:
    """``concatenate([arange(c) for c in counts])`` without a Python loop."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) - np.repeat(starts, counts)


def _records(rows: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if not rows:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    array = np.asarray(rows, dtype=np.int64)
    return array[:, 0], array[:, 1], array[:, 2]


def _pulses16(u8: np.ndarray, rows: list) -> tuple[np.ndarray, np.ndarray]:
    pixel, offset, n = _records(rows)
    at = np.repeat(offset, n) + 2 * ragged_arange(n)
    return np.repeat(pixel, n), u8[at].astype(np.int64) | (u8[at + 1].astype(np.int64) << 8)


def _pulses12(u8: np.ndarray, rows: list) -> tuple[np.ndarray, np.ndarray]:
    """Four 12-bit channel numbers per 6 bytes, in Bruker's nibble order."""
    pixel, offset, n = _records(rows)
    groups = (n + 3) // 4
    at = np.repeat(offset, groups) + 6 * ragged_arange(groups)
    g = u8[at[:, None] + np.arange(6)].astype(np.int64)
    values = np.stack(
        [
            (g[:, 0] >> 4) + (g[:, 1] << 4),
            ((g[:, 0] << 8) + g[:, 3]) & 0xFFF,
            (g[:, 2] << 4) + (g[:, 5] >> 4),
            ((g[:, 5] << 8) + g[:, 4]) & 0xFFF,
        ],
        axis=1,
    ).reshape(-1)
    keep = ragged_arange(4 * groups) < np.repeat(n, 4 * groups)
    return np.repeat(pixel, 4 * groups)[keep], values[keep]


def _run_starts(stream: bytes, offset: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stream offsets of every run of every instructed pixel (in order) and the run's pixel row.

    A run at ``p`` (width ``w = stream[p]``, ``n = stream[p + 1]`` values) is followed by the next
    at ``p + 2 + w + bytes(w, n)``: a sequential chain, walked in plain Python (a few hundred ns
    per run; everything per value is vectorised afterwards).
    """
    found: list[int] = []
    append = found.append
    for p, stop in zip(offset.tolist(), end.tolist(), strict=True):
        while p < stop:
            w, n = stream[p], stream[p + 1]
            append(p)
            if w == 0:
                p += 2
            elif w == 1:
                p += 3 + (n + 1) // 2
            elif w in (2, 4, 8):
                p += 2 + w + n * (w // 2)
            else:
                raise UnpackError(f"unknown packing width {w} in an instructed pixel", p)
    starts = np.asarray(found, dtype=np.int64)
    return starts, np.searchsorted(offset, starts, side="right") - 1


def _span(width: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Bytes of a run: 2-byte head, `width`-byte gain, `n` values (nibbles for width 1)."""
    values = np.where(width == 1, (n + 1) // 2, n * _BYTES_LUT[width])
    return 2 + np.where(width > 0, width + values, 0)


def _runs(
    stream: bytes, u8: np.ndarray, rows: list, channels: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pixel, channel, count)`` of every value of every instructed run, run widths one at a time."""
    pixel, offset, end = _records(rows)
    starts, row = _run_starts(stream, offset, end)
    width, n = u8[starts].astype(np.int64), u8[starts + 1].astype(np.int64)
    over = starts + _span(width, n) > end[row]
    if over.any():
        raise UnpackError("a packed run reaches past its pixel's data", int(starts[over][0]))
    first_channel = _channel_starts(n, row)
    parts = []
    for w, nbytes in ((1, 0), (2, 1), (4, 2), (8, 4)):
        sel = np.flatnonzero(width == w)
        if not sel.size:
            continue
        run_start, count = starts[sel], n[sel]
        gain = _little_endian(u8, run_start + 2, w)
        k = ragged_arange(count)
        base = np.repeat(run_start + 2 + w, count)
        if w == 1:
            values = (u8[base + k // 2] >> (4 * (k & 1)).astype(np.uint8)) & 0x0F
        else:
            values = _little_endian(u8, base + nbytes * k, nbytes)
        channel = np.repeat(first_channel[sel], count) + k
        keep = channel < channels
        parts.append(
            (
                np.repeat(pixel[row[sel]], count)[keep],
                channel[keep],
                (values.astype(np.int64) + np.repeat(gain, count))[keep],
            )
        )
    if not parts:
        empty = np.zeros(0, np.int64)
        return empty, empty, empty
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))  # type: ignore[return-value]


def _little_endian(u8: np.ndarray, at: np.ndarray, nbytes: int) -> np.ndarray:
    """Unsigned little-endian integers of `nbytes` bytes at offsets `at`."""
    value = u8[at].astype(np.int64)
    for j in range(1, nbytes):
        value |= u8[at + j].astype(np.int64) << (8 * j)
    return value


def _channel_starts(n: np.ndarray, row: np.ndarray) -> np.ndarray:
    """First channel of each run: running sum of the runs' lengths, restarting at each pixel."""
    total = np.cumsum(n) - n
    new_pixel = np.r_[True, row[1:] != row[:-1]] if row.size else np.zeros(0, bool)
    return total - np.maximum.accumulate(np.where(new_pixel, total, 0))


def channel_counts(stream: bytes, table: PixelTable, pixels: int, channels: int) -> np.ndarray:
    """``(pixels, channels)`` int64 counts of a batch described by `table`."""
    u8 = np.frombuffer(stream, np.uint8)
    u8 = np.concatenate([u8, np.zeros(16, np.uint8)])  # gathers may peek past the last record
    cells = pixels * channels
    counts = np.zeros(cells, np.int64)
    for pixel, channel in (_pulses16(u8, table.pulses16), _pulses12(u8, table.pulses12)):
        keep = channel < channels
        counts += np.bincount(pixel[keep] * channels + channel[keep], minlength=cells)
    if table.runs:
        pixel, channel, value = _runs(stream, u8, table.runs, channels)
        np.add.at(counts, pixel * channels + channel, value)
    return counts.reshape(pixels, channels)
