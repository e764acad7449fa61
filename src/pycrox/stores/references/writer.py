"""Reference sets: open an HDF5 file (NSID, USID, ...) through Zarr with byte-range reads only.

`pycrox.references(path)` reads a file once with pycrox, then `write_references` writes a reference set in kerchunk's
format (version 1 JSON): Zarr v2 metadata carrying pycrox's own encoded attrs, small variables
inlined, and for every HDF5-backed array one reference ``[url, offset, length]`` per HDF5 chunk.
`pycrox.open("x.refs.json")` then reads through fsspec's ``reference://`` filesystem and Zarr:
no h5py on the read path, one ranged GET per chunk, issued concurrently.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox._encoding import encode_json
from pycrox._hdf5 import HDF5_LOCK, LazyH5Array
from pycrox.errors import FormatError
from pycrox.sources import Source, atomic_target
from pycrox.stores._tree import KIND_ATTR

__all__ = ["write_references"]

_INLINE_LIMIT = 2**20  # variables not backed by plain HDF5 chunks are inlined up to this size
_CODECS = {"gzip": lambda opts, item: {"id": "zlib", "level": int(opts or 4)}}


def write_references(tree: xr.DataTree, src: Source, out: Any = None, *, mode: str = "w-") -> dict:
    """Write (and return) a reference set for the lazily opened `tree` of the HDF5 file `src`.

    Parameters
    ----------
    tree : xarray.DataTree
        `src` opened by a pycrox reader (its variables still backed by the file's datasets).
    src : pycrox.sources.Source
        The file; the references point at its URL (or absolute path).
    out : str, os.PathLike or URL, optional
        Where to write the JSON; not written when omitted.
    mode : {"w-", "w"}
        Refuse (default) or replace an existing `out`.

    Returns
    -------
    dict
        ``{"version": 1, "refs": {...}}`` as kerchunk writes it.

    Raises
    ------
    FormatError
        If an array is neither plain HDF5 chunks nor small enough to inline.
    """
    url = src.url or os.path.abspath(src.path or "")
    tree.attrs = {**tree.attrs, KIND_ATTR: "DataTree"}
    refs: dict[str, Any] = {".zgroup": json.dumps({"zarr_format": 2})}
    for node in tree.subtree:
        _add_group(refs, node, url, src)
    refs[".zmetadata"] = json.dumps(
        {
            "zarr_consolidated_format": 1,
            "metadata": {
                k: json.loads(v)
                for k, v in refs.items()
                if k.rsplit("/", 1)[-1] in (".zgroup", ".zattrs", ".zarray")
            },
        }
    )
    result = {"version": 1, "refs": refs}
    if out is not None:
        with atomic_target(out, mode, src.storage_options) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(result, fh)
    return result


def _prefix(node: xr.DataTree) -> str:
    return node.path.strip("/") + "/" if node.path != "/" else ""


def _add_group(refs: dict, node: xr.DataTree, url: str, src: Source) -> None:
    prefix = _prefix(node)
    if prefix:
        refs[f"{prefix}.zgroup"] = json.dumps({"zarr_format": 2})
    refs[f"{prefix}.zattrs"] = json.dumps(encode_json(dict(node.attrs)))
    ds = node.to_dataset(inherit=False)
    for name, var in ds.variables.items():
        _add_array(refs, f"{prefix}{name}", var, url, src, list(ds.coords) if name in ds.data_vars else [])


def _add_array(refs: dict, key: str, var: xr.Variable, url: str, src: Source, coords: list) -> None:
    attrs = encode_json(dict(var.attrs))
    attrs["_ARRAY_DIMENSIONS"] = [str(d) for d in var.dims]
    dtype = var.dtype
    if dtype.kind in "OUS" or dtype.names:
        raise FormatError(src.name, f"cannot reference {key!r} of dtype {dtype}", where=key)
    meta = {
        "zarr_format": 2,
        "shape": list(var.shape),
        "dtype": dtype.str,
        "order": "C",
        "fill_value": None,
        "compressor": None,
        "filters": None,
        "chunks": list(var.shape) or [],
    }
    backing = _h5_backing(var)
    if backing is not None:
        meta.update(_chunk_refs(refs, key, backing, url, dtype, src))
    elif var.nbytes <= _INLINE_LIMIT:
        values = np.ascontiguousarray(var.values)
        refs[f"{key}/{_chunk_key([0] * var.ndim)}"] = "base64:" + base64.b64encode(values.tobytes()).decode()
    else:
        raise FormatError(
            src.name, f"{key!r} is not stored as plain HDF5 chunks and is too large to inline", where=key
        )
    refs[f"{key}/.zarray"] = json.dumps(meta)
    refs[f"{key}/.zattrs"] = json.dumps(attrs)


def _h5_backing(var: xr.Variable) -> tuple[h5py.Dataset, Any] | None:
    """The HDF5 dataset behind a lazily indexed variable, when it is read whole and unchanged."""
    data: Any = var._data
    while not isinstance(data, LazyH5Array):
        if isinstance(data, indexing.LazilyIndexedArray) and any(
            not (isinstance(k, slice) and k == slice(None)) for k in data.key.tuple
        ):
            return None
        data = getattr(data, "array", None)
        if data is None:
            return None
    if data._field is not None or tuple(data.shape) != tuple(var.shape):
        return None
    with HDF5_LOCK:
        dset = data._manager.acquire()[data._h5path]
    return (dset, data) if dset.dtype == var.dtype or dset.dtype.kind == "c" else None


def _chunk_refs(refs: dict, key: str, backing: tuple, url: str, dtype: np.dtype, src: Source) -> dict:
    dset, _ = backing
    if dset.shape == () or dset.size == 0:
        refs[f"{key}/{_chunk_key([0] * dset.ndim)}"] = (
            "base64:" + base64.b64encode(np.ascontiguousarray(dset[()]).astype(dtype).tobytes()).decode()
        )
        return {}
    filters = dict(dset._filters)
    compressor = None
    numcodec_filters = []
    if "shuffle" in filters:
        numcodec_filters.append({"id": "shuffle", "elementsize": int(dtype.itemsize)})
    if "gzip" in filters:
        compressor = _CODECS["gzip"](filters["gzip"], dtype.itemsize)
    unknown = set(filters) - {"shuffle", "gzip"}
    if unknown:
        raise FormatError(
            src.name, f"HDF5 filters {sorted(unknown)} have no Zarr codec here", where=dset.name
        )
    if dset.chunks is None:
        refs[f"{key}/{_chunk_key([0] * dset.ndim)}"] = [
            url,
            int(dset.id.get_offset()),
            int(dset.id.get_storage_size()),
        ]
        return {"chunks": list(dset.shape), "compressor": None, "filters": None}
    for offset, info in _chunks(dset):
        index = [o // c for o, c in zip(offset, dset.chunks, strict=True)]
        refs[f"{key}/{_chunk_key(index)}"] = [url, int(info.byte_offset), int(info.size)]
    return {
        "chunks": list(dset.chunks),
        "compressor": compressor,
        "filters": numcodec_filters or None,
        "fill_value": _fill(dset),
    }


def _fill(dset: h5py.Dataset) -> Any:
    value = dset.fillvalue
    return (
        encode_json(value.item() if isinstance(value, np.generic) else value) if value is not None else None
    )


def _chunks(dset: h5py.Dataset) -> Iterator[tuple[tuple[int, ...], Any]]:
    for i in range(dset.id.get_num_chunks()):
        info = dset.id.get_chunk_info(i)
        if info.filter_mask:
            raise FormatError(
                dset.file.filename, "a chunk skipped a filter; cannot reference it", where=dset.name
            )
        yield info.chunk_offset, info


def _chunk_key(index: list[int]) -> str:
    return ".".join(str(i) for i in index) if index else "0"
