"""The MRC header: the 1024-byte MRC2014 main header and the FEI1/FEI2 extended header.

Main header layout (MRC2014, words of 4 bytes): NX NY NZ MODE, NXSTART NYSTART NZSTART,
MX MY MZ, CELLA (3 floats, Å), CELLB (3 floats, degrees), MAPC MAPR MAPS, DMIN DMAX DMEAN,
ISPG NSYMBT, EXTRA (100 bytes: EXTTYP at 104, NVERSION at 108), ORIGIN (3 floats) at 196,
MAP at 208, MACHST at 212, RMS at 216, NLABL at 220 and ten 80-byte labels from 224. The data
follow the extended header of NSYMBT bytes, in C order ``(NZ, NY, NX)``.

Old FEI software (tomography, TIA/Xplore3D, before MRC2014) writes no ``MAP`` id and no EXTTYP and
an extended header of 1024 records of 128 bytes (NSYMBT = 131072), one record per section: 32
floats of which the first 16 are alpha and beta tilt (deg), stage x, y, z (m), image shift x, y
(m), defocus (m), exposure time (s), mean value, tilt axis (deg), pixel size (m), magnification,
high tension (V), binning and applied defocus (m) (IMOD's description of the "FEI" header).
"""

from __future__ import annotations

import datetime as _dt
import math
import struct
from typing import Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.readers._common.companion import quantity, read_bytes
from pycrox.sources import Source

__all__ = [
    "HEADER_BYTES",
    "byte_order",
    "fei_legacy_metadata",
    "fei_metadata",
    "mode_dtype",
    "parse_header",
    "plausible",
    "read_fei_legacy",
    "read_fei_record",
]

HEADER_BYTES = 1024
_MODES = {0: "i1", 1: "i2", 2: "f4", 4: "c8", 6: "u2", 12: "f2"}
_IMOD_STAMP = 1146047817
_FIELDS = (
    ("NX", "i"),
    ("NY", "i"),
    ("NZ", "i"),
    ("MODE", "i"),
    ("NXSTART", "i"),
    ("NYSTART", "i"),
    ("NZSTART", "i"),
    ("MX", "i"),
    ("MY", "i"),
    ("MZ", "i"),
    ("CELLA", "3f"),
    ("CELLB", "3f"),
    ("MAPC", "i"),
    ("MAPR", "i"),
    ("MAPS", "i"),
    ("DMIN", "f"),
    ("DMAX", "f"),
    ("DMEAN", "f"),
    ("ISPG", "i"),
    ("NSYMBT", "i"),
)


def byte_order(head: bytes) -> str:
    """``"<"`` or ``">"`` from the machine stamp (0x44 0x4? little, 0x11 0x11 big), else by plausibility."""
    stamp = head[212:214]
    if stamp[:1] == b"\x44":
        return "<"
    if stamp[:1] == b"\x11":
        return ">"
    little = struct.unpack_from("<i", head, 12)[0]
    return "<" if 0 <= little <= 0xFFFF else ">"


def parse_header(head: bytes, source: Source) -> dict[str, Any]:
    """The main header as a dict of the MRC2014 field names (numbers as Python numbers)."""
    order = byte_order(head)
    out: dict[str, Any] = {}
    offset = 0
    for name, code in _FIELDS:
        values = struct.unpack_from(order + code, head, offset)
        out[name] = [float(v) for v in values] if len(values) > 1 else values[0]
        offset += struct.calcsize(order + code)
    out["EXTTYP"] = head[104:108].rstrip(b"\x00 ").decode("latin-1")
    out["NVERSION"] = struct.unpack_from(order + "i", head, 108)[0]
    out["ORIGIN"] = [float(v) for v in struct.unpack_from(order + "3f", head, 196)]
    out["MAP"] = head[208:212].decode("latin-1")
    out["MACHST"] = head[212:216].hex()
    out["RMS"] = struct.unpack_from(order + "f", head, 216)[0]
    out["NLABL"] = struct.unpack_from(order + "i", head, 220)[0]
    count = min(max(out["NLABL"], 0), 10)
    out["LABELS"] = [
        head[224 + 80 * i : 304 + 80 * i].split(b"\x00")[0].decode("latin-1").rstrip() for i in range(count)
    ]
    out["IMOD_SIGNED_BYTES"] = _imod_signed_bytes(head, order)
    out["byte_order"] = "little" if order == "<" else "big"
    _check_sizes(out, source)
    return out


