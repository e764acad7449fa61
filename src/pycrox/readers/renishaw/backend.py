"""``xr.open_dataset(path, engine="renishaw")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["RenishawBackendEntrypoint"]


class RenishawBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="renishaw", group=...)`` for Renishaw WiRE WDF files."""

    format_name = "renishaw"
    description = "Renishaw WDF Raman spectra, line scans, maps and time series, as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/renishaw.html"
