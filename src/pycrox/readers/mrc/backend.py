"""``xr.open_dataset(path, engine="mrc")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["MRCBackendEntrypoint"]


class MRCBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="mrc")`` for MRC / MRC2014 files."""

    format_name = "mrc"
    description = "MRC2014 images, stacks, movies and volumes (modes 0, 1, 2, 4, 6, 12), as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/mrc.html"
