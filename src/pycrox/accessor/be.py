"""The ``.pycro.be`` namespace: band-excitation piezoresponse. Delegation only: no logic lives here."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import xarray as xr

__all__ = ["BENamespace"]


class BENamespace:
    """Band-excitation piezoresponse methods on a DataArray, reached as ``da.pycro.be``; see `pycrox.analysis.be`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def sho_guess(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """SHO starting values of every pixel; see `pycrox.analysis.be.sho_guess`."""
        from pycrox.analysis import be

        return be.sho_guess(self._obj, dim, **kwargs)

    def sho_fit(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """SHO fit of every pixel's complex response; see `pycrox.analysis.be.sho_fit`."""
        from pycrox.analysis import be

        return be.sho_fit(self._obj, dim, **kwargs)

    def loop_project(self, dim: Hashable | None = None) -> xr.Dataset:
        """Project complex loops onto their axis; see `pycrox.analysis.be.loop_project`."""
        from pycrox.analysis import be

        return be.loop_project(self._obj, dim)

    def loop_guess(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """Starting values of the 9-parameter loop model; see `pycrox.analysis.be.loop_guess`."""
        from pycrox.analysis import be

        return be.loop_guess(self._obj, dim, **kwargs)

    def loop_fit(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """Fit BGlib's 9-parameter loop model to every loop; see `pycrox.analysis.be.loop_fit`."""
        from pycrox.analysis import be

        return be.loop_fit(self._obj, dim, **kwargs)

    def loop_metrics(self, dim: Hashable | None = None, **kwargs: Any) -> xr.Dataset:
        """Loop geometry and switching parameters; see `pycrox.analysis.be.loop_metrics`."""
        from pycrox.analysis import be

        return be.loop_metrics(self._obj, dim, **kwargs)
