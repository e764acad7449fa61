"""Normalised acquisition metadata from DigitalMicrograph ``ImageTags``.

Which tag means what is written down as data (`NUMBERS`, `STRINGS`, `DATE_TIME`): the first
candidate path that holds a usable value wins. DM writes dates in the acquiring computer's
locale ("8/29/2017", "27/08/2016"); an ambiguous day/month order is settled by a machine
timestamp in the same file when there is one (``DataBar/Acquisition Time (OS)`` or
``DataBar/System Info``, Windows FILETIME in UTC; ``Acquisition/Frame/Sequence/Acquisition Start
Time (epoch)``, milliseconds since 1970), and is read month first otherwise.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["iso_date", "iso_time", "metadata", "signal_kind", "spectrum_format", "tag_roots"]

#: key -> (unit, [(tag path, factor to the unit)]); zero values mean "not recorded" in DM and are skipped
NUMBERS: dict[str, tuple[str, list[tuple[tuple[str, ...], float]]]] = {
    "beam_energy": ("keV", [(("Microscope Info", "Voltage"), 1e-3)]),
    "beam_current": ("nA", [(("Microscope Info", "Probe Current (nA)"), 1.0)]),
    "convergence_angle": (
        "mrad",
        [(("EELS", "Experimental Conditions", "Convergence semi-angle (mrad)"), 1.0)],
    ),
    "camera_length": ("mm", [(("Microscope Info", "STEM Camera Length"), 1.0)]),
    "exposure_time": (
        "s",
        [
            (("DataBar", "Exposure Time (s)"), 1.0),
            (("Acquisition", "Parameters", "High Level", "Exposure (s)"), 1.0),
            (("Acquisition", "Parameters", "Detector", "exposure (s)"), 1.0),
            (("Acquisition", "Parameters", "Detector", "Exposure (s)"), 1.0),
            (("EELS", "Acquisition", "Exposure (s)"), 1.0),
            (("CL", "Acquisition", "Exposure (s)"), 1.0),
            (("EDS", "Acquisition", "Exposure (s)"), 1.0),
        ],
    ),
    "dwell_time": (
        "s",
        [(("DigiScan", "Sample Time"), 1e-6), (("SI", "Acquisition", "Pixel time (s)"), 1.0)],
    ),
    "live_time": ("s", [(("EDS", "Live time"), 1.0)]),
    "real_time": ("s", [(("EDS", "Real time"), 1.0)]),
    "elevation_angle": ("deg", [(("EDS", "Detector Info", "Elevation angle"), 1.0)]),
    "azimuth_angle": ("deg", [(("EDS", "Detector Info", "Azimuthal angle"), 1.0)]),
}
#: key -> tag paths of a text value; empty strings are skipped
STRINGS: dict[str, list[tuple[str, ...]]] = {
    "microscope": [
        ("Session Info", "Microscope"),
        ("Microscope Info", "Microscope"),
        ("Microscope Info", "Name"),
    ],
    "detector": [("Session Info", "Detector"), ("Acquisition", "Device", "Name"), ("DataBar", "Device Name")],
    "operator": [("Session Info", "Operator"), ("Microscope Info", "Operator")],
    "sample": [("Session Info", "Specimen"), ("Microscope Info", "Specimen")],
}
#: (date path, time path) pairs in order of preference
DATE_TIME: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("DataBar", "Acquisition Date"), ("DataBar", "Acquisition Time")),
    (("SI", "Acquisition", "Date"), ("SI", "Acquisition", "Start time")),
    (("EELS", "Acquisition", "Date"), ("EELS", "Acquisition", "Start time")),
    (("EDS", "Acquisition", "Date"), ("EDS", "Acquisition", "Start time")),
    (("CL", "Acquisition", "Date"), ("CL", "Acquisition", "Start time")),
]
#: machine timestamps: path -> seconds per unit and epoch
TIMESTAMPS: list[tuple[tuple[str, ...], float, dt.datetime]] = [
    (("DataBar", "Acquisition Time (OS)"), 1e-7, dt.datetime(1601, 1, 1)),
    (("DataBar", "System Info"), 1e-7, dt.datetime(1601, 1, 1)),
    (("Acquisition", "Frame", "Sequence", "Acquisition Start Time (epoch)"), 1e-3, dt.datetime(1970, 1, 1)),
]
#: ``Meta Data/Signal`` spellings -> signal kind
SIGNALS = {
    "eels": "EELS",
    "x-ray": "EDS",
    "eds": "EDS",
    "edx": "EDS",
    "cl": "CL",
    "cathodoluminescence": "CL",
}


def tag_roots(image_tags: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Where acquisition tags live: ``ImageTags`` and the copies stacks and SI views carry."""
    roots = [image_tags]
    for path in (("source", "Tags at creation"), ("Parent", "Tags")):
        nested = lookup([image_tags], path)
        if isinstance(nested, Mapping):
            roots.append(nested)
    return roots


def lookup(roots: list[Mapping[str, Any]], path: tuple[str, ...]) -> Any:
    """The value at `path` in the first root that has it, or None."""
    for root in roots:
        node: Any = root
        for part in path:
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is not None:
            return node
    return None


def signal_kind(roots: list[Mapping[str, Any]]) -> str | None:
    """``"EELS"``, ``"EDS"``, ``"CL"`` or None, from ``Meta Data/Signal`` and the spectrometer tags."""
    signal = lookup(roots, ("Meta Data", "Signal"))
    if isinstance(signal, str) and signal.strip().lower() in SIGNALS:
        return SIGNALS[signal.strip().lower()]
    if lookup(roots, ("Acquisition", "Monarc Spectrometer")) is not None:
        return "CL"
    if lookup(roots, ("spim", "eels")) is not None:
        return "EELS"
    return None


