"""Open reference sets (kerchunk's JSON format) as pycrox objects through Zarr, with byte-range reads."""

from __future__ import annotations

from typing import Any

import fsspec
import xarray as xr

from pycrox.sources import Source, read_head, tuned_options
from pycrox.stores.zarr.reader import read_store

__all__ = ["guess_can_open", "read_tree"]


def guess_can_open(source: Source) -> bool:
    """Whether `source` is a reference-set JSON file (``{"version": 1, "refs": ...}``)."""
    if source.is_dir():
        return False
    head = read_head(source, 64).lstrip()
    return head.startswith(b"{") and b'"version"' in head[:40] and b'"refs"' in read_head(source, 4096)


def read_tree(source: Source, *, chunks: Any = None) -> tuple[xr.DataTree, str]:
    """Open a reference set as pycrox objects through Zarr: ``(tree, kind)``."""
    import json

    from zarr.storage import FsspecStore

    with source.open() as fh:
        refs = json.load(fh)
    url = next((v[0] for v in refs["refs"].values() if isinstance(v, list) and v), "")
    protocol = fsspec.core.split_protocol(url)[0] or "file"
    remote_options = (
        {**tuned_options(url, source.storage_options), "asynchronous": True} if protocol != "file" else {}
    )
    fs = fsspec.filesystem(
        "reference", fo=refs, remote_protocol=protocol, remote_options=remote_options, asynchronous=True
    )
    store = FsspecStore(fs, path="", read_only=True)
    return read_store(store, source, chunks=chunks)
