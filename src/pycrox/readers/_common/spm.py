"""Helpers the scanning-probe readers share (Gwyddion, WSxM, NT-MDT, Digital Surf, Anasys).

SPM files name their channels freely and keep their acquisition settings as ``key: value``
text; `node_name` turns a channel title into a unique tree node name, `value_unit` splits
``"0.2 V"`` into a number and a unit, and `normalised` picks the normalised metadata
(``pycrox.model.METADATA_KEYS``) out of such a flat mapping by the usual key spellings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pycrox.readers._common import values

__all__ = ["find", "node_name", "normalised", "value_unit"]

#: normalised key -> (lower-case key spellings without spaces, dots or underscores, unit)
_ALIASES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "date": (("date", "acquisitiondate", "datetime", "acquisitiontime"), None),
    "time": (("time", "acquisitiontimeofday"), None),
    "setpoint": (("setpoint", "setpointvalue", "feedbacksetpoint"), None),
    "bias": (("bias", "biasvoltage", "samplebias", "tipbias", "topographybias", "surfacevoltage"), "V"),
    "scan_rate": (("scanrate", "xfrequency", "linerate", "scanfrequency"), "Hz"),
    "spring_constant": (("springconstant", "forceconstant", "cantileverspringconstant"), "N/m"),
    "scan_angle": (("scanangle", "angle", "rotation"), "deg"),
    "operator": (("operator", "operatorname", "user"), None),
    "microscope": (("microscope", "microscopemodel", "instrument", "headtype", "device"), None),
    "sample": (("sample", "samplename"), None),
}


def node_name(title: Any, used: set[str], fallback: str = "channel") -> str:
    """A tree node name for `title`: no ``/``, not empty, not already in `used` (which it joins)."""
    text = re.sub(r"[/\\\x00]+", "_", str(title or "")).strip() or fallback
    name, n = text, 1
    while name in used:
        n += 1
        name = f"{text}_{n}"
    used.add(name)
    return name


def value_unit(text: Any) -> tuple[float | None, str]:
    """``"0.2 V"`` -> ``(0.2, "V")``; a bare number gives an empty unit; no number gives None."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text), ""
    if not isinstance(text, str):
        return None, ""
    match = re.fullmatch(r"\s*([-+]?(?:\d+[.,]?\d*|[.,]\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*", text)
    if not match:
        return None, ""
    return float(match.group(1).replace(",", ".")), match.group(2)


_LOOSE = re.compile(r"[\s._\-:()\[\]]+")


def _key(text: str) -> str:
    return _LOOSE.sub("", text.lower())


def _index(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """`mapping` by loose key; the first of several keys that compare equal wins."""
    return {_key(str(k)): v for k, v in reversed(list(mapping.items()))}


def find(mapping: Mapping[str, Any], spellings: Iterable[str]) -> Any:
    """The value of the first key of `mapping` that is one of `spellings` (compared loosely)."""
    index = _index(mapping)
    return next((index[w] for w in (_key(s) for s in spellings) if w in index), None)


def normalised(mapping: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """Normalised metadata from a flat ``{key: value text}`` mapping, plus `overrides`.

    Values with a unit become ``{"value", "units"}`` in the unit `pycrox.model.METADATA_KEYS`
    gives (a bare number is taken to be in that unit already); the setpoint stays a number (its
    unit depends on the feedback channel); dates become ISO ``YYYY-MM-DD`` and times ``HH:MM:SS``.
    """
    out: dict[str, Any] = {}
    index = _index(mapping)
    for key, (spellings, unit) in _ALIASES.items():
        raw = next((index[w] for w in (_key(s) for s in spellings) if w in index), None)
        if raw is None or raw == "":
            continue
        if key == "date":
            out[key] = values.iso_date(str(raw)) or None
            clock = values.iso_time(str(raw))
            if clock and "time" not in out:
                out["time"] = clock
        elif key == "time":
            out[key] = values.iso_time(str(raw)) or out.get("time")
        elif key == "setpoint":
            out[key] = value_unit(raw)[0]
        elif unit is not None:
            number, given = value_unit(raw)
            if number is None:
                continue
            converted = values.convert(number, given, unit) if given else number
            out[key] = None if converted is None else {"value": converted, "units": unit}
        else:
            out[key] = str(raw).strip()
    out.update(overrides)
    return values.drop_empty(out)
