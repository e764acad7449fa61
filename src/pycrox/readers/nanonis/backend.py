"""``xr.open_dataset(path, engine="nanonis")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["NanonisBackendEntrypoint"]


class NanonisBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="nanonis")`` for Nanonis files (``.sxm`` images, ``.dat`` spectra, ``.3ds`` grids)."""

    format_name = "nanonis"
    description = "Nanonis SXM images, DAT spectra and 3DS grid spectroscopy"
