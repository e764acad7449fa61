"""Gwyddion Simple Field (``.gsf``): a text header, NUL padding, then float32 little-endian data.

The header is the line ``Gwyddion Simple Field 1.0`` followed by ``Key = Value`` lines; the
data start at the next multiple of 4 bytes after the header's terminating NUL padding (1 to 4
NUL bytes) and hold ``XRes * YRes`` float32 values, row by row (``y`` slowest).
"""

from __future__ import annotations

from typing import Any

from pycrox.errors import FormatError
from pycrox.readers._common.values import scalar_from_text
from pycrox.sources import Source

__all__ = ["MAGIC", "parse_header"]

MAGIC = b"Gwyddion Simple Field 1.0"
_MAX_HEADER = 1 << 20


def parse_header(source: Source) -> tuple[dict[str, Any], int]:
    """The header as a dict and the byte offset of the data.

    Raises
    ------
    FormatError
        On a wrong first line, a header without its NUL padding, or missing ``XRes``/``YRes``.
    """
    with source.reading() as fh:
        head = fh.read(min(source.size(), _MAX_HEADER))
    if not head.startswith(MAGIC):
        raise FormatError(
            source.name, f"expected the line {MAGIC.decode()!r}, found {head[:26]!r}", where="offset 0"
        )
    end = head.find(b"\x00")
    if end < 0:
        raise FormatError(
            source.name, "the header has no terminating NUL padding (truncated?)", where=f"offset {len(head)}"
        )
    header: dict[str, Any] = {}
    for number, line in enumerate(head[:end].decode("utf-8", errors="replace").splitlines()[1:], start=2):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise FormatError(
                source.name,
                f"header line {number} {line!r} is not 'Key = Value'",
                where=f"header line {number}",
            )
        header[key.strip()] = scalar_from_text(value)
    for key in ("XRes", "YRes"):
        if not isinstance(header.get(key), int) or header[key] <= 0:
            raise FormatError(
                source.name, f"header {key} = {header.get(key)!r} is not a positive integer", where="header"
            )
    return header, (end // 4 + 1) * 4
