"""The ``.pycro`` namespace on xarray objects. Delegation only: no logic lives here."""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox import io, model, units_xr

__all__ = ["PycroCollectionAccessor", "PycroDataArrayAccessor"]


class _Pycro:
    def __init__(self, obj: xr.DataArray | xr.Dataset | xr.DataTree) -> None:
        self._obj = obj  # the only state; never cache values derived from attrs

    def validate(self) -> list[str]:
        """List what keeps this object from being a valid pycrox object; see `pycrox.model.validate`."""
        return model.validate(self._obj)

    def to_zarr(self, store: Any, **kwargs: Any) -> None:
        """Write to a Zarr v3 store; see `pycrox.to_zarr`."""
        io.to_zarr(self._obj, store, **kwargs)

    def to_netcdf(self, path: Any, **kwargs: Any) -> None:
        """Write to netCDF-4; see `pycrox.to_netcdf`."""
        io.to_netcdf(self._obj, path, **kwargs)

    def to_nsid(self, path: Any, **kwargs: Any) -> None:
        """Write to NSID HDF5; see `pycrox.to_nsid`."""
        io.to_nsid(self._obj, path, **kwargs)

    def to_usid(self, path: Any, **kwargs: Any) -> None:
        """Write to USID HDF5; see `pycrox.to_usid`."""
        io.to_usid(self._obj, path, **kwargs)


@xr.register_dataarray_accessor("pycro")
class PycroDataArrayAccessor(_Pycro):
    """pycrox methods on a DataArray, reached as ``da.pycro``."""

    @property
    def data_type(self) -> str:
        """The ``data_type`` attr (``"UNKNOWN"`` when missing)."""
        return str(self._obj.attrs.get("data_type", "UNKNOWN"))

    @property
    def dimension_types(self) -> dict[Any, str]:
        """``{dim: dimension_type}`` from the coordinates (``"UNKNOWN"`` where unset)."""
        return {d: str(self._obj[d].attrs.get("dimension_type", "UNKNOWN")) if d in self._obj.coords
                else "UNKNOWN" for d in self._obj.dims}

    @property
    def metadata(self) -> dict:
        """The nested ``metadata`` dict."""
        return self._obj.attrs.get("metadata", {})

    @property
    def original_metadata(self) -> dict:
        """The nested ``original_metadata`` dict (the file's own tags)."""
        return self._obj.attrs.get("original_metadata", {})

    @property
    def provenance(self) -> dict:
        """The nested ``provenance`` dict."""
        return self._obj.attrs.get("provenance", {})

    def quantify(self) -> xr.DataArray:
        """Data and coordinates as pint quantities; see `pycrox.units_xr.quantify`."""
        return units_xr.quantify(self._obj)

    def dequantify(self) -> xr.DataArray:
        """Back to plain arrays with ``units`` attrs; see `pycrox.units_xr.dequantify`."""
        return units_xr.dequantify(self._obj)

    def to_units(self, **units: str) -> xr.DataArray:
        """Convert coordinates (by dim name) or the data (``data=``); see `pycrox.units_xr.to_units`."""
        return units_xr.to_units(self._obj, **units)


@xr.register_dataset_accessor("pycro")
@xr.register_datatree_accessor("pycro")
class PycroCollectionAccessor(_Pycro):
    """pycrox methods on a Dataset or DataTree, reached as ``ds.pycro`` / ``dt.pycro``."""
