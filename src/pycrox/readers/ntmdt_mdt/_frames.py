"""The NT-MDT MDT container: a 33-byte file header and a sequence of frames.

The file header is ``01 B0 93 FF``, the size without header (``uint32``), 4 reserved bytes and the
index of the last frame (``uint16``). Every frame starts with a 22-byte header: size (``uint32``),
type (``uint16``: 0 scanned, 1 spectroscopy, 3 text, 105/106 MDA, 190 curves, 201 point
curves), version (two
bytes), date and time (six ``uint16``) and a variable-size field (``uint16``). An MDA frame (106)
continues with its own header: sizes of the name, the UTF-16 XML parameters, info, spec, source
info and variables blocks, then an array descriptor (cell size, number of dimensions and of
measurands) and one calibration record per dimension and measurand (name, unit, bias, scale,
index range and data type); the data follow the calibrations, the first dimension fastest.
Classic scanned, spectroscopy and point-curve frames (0, 1, 201) are parsed in `_classic`, the
block-structured curve frames (190) in `_curves`.
"""

from __future__ import annotations

import struct
from typing import IO, Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.readers.ntmdt_mdt import _classic, _curves
from pycrox.readers.ntmdt_mdt._cursor import Cursor

__all__ = ["DTYPES", "MAGIC", "parse"]

MAGIC = b"\x01\xb0\x93\xff"
FILE_HEADER = 33
FRAME_HEADER = 22
FRAME_TYPES = {
    0: "scanned",
    1: "spectroscopy",
    3: "text",
    105: "old MDA",
    106: "MDA",
    107: "palette",
    190: "curves",
    201: "point curves",
}
DTYPES = {
    -1: "i1",
    1: "u1",
    -2: "<i2",
    2: "<u2",
    -4: "<i4",
    4: "<u4",
    -8: "<i8",
    8: "<u8",
    -5892: "<f4",
    -13320: "<f8",
}


def parse(fh: IO[bytes], name: str, size: int) -> list[dict[str, Any]]:
    """Every frame: its header fields and, for MDA and text frames, their content (not the data).

    Raises
    ------
    FormatError
        On a wrong magic or a frame that runs past the end of the file.
    """
    fh.seek(0)
    head = fh.read(FILE_HEADER)
    if len(head) < FILE_HEADER or head[:4] != MAGIC:
        raise FormatError(
            name, f"expected the MDT magic {MAGIC.hex()}, found {head[:4].hex()}", where="offset 0"
        )
    (last,) = struct.unpack_from("<H", head, 12)
    frames: list[dict[str, Any]] = []
    pos = FILE_HEADER
    for index in range(last + 1):
        fh.seek(pos)
        raw = fh.read(FRAME_HEADER)
        if len(raw) < FRAME_HEADER:
            raise FormatError(
                name,
                f"frame {index} header at {pos} is cut short; the file has {size} bytes (truncated?)",
                where=f"offset {pos}",
            )
        fsize, ftype, vminor, vmajor, *date, var_size = struct.unpack("<IHBB6HH", raw)
        if fsize < FRAME_HEADER or pos + fsize > size:
            raise FormatError(
                name,
                f"frame {index} claims {fsize} bytes from {pos} but the file has {size}; it may be truncated",
                where=f"offset {pos}",
            )
        frame: dict[str, Any] = {
            "index": index,
            "offset": pos,
            "size": fsize,
            "type": ftype,
            "kind": FRAME_TYPES.get(ftype, "unknown"),
            "version": f"{vmajor}.{vminor}",
            "date": tuple(date),
            "var_size": var_size,
        }
        cursor = Cursor(fh, pos + FRAME_HEADER, pos + fsize, name)
        if ftype == 106:
            frame.update(_mda(cursor))
        elif ftype in _classic.KINDS:
            frame.update(_classic.parse(cursor, var_size, ftype))
        elif ftype == 190:
            frame.update(_curves.parse(cursor))
        elif ftype == 3:
            body = fh.read(fsize - FRAME_HEADER)
            frame["text"] = body.decode("latin-1", errors="replace").rstrip("\x00")
        frames.append(frame)
        pos += fsize
    return frames


def _mda(r: Cursor) -> dict[str, Any]:
    r.take("<II")  # header size, total length
    r.raw(32)  # the frame's GUID, twice
    r.raw(4)
    name_size, xml_size, info, spec, source, _var, _data_offset, data_size = r.take("<8I")
    title = r.raw(name_size).decode("utf-8", errors="replace")
    xml = r.raw(xml_size).decode("utf-16", errors="replace") if xml_size else ""
    r.raw(info + spec + source)
    r.raw(4)
    (struct_len,) = r.take("<I")
    start = r.pos
    _array_size, cell_size, n_dims, n_meas = r.take("<QIII")
    r.pos = start + struct_len
    calibrations = [_calibration(r) for _ in range(n_dims + n_meas)]
    return {
        "title": title,
        "xml": xml,
        "cell_size": cell_size,
        "dimensions": calibrations[:n_dims],
        "measurands": calibrations[n_dims:],
        "data_offset": r.base + r.pos,
        "data_size": data_size,
    }


def _calibration(r: Cursor) -> dict[str, Any]:
    start = r.pos
    total, struct_len = r.take("<II")
    after = r.pos + struct_len
    len_name, len_comment, len_unit = r.take("<III")
    si_unit, accuracy = r.take("<Qd")
    r.raw(8)
    bias, scale, min_index, max_index = r.take("<ddQQ")
    data_type, len_author = r.take("<iI")
    r.pos = after
    out = {
        "name": r.raw(len_name).decode("latin-1"),
        "comment": r.raw(len_comment).decode("latin-1"),
        "unit": r.raw(len_unit).decode("latin-1"),
        "author": r.raw(len_author).decode("latin-1"),
        "si_unit": si_unit,
        "accuracy": accuracy,
        "bias": bias,
        "scale": scale,
        "min_index": min_index,
        "max_index": max_index,
        "data_type": data_type,
        "length": int(max_index - min_index + 1) if max_index >= min_index else 0,
    }
    r.pos = start + total
    return out


def dtype_of(code: int) -> np.dtype | None:
    """The numpy dtype of an MDA data type code, or None when unknown."""
    return np.dtype(DTYPES[code]) if code in DTYPES else None
