"""The blocks of a Renishaw WDF file: the block table, the ``WDF1`` header, axes and PSET metadata.

A WDF file is a sequence of blocks, each a 16-byte head (4-character name, uint32 uid, uint64
size including the head) and its content. ``WDF1`` (always first, 512 bytes) is the file
header; ``DATA`` holds the spectra (float32, ``num_spectra x points``), ``XLST`` the spectral
axis (data type, unit type, float32 values), ``ORGN`` per-spectrum values (stage X/Y/Z, time,
...), ``WMAP`` the map grid, ``WHTL`` the white-light JPEG and ``WXDA``/``WXDM``/``WXCS``/
``WXIS``/``ZLDC``/``WARP``/``MAP`` metadata as property sets (PSET): entries of a one-letter
type, a flag (0 plain, 128 array, 64 compressed), a uint16 key id and a value; entries of type
``k`` name the key ids, those of type ``p`` are nested sets that use the names of the sets
around them. All numbers are little-endian.
"""

from __future__ import annotations

import datetime as dt
import struct
from typing import Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.readers._common.companion import read_bytes
from pycrox.sources import Source

__all__ = [
    "UNITS",
    "Block",
    "blocks",
    "filetime",
    "parse_header",
    "parse_orgn",
    "parse_pset",
    "parse_wmap",
    "parse_xlst",
]

BLOCK_HEAD = 16
#: WiRE unit types -> (pycrox unit spelling, what the axis is)
UNITS = {
    0: ("", "arbitrary"),
    1: ("1/cm", "raman_shift"),
    2: ("nm", "wavelength"),
    3: ("nm", "nanometer"),
    4: ("eV", "electron_volt"),
    5: ("µm", "micrometer"),
    6: ("counts", "counts"),
    7: ("", "electrons"),
    8: ("mm", "millimeter"),
    9: ("m", "meter"),
    10: ("K", "kelvin"),
    11: ("Pa", "pascal"),
    12: ("s", "seconds"),
    13: ("ms", "milliseconds"),
    14: ("h", "hours"),
    15: ("d", "days"),
    16: ("", "pixels"),
    17: ("", "intensity"),
    18: ("", "relative_intensity"),
    19: ("deg", "degrees"),
    20: ("rad", "radians"),
    21: ("degC", "celsius"),
    22: ("degF", "fahrenheit"),
    23: ("K/min", "kelvin_per_minute"),
    24: ("s", "windows_file_time"),
    25: ("µs", "microseconds"),
}
#: WiRE data types (of XLST and ORGN entries)
DATA_TYPES = {
    0: "Arbitrary", 1: "Spectral", 2: "Intensity", 3: "X", 4: "Y", 5: "Z", 6: "Spatial_R",
    7: "Spatial_Theta", 8: "Spatial_Phi", 9: "Temperature", 10: "Pressure", 11: "Time",
    12: "Derivative", 13: "Polarization", 14: "FocusTrack_Z", 15: "TempRampRate",
    16: "SpectrumDataChecksum", 17: "BitFlags", 18: "ElapsedTimeIntervals", 19: "Frequency",
    22: "Mp_Well_Spatial_X", 23: "Mp_Well_Spatial_Y", 24: "Mp_LocationIndex", 25: "Mp_WellReference",
    26: "EndMarker", 27: "ExposureTime",
}  # fmt: skip
MEASUREMENT_TYPES = {0: "Unspecified", 1: "Single", 2: "Series", 3: "Mapping"}
SCAN_TYPES = {
    0: "Unspecified", 1: "Static", 2: "Continuous", 3: "StepRepeat", 4: "FilterScan",
    5: "FilterImage", 6: "StreamLine", 7: "StreamLineHR", 8: "PointDetector",
}  # fmt: skip
MAP_FLAGS = {
    1: "randompoints", 2: "column_major", 4: "alternating", 8: "linefocus_mapping",
    16: "inverted_rows", 32: "inverted_columns", 64: "surface_profile", 128: "xyline",
}  # fmt: skip
_SINGLE = {"c": "<i1", "?": "<u1", "s": "<i2", "i": "<i4", "w": "<i8", "r": "<f4", "q": "<f8", "t": "<u8"}
_FILETIME_EPOCH = dt.datetime(1601, 1, 1)


class Block(tuple):
    """(name, uid, content offset, content size) of one block."""

    @property
    def offset(self) -> int:
        return int(self[2])

    @property
    def size(self) -> int:
        return int(self[3])


