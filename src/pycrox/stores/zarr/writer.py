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
    tree = tree.map_over_datasets(_spectral_shards)
    if is_local(store):
        with atomic_target(store, mode, store="zarr") as tmp:
            _quiet_to_zarr(tree, tmp)
        return
    fs, path = fsspec.core.url_to_fs(store, **(storage_options or {}))
    if fs.exists(path) and mode == "w-":
        raise WriteError(f"{store}: exists; pass mode='w' to overwrite it")
    _quiet_to_zarr(tree, store, storage_options=storage_options)


#: channels per stored chunk inside a shard along a SPECTRAL dim (a viewer's navigator window)
SPECTRAL_INNER = 64


def _spectral_shards(ds: xr.Dataset) -> xr.Dataset:
    """Chunks spanning a long SPECTRAL dim are written as shards of inner chunks of 64 channels.

    A spectrum image chunked (64, 64, 2048) is then still one object per (64, 64, 2048) block, but
    reading a channel window (a viewer's navigator, a band map) decodes only the inner chunks of
    that window, not all 2048 channels: at 512 x 512 x 2048, 0.12 s instead of 5-7 s (zstd decodes
    ~600 MB/s per core; benchmarks/bench_viewers.py, docs/viewers.md).
    Only dask variables with regular chunks and no chunks or shards of their own in ``encoding``.
    """
    for variable in ds.data_vars.values():
        chunks = variable.chunks
        if chunks is None or {"shards", "chunks"} & set(variable.encoding):
            continue
        shard = [c[0] for c in chunks]
        regular = all(all(n == c[0] for n in c[:-1]) and c[-1] <= c[0] for c in chunks)
        inner = list(shard)
        for axis, dim in enumerate(variable.dims):
            coordinate = ds.coords.get(dim)
            spectral = coordinate is not None and coordinate.attrs.get("dimension_type") == "SPECTRAL"
            if spectral and shard[axis] > 2 * SPECTRAL_INNER and shard[axis] % SPECTRAL_INNER == 0:
                inner[axis] = SPECTRAL_INNER
        if regular and inner != shard:
            variable.encoding = {**variable.encoding, "shards": tuple(shard), "chunks": tuple(inner)}
    return ds


def _quiet_to_zarr(tree: xr.DataTree, store: Any, **kwargs: Any) -> None:
    with warnings.catch_warnings():  # consolidated metadata is a zarr-python extension to v3; we want it
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        # fixed-length unicode (e.g. an ``rgb`` coordinate "R", "G", "B"): written as zarr's
        # fixed-length UTF-32 type so the dtype comes back exactly; zarr calls it unstable
        warnings.filterwarnings("ignore", message=r".*does not have a Zarr V3 specification")
        tree.to_zarr(store, mode="w", consolidated=True, zarr_format=3, **kwargs)
