"""pycrox objects in Zarr v3 and netCDF (h5netcdf): the stores every xarray tool reads.

Attrs go through `pycrox._encoding` (JSON in Zarr, prefixed JSON text in netCDF). A DataArray is
stored as a one-variable Dataset, a Dataset as it is, a DataTree as groups; the root carries
``pycrox_kind`` so `read` gives back the same kind of object. CF decoding that would change
values (times, time deltas, masking, scaling) is off on read and no ``_FillValue`` is written.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import fsspec
import xarray as xr

from pycrox import model
from pycrox._encoding import decode_json, decode_netcdf, encode_json, encode_netcdf, map_attrs
from pycrox.errors import FormatError, WriteError
from pycrox.sources import Source, atomic_target, is_local, read_head, tuned_options

__all__ = [
    "KIND_ATTR",
    "is_references",
    "is_zarr",
    "open_references",
    "read_store",
    "read_tree",
    "unwrap",
    "write_netcdf",
    "write_zarr",
    "zarr_format",
]

KIND_ATTR = "pycrox_kind"
_UNNAMED = "__xarray_dataarray_variable__"
_OPEN_OPTIONS = {"decode_times": False, "decode_timedelta": False, "mask_and_scale": False}


def zarr_format(source: Source) -> int | None:
    """The Zarr format of the store at `source` (3 or 2), or None when it is no Zarr store."""
    if source.fileobj is not None:
        return None
    if source.path is not None:
        exists, root = os.path.exists, source.path
    else:
        fs, root = fsspec.core.url_to_fs(source.url, **source.storage_options)
        exists = fs.exists
    root = root.rstrip("/")
    if exists(f"{root}/zarr.json"):
        return 3
    return 2 if any(exists(f"{root}/{name}") for name in (".zgroup", ".zarray")) else None


def is_zarr(source: Source) -> bool:
    """Whether `source` is a Zarr store (v2 or v3 metadata at its root)."""
    return zarr_format(source) is not None


def _to_tree(obj: xr.DataArray | xr.Dataset | xr.DataTree) -> xr.DataTree:
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


def _encode_tree(tree: xr.DataTree, func: Any) -> xr.DataTree:
    return tree.map_over_datasets(lambda ds: _no_fill(map_attrs(ds, func)))


def _no_fill(ds: xr.Dataset) -> xr.Dataset:
    for variable in ds.variables.values():
        variable.encoding = {**variable.encoding, "_FillValue": None}
    return ds


def write_zarr(obj: Any, store: Any, *, mode: str = "w-", storage_options: dict | None = None,
               chunks: dict | None = None) -> None:
    """Write a model object to a Zarr v3 store (consolidated metadata); see `pycrox.to_zarr`."""
    tree = _encode_tree(_to_tree(obj), encode_json)
    if chunks:
        tree = tree.chunk(chunks)
    if is_local(store):
        with atomic_target(store, mode) as tmp:
            _quiet_to_zarr(tree, tmp)
        return
    fs, path = fsspec.core.url_to_fs(store, **(storage_options or {}))
    if fs.exists(path) and mode == "w-":
        raise WriteError(f"{store}: exists; pass mode='w' to overwrite it")
    _quiet_to_zarr(tree, store, storage_options=storage_options)


def _quiet_to_zarr(tree: xr.DataTree, store: Any, **kwargs: Any) -> None:
    with warnings.catch_warnings():  # consolidated metadata is a zarr-python extension to v3; we want it
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        # fixed-length unicode (e.g. an ``rgb`` coordinate "R", "G", "B"): written as zarr's
        # fixed-length UTF-32 type so the dtype comes back exactly; zarr calls it unstable
        warnings.filterwarnings("ignore", message=r".*does not have a Zarr V3 specification")
        tree.to_zarr(store, mode="w", consolidated=True, zarr_format=3, **kwargs)


def write_netcdf(obj: Any, path: Any, *, mode: str = "w-") -> None:
    """Write a model object to a netCDF-4 file through h5netcdf; see `pycrox.to_netcdf`."""
    tree = _encode_tree(_to_tree(obj), encode_netcdf)
    with atomic_target(path, mode) as tmp:
        tree.to_netcdf(tmp, engine="h5netcdf", invalid_netcdf=True)


def read_tree(source: Source, *, engine: str, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Read a pycrox Zarr store or netCDF file as a tree, and the kind of object it holds."""
    target = source.path or source.url or source.fileobj
    kwargs: dict[str, Any] = {}
    if engine == "zarr":
        kwargs["zarr_format"] = zarr_format(source)  # no probing for the other format's keys
        if source.url is not None:
            kwargs["storage_options"] = tuned_options(source.url, source.storage_options)
    return _read(target, source.name, engine=engine, chunks=chunks, **kwargs)


def read_store(store: Any, source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Read a Zarr store object (e.g. over a reference filesystem) as a tree, and its kind."""
    return _read(store, source.name, engine="zarr", chunks=chunks, consolidated=True)


def _read(target: Any, name: str, *, engine: str, chunks: Any, **kwargs: Any) -> tuple[xr.DataTree, str]:
    try:
        tree = xr.open_datatree(target, engine=engine, chunks=chunks, **_OPEN_OPTIONS, **kwargs)
    except (OSError, KeyError, ValueError) as exc:
        raise FormatError(name, f"cannot be read as {engine}: {exc}") from exc
    decode = decode_json if engine == "zarr" else decode_netcdf
    tree = tree.map_over_datasets(lambda ds: map_attrs(ds, decode))
    for node in tree.subtree:  # group attrs: map_over_datasets leaves node attrs of empty groups alone
        node.attrs = {k: decode(v) for k, v in node.attrs.items()}
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


def is_references(source: Source) -> bool:
    """Whether `source` is a reference-set JSON file (``{"version": 1, "refs": ...}``)."""
    if source.is_dir():
        return False
    head = read_head(source, 64).lstrip()
    return head.startswith(b"{") and b'"version"' in head[:40] and b'"refs"' in read_head(source, 4096)


def open_references(source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Open a reference set as pycrox objects through Zarr: ``(tree, kind)``."""
    import json

    from zarr.storage import FsspecStore

    with source.open() as fh:
        refs = json.load(fh)
    url = next((v[0] for v in refs["refs"].values() if isinstance(v, list) and v), "")
    protocol = fsspec.core.split_protocol(url)[0] or "file"
    remote_options = {**tuned_options(url, source.storage_options), "asynchronous": True} if protocol != "file" else {}
    fs = fsspec.filesystem("reference", fo=refs, remote_protocol=protocol, remote_options=remote_options,
                           asynchronous=True)
    store = FsspecStore(fs, path="", read_only=True)
    return read_store(store, source, chunks=chunks)
