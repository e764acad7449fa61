"""``xr.open_dataset(path, engine="ntmdt_mdt")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["NTMDTBackendEntrypoint"]


class NTMDTBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="ntmdt_mdt")`` for NT-MDT MDT frames (scanned images, curves)."""

    format_name = "ntmdt_mdt"
    description = "NT-MDT MDT frames (scanned images, curves), as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/ntmdt_mdt.html"
