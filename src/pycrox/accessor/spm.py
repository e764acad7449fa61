"""The ``.pycro.spm`` namespace: scanning-probe corrections and statistics. Delegation only: no logic lives here."""

from __future__ import annotations

from typing import Any

import xarray as xr

__all__ = ["SPMNamespace"]


class SPMNamespace:
    """Scanning-probe corrections and statistics methods on a DataArray, reached as ``da.pycro.spm``; see `pycrox.analysis.spm`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def align_rows(self, method: Any = "median", **kwargs: Any) -> xr.DataArray:
        """Remove scan-line offsets; see `pycrox.analysis.spm.align_rows`."""
        from pycrox.analysis import spm

        return spm.align_rows(self._obj, method, **kwargs)

    def remove_scars(self, **kwargs: Any) -> xr.DataArray:
        """Interpolate over scan-line scars; see `pycrox.analysis.spm.remove_scars`."""
        from pycrox.analysis import spm

        return spm.remove_scars(self._obj, **kwargs)

    def level_three_point(self, points: Any, **kwargs: Any) -> xr.DataArray:
        """Subtract the plane through three points; see `pycrox.analysis.spm.level_three_point`."""
        from pycrox.analysis import spm

        return spm.level_three_point(self._obj, points, **kwargs)

    def level_facets(self, **kwargs: Any) -> xr.DataArray:
        """Make the dominant facets horizontal; see `pycrox.analysis.spm.level_facets`."""
        from pycrox.analysis import spm

        return spm.level_facets(self._obj, **kwargs)

    def fix_zero(self, to: Any = "minimum", **kwargs: Any) -> xr.DataArray:
        """Shift the minimum (or mean, median) to zero; see `pycrox.analysis.spm.fix_zero`."""
        from pycrox.analysis import spm

        return spm.fix_zero(self._obj, to, **kwargs)

    def roughness(self, **kwargs: Any) -> xr.Dataset:
        """ISO 25178 areal and per-profile roughness; see `pycrox.analysis.spm.roughness`."""
        from pycrox.analysis import spm

        return spm.roughness(self._obj, **kwargs)

    def grains(self, method: Any = "threshold", **kwargs: Any) -> xr.Dataset:
        """Grain labels and per-grain measures; see `pycrox.analysis.spm.grains`."""
        from pycrox.analysis import spm

        return spm.grains(self._obj, method, **kwargs)
