"""The ``.pycro.eels`` namespace: electron energy-loss spectroscopy. Delegation only: no logic lives here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import xarray as xr

from pycrox.analysis import eels

__all__ = ["EELSNamespace"]


class EELSNamespace:
    """Electron energy-loss spectroscopy methods on a DataArray, reached as ``da.pycro.eels``; see `pycrox.analysis.eels`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def background(self, window: Sequence[Any], model: str = "powerlaw", **kwargs: Any) -> xr.Dataset:
        """Fit a pre-edge background and subtract it; see `pycrox.analysis.eels.background`."""
        return eels.background(self._obj, window, model, **kwargs)

    def align_zero_loss(self, **kwargs: Any) -> xr.Dataset:
        """Move every zero-loss peak to 0 eV; see `pycrox.analysis.eels.align_zero_loss`."""
        return eels.align_zero_loss(self._obj, **kwargs)

    def thickness(self, mean_free_path: Any = None, **kwargs: Any) -> xr.Dataset:
        """Log-ratio t/lambda and thickness; see `pycrox.analysis.eels.thickness`."""
        return eels.thickness(self._obj, mean_free_path=mean_free_path, **kwargs)

    def deconvolve(
        self, method: str = "fourier_log", low_loss: xr.DataArray | None = None, **kwargs: Any
    ) -> xr.DataArray:
        """Single-scattering distribution by Fourier-log or Fourier-ratio; see `pycrox.analysis.eels.deconvolve`."""
        return eels.deconvolve(self._obj, method, low_loss=low_loss, **kwargs)

    def kramers_kronig(self, **kwargs: Any) -> xr.Dataset:
        """Dielectric function and thickness; see `pycrox.analysis.eels.kramers_kronig`."""
        return eels.kramers_kronig(self._obj, **kwargs)

    def edges(self, element: str | Sequence[str], **kwargs: Any) -> xr.DataArray:
        """Edge onsets of elements over a dim ``edge``; see `pycrox.analysis.eels.edges`."""
        return eels.edges(self._obj, element, **kwargs)

    def composition(self, elements: Sequence[str], **kwargs: Any) -> xr.Dataset:
        """Atomic fractions from edge integrals and cross-sections; see `pycrox.analysis.eels.composition`."""
        return eels.composition(self._obj, elements, **kwargs)