def _imod_signed_bytes(head: bytes, order: str) -> bool:
    """Mode 0 is signed (MRC2014) unless IMOD stamped the file with unsigned bytes."""
    stamp, flags = struct.unpack_from(order + "ii", head, 152)
    return not (stamp == _IMOD_STAMP and not flags & 1)


def _check_sizes(header: dict[str, Any], source: Source) -> None:
    for name in ("NX", "NY", "NZ"):
        if header[name] < 1:
            raise FormatError(
                source.name,
                f"{name} is {header[name]}; every dimension needs at least 1 value",
                where="offset 0",
            )
    if header["NSYMBT"] < 0:
        raise FormatError(
            source.name, f"NSYMBT (extended header size) is {header['NSYMBT']}", where="offset 92"
        )


def plausible(head: bytes, size: int) -> bool:
    """Whether `head` looks like an MRC header of a file of `size` bytes (cheap, never raises)."""
    if len(head) < HEADER_BYTES:
        return False
    order = byte_order(head)
    nx, ny, nz, mode = struct.unpack_from(order + "4i", head, 0)
    nsymbt = struct.unpack_from(order + "i", head, 92)[0]
    if mode not in _MODES or min(nx, ny, nz) < 1 or nsymbt < 0:
        return False
    needed = HEADER_BYTES + nsymbt + nx * ny * nz * np.dtype(_MODES[mode]).itemsize
    return needed == size if head[208:212] != b"MAP " else True


def mode_dtype(header: dict[str, Any], source: Source) -> np.dtype:
    """The numpy dtype of MODE, in the file's byte order.

    Raises
    ------
    FormatError
        For modes pycrox does not read (3: complex int16, 101: packed 4-bit).
    """
    mode = header["MODE"]
    if mode not in _MODES:
        raise FormatError(
            source.name,
            f"MODE {mode} is not supported; pycrox reads modes 0, 1, 2, 4, 6 and 12",
            where="offset 12",
        )
    code = _MODES[mode]
    if mode == 0 and not header["IMOD_SIGNED_BYTES"]:
        code = "u1"
    return np.dtype(code).newbyteorder("<" if header["byte_order"] == "little" else ">")


