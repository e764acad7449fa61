"""The binary side of FEI TIA: parse a ``.ser`` file and read its data elements lazily.

A SER file is a series of data elements (1-D spectra or 2-D images) of one type and size. Its
header gives the series dimensions (size and calibration of each), the total and valid number
of elements and where the offset array is; the offset array gives the byte offset of each
element. Every element starts with its own calibration and type, then the values (C order,
little-endian). Layout after C. Boothroyd's description of the TIA format.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import LazyArray, RawArray, check_extent
from pycrox.errors import FormatError
from pycrox.readers._common.companion import read_bytes
from pycrox.sources import Source

__all__ = ["SER_MAGIC", "ElementsArray", "SerFile", "lazy_elements", "parse_ser"]

#: byte order mark 0x4949 ("II") and series id 0x0197
SER_MAGIC = b"II\x97\x01"
SPECTRA, IMAGES = 0x4120, 0x4122
TIME_TAG, POSITION_TAG = 0x4152, 0x4142
DATA_TYPES = {
    1: "<u1",
    2: "<u2",
    3: "<u4",
    4: "<i1",
    5: "<i2",
    6: "<i4",
    7: "<f4",
    8: "<f8",
    9: "<c8",
    10: "<c16",
}
_HEAD_READ = 65536  # the header with its dimension arrays is far smaller
_MAX_DIMS = 16


@dataclass
class SerFile:
    """What the header of one ``.ser`` file says.

    Attributes
    ----------
    header : dict
        Header fields, with the vendor's names.
    dimensions : list of dict
        Series dimensions as stored (``DimensionSize``, ``CalibrationOffset``, ...), fastest first.
    offsets : numpy.ndarray
        Byte offset of each valid element.
    dtype : numpy.dtype
        Element value type.
    shape : tuple of int
        Element shape in C order: ``(n,)`` for spectra, ``(ny, nx)`` for images.
    calibrations : list of dict
        Element calibration per element axis, in the order of `shape`.
    element_header : int
        Bytes before the values in each element.
    first_tag : dict
        The tag of the first element (time, and scan position when present).
    """

    header: dict[str, Any]
    dimensions: list[dict[str, Any]]
    offsets: np.ndarray
    dtype: np.dtype
    shape: tuple[int, ...]
    calibrations: list[dict[str, Any]]
    element_header: int
    first_tag: dict[str, Any] = field(default_factory=dict)

    @property
    def is_image(self) -> bool:
        """Whether the elements are 2-D images (else 1-D spectra)."""
        return self.header["DataTypeID"] == IMAGES


class _Cursor:
    """Sequential little-endian reads from a byte string, with file offsets in errors."""

    def __init__(self, data: bytes, source: Source, base: int = 0) -> None:
        self.data, self.source, self.base, self.pos = data, source, base, 0

    def take(self, fmt: str, what: str) -> tuple:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise FormatError(
                self.source.name,
                f"{what} runs past the end of the header (file truncated or a length field is wrong)",
                where=f"offset {self.base + self.pos}",
            )
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def text(self, length: int, what: str) -> str:
        if length < 0 or self.pos + length > len(self.data):
            raise FormatError(
                self.source.name,
                f"{what} claims {length} bytes, more than the header holds",
                where=f"offset {self.base + self.pos}",
            )
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("latin-1").rstrip("\x00")


def parse_ser(source: Source) -> SerFile:
    """Parse the header, offsets and first element of a ``.ser`` file (no data are read).

    Raises
    ------
    FormatError
        On a wrong magic, an unknown data type, or sizes and offsets the file cannot hold.
    """
    size = source.size()
    head = read_bytes(source, 0, min(size, _HEAD_READ), "the SER header")
    cursor = _Cursor(head, source)
    header = _read_header(cursor)
    dimensions = [_read_dimension(cursor, i + 1) for i in range(header["NumberDimensions"])]
    offsets = _read_offsets(source, header)
    ser = _read_first_element(source, header, dimensions, offsets)
    _check_elements(source, ser)
    ser.first_tag = _read_first_tag(source, header)
    return ser


def _read_header(cursor: _Cursor) -> dict[str, Any]:
    source = cursor.source
    order, series_id, version, type_id, tag_id, total, valid = cursor.take("<HHHIIII", "the SER header")
    if order != 0x4949 or series_id != 0x0197:
        raise FormatError(
            source.name,
            f"not a TIA SER file: byte order 0x{order:04x} and series id "
            f"0x{series_id:04x}, expected 0x4949 and 0x0197",
            where="offset 0",
        )
    if type_id not in (SPECTRA, IMAGES):
        raise FormatError(
            source.name,
            f"unknown DataTypeID 0x{type_id:04x}; expected 0x4120 (spectra) or 0x4122 (images)",
            where="offset 6",
        )
    (array_offset,) = cursor.take("<Q" if version > 0x0210 else "<I", "the offset array position")
    (ndim,) = cursor.take("<I", "the number of dimensions")
    if valid == 0 or valid > total:
        raise FormatError(
            source.name,
            f"{valid} valid of {total} elements: the file holds no readable data",
            where="offset 18",
        )
    if ndim > _MAX_DIMS:
        raise FormatError(
            source.name, f"header claims {ndim} series dimensions", where=f"offset {cursor.pos - 4}"
        )
    return {
        "ByteOrder": order,
        "SeriesID": series_id,
        "SeriesVersion": version,
        "DataTypeID": type_id,
        "TagTypeID": tag_id,
        "TotalNumberElements": total,
        "ValidNumberElements": valid,
        "OffsetArrayOffset": array_offset,
        "NumberDimensions": ndim,
    }


def _read_dimension(cursor: _Cursor, number: int) -> dict[str, Any]:
    what = f"dimension array {number}"
    size, offset, delta, element, desc_len = cursor.take("<iddii", what)
    description = cursor.text(desc_len, f"{what} description")
    (units_len,) = cursor.take("<i", what)
    units = cursor.text(units_len, f"{what} units")
    if size < 1:
        raise FormatError(
            cursor.source.name, f"{what} has size {size}", where=f"offset {cursor.base + cursor.pos}"
        )
    return {
        "DimensionSize": size,
        "CalibrationOffset": offset,
        "CalibrationDelta": delta,
        "CalibrationElement": element,
        "Description": description,
        "Units": units,
    }


def _read_offsets(source: Source, header: dict[str, Any]) -> np.ndarray:
    width = 8 if header["SeriesVersion"] > 0x0210 else 4
    valid = header["ValidNumberElements"]
    start = header["OffsetArrayOffset"]
    check_extent(source, start, header["TotalNumberElements"] * width, "the data offset array")
    raw = read_bytes(source, start, valid * width, "the data offset array")
    return np.frombuffer(raw, dtype="<u8" if width == 8 else "<u4").astype(np.int64)


def _element_header(source: Source, header: dict[str, Any], offset: int) -> tuple[dict[str, Any], int]:
    if header["DataTypeID"] == SPECTRA:
        raw = read_bytes(source, offset, 26, "a spectrum element header")
        off, delta, elem, code, length = struct.unpack("<ddihi", raw)
        cal = [{"CalibrationOffset": off, "CalibrationDelta": delta, "CalibrationElement": elem}]
        return {"DataType": code, "shape": (length,), "calibrations": cal}, 26
    raw = read_bytes(source, offset, 50, "an image element header")
    ox, dx, ex, oy, dy, ey, code, nx, ny = struct.unpack("<ddiddihii", raw)
    cal = [
        {"CalibrationOffset": oy, "CalibrationDelta": dy, "CalibrationElement": ey},
        {"CalibrationOffset": ox, "CalibrationDelta": dx, "CalibrationElement": ex},
    ]
    return {"DataType": code, "shape": (ny, nx), "calibrations": cal}, 50


def _read_first_element(
    source: Source, header: dict[str, Any], dimensions: list[dict[str, Any]], offsets: np.ndarray
) -> SerFile:
    first = int(offsets[0])
    info, nbytes = _element_header(source, header, first)
    code, shape = info["DataType"], info["shape"]
    if code not in DATA_TYPES:
        raise FormatError(
            source.name, f"unknown element DataType {code}; expected 1..10", where=f"offset {first}"
        )
    if any(n < 1 for n in shape):
        raise FormatError(source.name, f"element shape {shape} is empty", where=f"offset {first}")
    return SerFile(
        header,
        dimensions,
        offsets,
        np.dtype(DATA_TYPES[code]),
        tuple(int(n) for n in shape),
        info["calibrations"],
        nbytes,
    )


def _check_elements(source: Source, ser: SerFile) -> None:
    """Every element must fit in the file, and the last one must match the first."""
    element_bytes = ser.element_header + math.prod(ser.shape) * ser.dtype.itemsize
    low, high = int(ser.offsets.min()), int(ser.offsets.max())
    check_extent(source, low, element_bytes, "the first data element")
    check_extent(source, high, element_bytes, "the last data element")
    last, _ = _element_header(source, ser.header, int(ser.offsets[-1]))
    if DATA_TYPES.get(last["DataType"]) != ser.dtype.str or tuple(last["shape"]) != ser.shape:
        raise FormatError(
            source.name,
            f"elements differ: the first is {ser.shape} {ser.dtype}, the last "
            f"{tuple(last['shape'])} type {last['DataType']}",
            where=f"offset {int(ser.offsets[-1])}",
        )


def _read_first_tag(source: Source, header: dict[str, Any]) -> dict[str, Any]:
    width = 8 if header["SeriesVersion"] > 0x0210 else 4
    where = header["OffsetArrayOffset"] + header["TotalNumberElements"] * width
    try:
        (tag_offset,) = struct.unpack(
            "<Q" if width == 8 else "<I", read_bytes(source, where, width, "tag offset")
        )
        tag_id, _, seconds = struct.unpack("<HHI", read_bytes(source, tag_offset, 8, "the first tag"))
        tag: dict[str, Any] = {"TagTypeID": tag_id, "Time": seconds}
        if tag_id == POSITION_TAG:
            tag["PositionX"], tag["PositionY"] = struct.unpack(
                "<dd", read_bytes(source, tag_offset + 8, 16, "tag")
            )
    except FormatError:
        return {}  # tags only add the acquisition time; a broken tag array does not hide the data
    return tag


def lazy_elements(source: Source, ser: SerFile) -> LazyArray:
    """The valid elements as one backend array of shape ``(valid, *element shape)``.

    Uniformly spaced elements are one strided `RawArray` read; others are read one by one.
    """
    first = int(ser.offsets[0]) + ser.element_header
    shape = (len(ser.offsets), *ser.shape)
    steps = np.diff(ser.offsets)
    element_bytes = math.prod(ser.shape) * ser.dtype.itemsize
    if len(steps) == 0 or (np.all(steps == steps[0]) and steps[0] >= element_bytes):
        stride = int(steps[0]) if len(steps) else None
        return RawArray(source, first, ser.dtype, shape, record_stride=stride)
    return ElementsArray(source, ser.offsets + ser.element_header, ser.dtype, shape)


class ElementsArray(BackendArray):
    """Elements at arbitrary byte offsets (``shape[0]`` of them), read on demand."""

    def __init__(self, source: Source, offsets: np.ndarray, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        self.source, self.offsets, self.dtype, self.shape = source, offsets, np.dtype(dtype), shape

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        picks = np.arange(self.shape[0])[key[0]]
        count = math.prod(self.shape[1:])
        out = np.empty((np.size(picks), *self.shape[1:]), self.dtype)
        for i, index in enumerate(np.atleast_1d(picks)):
            raw = read_bytes(
                self.source, int(self.offsets[index]), count * self.dtype.itemsize, "a data element"
            )
            out[i] = np.frombuffer(raw, self.dtype).reshape(self.shape[1:])
        out = out[(slice(None), *key[1:])]
        return out[0] if np.ndim(picks) == 0 else out
