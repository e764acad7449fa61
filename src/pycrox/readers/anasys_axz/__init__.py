"""Anasys AXZ files: height maps and IR spectra (gzip XML).

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `AnasysAXZBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.anasys_axz.backend import AnasysAXZBackendEntrypoint

__all__ = ["AnasysAXZBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.anasys_axz import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
