"""Small value helpers shared by the TIFF, Nion and Bruker readers.

Vendor metadata come as tifffile tag values, JSON or XML text; attrs must be JSON-like
(`pycrox.model`). `jsonlike` converts, `quantity` writes a value with a unit the way
``attrs["metadata"]`` stores it, `unit_spelling` turns a vendor unit into an unambiguous
spelling, and the date helpers give ISO ``YYYY-MM-DD`` / ``HH:MM:SS`` strings.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any

import numpy as np

from pycrox import units
from pycrox.errors import UnitError

__all__ = [
    "beam_energy",
    "convert",
    "drop_empty",
    "iso_date",
    "iso_time",
    "jsonlike",
    "number",
    "quantity",
    "scalar_from_text",
    "unit_spelling",
    "xml_to_dict",
]

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}


def jsonlike(value: Any, *, max_depth: int = 32) -> Any:
    """A JSON-like copy of `value` for attrs.

    numpy scalars become Python numbers, tuples lists, enums their integer value, dates ISO
    strings, UTF-8 bytes text (other bytes a ``uint8`` array); numpy arrays stay arrays.
    """
    if max_depth <= 0:
        return repr(value)
    if isinstance(value, enum.Enum):
        return jsonlike(value.value, max_depth=max_depth - 1)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return _bytes_value(value)
    if isinstance(value, Mapping):
        return {str(k): jsonlike(v, max_depth=max_depth - 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonlike(v, max_depth=max_depth - 1) for v in value]
    if isinstance(value, np.ndarray):
        return value.copy() if value.dtype.kind in "biufc" else value.astype(str)
    if value is None or isinstance(value, bool | int | float | complex | str):
        return value
    return str(value)


def _bytes_value(value: bytes) -> Any:
    stripped = value.rstrip(b"\x00")
    try:
        text = stripped.decode("utf-8")
    except UnicodeDecodeError:
        return np.frombuffer(value, dtype=np.uint8).copy()
    if any(ord(c) < 32 and c not in "\t\r\n" for c in text):
        return np.frombuffer(value, dtype=np.uint8).copy()
    return text


def number(value: Any) -> float | None:
    """`value` as a float (numbers or numeric text, with ``,`` as decimal mark), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        result = float(value)
        return result if math.isfinite(result) else None
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([-+]?(?:\d+[.,]?\d*|[.,]\d+)(?:[eE][-+]?\d+)?)\s*\S*\s*", value)
        if match:
            return float(match.group(1).replace(",", "."))
    return None


def quantity(value: Any, unit: str, *, scale: float = 1.0) -> dict | None:
    """``{"value": float(value) * scale, "units": unit}``, or None when `value` is not a number."""
    magnitude = number(value)
    if magnitude is None:
        return None
    inverse = 1.0 / scale
    if scale < 1 and inverse == round(inverse):  # 259.9 / 1000, not 259.9 * 0.001 (= 0.25989999999999996)
        return {"value": magnitude / inverse, "units": unit}
    return {"value": magnitude * scale, "units": unit}


def unit_spelling(text: Any, quantity: str | None = None) -> str:
    """An unambiguous spelling of a vendor unit (``"micron"`` -> ``"µm"``); unknown text is kept.

    Dimensionless spellings (``""``, ``"a.u."``, ``"pixel"``-less numbers) give ``""``.
    """
    if text is None:
        return ""
    raw = text.decode("latin-1") if isinstance(text, bytes) else str(text)
    raw = raw.strip().rstrip("\x00")
    if raw.lower() in ("", "none", "null", "generic", "a.u.", "arb. units", "pix", "pixel", "pixels", "px"):
        return ""
    try:
        return units.format(units.parse(raw, quantity))
    except (UnitError, ValueError, TypeError, AttributeError):
        return raw


