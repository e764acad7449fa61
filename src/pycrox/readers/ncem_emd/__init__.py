"""Berkeley (NCEM) EMD files (0.2, Prismatic, EMD 1.0): every EMD data group as a lazy pycrox signal.

`read_tree` and `guess_can_open` live in `reader` (imported on first use, so that xarray's
engine listing stays cheap); `NCEMEMDBackendEntrypoint` is the xarray engine.
"""

from __future__ import annotations

from typing import Any

from pycrox.readers.ncem_emd.backend import NCEMEMDBackendEntrypoint

__all__ = ["NCEMEMDBackendEntrypoint", "guess_can_open", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("guess_can_open", "read_tree"):
        from pycrox.readers.ncem_emd import reader

        return getattr(reader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
