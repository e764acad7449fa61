"""The WSxM text header: ``Image header size: N`` bytes of ``[Section]`` and ``key: value`` lines.

A file starts with ``WSxM file copyright UAM`` and a line naming its kind (``SxM Image file``,
``WSxM Lithography curves``, ...); the header size counts from the header's own first byte and
the binary data follow it. Curve files hold an image header and image, then one header (``FZ
curve file``, ...) and data block per curve.
"""

from __future__ import annotations

import re
from typing import IO, Any

from pycrox.errors import FormatError

__all__ = ["MAGIC", "get", "read_header"]

MAGIC = b"WSxM file copyright UAM"
_SIZE = re.compile(rb"Image header size:\s*(\d+)")


def read_header(fh: IO[bytes], name: str, offset: int, size: int) -> tuple[dict[str, Any], str, int]:
    """``({section: {key: value}}, first line, data offset)`` of the header at `offset`.

    Raises
    ------
    FormatError
        When no ``Image header size`` line is found or the header runs past the end of the file.
    """
    fh.seek(offset)
    head = fh.read(200)
    match = _SIZE.search(head)
    if not match:
        raise FormatError(
            name, f"no 'Image header size' line in the WSxM header at {offset}", where=f"offset {offset}"
        )
    length = int(match.group(1))
    if offset + length > size:
        raise FormatError(
            name,
            f"the header claims {length} bytes from {offset} but the file has {size}; it may be truncated",
            where=f"offset {offset}",
        )
    fh.seek(offset)
    text = fh.read(length).decode("latin-1")
    lines = text.splitlines()
    header: dict[str, Any] = {}
    section = "Header"
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        key, sep, value = stripped.partition(":")
        if sep and key:
            header.setdefault(section, {})[key.strip()] = value.strip()
    kind = lines[1] if len(lines) > 1 and lines[0].encode("latin-1") == MAGIC else (lines[0] if lines else "")
    return header, kind.strip(), offset + length


def get(header: dict[str, Any], section: str, key: str, default: Any = None) -> Any:
    """``header[section][key]`` or `default`."""
    return header.get(section, {}).get(key, default)
