"""TIFF files from microscopes: FEI/Thermo, Zeiss, JEOL, TVIPS, Olympus, Hamamatsu, ImageJ, DM-saved.

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `TIFFBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.tiff.backend import TIFFBackendEntrypoint

__all__ = ["TIFFBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.tiff import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
