"""The structures of an Igor binary wave (WaveMetrics Technical Note TN003), one question each.

A file is a bin header (16, 20 or 64 bytes for versions 2, 3 and 5), a wave header (110 bytes for
versions 2 and 3, 320 for version 5), the wave data, then sections whose sizes the bin header
lists: the dependency formula, the wave note, extended units and dimension labels. The first two
bytes are the version in the file's byte order, which is how the byte order is found.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["HEAD_BYTES", "Wave", "byte_order", "parse"]

#: enough bytes for the version-5 bin and wave headers
HEAD_BYTES = 384
_BIN = {2: ("hiiih", 16), 3: ("hiiiih", 20), 5: ("hhiiii4i4iiii", 64)}
_WAVE = {2: 110, 3: 110, 5: 320}
#: bytes of the wave header the checksum and ``wfmSize`` count (v2/v3: 16 bytes of data are part of it)
_WAVE_COUNTED = {2: 126, 3: 126, 5: 320}
_LABEL_BYTES = 32
_TYPES = {2: "f4", 4: "f8", 8: "i1", 0x10: "i2", 0x20: "i4", 0x80: "i8",
          0x48: "u1", 0x50: "u2", 0x60: "u4", 0xC0: "u8"}  # fmt: skip


class Wave(dict):
    """The parsed headers of one wave (a dict, kept verbatim in ``original_metadata``)."""


def byte_order(head: bytes) -> tuple[str, int] | None:
    """``("<" or ">", version)`` from the first two bytes, or None when they are no IBW version."""
    if len(head) < 2:
        return None
    for order in "<>":
        version = struct.unpack(order + "h", head[:2])[0]
        if version in _BIN:
            return order, version
    return None


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1")


def _checksum_ok(head: bytes, order: str, count: int) -> bool:
    shorts = np.frombuffer(head[: count - count % 2], dtype=order + "i2")
    return int(shorts.astype(np.int64).sum()) % 65536 == 0


def dtype_of(code: int, order: str, source: Source) -> np.dtype:
    """The numpy dtype of Igor type code `code` (complex when bit 0 is set)."""
    complex_ = bool(code & 1)
    base = _TYPES.get(code & ~1)
    if base is None or (complex_ and base not in ("f4", "f8")):
        what = "a text wave" if code == 0 else f"an unknown wave type {code:#x}"
        raise FormatError(
            source.name, f"{what}; pycrox reads numeric Igor waves only", where="wave header type"
        )
    if complex_:
        base = "c8" if base == "f4" else "c16"
    return np.dtype(order + base)


def parse(head: bytes, source: Source) -> Wave:
    """Bin and wave header of `head` (the first `HEAD_BYTES` bytes or fewer) as a `Wave`.

    Raises
    ------
    FormatError
        On an unknown version, a bad checksum or a header cut short.
    """
    found = byte_order(head)
    if found is None:
        raise FormatError(
            source.name,
            f"first bytes {head[:2]!r} are no Igor binary wave version (2, 3 or 5)",
            where="offset 0",
        )
    order, version = found
    fmt, bin_size = _BIN[version]
    header_size = bin_size + _WAVE[version]
    counted = bin_size + _WAVE_COUNTED[version]
    if len(head) < header_size:
        raise FormatError(
            source.name,
            f"version-{version} headers need {header_size} bytes but the file has "
            f"{len(head)}; it may be truncated",
            where="offset 0",
        )
    if not _checksum_ok(head[:counted].ljust(counted, b"\x00"), order, counted):
        raise FormatError(
            source.name,
            "header checksum does not add up; the headers are damaged or this is no Igor binary wave",
            where=f"bytes 0..{counted}",
        )
    fields = struct.unpack(order + fmt, head[:bin_size])
    wave = _wave5(head[bin_size:], order, fields) if version == 5 else _wave2(head[bin_size:], order, fields)
    wave.update(version=version, byte_order=order, data_offset=header_size, bin_header_bytes=bin_size)
    dtype = dtype_of(wave["type"], order, source)
    wave["dtype"] = dtype.str
    stored = max(wave["wfm_size"] - _WAVE_COUNTED[version], 0) // dtype.itemsize
    if stored < wave["npnts"]:  # a dependent wave saved without its data
        wave["shape"] = [0] * len(wave["shape"])
        wave["stored_points"] = 0
    return wave


def _wave2(raw: bytes, order: str, fields: tuple) -> Wave:
    version, wfm_size, note_size = fields[0], fields[1], fields[2]
    (type_,) = struct.unpack(order + "h", raw[0:2])
    npnts, hs_a, hs_b = struct.unpack(order + "i", raw[42:46])[0], *struct.unpack(order + "2d", raw[48:64])
    return Wave(
        type=type_,
        name=_text(raw[6:26]),
        data_units=_text(raw[34:38]),
        dim_units=[_text(raw[38:42])],
        npnts=npnts,
        shape=[npnts],
        scale=[hs_a],
        offset=[hs_b],
        wfm_size=wfm_size,
        sections={"note": note_size, "formula": fields[3] if version == 3 else 0},
        section_order=["note", "formula"],
        creation_date=struct.unpack(order + "I", raw[96:100])[0],
        modification_date=struct.unpack(order + "I", raw[102:106])[0],
    )


def _wave5(raw: bytes, order: str, fields: tuple) -> Wave:
    wfm_size, formula, note, data_eunits = fields[2:6]
    dim_eunits, dim_labels = list(fields[6:10]), list(fields[10:14])
    n_dim = list(struct.unpack(order + "4i", raw[68:84]))
    sections = {"formula": formula, "note": note, "data_eunits": data_eunits}
    sections |= {f"dim_eunits_{i}": n for i, n in enumerate(dim_eunits)}
    sections |= {f"dim_labels_{i}": n for i, n in enumerate(dim_labels)}
    ndim = next((i for i, n in enumerate(n_dim) if n == 0), 4)
    return Wave(
        type=struct.unpack(order + "h", raw[16:18])[0],
        name=_text(raw[28:60]),
        data_units=_text(raw[148:152]),
        dim_units=[_text(raw[152 + 4 * i : 156 + 4 * i]) for i in range(max(ndim, 1))],
        npnts=struct.unpack(order + "i", raw[12:16])[0],
        shape=n_dim[: max(ndim, 1)],
        scale=list(struct.unpack(order + "4d", raw[84:116]))[: max(ndim, 1)],
        offset=list(struct.unpack(order + "4d", raw[116:148]))[: max(ndim, 1)],
        wfm_size=wfm_size,
        sections=sections,
        section_order=list(sections),
        creation_date=struct.unpack(order + "I", raw[4:8])[0],
        modification_date=struct.unpack(order + "I", raw[8:12])[0],
    )


def section_offsets(wave: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """``{section: (offset, size)}`` of the sections after the wave data."""
    offset = wave["bin_header_bytes"] + wave["wfm_size"]
    out = {}
    for name in wave["section_order"]:
        size = wave["sections"][name]
        out[name] = (offset, size)
        offset += size
    return out


def labels(raw: bytes) -> list[str]:
    """Dimension labels: 32-byte fields cut at the first NUL (label 0 names the dimension)."""
    return [_text(raw[i : i + _LABEL_BYTES]) for i in range(0, len(raw) - _LABEL_BYTES + 1, _LABEL_BYTES)]


def note_entries(text: str) -> dict[str, Any]:
    """``key:value`` lines of a wave note (Asylum Research style) as a dict; other lines are skipped."""
    from pycrox.readers._common.values import scalar_from_text

    out: dict[str, Any] = {}
    for line in text.replace("\r\n", "\r").replace("\n", "\r").split("\r"):
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key or key in out:
            continue
        parsed = scalar_from_text(value)
        if isinstance(parsed, int) and not -(2**63) <= parsed < 2**63:
            parsed = value.strip()
        out[key] = parsed
    return out
