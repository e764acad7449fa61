"""``xr.open_dataset(path, engine="anasys_axz")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["AnasysAXZBackendEntrypoint"]


class AnasysAXZBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="anasys_axz")`` for Anasys AXZ height maps and IR spectra."""

    format_name = "anasys_axz"
    description = "Anasys AXZ height maps and IR spectra, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/anasys_axz.html"
