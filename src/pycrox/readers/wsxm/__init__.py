"""WSxM files: images and curves (text header and binary data).

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `WSxMBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.wsxm.backend import WSxMBackendEntrypoint

__all__ = ["WSxMBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.wsxm import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
