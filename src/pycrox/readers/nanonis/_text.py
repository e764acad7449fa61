"""Text pieces every Nanonis file shares: header values, ``Name (unit)`` labels, identifiers."""

from __future__ import annotations

import re
from typing import Any

from pycrox.readers._common.values import scalar_from_text, unit_spelling

__all__ = ["identifier", "read_until", "split_label", "value"]

_LABEL = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)(?P<rest>.*)$")


def value(text: str) -> Any:
    """A header value as int, float, bool or (stripped) text."""
    parsed = scalar_from_text(text)
    if isinstance(parsed, int) and not -(2**63) <= parsed < 2**63:
        return text.strip()
    return parsed


def split_label(label: str) -> tuple[str, str]:
    """``"Current [bwd] (A)"`` -> ``("Current [bwd]", "A")``; ``"Current (A) [filt]"`` -> ``("Current [filt]", "A")``."""
    match = _LABEL.match(label.strip())
    if not match:
        return label.strip(), ""
    name = f"{match['name']}{match['rest']}".strip()
    return re.sub(r"\s+", " ", name), unit_spelling(match["unit"])


def identifier(label: str) -> str:
    """A snake_case name for a parameter label (its unit dropped): ``"Z offset (m)"`` -> ``"z_offset"``."""
    name, _ = split_label(label)
    return re.sub(r"\W+", "_", name).strip("_").lower() or "parameter"


def read_until(fh: Any, marker: bytes, *, limit: int = 64 * 2**20, block: int = 65536) -> bytes:
    """Bytes read from the start of `fh` in blocks until `marker` is among them (or the file ends)."""
    data = b""
    while marker not in data and len(data) < limit:
        chunk = fh.read(block)
        if not chunk:
            break
        data += chunk
    return data
