"""Write pycrox objects to Zarr v3 stores (consolidated metadata), atomically where the store allows."""

from __future__ import annotations

import warnings
from typing import Any

import fsspec
import xarray as xr

from pycrox._encoding import encode_json
from pycrox.errors import WriteError
from pycrox.sources import atomic_target, is_local
from pycrox.stores import _tree

__all__ = ["write_zarr"]


def write_zarr(
    obj: Any, store: Any, *, mode: str = "w-", storage_options: dict | None = None, chunks: dict | None = None
) -> None:
    """Write a model object to a Zarr v3 store (consolidated metadata); see `pycrox.to_zarr`."""
    tree = _tree.encode_tree(_tree.to_tree(obj), encode_json)
    if chunks:
        tree = tree.chunk(chunks)
    if is_local(store):
        with atomic_target(store, mode, store="zarr") as tmp:
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
