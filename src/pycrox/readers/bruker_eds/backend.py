"""``xr.open_dataset(path, engine="bruker_eds")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["BrukerEDSBackendEntrypoint"]


class BrukerEDSBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="bruker_eds")``: Bruker ``.bcf`` hypermaps and ``.spx`` spectra."""

    format_name = "bruker_eds"
    description = "Bruker Esprit EDS files (.bcf hypermaps with images, .spx spectra) as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/bruker_eds.html"
