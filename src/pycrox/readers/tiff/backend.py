"""``xr.open_dataset(path, engine="tiff")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["TIFFBackendEntrypoint"]


class TIFFBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="tiff")``: microscope TIFF files (one signal per page series)."""

    format_name = "tiff"
    description = (
        "Microscope TIFF (FEI, Zeiss, JEOL, TVIPS, Olympus, Hamamatsu, ImageJ, DM) as pycrox objects"
    )
    url = "https://pycrox.readthedocs.io/en/latest/formats/tiff.html"