# FEI1/FEI2 extended header, first record (Thermo Fisher "MRC2014 extended header" description)
_FEI_FIELDS = (
    ("Metadata size", "i"),
    ("Metadata version", "i"),
    ("Bitmask 1", "I"),
    ("Timestamp", "d"),
    ("Microscope type", "16s"),
    ("D-Number", "16s"),
    ("Application", "16s"),
    ("Application version", "16s"),
    ("HT", "d"),
    ("Dose", "d"),
    ("Alpha tilt", "d"),
    ("Beta tilt", "d"),
    ("X-Stage", "d"),
    ("Y-Stage", "d"),
    ("Z-Stage", "d"),
    ("Tilt axis angle", "d"),
    ("Dual axis rotation", "d"),
    ("Pixel size X", "d"),
    ("Pixel size Y", "d"),
    ("Unused range", "48s"),
    ("Defocus", "d"),
    ("STEM Defocus", "d"),
    ("Applied defocus", "d"),
    ("Instrument mode", "i"),
    ("Projection mode", "i"),
    ("Objective lens mode", "16s"),
    ("High magnification mode", "16s"),
    ("Probe mode", "i"),
    ("EFTEM On", "?"),
    ("Magnification", "d"),
    ("Bitmask 2", "I"),
    ("Camera length", "d"),
    ("Spot index", "i"),
    ("Illuminated area", "d"),
    ("Intensity", "d"),
    ("Convergence angle", "d"),
    ("Illumination mode", "16s"),
    ("Wide convergence angle range", "?"),
    ("Slit inserted", "?"),
    ("Slit width", "d"),
    ("Acceleration voltage offset", "d"),
    ("Drift tube voltage", "d"),
    ("Energy shift", "d"),
    ("Shift offset X", "d"),
    ("Shift offset Y", "d"),
    ("Shift X", "d"),
    ("Shift Y", "d"),
    ("Integration time", "d"),
    ("Binning Width", "i"),
    ("Binning Height", "i"),
    ("Camera name", "16s"),
    ("Readout area left", "i"),
    ("Readout area top", "i"),
    ("Readout area right", "i"),
    ("Readout area bottom", "i"),
    ("Ceta noise reduction", "?"),
    ("Ceta frames summed", "i"),
    ("Direct detector electron counting", "?"),
    ("Direct detector align frames", "?"),
    *((f"Camera param reserved {i}", "i") for i in range(4)),
    ("Bitmask 3", "I"),
    *((f"Camera param reserved {i}", "i") for i in range(4, 10)),
    ("Phase Plate", "?"),
    ("STEM Detector name", "16s"),
    ("Gain", "d"),
    ("Offset", "d"),
    *((f"STEM param reserved {i}", "i") for i in range(5)),
    ("Dwell time", "d"),
    ("Frame time", "d"),
    ("Scan size left", "i"),
    ("Scan size top", "i"),
    ("Scan size right", "i"),
    ("Scan size bottom", "i"),
    ("Full scan FOV X", "d"),
    ("Full scan FOV Y", "d"),
    ("Element", "16s"),
    ("Energy interval lower", "d"),
    ("Energy interval higher", "d"),
    ("Method", "i"),
    ("Is dose fraction", "?"),
    ("Fraction number", "i"),
    ("Start frame", "i"),
    ("End frame", "i"),
    ("Input stack filename", "80s"),
    ("Bitmask 4", "I"),
    ("Alpha tilt min", "d"),
    ("Alpha tilt max", "d"),
)
_FEI2_FIELDS = (
    ("Scan rotation", "d"),
    ("Diffraction pattern rotation", "d"),
    ("Image rotation", "d"),
    ("Scan mode enumeration", "i"),
    ("Acquisition time stamp", "q"),
    ("Detector commercial name", "16s"),
    ("Start tilt angle", "d"),
    ("End tilt angle", "d"),
    ("Tilt per image", "d"),
    ("Tilt speed", "d"),
    ("Beam center X pixel", "i"),
    ("Beam center Y pixel", "i"),
    ("CFEG flash timestamp", "q"),
    ("Phase plate position index", "i"),
    ("Objective aperture name", "16s"),
)


def read_fei_record(source: Source, header: dict[str, Any]) -> dict[str, Any] | None:
    """The first FEI1/FEI2 extended-header record as a dict, or None when there is none."""
    kind = header["EXTTYP"]
    if kind not in ("FEI1", "FEI2"):
        return None
    fields = _FEI_FIELDS + (_FEI2_FIELDS if kind == "FEI2" else ())
    order = "<" if header["byte_order"] == "little" else ">"
    layout = order + "".join(code for _, code in fields)
    size = struct.calcsize(layout)
    if header["NSYMBT"] < size:
        return None
    values = struct.unpack(layout, read_bytes(source, HEADER_BYTES, size, f"the {kind} extended header"))
    return {
        name: _plain(v) for (name, _), v in zip(fields, values, strict=True) if not name.startswith("Unused")
    }


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.split(b"\x00")[0].decode("latin-1").strip()
    return value


