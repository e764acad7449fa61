"""A tiny PNG encoder (8-bit grey or RGB) on zlib, and the scaling of values to grey levels."""

from __future__ import annotations

import struct
import zlib

import numpy as np

__all__ = ["encode", "to_grey"]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode(pixels: np.ndarray) -> bytes:
    """The PNG file of a ``uint8`` array of shape ``(rows, columns)`` (grey) or ``(rows, columns, 3)`` (RGB).

    Parameters
    ----------
    pixels : numpy.ndarray
        Row 0 is the top row of the picture.

    Returns
    -------
    bytes
        A complete PNG file.
    """
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    rows, columns = pixels.shape[:2]
    colour = 2 if pixels.ndim == 3 else 0
    header = struct.pack(">IIBBBBB", columns, rows, 8, colour, 0, 0, 0)
    flat = pixels.reshape(rows, -1)
    raw = np.concatenate([np.zeros((rows, 1), np.uint8), flat], axis=1).tobytes()  # filter 0 per row
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 6))
        + _chunk(b"IEND", b"")
    )


def to_grey(values: np.ndarray, low: float = 0.5, high: float = 99.5) -> tuple[np.ndarray, float, float]:
    """Values scaled to 0-255 between two percentiles of the finite ones (NaN becomes 0).

    Returns
    -------
    tuple
        ``(uint8 array, value at 0, value at 255)``.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(values.shape, np.uint8), 0.0, 0.0
    vmin, vmax = (float(v) for v in np.percentile(finite, [low, high]))
    if vmax <= vmin:
        vmin, vmax = float(finite.min()), float(finite.max())
    span = vmax - vmin if vmax > vmin else 1.0
    scaled = np.clip((np.nan_to_num(values, nan=vmin) - vmin) / span * 255.0 + 0.5, 0, 255)
    return scaled.astype(np.uint8), vmin, vmax
