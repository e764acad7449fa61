"""``xr.open_dataset(path, engine="mib")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["MIBBackendEntrypoint"]


class MIBBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="mib")`` for Quantum Detectors Merlin ``.mib`` files."""

    format_name = "mib"
    description = "Quantum Detectors Merlin .mib frames (4-D STEM), as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/mib.html"
