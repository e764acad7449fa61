"""``xr.open_dataset(path, engine="digitalsurf")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["DigitalSurfBackendEntrypoint"]


class DigitalSurfBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="digitalsurf")`` for Digital Surf SUR/PRO profiles, surfaces and spectral maps."""

    format_name = "digitalsurf"
    description = "Digital Surf SUR/PRO profiles, surfaces and spectral maps, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/digitalsurf.html"
