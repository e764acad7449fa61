"""``xr.open_dataset(path, engine="wsxm")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["WSxMBackendEntrypoint"]


class WSxMBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="wsxm")`` for WSxM images and curves."""

    format_name = "wsxm"
    description = "WSxM images and curves, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/wsxm.html"
