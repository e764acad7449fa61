"""The ``.pycro.trefm`` namespace: time-resolved force microscopy. Delegation only: no logic lives here."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import xarray as xr

__all__ = ["TrEFMNamespace"]


class TrEFMNamespace:
    """Time-resolved force microscopy methods on a DataArray, reached as ``da.pycro.trefm``; see `pycrox.analysis.trefm`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def instantaneous_frequency(self, dim: Hashable | None = None, **kwargs: Any) -> xr.DataArray:
        """Frequency shift of each pixel's signal; see `pycrox.analysis.trefm.instantaneous_frequency`."""
        from pycrox.analysis import trefm

        return trefm.instantaneous_frequency(self._obj, dim, **kwargs)

    def time_to_first_peak(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """Time to first peak and shift per pixel; see `pycrox.analysis.trefm.time_to_first_peak`."""
        from pycrox.analysis import trefm

        return trefm.time_to_first_peak(self._obj, dim, **kwargs)
