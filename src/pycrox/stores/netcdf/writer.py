"""Write pycrox objects to netCDF-4 files through h5netcdf, atomically."""

from __future__ import annotations

from typing import Any

from pycrox._encoding import encode_netcdf
from pycrox.sources import atomic_target
from pycrox.stores import _tree

__all__ = ["write_netcdf"]


def write_netcdf(obj: Any, path: Any, *, mode: str = "w-", storage_options: dict | None = None) -> None:
    """Write a model object to a netCDF-4 file through h5netcdf; see `pycrox.to_netcdf`."""
    tree = _tree.encode_tree(_tree.to_tree(obj), encode_netcdf)
    with atomic_target(path, mode, storage_options, nbytes=tree.nbytes) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)
