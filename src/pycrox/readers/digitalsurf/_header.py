"""The Digital Surf (MountainsMap) SUR/PRO object: a 512-byte header, a comment, a private zone, data.

A file holds ``max(P_Size, 1) * max(Number_of_Objects, 1)`` objects one after the other. Each is
the little-endian header below, ``Comment_size`` bytes of comment text (``$key = value`` lines,
``$_Section`` titles), ``Private_size`` bytes, then the points: ``Total_Nb_of_Pts * max(W_Size, 1)``
integers of ``Size_of_Points`` bits, raw (signature ``DIGITAL SURF``) or as zlib streams
(``DSCOMPRESSED``: a ``uint32`` stream count, ``(raw, zipped)`` ``uint32`` size pairs, the
streams). A value is ``(raw - Zmin) * Z_Spacing / Z_Unit_Ratio + Z_Offset``; with
``Special_Points == 1`` the raw value ``Zmin - 2`` marks a point that was not measured.
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import IO, Any

import numpy as np

from pycrox.errors import FormatError

__all__ = ["HEADER_BYTES", "OBJECT_TYPES", "SIGNATURES", "parse_comment", "read_objects"]

HEADER_BYTES = 512
SIGNATURES = (b"DIGITAL SURF", b"DSCOMPRESSED")
OBJECT_TYPES = {
    1: "profile",
    2: "surface",
    3: "binary image",
    4: "profile series",
    5: "surface series",
    6: "meridian disc",
    7: "multilayer profile",
    8: "multilayer surface",
    9: "parallel disc",
    10: "intensity image",
    11: "intensity surface",
    12: "RGB image",
    13: "RGB surface",
    14: "force curve",
    15: "series of force curves",
    16: "RGB intensity surface",
    17: "contour profile",
    18: "series of RGB images",
    20: "spectrum",
    21: "hyperspectral map",
}
_FIELDS = (
    ("Signature", "12s"),
    ("Format", "h"),
    ("Number_of_Objects", "H"),
    ("Version", "h"),
    ("Object_Type", "h"),
    ("Object_Name", "30s"),
    ("Operator_Name", "30s"),
    ("P_Size", "h"),
    ("Acquisition_Type", "h"),
    ("Range_Type", "h"),
    ("Special_Points", "h"),
    ("Absolute", "h"),
    ("Gauge_Resolution", "f"),
    ("W_Size", "I"),
    ("Size_of_Points", "h"),
    ("Zmin", "i"),
    ("Zmax", "i"),
    ("Number_of_Points", "i"),
    ("Number_of_Lines", "i"),
    ("Total_Nb_of_Pts", "i"),
    ("X_Spacing", "f"),
    ("Y_Spacing", "f"),
    ("Z_Spacing", "f"),
    ("Name_of_X_Axis", "16s"),
    ("Name_of_Y_Axis", "16s"),
    ("Name_of_Z_Axis", "16s"),
    ("X_Step_Unit", "16s"),
    ("Y_Step_Unit", "16s"),
    ("Z_Step_Unit", "16s"),
    ("X_Length_Unit", "16s"),
    ("Y_Length_Unit", "16s"),
    ("Z_Length_Unit", "16s"),
    ("X_Unit_Ratio", "f"),
    ("Y_Unit_Ratio", "f"),
    ("Z_Unit_Ratio", "f"),
    ("Imprint", "h"),
    ("Inverted", "h"),
    ("Levelled", "h"),
    ("Obsolete", "12s"),
    ("Seconds", "h"),
    ("Minutes", "h"),
    ("Hours", "h"),
    ("Day", "h"),
    ("Month", "h"),
    ("Year", "h"),
    ("Day_of_week", "h"),
    ("Measurement_duration", "f"),
    ("Compressed_data_size", "I"),
    ("Obsolete2", "6s"),
    ("Comment_size", "h"),
    ("Private_size", "h"),
    ("Client_zone", "128s"),
    ("X_Offset", "f"),
    ("Y_Offset", "f"),
    ("Z_Offset", "f"),
    ("T_Spacing", "f"),
    ("T_Offset", "f"),
    ("T_Axis_Name", "13s"),
    ("T_Step_Unit", "13s"),
)
_STRUCT = struct.Struct("<" + "".join(f for _, f in _FIELDS))
_SKIP = ("Obsolete", "Obsolete2", "Client_zone")


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def read_objects(fh: IO[bytes], name: str, size: int) -> list[dict[str, Any]]:
    """Every object of the file: its header fields, comment, and where its points are.

    Each dict has the header fields by name (strings decoded), ``"comment"`` (text),
    ``"data_offset"`` and, for compressed objects, ``"points"`` (the decompressed bytes).

    Raises
    ------
    FormatError
        On a wrong signature, a point size other than 16 or 32 bits, or a truncated object.
    """
    objects: list[dict[str, Any]] = []
    offset, expected = 0, 1
    while len(objects) < expected:
        fh.seek(offset)
        raw = fh.read(HEADER_BYTES)
        if len(raw) < HEADER_BYTES:
            raise FormatError(
                name,
                f"object {len(objects)} header needs {HEADER_BYTES} bytes at {offset} but the "
                f"file has {size}; it may be truncated",
                where=f"offset {offset}",
            )
        fields = dict(zip((n for n, _ in _FIELDS), _STRUCT.unpack(raw), strict=True))
        if fields["Signature"] not in SIGNATURES:
            raise FormatError(
                name,
                f"expected a Digital Surf signature {SIGNATURES}, found {fields['Signature']!r}",
                where=f"offset {offset}",
            )
        header: dict[str, Any] = {
            k: (_text(v) if isinstance(v, bytes) else v) for k, v in fields.items() if k not in _SKIP
        }
        if not objects:
            expected = max(header["P_Size"], 1) * max(header["Number_of_Objects"], 1)
        if header["Size_of_Points"] not in (16, 32):
            raise FormatError(
                name,
                f"points of {header['Size_of_Points']} bits (expected 16 or 32)",
                where=f"offset {offset + 98}",
            )
        pos = offset + HEADER_BYTES
        comment = fh.read(max(header["Comment_size"], 0))
        fh.read(max(header["Private_size"], 0))
        header["comment"] = comment.decode("latin-1").rstrip("\x00")
        pos += max(header["Comment_size"], 0) + max(header["Private_size"], 0)
        itemsize = header["Size_of_Points"] // 8
        nbytes = max(header["Total_Nb_of_Pts"], 0) * max(header["W_Size"], 1) * itemsize
        if header["Signature"] == "DSCOMPRESSED":
            header["points"], pos = _decompress(fh, name, pos, nbytes)
        elif pos + nbytes > size:
            raise FormatError(
                name,
                f"object {len(objects)} needs {nbytes} bytes of points from {pos} but the file "
                f"has {size}; it may be truncated",
                where=f"offset {pos}",
            )
        header["data_offset"] = pos
        objects.append(header)
        offset = pos + (0 if "points" in header else nbytes)
    return objects


def _decompress(fh: IO[bytes], name: str, pos: int, nbytes: int) -> tuple[bytes, int]:
    head = fh.read(4)
    if len(head) < 4:
        raise FormatError(name, "file ends inside the compressed-data directory", where=f"offset {pos}")
    (count,) = struct.unpack("<I", head)
    table = fh.read(8 * count)
    if len(table) < 8 * count or count > 1 << 16:
        raise FormatError(
            name,
            f"a compressed-data directory of {count} streams does not fit the file",
            where=f"offset {pos}",
        )
    sizes = struct.unpack(f"<{2 * count}I", table)
    pos += 4 + 8 * count
    parts = []
    for i in range(count):
        zipped = fh.read(sizes[2 * i + 1])
        if len(zipped) < sizes[2 * i + 1]:
            raise FormatError(
                name, f"compressed stream {i} is cut short (truncated file?)", where=f"offset {pos}"
            )
        try:
            parts.append(zlib.decompress(zipped))
        except zlib.error as exc:
            raise FormatError(
                name, f"compressed stream {i} does not inflate: {exc}", where=f"offset {pos}"
            ) from exc
        pos += sizes[2 * i + 1]
    points = b"".join(parts)
    if len(points) < nbytes:
        raise FormatError(
            name,
            f"the compressed points inflate to {len(points)} bytes, expected {nbytes}",
            where=f"offset {pos}",
        )
    return points[:nbytes], pos


def parse_comment(text: str) -> dict[str, Any]:
    """The ``$_Section`` / ``$key = value`` comment as ``{section: {key: value text}}``.

    Lines starting with ``@@`` and text that is not ``$``-prefixed are kept under ``"text"``.
    """
    out: dict[str, Any] = {}
    section = "General"
    loose = []
    for line in text.splitlines():
        if line.startswith("@@") or not line.strip():
            continue
        if not line.lstrip().startswith("$"):
            loose.append(line)
            continue
        for token in re.split(r"\$", line)[1:]:
            if token.startswith("_"):
                section = token[1:].strip()
                out.setdefault(section, {})
            elif "=" in token:
                key, _, value = token.partition("=")
                out.setdefault(section, {})[key.strip()] = value.strip()
    if loose:
        out["text"] = "\n".join(loose)
    return out


def dtype_of(header: dict[str, Any]) -> np.dtype:
    """The numpy dtype of the raw points."""
    return np.dtype("<i2" if header["Size_of_Points"] == 16 else "<i4")
