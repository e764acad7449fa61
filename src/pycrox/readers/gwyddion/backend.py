"""``xr.open_dataset(path, engine="gwyddion")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["GwyddionBackendEntrypoint"]


class GwyddionBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="gwyddion")`` for Gwyddion GWY and GSF files."""

    format_name = "gwyddion"
    description = "Gwyddion GWY (channels, masks, presentations, graphs, volumes) and GSF, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/gwyddion.html"