def fei_metadata(record: dict[str, Any]) -> dict[str, Any]:
    """Normalised pycrox metadata from an FEI extended-header record (zero means "not set")."""
    meta: dict[str, Any] = {}
    scaled = (
        ("HT", "beam_energy", 1e-3, "keV"),
        ("Camera length", "camera_length", 1e3, "mm"),
        ("Convergence angle", "convergence_angle", 1e3, "mrad"),
        ("Dwell time", "dwell_time", 1.0, "s"),
        ("Integration time", "exposure_time", 1.0, "s"),
    )
    for field, key, factor, units in scaled:
        if record.get(field):
            meta[key] = quantity(record[field] * factor, units)
    if record.get("Magnification"):
        meta["magnification"] = float(record["Magnification"])
    if record.get("Microscope type"):
        meta["microscope"] = record["Microscope type"]
    detector = record.get("STEM Detector name") or record.get("Camera name")
    if detector:
        meta["detector"] = detector
    stamp = record.get("Timestamp") or 0.0
    if 0 < stamp < 2958466:  # days since 1899-12-30 (OLE automation date)
        moment = _dt.datetime(1899, 12, 30) + _dt.timedelta(days=stamp)
        meta["date"], meta["time"] = moment.date().isoformat(), moment.time().isoformat(timespec="seconds")
    return meta


#: the old FEI extended header (no EXTTYP): 1024 records of 128 bytes, one per section
FEI_LEGACY_RECORDS, FEI_LEGACY_RECORD_BYTES = 1024, 128
_FEI_LEGACY_FIELDS = (
    "a_tilt",
    "b_tilt",
    "x_stage",
    "y_stage",
    "z_stage",
    "x_shift",
    "y_shift",
    "defocus",
    "exp_time",
    "mean_int",
    "tilt_axis",
    "pixel_size",
    "magnification",
    "ht",
    "binning",
    "applied_defocus",
)
#: EXTTYP values of MRC2014 extended headers that are not the old FEI layout
_TYPED_EXTENDED = ("FEI1", "FEI2", "SERI", "AGAR", "CCP4", "MRCO")


def read_fei_legacy(source: Source, header: dict[str, Any]) -> dict[str, list[float]] | None:
    """The old FEI extended header, one list per field with one value per section, or None.

    Recognised by NSYMBT = 1024 x 128 bytes, no MRC2014 EXTTYP and a first record whose pixel
    size is a plausible length in metres (0 < size < 1 mm).
    """
    if (
        header["NSYMBT"] != FEI_LEGACY_RECORDS * FEI_LEGACY_RECORD_BYTES
        or header["EXTTYP"] in _TYPED_EXTENDED
    ):
        return None
    count = min(header["NZ"], FEI_LEGACY_RECORDS)
    order = "<" if header["byte_order"] == "little" else ">"
    raw = read_bytes(source, HEADER_BYTES, count * FEI_LEGACY_RECORD_BYTES, "the FEI extended header")
    records = np.frombuffer(raw, dtype=order + "f4").reshape(count, FEI_LEGACY_RECORD_BYTES // 4)
    pixel = float(records[0, _FEI_LEGACY_FIELDS.index("pixel_size")])
    if not (math.isfinite(pixel) and 0.0 < pixel < 1e-3):
        return None
    return {name: [float(v) for v in records[:, i]] for i, name in enumerate(_FEI_LEGACY_FIELDS)}


def fei_legacy_metadata(record: dict[str, list[float]]) -> dict[str, Any]:
    """Normalised metadata from the first section of an old FEI extended header (zero = not set)."""
    first = {name: values[0] for name, values in record.items() if values}
    meta: dict[str, Any] = {}
    if first.get("ht"):
        meta["beam_energy"] = quantity(first["ht"] / 1000, "keV")
    if first.get("exp_time"):
        meta["exposure_time"] = quantity(first["exp_time"], "s")
    if first.get("magnification"):
        meta["magnification"] = first["magnification"]
    return meta