def blocks(source: Source) -> dict[str, Block]:
    """Every block of the file by ``<NAME>_<uid>`` (``"DATA_0"``), walking the block heads.

    Raises
    ------
    FormatError
        When a block head claims a size smaller than its head or past the end of the file.
    """
    size = source.size()
    found: dict[str, Block] = {}
    position = 0
    with source.reading() as fh:
        while position + BLOCK_HEAD <= size:
            fh.seek(position)
            head = fh.read(BLOCK_HEAD)
            if len(head) < BLOCK_HEAD:
                break
            name = head[:4].decode("latin-1").strip()
            uid, length = struct.unpack_from("<IQ", head, 4)
            if length < BLOCK_HEAD or position + length > size:
                raise FormatError(
                    source.name,
                    f"block {name!r} claims {length} bytes but the file has {size - position} left; it may be truncated",
                    where=f"offset {position}",
                )
            found.setdefault(f"{name}_{uid}", Block((name, uid, position + BLOCK_HEAD, length - BLOCK_HEAD)))
            position += length
    if "WDF1_1" not in found or found["WDF1_1"].offset != BLOCK_HEAD:
        raise FormatError(source.name, "no WDF1 header block at the start of the file", where="offset 0")
    return found


def filetime(ticks: int) -> str | None:
    """A Windows FILETIME (100 ns ticks since 1601) as an ISO date-time, None when 0 or absurd."""
    if not 0 < ticks < 2_650_467_743_990_000_000:  # year 9999
        return None
    return (_FILETIME_EPOCH + dt.timedelta(microseconds=ticks // 10)).isoformat(timespec="seconds")


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace").strip()


def parse_header(source: Source, block: Block) -> dict[str, Any]:
    """The ``WDF1`` header fields (sizes, counts, times, laser wavenumber, title...)."""
    raw = read_bytes(source, block.offset, min(block.size, 384), "the WDF1 header")
    if len(raw) < 384:
        raise FormatError(
            source.name, f"WDF1 header has {len(raw)} bytes, expected 384", where=f"offset {block.offset}"
        )
    (flags,) = struct.unpack_from("<Q", raw, 0)
    uuid = "-".join(str(v) for v in struct.unpack_from("<4I", raw, 8))
    ntracks, status, points, capacity, count, accumulations, ylst, xlst, norgn = struct.unpack_from(
        "<IIIQQIIII", raw, 36
    )
    app = _text(raw[80:104])
    version = "-".join(str(v) for v in struct.unpack_from("<4H", raw, 104))
    scan, measurement, start, end, quantity_unit, laser = struct.unpack_from("<IIQQIf", raw, 112)
    return {
        "flags": flags,
        "uuid": uuid,
        "ntracks": ntracks,
        "file_status_error_code": status,
        "points_per_spectrum": points,
        "capacity": capacity,
        "num_spectra": count,
        "accumulations_per_spectrum": accumulations,
        "YLST_length": ylst,
        "XLST_length": xlst,
        "num_ORGN": norgn,
        "app_name": app,
        "app_version": version,
        "scan_type": SCAN_TYPES.get(scan, str(scan)),
        "measurement_type": MEASUREMENT_TYPES.get(measurement, str(measurement)),
        "time_start": filetime(start),
        "time_end": filetime(end),
        "quantity_unit": UNITS.get(quantity_unit, ("", str(quantity_unit)))[1],
        "laser_wavenumber": float(laser),
        "username": _text(raw[192:224]),
        "title": _text(raw[224:384]),
    }


def parse_xlst(source: Source, block: Block, count: int) -> tuple[str, int, np.ndarray]:
    """(data type, unit type, values) of an ``XLST`` / ``YLST`` block of `count` values."""
    raw = read_bytes(source, block.offset, 8 + 4 * count, f"the {block[0]} block")
    kind, unit = struct.unpack_from("<II", raw)
    values = np.frombuffer(raw, "<f4", count, 8).astype(np.float64)
    return DATA_TYPES.get(kind, str(kind)), unit, values


def parse_orgn(source: Source, block: Block, spectra: int) -> dict[str, dict[str, Any]]:
    """Per-spectrum origins by data type: ``{"X": {"units": .., "unit_type": .., "annotation": .., "values": ..}}``.

    Times (data type ``Time``) are Windows FILETIME ticks, returned in seconds since the first.
    """
    head = read_bytes(source, block.offset, 4, "the ORGN block")
    (count,) = struct.unpack("<I", head)
    entry = 24 + 8 * spectra
    raw = read_bytes(source, block.offset + 4, count * entry, "the ORGN block")
    out: dict[str, dict[str, Any]] = {}
    for i in range(count):
        base = i * entry
        kind, unit = struct.unpack_from("<II", raw, base)
        name = DATA_TYPES.get(kind & 0x7FFFFFFF, str(kind & 0x7FFFFFFF))
        annotation = _text(raw[base + 8 : base + 24])
        if name == "Time":
            ticks = np.frombuffer(raw, "<u8", spectra, base + 24).astype(np.int64)
            values = (ticks - ticks[0]).astype(np.float64) * 1e-7 if spectra else np.zeros(0)
            units = "s"
        else:
            values = np.frombuffer(raw, "<f8", spectra, base + 24).copy()
            units = UNITS.get(unit, ("", ""))[0]
        out[name] = {
            "units": units,
            "unit_type": UNITS.get(unit, ("", str(unit)))[1],
            "annotation": annotation,
            "values": values,
        }
    return out


def parse_wmap(source: Source, block: Block) -> dict[str, Any]:
    """The map grid: flag, offset/scale (float32) and size (uint32) along x, y, z, line-focus size."""
    raw = read_bytes(source, block.offset, 48, "the WMAP block")
    flag, _ = struct.unpack_from("<II", raw)
    offsets, scales = struct.unpack_from("<3f", raw, 8), struct.unpack_from("<3f", raw, 20)
    sizes, (linefocus,) = struct.unpack_from("<3I", raw, 32), struct.unpack_from("<I", raw, 44)
    names = [name for bit, name in MAP_FLAGS.items() if flag & bit]
    return {
        "flag": flag,
        "flags": names,
        "offset_xyz": [float(v) for v in offsets],
        "scale_xyz": [float(v) for v in scales],
        "size_xyz": [int(v) for v in sizes],
        "linefocus_size": int(linefocus),
    }


def parse_pset(source: Source, block: Block) -> dict[str, Any]:
    """The property set of a metadata block as a nested dict (key names resolved; ``{}`` if none).

    Raises
    ------
    FormatError
        When an entry runs past the end of the set or has an unknown type.
    """
    raw = read_bytes(source, block.offset, block.size, f"the {block[0]} block")
    if len(raw) < 8 or raw[:4] != b"PSET":
        return {}
    (length,) = struct.unpack_from("<I", raw, 4)
    return _resolve(_entries(raw, 8, min(8 + length, len(raw)), source, block), ())


class _Set(tuple):
    """A parsed property set: (entries as (key id, value) pairs, its own key names)."""


def _entries(raw: bytes, start: int, stop: int, source: Source, block: Block) -> _Set:
    """The property set between `start` and `stop`: its entries and the key names it defines."""
    names: dict[int, str] = {}
    out: list[tuple[int, Any]] = []
    position = start
    while position + 4 <= stop:
        kind = chr(raw[position])
        flag = raw[position + 1]
        (key,) = struct.unpack_from("<H", raw, position + 2)
        position += 4
        where = f"offset {block.offset + position}"
        try:
            if flag == 64:  # compressed: skipped (its length is known)
                (size,) = struct.unpack_from("<I", raw, position)
                position += 4 + size
                value: Any = None
            elif kind in _SINGLE:
                count = 1
                if flag == 128:
                    (count,) = struct.unpack_from("<I", raw, position)
                    position += 4
                dtype = np.dtype(_SINGLE[kind])
                if position + count * dtype.itemsize > stop:
                    raise struct.error("value past the end")
                array = np.frombuffer(raw, dtype, count, position)
                position += count * dtype.itemsize
                if kind == "t":
                    value = [filetime(int(v)) for v in array] if flag == 128 else filetime(int(array[0]))
                else:
                    value = array.tolist() if flag == 128 else array[0].item()
            elif kind in "ukbp":
                (size,) = struct.unpack_from("<I", raw, position)
                position += 4
                if position + size > stop:
                    raise struct.error("value past the end")
                body = raw[position : position + size]
                if kind == "p":
                    value = _entries(raw, position, position + size, source, block)
                elif kind == "b":
                    value = "binary: " + body.hex().upper()
                else:
                    value = body.decode("utf-8", errors="replace").replace("\x00", "")
                position += size
                if kind == "k":
                    names.setdefault(key, value)
                    continue
            else:
                raise FormatError(
                    source.name, f"unknown metadata entry type {kind!r} in {block[0]}", where=where
                )
        except struct.error:
            raise FormatError(
                source.name, f"metadata entry of {block[0]} runs past its property set", where=where
            ) from None
        out.append((key, value))
    return _Set((out, names))


def _resolve(pset: _Set, outer: tuple[dict[int, str], ...]) -> dict[str, Any]:
    """Named entries: a key id is looked up in the set's own names, then in the enclosing sets'."""
    entries, own = pset
    scopes = (own, *outer)
    out: dict[str, Any] = {}
    for key, value in entries:
        name = next((s[key] for s in scopes if key in s), f"#{key}")
        if isinstance(value, _Set):
            value = _resolve(value, scopes)
        base, count = name, 1
        while name in out:
            count += 1
            name = f"{base} ({count})"
        out[name] = value
    return out
