r"""Nanonis ``.sxm`` scans: a ``:KEY:`` text header, ``\x1a\x04``, then big-endian float32 frames.

Every channel of ``:DATA_INFO:`` is stored as ``ny`` rows of ``nx`` pixels, forward then backward
when its direction is ``both``. Frames are returned in the stored order, as nanonispy does: rows
in the order they were scanned (bottom to top for ``SCAN_DIR`` ``up``) and backward frames in
their recorded pixel order. The scan direction (``SCAN_DIR``) and the frame angle
(``SCAN_ANGLE``, degrees) are in ``metadata["scan_direction"]`` and ``metadata["scan_angle"]``.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers._common import values
from pycrox.readers._common.native import lazy_native
from pycrox.readers.nanonis._text import read_until, value
from pycrox.sources import Source

__all__ = ["MAGIC", "parse_header", "read_signals"]

MAGIC = b":NANONIS_VERSION:"
_END = b":SCANIT_END:"


def parse_header(text: str) -> dict[str, Any]:
    """``:KEY:`` blocks as a dict; tab tables (``DATA_INFO``, ``Z-CONTROLLER``) as ``{column: values}``."""
    header: dict[str, Any] = {}
    key, lines = None, []  # type: ignore[var-annotated]
    for line in [*text.splitlines(), ":__END__:"]:
        if len(line) > 2 and line.startswith(":") and line.endswith(":") and not line.startswith(":\t"):
            if key is not None:
                header[key] = _block(lines)
            key, lines = line[1:-1], []
        elif key is not None:
            lines.append(line)
    return header


def _block(lines: list[str]) -> Any:
    lines = [line for line in lines if line.strip()]
    if lines and lines[0].startswith("\t"):
        rows = [line.strip("\t").split("\t") for line in lines]
        columns = rows[0]
        table = {c: [value(r[i]) if i < len(r) else "" for r in rows[1:]] for i, c in enumerate(columns)}
        return {c: v[0] if len(v) == 1 else v for c, v in table.items()}
    return value("\n".join(line.strip() for line in lines))


def read_signals(source: Source) -> tuple[dict[str, xr.DataArray], dict[str, Any]]:
    """One lazy DataArray per channel and direction, and the parsed header."""
    with source.reading() as fh:
        raw = read_until(fh, _END)
    end = raw.find(_END)
    start = raw.find(b"\x1a\x04", end) if end >= 0 else -1
    if start < 0:
        raise FormatError(
            source.name,
            "no ':SCANIT_END:' and \\x1a\\x04 marker ends the header; the file is "
            "truncated or no Nanonis scan",
            where="header",
        )
    header = parse_header(raw[:end].decode("latin-1"))
    offset = start + 2
    nx, ny = (int(n) for n in str(header.get("SCAN_PIXELS", "")).split())
    table = header.get("DATA_INFO")
    if not isinstance(table, dict) or "Name" not in table:
        raise FormatError(source.name, "the header has no :DATA_INFO: channel table", where="header")
    names, units, directions = (_as_list(table.get(c, "")) for c in ("Name", "Unit", "Direction"))
    coords: Any = _coords(header, nx, ny)
    common: dict[str, Any] = {
        "source": "Nanonis",
        "metadata": metadata(header),
        "original_metadata": {"header": header},
        "data_type": "IMAGE",
    }
    signals, frame = {}, ny * nx * 4
    for name, unit, direction in zip(names, units, directions, strict=False):
        for way in ("forward", "backward") if str(direction).lower() == "both" else (str(direction).lower(),):
            data = lazy_native(RawArray(source, offset, ">f4", (ny, nx)))
            offset += frame
            title = f"{name} {way}"
            signals[title] = model.from_array(
                data,
                ("y", "x"),
                coords=coords,
                name=title,
                title=title,
                quantity=str(name),
                units=values.unit_spelling(unit),
                **common,
            )
            coords = signals[title].coords  # every channel has the same grid: its indexes are built once
    return signals, header


def _as_list(item: Any) -> list[Any]:
    return item if isinstance(item, list) else [item]


def _coords(header: dict[str, Any], nx: int, ny: int) -> dict[Hashable, Any]:
    """Pixel corners of the scan frame (scan-frame axes; the rotation is ``SCAN_ANGLE``)."""
    width, height = (float(v) for v in str(header.get("SCAN_RANGE", "0 0")).split())
    cx, cy = (float(v) for v in str(header.get("SCAN_OFFSET", "0 0")).split())
    return {
        "x": {"values": cx - width / 2 + width / nx * np.arange(nx), "units": "m", "quantity": "Length"},
        "y": {"values": cy - height / 2 + height / ny * np.arange(ny), "units": "m", "quantity": "Length"},
    }


def metadata(header: dict[str, Any]) -> dict[str, Any]:
    """Normalised metadata of a scan header."""
    line_time = str(header.get("SCAN_TIME", "")).split()
    setpoint = header.get("Z-Controller>Setpoint")
    if setpoint is None and isinstance(header.get("Z-CONTROLLER"), dict):
        setpoint = header["Z-CONTROLLER"].get("Setpoint")
    return values.drop_empty(
        {
            "date": values.iso_date(header.get("REC_DATE")),
            "time": values.iso_time(header.get("REC_TIME")),
            "bias": values.quantity(header.get("BIAS"), "V"),
            "setpoint": values.number(setpoint),
            "scan_direction": str(header.get("SCAN_DIR", "")).strip() or None,
            "scan_angle": values.quantity(header.get("SCAN_ANGLE"), "deg"),
            "scan_rate": values.quantity(1 / float(line_time[0]), "Hz")
            if line_time and float(line_time[0])
            else None,
        }
    )
