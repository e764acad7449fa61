"""Companion files and small helpers shared by the TIA, MRC, MIB and MSA readers.

Several vendor formats split one acquisition over files of the same stem: TIA ``.emi`` beside
its ``_1.ser``, ``_2.ser``; Merlin ``.hdr`` beside ``.mib``. `sibling` finds such a file next
to a `Source`, for local paths and fsspec URLs alike (a caller's file object has no folder, so
it has no companions). `read_bytes` reads a byte range with a clear error when the file ends.
"""

from __future__ import annotations

import os
import posixpath
import re
from typing import Any

import fsspec

from pycrox.errors import FormatError
from pycrox.sources import Source, open_source

__all__ = ["base_name", "quantity", "read_bytes", "sibling", "siblings_matching"]


def base_name(source: Source) -> str:
    """The file name of `source` without folder (``"a_1.ser"``); ``""`` for an unnamed file object."""
    return source.file_name


def _folder(source: Source) -> tuple[str, str] | None:
    """``(kind, folder)`` where companions of `source` live, or None for file objects."""
    if source.path is not None:
        return "local", os.path.dirname(os.path.abspath(source.path))
    if source.url is not None:
        return "url", source.url.rsplit("/", 1)[0]
    return None


def sibling(source: Source, name: str) -> Source | None:
    """The file `name` in the folder of `source`, or None when it does not exist."""
    where = _folder(source)
    if where is None:
        return None
    kind, folder = where
    if kind == "local":
        path = os.path.join(folder, name)
        return open_source(path) if os.path.isfile(path) else None
    url = f"{folder}/{name}"
    try:
        fs, path = fsspec.core.url_to_fs(url, **source.storage_options)
        if not fs.isfile(path):
            return None
    except (OSError, ValueError):
        return None
    return open_source(url, source.storage_options, must_exist=False)


def siblings_matching(source: Source, pattern: str) -> list[Source]:
    """Files beside `source` whose whole name matches the regular expression `pattern`."""
    where = _folder(source)
    if where is None:
        return []
    kind, folder = where
    regex = re.compile(pattern)
    if kind == "local":
        names = sorted(os.listdir(folder))
        return [open_source(os.path.join(folder, n)) for n in names if regex.fullmatch(n)]
    try:
        fs, path = fsspec.core.url_to_fs(folder, **source.storage_options)
        names = sorted(posixpath.basename(p.rstrip("/")) for p in fs.ls(path, detail=False))
    except (OSError, ValueError):
        return []
    prefix = folder  # the url without its file name
    return [
        open_source(f"{prefix}/{n}", source.storage_options, must_exist=False)
        for n in names
        if regex.fullmatch(n)
    ]


def read_bytes(source: Source, offset: int, count: int, what: str) -> bytes:
    """Exactly `count` bytes of `source` from `offset`; `FormatError` when the file is shorter."""
    size = source.size()
    if offset < 0 or count < 0 or offset + count > size:
        raise FormatError(
            source.name,
            f"{what} needs bytes {offset}..{offset + count} but the file has {size}; it may be truncated",
            where=f"offset {offset}",
        )
    with source.reading() as fh:
        fh.seek(offset)
        data = fh.read(count)
    if len(data) != count:
        raise FormatError(
            source.name, f"{what}: file ends after {offset + len(data)} bytes", where=f"offset {offset}"
        )
    return data


def quantity(value: float, units: str) -> dict[str, Any]:
    """A normalised metadata value with a unit: ``{"value": float, "units": units}``."""
    return {"value": float(value), "units": units}
