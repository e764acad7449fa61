"""Gwyddion GWY and GSF files: channels, masks, presentations, graphs, spectra and volumes.

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `GwyddionBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.gwyddion.backend import GwyddionBackendEntrypoint

__all__ = ["GwyddionBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.gwyddion import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
