"""``xr.open_dataset(path, engine="blockfile")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["BlockfileBackendEntrypoint"]


class BlockfileBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="blockfile", group=...)`` for TVIPS / NanoMegas blockfiles."""

    format_name = "blockfile"
    description = "TVIPS / NanoMegas blockfiles (4-D STEM diffraction), as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/blockfile.html"
