"""``xr.open_dataset(path, engine="msa")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["MSABackendEntrypoint"]


class MSABackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="msa")`` for EMSA/MSA spectra."""

    format_name = "msa"
    description = "EMSA/MSA (ISO 22029) spectra, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/msa.html"
