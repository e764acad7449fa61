"""The ``.pycro.stem4d`` namespace: 4-D STEM. Delegation only: no logic lives here."""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox.analysis import stem4d

__all__ = ["STEM4DNamespace"]


class STEM4DNamespace:
    """4-D STEM methods on a DataArray, reached as ``da.pycro.stem4d``; see `pycrox.analysis.stem4d`."""

    def __init__(self, obj: xr.DataArray) -> None:
        self._obj = obj

    def virtual_image(self, inner: Any = None, outer: Any = None, **kwargs: Any) -> xr.DataArray:
        """Image from a virtual detector (disk, annulus or mask); see `pycrox.analysis.stem4d.virtual_image`."""
        return stem4d.virtual_image(self._obj, inner, outer, **kwargs)

    def virtual_diffraction(self, region: Any = None, **kwargs: Any) -> xr.DataArray:
        """Mean or max pattern over a scan region; see `pycrox.analysis.stem4d.virtual_diffraction`."""
        return stem4d.virtual_diffraction(self._obj, region, **kwargs)

    def center_of_mass(self, **kwargs: Any) -> xr.Dataset:
        """Centre of mass of every pattern; see `pycrox.analysis.stem4d.center_of_mass`."""
        return stem4d.center_of_mass(self._obj, **kwargs)

    def dpc(self, **kwargs: Any) -> xr.Dataset:
        """Descanned, rotated DPC and iDPC; see `pycrox.analysis.stem4d.dpc`."""
        return stem4d.dpc(self._obj, **kwargs)

    def find_disks(self, template: Any, **kwargs: Any) -> xr.Dataset:
        """Bragg disks by template cross-correlation; see `pycrox.analysis.stem4d.find_disks`."""
        return stem4d.find_disks(self._obj, template, **kwargs)

    def strain(
        self, template: Any, g1: Any, g2: Any, *, disk_options: dict | None = None, **kwargs: Any
    ) -> xr.Dataset:
        """Strain maps from the Bragg disks found with `template`; see `pycrox.analysis.stem4d.strain`."""
        return stem4d.strain(stem4d.find_disks(self._obj, template, **(disk_options or {})), g1, g2, **kwargs)
