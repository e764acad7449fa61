"""Read pycrox objects from netCDF-4 files (through h5netcdf)."""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox.sources import Source
from pycrox.stores import _tree

__all__ = ["guess_can_open", "read_tree"]


def guess_can_open(source: Source) -> bool:
    """Whether `source` is a netCDF-4 file (or an HDF5 file pycrox wrote as netCDF)."""
    from pycrox._hdf5 import is_hdf5

    if source.is_dir() or not is_hdf5(source):
        return False
    import h5py

    try:
        with h5py.File(source.path, "r") if source.path else h5py.File(source.shared_handle(), "r") as f:
            return "_NCProperties" in f.attrs or _tree.KIND_ATTR in f.attrs
    except (OSError, RuntimeError, KeyError, ValueError):
        return False


def read_tree(source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Read a pycrox netCDF file as a tree, and the kind of object it holds.

    Raises
    ------
    FormatError
        If the file cannot be read, or stores data outside itself (`pycrox._hdf5.check_storage`).
    """
    from pycrox._hdf5 import open_file_manager

    manager, _ = open_file_manager(source)  # refuses external and virtual storage before xarray reads
    manager.close()
    return _tree.read(source.target, source.name, engine="h5netcdf", chunks=chunks)