def iso_date(text: Any) -> str | None:
    """ISO ``YYYY-MM-DD`` from the date spellings vendors write, or None.

    Understood: ``2016-06-13``, ``2016:06:13``, ``2016/06/13``, ``13.06.2016`` (day first),
    ``06/13/2016`` (US, month first), ``25 Sep 2018`` and ISO timestamps.
    """
    if isinstance(text, dt.datetime | dt.date):
        return text.strftime("%Y-%m-%d")
    if not isinstance(text, str):
        return None
    s = text.strip()
    if m := re.match(r"(\d{4})[-:/.](\d{1,2})[-:/.](\d{1,2})", s):
        return _ymd(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    if m := re.match(r"(\d{1,2})\.(\d{1,2})\.(\d{4})", s):
        return _ymd(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    if m := re.match(r"(\d{1,2})/(\d{1,2})/(\d{4})", s):
        return _ymd(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    if m := re.match(r"(\d{1,2})[ -]([A-Za-z]{3})[A-Za-z]*[ -,]+(\d{4})", s):
        month = _MONTHS.get(m.group(2).lower())
        return _ymd(int(m.group(3)), month, int(m.group(1))) if month else None
    return None


def _ymd(year: int, month: int, day: int) -> str | None:
    try:
        return dt.date(year, month, day).isoformat()
    except ValueError:
        return None


def iso_time(text: Any) -> str | None:
    """``HH:MM:SS`` (24 h) from ``17:06:40``, ``05:06:40 PM``, ``8:20:42`` or a timestamp, or None."""
    if isinstance(text, dt.datetime | dt.time):
        return text.strftime("%H:%M:%S")
    if not isinstance(text, str):
        return None
    m = re.search(r"(?<![\d:])(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:[.,]\d+)?\s*([AaPp][Mm])?", text)
    if not m:
        return None
    hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    meridiem = (m.group(4) or "").lower()
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 60:
        return None
    return f"{hour:02d}:{minute:02d}:{second:02d}"


def drop_empty(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """`mapping` without None and empty-string values."""
    return {k: v for k, v in mapping.items() if v is not None and v != ""}


def convert(value: Any, from_unit: str, to_unit: str) -> float | None:
    """`value` (number or numeric text) converted from `from_unit` to `to_unit`, or None."""
    magnitude = number(value)
    if magnitude is None:
        return None
    try:
        q = units.ureg.Quantity(magnitude, units.parse(str(from_unit).strip()))
        return float(q.to(units.parse(to_unit)).magnitude)
    except (UnitError, ValueError, TypeError, AttributeError):  # pint's DimensionalityError is a TypeError
        return None


def beam_energy(value: Any, voltage_unit: str) -> dict | None:
    """An accelerating voltage (e.g. ``5.0`` ``"kV"``) as the beam energy ``{"value", "units": "keV"}``."""
    kilovolts = convert(value, voltage_unit, "kV")
    return None if kilovolts is None else {"value": kilovolts, "units": "keV"}


def scalar_from_text(text: str | None) -> Any:
    """An int or float when `text` is exactly a number, ``True``/``False`` for booleans, else the text."""
    if text is None:
        return ""
    s = text.strip()
    if re.fullmatch(r"[-+]?\d+", s):
        return int(s)
    if re.fullmatch(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?", s):
        return float(s)
    if s.lower() in ("true", "false"):
        return s.lower() == "true"
    return s


def xml_to_dict(element: ET.Element, *, max_depth: int = 64) -> Any:
    """An XML element as nested dicts.

    Children by tag (repeated tags -> lists), attributes as ``"@name"`` keys, leaf text as numbers
    where it is one.
    """
    children = list(element)
    if not children and not element.attrib:
        return scalar_from_text(element.text)
    out: dict[str, Any] = {f"@{k}": scalar_from_text(v) for k, v in element.attrib.items()}
    if max_depth <= 0:
        return out
    for child in children:
        value = xml_to_dict(child, max_depth=max_depth - 1)
        if child.tag in out:
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    if not children and element.text and element.text.strip():
        out["#text"] = scalar_from_text(element.text)
    return out
