"""Read pycrox objects from Zarr v2/v3 stores (local, fsspec URLs, or store objects)."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import fsspec
import xarray as xr

from pycrox.errors import StoreChangedError
from pycrox.sources import Source, tuned_options
from pycrox.stores import _tree
from pycrox.stores.zarr._guard import GuardedStore

__all__ = ["guess_can_open", "is_zarr", "read_store", "read_tree", "zarr_format"]

#: opens tried when the store is replaced while its metadata is read (nothing was handed out yet)
_OPEN_ATTEMPTS = 3


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


def guess_can_open(source: Source) -> bool:
    """Whether `source` is a Zarr store (a ``.zarr`` name or a directory, with Zarr metadata)."""
    return (source.suffix == ".zarr" or source.is_dir()) and is_zarr(source)


def read_tree(source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Read a pycrox Zarr store as a tree, and the kind of object it holds."""
    kwargs: dict[str, Any] = {"zarr_format": zarr_format(source)}  # no probing for the other format's keys
    if source.path is None:
        if source.url is not None:
            kwargs["storage_options"] = tuned_options(source.url, source.storage_options)
        return _tree.read(source.target, source.name, engine="zarr", chunks=chunks, **kwargs)
    # a local store: reads that may come from a store replaced since the open fail (see _guard)
    path = source.path
    for _ in range(_OPEN_ATTEMPTS - 1):
        with contextlib.suppress(StoreChangedError):
            return _tree.read(GuardedStore(path), source.name, engine="zarr", chunks=chunks, **kwargs)
    return _tree.read(GuardedStore(path), source.name, engine="zarr", chunks=chunks, **kwargs)


def read_store(store: Any, source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Read a Zarr store object (e.g. over a reference filesystem) as a tree, and its kind."""
    return _tree.read(store, source.name, engine="zarr", chunks=chunks, consolidated=True)
