"""The pixel data of a DigitalMicrograph image: element types and lazy arrays over the file.

``ImageData/DataType`` says how the bytes of ``ImageData/Data`` are to be read; the shape comes
from ``ImageData/Dimensions`` (fastest axis first, so the C-order shape is its reverse). Plain
types become a `pycrox._binary.RawArray`; RGB(A) pixels become four trailing uint8 samples (the
file holds them as B, G, R, A bytes; `RGB_CHANNELS` names them in that order); packed complex
images (the non-redundant half of the Fourier transform of a real image) are expanded to the
full width row by row when read.
"""

from __future__ import annotations

import math

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import LazyArray, RawArray
from pycrox.errors import FormatError
from pycrox.readers.dm._tags import DataBlock
from pycrox.sources import Source

__all__ = ["IMAGE_TYPES", "RGB_CHANNELS", "NativeOrderArray", "PackedComplexArray", "lazy_image"]

#: DM image DataType -> numpy element type (byte order added from the file header)
IMAGE_TYPES: dict[int, str] = {
    1: "i2",
    2: "f4",
    3: "c8",
    6: "u1",
    7: "i4",
    9: "i1",
    10: "u2",
    11: "u4",
    12: "f8",
    13: "c16",
    14: "?",
    8: "u1",
    23: "u1",  # RGB / RGBA: 4 bytes per pixel
    27: "c8",
    28: "c16",  # packed complex: half-plane Fourier transforms
}
RGB_TYPES = (8, 23)
PACKED_TYPES = (27, 28)
#: the four bytes of an RGB(A) pixel in file order
RGB_CHANNELS = ("B", "G", "R", "A")
_NAMES = {4: "obsolete", 5: "old packed complex", 0: "null"}


def lazy_image(
    source: Source, block: DataBlock, data_type: int, dm_shape: list[int], little_endian: bool, where: str
) -> indexing.LazilyIndexedArray:
    """Lazy array over an image's data block, in C order (RGB: plus a trailing channel axis).

    Parameters
    ----------
    source : Source
        The file.
    block : DataBlock
        Where ``ImageData/Data`` sits.
    data_type : int
        ``ImageData/DataType``.
    dm_shape : list of int
        ``ImageData/Dimensions`` (fastest axis first).
    little_endian : bool
        Byte order of the file.
    where : str
        Tag path for messages.

    Raises
    ------
    FormatError
        On an unsupported data type, or when the block's size does not fit the dimensions.
    """
    if data_type not in IMAGE_TYPES:
        kind = _NAMES.get(data_type, "unknown")
        raise FormatError(
            source.name,
            f"image DataType {data_type} ({kind}) is not supported; supported are {sorted(IMAGE_TYPES)}",
            where=where,
        )
    code = IMAGE_TYPES[data_type]
    dtype = np.dtype(code if code in ("?", "i1", "u1") else ("<" if little_endian else ">") + code)
    shape = tuple(reversed(dm_shape))
    stored = _stored_shape(shape, data_type)
    needed = math.prod(stored) * dtype.itemsize
    if needed != block.nbytes:
        raise FormatError(
            source.name,
            f"ImageData/Data holds {block.nbytes} bytes but Dimensions {dm_shape} of "
            f"DataType {data_type} need {needed}",
            where=where,
        )
    raw: LazyArray = RawArray(source, block.offset, dtype, stored)
    if not dtype.isnative:
        raw = NativeOrderArray(raw)
    if data_type in PACKED_TYPES:
        return indexing.LazilyIndexedArray(PackedComplexArray(raw, shape[-1]))
    return indexing.LazilyIndexedArray(raw)


def _stored_shape(shape: tuple[int, ...], data_type: int) -> tuple[int, ...]:
    if data_type in RGB_TYPES:
        return (*shape, 4)
    if data_type in PACKED_TYPES and shape:
        return (*shape[:-1], shape[-1] // 2 + 1)
    return shape


class NativeOrderArray(BackendArray):
    """Values of a file in the other byte order, swapped in place after reading (no extra copy)."""

    def __init__(self, raw: LazyArray) -> None:
        self.raw, self.shape = raw, raw.shape
        self.dtype = raw.dtype.newbyteorder("=")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        values = np.ascontiguousarray(self.raw[indexing.BasicIndexer(key)])
        return values.byteswap(inplace=True).view(self.dtype)


class PackedComplexArray(BackendArray):
    """A packed-complex image expanded to its full width when read.

    DigitalMicrograph stores the Fourier transform of a real image as its non-redundant half:
    ``width // 2 + 1`` complex values per row, frequency 0 first. A row is expanded as the
    stored values in reverse order (highest frequency first, frequency 0 at column
    ``width // 2``) followed by the complex conjugates of frequencies 1, 2, ... up to the
    width, so a row depends only on its own stored row and row slices read only those rows.

    Parameters
    ----------
    raw : LazyArray
        The stored half plane, shape ``(..., rows, width // 2 + 1)``.
    width : int
        Full width (``ImageData/Dimensions`` first entry).
    """

    def __init__(self, raw: LazyArray, width: int) -> None:
        self.raw, self.width = raw, width
        self.shape = (*raw.shape[:-1], width)
        self.dtype = raw.dtype.newbyteorder("=")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        key = tuple(key) + (slice(None),) * (len(self.shape) - len(key))
        half = self.raw[indexing.BasicIndexer((*key[:-1], slice(None)))]
        return expand_half_plane(half, self.width)[..., key[-1]]


def expand_half_plane(half: np.ndarray, width: int) -> np.ndarray:
    """Full rows of `width` complex values from stored half rows (see `PackedComplexArray`)."""
    mirrored = half[..., 1 : width - half.shape[-1] + 1]
    return np.concatenate([half[..., ::-1], np.conj(mirrored)], axis=-1).astype(half.dtype.newbyteorder("="))
