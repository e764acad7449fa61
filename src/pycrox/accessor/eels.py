"""The ``.pycro.eels`` namespace: electron energy-loss spectroscopy. Delegation only: no logic lives here."""

from __future__ import annotations

import xarray as xr

__all__ = ["EELSNamespace"]


class EELSNamespace:
    """Electron energy-loss spectroscopy methods on a DataArray, reached as ``da.pycro.eels``; see `pycrox.analysis.eels`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj
