"""NT-MDT MDT files: MDA frames (scanned images and other arrays).

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `NTMDTBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.ntmdt_mdt.backend import NTMDTBackendEntrypoint

__all__ = ["NTMDTBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.ntmdt_mdt import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
