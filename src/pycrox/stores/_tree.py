"""What the Zarr, netCDF and reference-set stores share: how a model object becomes a tree and back.

Attrs go through `pycrox._encoding` (JSON in Zarr, prefixed JSON text in netCDF). A DataArray is
stored as a one-variable Dataset, a Dataset as it is, a DataTree as groups; the root carries
``pycrox_kind`` so `read` gives back the same kind of object. CF decoding that would change
values (times, time deltas, masking, scaling) is off on read and no ``_FillValue`` is written.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox import model
from pycrox._encoding import decode_json, decode_netcdf, map_attrs
from pycrox.errors import FormatError, PycroxError

__all__ = ["KIND_ATTR", "encode_tree", "read", "to_tree", "unwrap"]

KIND_ATTR = "pycrox_kind"
_UNNAMED = "__xarray_dataarray_variable__"
_OPEN_OPTIONS: dict[str, Any] = {"decode_times": False, "decode_timedelta": False, "mask_and_scale": False}


def to_tree(obj: xr.DataArray | xr.Dataset | xr.DataTree) -> xr.DataTree:
    """The tree a store holds for `obj`, its root marked with the kind of object it was."""
    if isinstance(obj, xr.DataTree):
        tree = obj.copy()
        tree.attrs = {**tree.attrs, KIND_ATTR: "DataTree"}
        return tree
    if isinstance(obj, xr.DataArray):
        name = _UNNAMED if obj.name is None else obj.name
        ds = obj.to_dataset(name=name, promote_attrs=False)
        ds.attrs = {KIND_ATTR: "DataArray"}
        return xr.DataTree(ds)
    ds = obj.copy(deep=False)
    ds.attrs = {**ds.attrs, KIND_ATTR: "Dataset"}
    return xr.DataTree(ds)


def encode_tree(tree: xr.DataTree, func: Any) -> xr.DataTree:
    """Every node's attrs encoded with `func`, and no fill values."""
    return tree.map_over_datasets(lambda ds: _no_fill(map_attrs(ds, func)))


def _no_fill(ds: xr.Dataset) -> xr.Dataset:
    for variable in ds.variables.values():
        variable.encoding = {**variable.encoding, "_FillValue": None}
    return ds


def read(target: Any, name: str, *, engine: str, chunks: Any, **kwargs: Any) -> tuple[xr.DataTree, str]:
    """Open `target` with xarray's `engine`, decode the attrs: ``(tree, kind)``."""
    try:
        tree = xr.open_datatree(target, engine=engine, chunks=chunks, **_OPEN_OPTIONS, **kwargs)
    except PycroxError:
        raise
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(name, f"cannot be read as {engine}: {exc}") from exc
    decode = decode_json if engine == "zarr" else decode_netcdf
    try:
        tree = tree.map_over_datasets(lambda ds: map_attrs(ds, decode))
        for node in tree.subtree:  # group attrs: map_over_datasets leaves node attrs of empty groups alone
            node.attrs = {k: decode(v) for k, v in node.attrs.items()}
    except (ValueError, KeyError, TypeError) as exc:  # attrs pycrox did not encode as it does
        raise FormatError(name, f"holds an attribute pycrox cannot decode: {exc}") from exc
    kind = tree.attrs.get(KIND_ATTR, "DataTree")
    tree.attrs = {k: v for k, v in tree.attrs.items() if k != KIND_ATTR}
    return tree, kind


def unwrap(tree: xr.DataTree, kind: str, group: str | None, name: str) -> xr.DataArray | xr.Dataset:
    """The object `write_*` stored: a DataArray or Dataset, or one signal of a tree."""
    if kind == "DataArray" and group is None:
        ds = tree.to_dataset()
        var = next(iter(ds.data_vars))
        da = ds[var]
        return da.rename(None) if var == _UNNAMED else da
    if kind == "Dataset" and group is None:
        return tree.to_dataset()
    return model.select_signal(tree, group, name)
