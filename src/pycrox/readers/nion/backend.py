"""``xr.open_dataset(path, engine="nion")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["NionBackendEntrypoint"]


class NionBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="nion")``: Nion Swift ``.ndata`` and ``.h5`` data items."""

    format_name = "nion"
    description = "Nion Swift data items (.ndata, .h5) as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/nion.html"