def spectrum_format(roots: list[Mapping[str, Any]]) -> str:
    """``Meta Data/Format`` in lower case (``"spectrum"``, ``"spectrum image"``, ...), or ``""``."""
    fmt = lookup(roots, ("Meta Data", "Format"))
    if isinstance(fmt, str) and fmt.strip():
        return fmt.strip().lower()
    return "spectrum image" if lookup(roots, ("spim",)) is not None else ""


def metadata(roots: list[Mapping[str, Any]]) -> dict[str, Any]:
    """Normalised metadata (keys of `pycrox.model.METADATA_KEYS`) from the tag roots."""
    out: dict[str, Any] = {}
    for key, paths in STRINGS.items():
        text = next(
            (v.strip() for v in (lookup(roots, p) for p in paths) if isinstance(v, str) and v.strip()), None
        )
        if text:
            out[key] = text
    for key, (unit, candidates) in NUMBERS.items():
        value = _first_number(roots, candidates)
        if value is not None:
            out[key] = {"value": value, "units": unit}
    out.update(_magnification(roots, out))
    kind = signal_kind(roots)
    if kind:
        out["signal"] = kind
    out.update(_date_time(roots))
    return out


def _first_number(
    roots: list[Mapping[str, Any]], candidates: list[tuple[tuple[str, ...], float]]
) -> float | None:
    for path, factor in candidates:
        value = lookup(roots, path)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value:
            return float(value) * factor
    return None


def _magnification(roots: list[Mapping[str, Any]], found: dict[str, Any]) -> dict[str, Any]:
    """Magnification; in TEM diffraction DM's indicated magnification is the camera length (mm)."""
    indicated = _first_number(roots, [(("Microscope Info", "Indicated Magnification"), 1.0)])
    actual = _first_number(roots, [(("Microscope Info", "Actual Magnification"), 1.0)])
    illumination = str(lookup(roots, ("Microscope Info", "Illumination Mode")) or "").upper()
    mode = str(lookup(roots, ("Microscope Info", "Operation Mode")) or "").upper()
    if illumination == "TEM" and "DIFFRACTION" in mode:
        out: dict[str, Any] = {} if actual is None else {"magnification": actual}
        if indicated is not None and "camera_length" not in found:
            out["camera_length"] = {"value": indicated, "units": "mm"}
        return out
    value = indicated if indicated is not None else actual
    return {} if value is None else {"magnification": value}


def _date_time(roots: list[Mapping[str, Any]]) -> dict[str, str]:
    stamp = _timestamp(roots)
    for date_path, time_path in DATE_TIME:
        date = iso_date(lookup(roots, date_path), stamp)
        if date:
            time = iso_time(lookup(roots, time_path))
            return {"date": date, "time": time} if time else {"date": date}
    return {}


def _timestamp(roots: list[Mapping[str, Any]]) -> dt.date | None:
    for path, seconds, epoch in TIMESTAMPS:
        value = lookup(roots, path)
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value > 0
        ):
            try:
                stamp = epoch + dt.timedelta(seconds=float(value) * seconds)
            except OverflowError:
                continue
            if 1980 <= stamp.year <= 2200:
                return stamp.date()
    return None


def iso_date(text: Any, stamp: dt.date | None = None) -> str | None:
    """``"YYYY-MM-DD"`` from a DM date string, or None when it holds no valid date.

    Parameters
    ----------
    text : str
        ``"8/29/2017"``, ``"27/08/2016"``, ``"29.08.2017"``, ``"2017-08-29"``.
    stamp : datetime.date, optional
        A machine timestamp of the acquisition (UTC), used when day and month could be swapped.

    Examples
    --------
    >>> iso_date("8/29/2017"), iso_date("27/08/2016"), iso_date("7/9/2014", dt.date(2014, 7, 9))
    ('2017-08-29', '2016-08-27', '2014-07-09')
    """
    if not isinstance(text, str):
        return None
    match = re.search(r"(\d{1,4})([/.\-])(\d{1,2})\2(\d{1,4})", text)
    if match is None:
        return None
    a, sep, b, c = int(match[1]), match[2], int(match[3]), int(match[4])
    if a > 31:
        candidates = [(a, b, c)]
    else:
        year = c + 2000 if c < 100 else c
        day_first = [(year, b, a), (year, a, b)]
        candidates = day_first if sep == "." else day_first[::-1]
    valid = [d for d in (_date(*ymd) for ymd in candidates) if d is not None]
    if not valid:
        return None
    if stamp is not None and len(valid) > 1:
        valid.sort(key=lambda d: abs((d - stamp).days))
    return valid[0].isoformat()


def _date(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def iso_time(text: Any) -> str | None:
    """``"HH:MM:SS"`` from a DM time string (``"1:58:43 PM"``, ``"20:52:30"``), or None.

    Examples
    --------
    >>> iso_time("1:58:43 PM"), iso_time("12:06 AM"), iso_time("20:52:30")
    ('13:58:43', '00:06:00', '20:52:30')
    """
    if not isinstance(text, str):
        return None
    match = re.search(r"(\d{1,2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s*([AaPp]\.?[Mm]\.?)?", text)
    if match is None:
        return None
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    half = (match[4] or "").lower().replace(".", "")
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59 or second > 60:
        return None
    return f"{hour:02d}:{minute:02d}:{min(second, 59):02d}"
