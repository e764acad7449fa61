"""Digital Surf SUR and PRO files: profiles, surfaces, series and spectral maps.

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `DigitalSurfBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.digitalsurf.backend import DigitalSurfBackendEntrypoint

__all__ = ["DigitalSurfBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.digitalsurf import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
