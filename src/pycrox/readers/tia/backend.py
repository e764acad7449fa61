"""``xr.open_dataset(path, engine="tia")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["TIABackendEntrypoint"]


class TIABackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="tia")`` for FEI TIA ``.ser``/``.emi`` files."""

    format_name = "tia"
    description = "FEI/Thermo Fisher TIA .ser data series with .emi metadata, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/tia.html"
