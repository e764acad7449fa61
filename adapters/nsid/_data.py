"""Array data into HDF5: storage layout (chunks, compression) and streaming writes.

numpy data are written in one call; dask data block by block (a few blocks in memory at a time);
lazily indexed data (e.g. a variable opened from another file) in slabs through dask, so nothing
is ever loaded whole.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
import xarray as xr

from pycrox._hdf5 import WRITE_BATCH_BYTES, write_array
from pycrox.errors import ModelError

__all__ = ["StorageOptions", "create_dataset", "write_data"]

#: target bytes of one slab when streaming lazily indexed data
SLAB_BYTES = 64 * 2**20
#: dask blocks computed together (at least two blocks); two batches are in memory at most
BATCH_BYTES = WRITE_BATCH_BYTES
_COMPRESSION_NAMES = ("gzip", "lzf", "szip")


@dataclass(frozen=True)
class StorageOptions:
    """How main datasets are stored.

    chunks : None, bool, tuple or dict
        None: the chunks the variable was read with (``encoding["chunksizes"]``), else contiguous
        (or h5py's automatic chunks when compressed). True: h5py's automatic chunks. False:
        contiguous. A tuple (one size per axis) or a ``{dim: size}`` dict (other dims whole).
    compression : None, bool, str or int
        ``"gzip"``, ``"lzf"``, a gzip level 0-9 or True (gzip); False: none; None: the variable's
        encoding, if any.
    compression_opts : Any
        Passed to h5py (the gzip level).
    """

    chunks: Any = None
    compression: Any = None
    compression_opts: Any = None


#: data larger than this are written in chunks by default (streamed reads and writes of frames)
CHUNKED_ABOVE = 8 * 2**20
#: the size of one default chunk
CHUNK_BYTES = 4 * 2**20


def frame_chunks(variable: xr.Variable) -> tuple[int, ...] | None:
    """Default chunks: whole frames (the last two dims) of at most `CHUNK_BYTES`, tiles of larger frames.

    Data up to `CHUNKED_ABOVE` bytes stay contiguous (None), as pyNSID writes them.

    Examples
    --------
    >>> frame_chunks(xr.Variable(("t", "y", "x"), np.empty((100, 1024, 1024), "u2")))
    (2, 1024, 1024)
    >>> frame_chunks(xr.Variable(("y", "x"), np.empty((8192, 8192), "f8")))
    (64, 8192)
    """
    shape, itemsize = variable.shape, variable.dtype.itemsize
    if variable.ndim == 0 or variable.size * itemsize <= CHUNKED_ABOVE:
        return None
    chunks = list(shape)
    for axis in range(variable.ndim):  # leading dims one by one, then rows of the last frame dims
        if int(np.prod(chunks, dtype=np.int64)) * itemsize <= CHUNK_BYTES:
            break
        rest = int(np.prod(chunks[axis + 1 :], dtype=np.int64)) * itemsize
        chunks[axis] = max(1, min(shape[axis], CHUNK_BYTES // max(rest, 1)))
    return tuple(chunks)


def _chunk_shape(variable: xr.Variable, options: StorageOptions, compressed: bool) -> Any:
    chunks = options.chunks
    if chunks is None:
        chunks = variable.encoding.get("chunksizes") or (True if compressed else frame_chunks(variable))
    if chunks is None or chunks is False:
        return None
    if chunks is True:
        return True
    if isinstance(chunks, Mapping):
        chunks = tuple(
            int(chunks.get(dim, size)) for dim, size in zip(variable.dims, variable.shape, strict=True)
        )
    chunks = tuple(int(c) for c in chunks)
    if len(chunks) != variable.ndim:
        raise ModelError(f"chunks {chunks} do not fit the {variable.ndim} dims {list(variable.dims)}")
    return tuple(max(1, min(c, s)) for c, s in zip(chunks, variable.shape, strict=True))


def _compression(variable: xr.Variable, options: StorageOptions) -> tuple[Any, Any]:
    name, opts = options.compression, options.compression_opts
    if name is False:
        return None, None
    if name is None:
        name, opts = variable.encoding.get("compression"), opts or variable.encoding.get("compression_opts")
    if name is True:
        name = "gzip"
    if isinstance(name, int) and not isinstance(name, bool):
        name, opts = "gzip", name
    if name is not None and name not in _COMPRESSION_NAMES:
        raise ModelError(f"compression must be one of {_COMPRESSION_NAMES} or a gzip level, not {name!r}")
    return name, opts


def storage_kwargs(variable: xr.Variable, options: StorageOptions) -> dict[str, Any]:
    """h5py ``create_dataset`` keywords for `variable` (none for scalars and empty arrays)."""
    if variable.ndim == 0 or 0 in variable.shape:
        return {}
    compression, opts = _compression(variable, options)
    kwargs: dict[str, Any] = {"chunks": _chunk_shape(variable, options, compression is not None)}
    if compression is not None:
        kwargs.update(compression=compression, compression_opts=opts)
        if options.compression is None and variable.encoding.get("shuffle"):
            kwargs["shuffle"] = True
    return kwargs


def create_dataset(
    group: h5py.Group, name: str, variable: xr.Variable, options: StorageOptions
) -> h5py.Dataset:
    """Create dataset `name` for a numeric or bool variable and write its data (streamed)."""
    dtype = variable.dtype
    if dtype.kind not in "biufc" or dtype.names:
        raise ModelError(f"{group.name}/{name}: NSID main datasets hold numbers or bools, not {dtype}")
    dset = group.create_dataset(name, shape=variable.shape, dtype=dtype, **storage_kwargs(variable, options))
    write_data(dset, variable)
    return dset


def write_data(dset: h5py.Dataset, variable: xr.Variable) -> None:
    """Write the data of `variable` into `dset` without loading lazy or dask data whole."""
    if variable.ndim == 0 or variable.size == 0 or (variable.chunks is None and variable._in_memory):
        write_array(dset, variable.values)
    elif variable.chunks is not None:
        write_array(dset, variable.data)
    else:
        write_array(dset, variable.chunk(_slabs(variable, dset.chunks)).data, max_batch_bytes=SLAB_BYTES)


def _slabs(variable: xr.Variable, chunks: tuple[int, ...] | None) -> dict[Hashable, int]:
    """Blocks along the first axis of about `SLAB_BYTES`, whole HDF5 chunks when chunked."""
    row_bytes = max(1, variable.nbytes // max(1, variable.shape[0]))
    rows = max(1, SLAB_BYTES // row_bytes)
    if chunks:
        rows = max(chunks[0], rows // chunks[0] * chunks[0])
    return {variable.dims[0]: min(rows, variable.shape[0]), **dict.fromkeys(variable.dims[1:], -1)}
