"""``xr.open_dataset(path, engine="velox")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["VeloxBackendEntrypoint"]


class VeloxBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="velox", group=...)`` for Thermo Fisher Velox EMD files."""

    format_name = "velox"
    description = "Thermo Fisher Velox EMD images, stacks, EDS spectra and spectrum images, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/velox.html"
