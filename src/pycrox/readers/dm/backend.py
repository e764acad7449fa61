"""``xr.open_dataset(path, engine="dm")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["DMBackendEntrypoint"]


class DMBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="dm")`` for Gatan DigitalMicrograph DM3/DM4 files."""

    format_name = "dm"
    description = (
        "Gatan DigitalMicrograph DM3/DM4 images, spectra, spectrum images and stacks, as pycrox objects"
    )
    url = "https://pycrox.readthedocs.io/en/latest/formats/dm.html"
