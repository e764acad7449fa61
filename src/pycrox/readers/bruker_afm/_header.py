r"""The text header of a Nanoscope file, and its ``@`` calibration fields.

The header is lines ``\Key: value`` grouped in sections ``\*Section name`` and ends with
``\*File list end``. Sections that repeat (one ``\*Ciao image list`` per image) become lists.
``@`` fields carry calibrations: ``\@2:Z scale: V [Sens. Zscan] (0.006713765 V/LSB) 7.237438 V``
reads "a value (type V) scaled by the sensitivity ``@Sens. Zscan``, hard scale 0.0067 V per
count, soft value 7.237438 V".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pycrox.errors import FormatError

__all__ = ["END", "Field", "field", "find", "get", "parse", "sensitivity"]

END = b"\\*File list end"
MAGIC = re.compile(rb"^\\\*(?:Force |EC |NC )?File list", re.IGNORECASE)
_FIELD = re.compile(
    r"^(?P<kind>[VCS])\s*(?:\[(?P<ref>[^\]]*)\])?\s*(?:\((?P<hard>[-+\d.eE]+)\s*(?P<hard_unit>[^)]*)\))?"
    r"\s*(?P<value>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)?\s*(?P<unit>.*?)\s*$"
)


@dataclass(frozen=True)
class Field:
    """A parsed ``@`` field: its sensitivity reference, hard scale and soft value with units."""

    kind: str
    ref: str
    hard: float | None
    hard_unit: str
    value: float | None
    unit: str


def parse(text: str, name: str) -> dict[str, Any]:
    """``{section: {key: value text}}``; repeated sections as lists of dicts, in file order.

    Raises
    ------
    FormatError
        When the text holds no section.
    """
    sections: dict[str, Any] = {}
    current: dict[str, str] | None = None
    for raw in text.replace("\r", "").split("\n"):
        line = raw.lstrip("\\").rstrip()
        if not raw.startswith("\\"):
            continue
        if line.startswith("*"):
            title = line[1:].strip()
            if title == "File list end":
                break
            current = {}
            if title in sections:
                previous = sections[title]
                sections[title] = [*previous, current] if isinstance(previous, list) else [previous, current]
            else:
                sections[title] = current
        elif current is not None:
            key, sep, value = line.partition(": ")
            if not sep and line.endswith(":"):
                key, value = line[:-1], ""
            elif not sep:
                continue
            if key.strip():
                current.setdefault(key.strip(), value.strip())
    if not sections:
        raise FormatError(name, "the header holds no \\*section; no Nanoscope file", where="header")
    return sections


def field(text: str | None) -> Field | None:
    """An ``@`` field's parts, or None when `text` is none."""
    if not text:
        return None
    match = _FIELD.match(text)
    if not match:
        return None
    number = lambda s: float(s) if s not in (None, "") else None
    return Field(
        match["kind"],
        (match["ref"] or "").strip(),
        number(match["hard"]),
        (match["hard_unit"] or "").strip(),
        number(match["value"]),
        match["unit"].strip(),
    )


def get(section: dict[str, str], key: str, default: str = "") -> str:
    """``section[key]`` ignoring case (``Scan size`` in version 4, ``Scan Size`` in version 9)."""
    lowered = key.lower()
    return next((v for k, v in section.items() if k.lower() == lowered), default)


def find(section: dict[str, str], suffix: str) -> tuple[str, str] | None:
    """The first ``(key, value)`` whose key is `suffix` or ends with ``:<suffix>`` (``@2:Z scale``)."""
    for key, value in section.items():
        if key == suffix or key.endswith(f":{suffix}"):
            return key, value
    return None


def sensitivity(sections: dict[str, Any], ref: str) -> Field | None:
    """The ``@Sens. ...`` field a ``[Sens. ...]`` reference names, searched in every section."""
    for section in sections.values():
        for part in section if isinstance(section, list) else [section]:
            value = part.get(f"@{ref}")
            if value is not None:
                return field(value)
    return None
