"""pycroscopy-era conventions of USID files that pycrox meets when appending results.

`find_source`: the main dataset a result's ``source=`` object was read from, when the object
no longer carries its HDF5 path (a dtype conversion, ``astype``, drops xarray's encoding): the
one main dataset of the file with the object's name and as many values as it has.
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import xarray as xr

from pycrox.adapters.usid import mapping
from pycrox.errors import ModelError

__all__ = ["find_source"]


def _main_datasets(h5: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []

    def visit(_: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and all(name in obj.attrs for name in mapping.ANCILLARY):
            found.append(obj)

    h5.visititems(visit)
    return found


def find_source(h5: h5py.File, source: Any) -> str:
    """The HDF5 path of the main dataset of `h5` that `source` (converted after reading) came from.

    Parameters
    ----------
    h5 : h5py.File
        The open target file.
    source : xarray.DataArray or xarray.Dataset
        An object read from the file, perhaps converted (another dtype) since.

    Returns
    -------
    str
        The path of the one main dataset named like `source` with as many values.

    Raises
    ------
    ModelError
        When none or several main datasets match; pass ``source=`` as the HDF5 path then.
    """
    variables = (
        [source] if isinstance(source, xr.DataArray) else list(getattr(source, "data_vars", {}).values())
    )
    if not variables:
        raise ModelError(
            "source= must be the HDF5 path of the source main dataset, or an object read from it"
        )
    var = variables[0]
    size = math.prod(var.shape)
    name = str(var.name) if var.name is not None else None
    candidates = [
        dset
        for dset in _main_datasets(h5)
        if dset.size == size and (name is None or dset.name.rsplit("/", 1)[-1] == name)
    ]
    if len(candidates) != 1:
        found = [d.name for d in candidates]
        raise ModelError(
            f"source= has no HDF5 path (converted after reading?) and {len(found)} main datasets of "
            f"{h5.filename} are named {name!r} with {size} values ({found}); pass source= as the HDF5 path"
        )
    return str(candidates[0].name)
