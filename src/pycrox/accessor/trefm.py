"""The ``.pycro.trefm`` namespace: time-resolved force microscopy. Delegation only: no logic lives here."""

from __future__ import annotations

import xarray as xr

__all__ = ["TrEFMNamespace"]


class TrEFMNamespace:
    """Time-resolved force microscopy methods on a DataArray, reached as ``da.pycro.trefm``; see `pycrox.analysis.trefm`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj
