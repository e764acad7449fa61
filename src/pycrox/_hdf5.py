"""HDF5 plumbing shared by the HDF5 readers and the NSID/USID adapters.

`open_file_manager` opens a `Source` (local path, URL through fsspec, h5py.File or file object)
as an xarray `CachingFileManager` (or a dummy manager for objects the caller owns);
`LazyH5Array` is one HDF5 dataset read on demand; `HDF5_LOCK` serialises libhdf5 calls.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import h5py
import numpy as np
import xarray as xr
from h5py import h5a, h5o
from xarray.backends import BackendArray, CachingFileManager, DummyFileManager
from xarray.backends.locks import HDF5_LOCK
from xarray.core import indexing

from pycrox.errors import FormatError, PycroxError
from pycrox.sources import Source, open_source, read_head

__all__ = [
    "H5_ERRORS",
    "HDF5_LOCK",
    "HDF5_MAGIC",
    "LazyH5Array",
    "attr_to_python",
    "check_storage",
    "has_dataset_with_attrs",
    "is_hdf5",
    "lazy_variable_data",
    "open_file_manager",
    "probe",
    "read_eager",
    "release_probe",
]

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: fsspec block size for HDF5 over object stores (measured: one 1 MiB chunk costs ~1.5 MiB and
#: 3 requests with 256 KiB read-ahead blocks, 5 MiB with 2 MiB blocks, 95 MiB with s3fs's default)
REMOTE_BLOCK_SIZE = 256 * 2**10
#: bytes of dask blocks computed at a time by `write_array`
WRITE_BATCH_BYTES = 8 * 2**20


def is_hdf5(obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `obj` is an HDF5 file (by its signature); False instead of raising."""
    if isinstance(obj, h5py.File | h5py.Group):
        return True
    try:
        head = read_head(open_source(obj, storage_options), 8)
    except (OSError, TypeError, ValueError):
        return False
    return head.startswith(HDF5_MAGIC)


def _open_h5(source: Source, mode: str = "r") -> h5py.File:
    try:
        if source.path is not None:
            return h5py.File(source.path, mode)
        handle = source.shared_handle(REMOTE_BLOCK_SIZE) if source.fileobj is None else source.fileobj
        return h5py.File(handle, mode)
    except OSError as exc:
        raise FormatError(source.name, f"not a readable HDF5 file ({exc})") from exc


#: what h5py raises on damaged or unexpected content (readers turn these into FormatError or False)
H5_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError, AttributeError, IndexError)


def probe(obj: Any, storage_options: dict | None, predicate: Callable[[h5py.Group], bool]) -> bool:
    """Whether `obj` is an HDF5 file (or an h5py group) whose root satisfies `predicate`.

    The guessers of every HDF5 format share this: a non-HDF5 or damaged file is not claimed
    (False, never an exception), and a file opened here is closed again; an h5py object passed in
    stays open and is itself the root. A `Source` keeps the file it opened here for the next
    guesser, until `release_probe` (format detection asks every HDF5 guesser in turn: one open
    and close instead of one per format).
    """
    manager = None
    try:
        if not is_hdf5(obj, storage_options):
            return False
        if isinstance(obj, h5py.Group):
            root = obj
        elif isinstance(obj, Source):
            root = _probe_file(obj)
        else:
            manager, _ = open_file_manager(obj, storage_options, check=False)
            with HDF5_LOCK:
                root = manager.acquire()
    except (PycroxError, *H5_ERRORS):
        if manager is not None:
            manager.close()
        return False
    try:
        with HDF5_LOCK:
            return bool(predicate(root))
    except H5_ERRORS:
        return False
    finally:
        if manager is not None:
            manager.close()


def has_dataset_with_attrs(root: h5py.Group, names: tuple[str, ...]) -> bool:
    """Whether any dataset under `root` carries every attribute in `names`.

    The same answer as ``root.visititems`` with an ``all(n in obj.attrs ...)`` test, at about a
    third of its cost: the walk stays in h5py's low-level API and makes no h5py object of a group
    (guessers ask this of every HDF5 file that format detection reaches).
    """
    keys = [name.encode("utf-8") for name in names]

    def visit(name: bytes, info: Any) -> bool | None:
        if info.type != h5o.TYPE_DATASET:
            return None
        oid = h5o.open(root.id, name)
        return True if all(h5a.exists(oid, key) for key in keys) else None

    return bool(h5o.visit(root.id, visit, info=True))


def _probe_file(source: Source) -> h5py.File:
    """The `h5py.File` kept on `source` for the guessers (opened on first use)."""
    with HDF5_LOCK:
        if source._h5 is None or not source._h5.id.valid:
            source._h5 = _open_h5(source)
        return source._h5


def release_probe(source: Source) -> None:
    """Close the file `probe` kept open on `source`, if any."""
    h5, source._h5 = source._h5, None
    if h5 is not None:
        with HDF5_LOCK:
            h5.close()


#: datasets read at open (coordinates, ancillary and metadata datasets) larger than this must be stored
#: in the file, not only declared: a few KiB of crafted header cannot make `open` allocate GiB
EAGER_LIMIT = 64 * 2**20
#: ... and may expand at most this much over the bytes they store (compressed coordinates)
EAGER_EXPANSION = 64


def read_eager(dset: h5py.Dataset, source: str) -> np.ndarray:
    """All values of a dataset that is read at open, bounded by what the file really stores.

    Raises
    ------
    FormatError
        If the dataset declares more than `EAGER_LIMIT` bytes and more than `EAGER_EXPANSION` times
        the bytes the file stores for it (a damaged or crafted file).
    """
    nbytes = int(dset.size) * dset.dtype.itemsize
    if nbytes > EAGER_LIMIT:
        stored = int(dset.id.get_storage_size())
        if nbytes > EAGER_EXPANSION * max(stored, 1):
            raise FormatError(
                source,
                f"the dataset declares {dset.shape} values ({nbytes / 2**20:.0f} MiB) but the file stores "
                f"{stored} bytes for it; refusing to read it (the file is damaged or crafted)",
                where=dset.name,
            )
    return dset[()]


def check_storage(h5: h5py.File, name: str) -> None:
    """Refuse a file with datasets stored outside it (external raw storage or virtual datasets).

    Such a dataset makes a reader read other files — any file the crafted one names, e.g. a
    system password list — and `pycrox convert` would copy what it read into its output.

    Raises
    ------
    FormatError
        Naming the dataset and the file it points to.
    """
    found: list[tuple[str, str]] = []

    def visit(name: bytes, info: Any) -> bool | None:
        # every object of the file once (as visititems), but only datasets become h5py objects
        if info.type != h5o.TYPE_DATASET:
            return None
        item, path = h5[name], name.decode("utf-8", errors="replace")
        plist = item.id.get_create_plist()
        if plist.get_external_count() > 0:
            target = plist.get_external(0)[0]
            found.append((f"/{path}", f"external raw storage in {target.decode(errors='replace')!r}"))
        elif item.is_virtual:
            sources = item.virtual_sources()
            target = sources[0].file_name if sources else "?"
            found.append((f"/{path}", f"a virtual dataset mapping {target!r}"))
        return True if found else None  # the first one found ends the walk

    try:
        h5o.visit(h5.id, visit, info=True)
    except H5_ERRORS as exc:
        raise FormatError(name, f"damaged HDF5 structure ({type(exc).__name__}: {exc})") from exc
    if found:
        where, what = found[0]
        raise FormatError(
            name, f"the dataset uses {what}; pycrox reads only data stored inside the file", where=where
        )


def open_file_manager(
    obj: Any, storage_options: dict | None = None, *, check: bool = True
) -> tuple[Any, str]:
    """A file manager for an HDF5 source, and the source's name for messages.

    Parameters
    ----------
    obj : str, os.PathLike, Source, h5py.File, h5py.Group or file object
        An h5py object stays the caller's: it is wrapped in a `DummyFileManager` and never closed.
    storage_options : dict, optional
        fsspec options for URLs.

    check : bool, default True
        Refuse files whose datasets are stored outside them (see `check_storage`).

    Returns
    -------
    (manager, name)
        ``manager.acquire()`` gives the open `h5py.File`.

    Raises
    ------
    FormatError
        If the file cannot be opened as HDF5, or (with `check`) stores data outside itself.
    """
    if isinstance(obj, h5py.Group):
        if check:
            with HDF5_LOCK:
                check_storage(obj.file, obj.file.filename)
        return DummyFileManager(obj.file), obj.file.filename
    source = open_source(obj, storage_options)
    if source.path is not None:
        manager = CachingFileManager(h5py.File, source.path, mode="r", lock=False)  # callers hold HDF5_LOCK
        with HDF5_LOCK:
            try:
                h5 = manager.acquire()
                if check:
                    check_storage(h5, source.name)
            except OSError as exc:
                manager.close()
                raise FormatError(source.name, f"not a readable HDF5 file ({exc})") from exc
            except FormatError:
                manager.close()
                raise
        return manager, source.name
    h5 = _open_h5(source)
    if check:
        try:
            with HDF5_LOCK:
                check_storage(h5, source.name)
        except FormatError:
            h5.close()
            raise
    return DummyFileManager(h5), source.name


class LazyH5Array(BackendArray):
    """One HDF5 dataset read on demand. Pickles: holds a file manager, never an open handle.

    Parameters
    ----------
    manager : xarray file manager
        From `open_file_manager`.
    h5path : str
        Path of the dataset in the file.
    field : str, optional
        For compound datasets: read only this field.
    """

    def __init__(self, manager: Any, h5path: str, field: str | None = None) -> None:
        self._manager, self._h5path, self._field = manager, h5path, field
        with HDF5_LOCK:
            dset = manager.acquire()[h5path]
            dtype = dset.dtype if field is None else dset.dtype[field]
            self.shape = dset.shape
            self.dtype = np.dtype(dtype)
            self.chunks = dset.chunks

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER_1VECTOR, self._read
        )

    def _read(self, key: tuple) -> np.ndarray:
        try:
            return self._read_unchecked(key)
        except (OSError, RuntimeError) as exc:  # libhdf5 on a damaged chunk or a vanished file
            raise FormatError(self._name(), f"cannot read data ({exc})", where=self._h5path) from exc

    def _name(self) -> str:
        try:
            return str(self._manager.acquire().filename)
        except (OSError, RuntimeError, ValueError):
            return "<HDF5 file>"

    def _read_unchecked(self, key: tuple) -> np.ndarray:
        with HDF5_LOCK:
            dset = self._manager.acquire()[self._h5path]
            if self._field is not None:
                dset = dset.fields(self._field)
            if dset.shape == ():
                return np.asarray(dset[()])[key] if key else np.asarray(dset[()])
            if all(isinstance(k, slice) and k == slice(None) for k in key) and dset.size:
                out = np.empty(self.shape, dtype=self.dtype)
                if self._field is None:
                    dset.read_direct(out)
                else:
                    out[...] = dset[...]
                return out
            return np.asarray(dset[key])


def lazy_variable_data(manager: Any, h5path: str, field: str | None = None) -> Any:
    """Data for an `xarray.Variable`: lazily indexed over `LazyH5Array`."""
    return indexing.LazilyIndexedArray(LazyH5Array(manager, h5path, field))


def attr_to_python(value: Any) -> Any:
    """An HDF5 attribute value as a JSON-like Python value (bytes stay bytes; numpy scalars -> Python)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, h5py.Empty):
        return None
    return value


def preferred_chunks(variable: xr.Variable, chunks: tuple[int, ...] | None) -> dict:
    """``encoding["preferred_chunks"]`` from an HDF5 chunk shape."""
    return dict(zip(variable.dims, chunks, strict=True)) if chunks else {}


def write_array(dset: h5py.Dataset, data: Any, *, max_batch_bytes: int = WRITE_BATCH_BYTES) -> None:
    """Write numpy or dask data into an open HDF5 dataset, block by block for dask.

    Dask blocks are computed in batches of about `max_batch_bytes` (at least two blocks) by
    whatever scheduler is active, a ``dask.distributed`` cluster included, while the previous
    batch is written; only this process writes, so no HDF5 handle ever crosses a process boundary
    and at most two batches are in memory.

    Parameters
    ----------
    dset : h5py.Dataset
        Target, already created with the final shape and dtype.
    data : numpy.ndarray, dask.array.Array or array-like
        Values of the same shape.
    max_batch_bytes : int
        About the bytes computed before they are written.
    """
    import dask.array as dsa

    if not isinstance(data, dsa.Array):
        _write_block(dset, (), np.asarray(data))
        return
    block_bytes = int(np.prod([max(c) if c else 0 for c in data.chunks])) * data.dtype.itemsize
    batches = _batches(data, max(max_batch_bytes, 2 * block_bytes))
    if not batches:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_compute, batches[0])
        for index, batch in enumerate(batches):
            values = pending.result()
            if index + 1 < len(batches):
                pending = pool.submit(_compute, batches[index + 1])
            for (region, _), value in zip(batch, values, strict=True):
                _write_block(dset, region, value)


def _batches(data: Any, batch_bytes: int) -> list[list[tuple[tuple[slice, ...], Any]]]:
    starts = [np.cumsum((0, *c[:-1])) for c in data.chunks]
    batches: list[list] = [[]]
    size = 0
    for index in np.ndindex(*data.numblocks):
        region = tuple(
            slice(int(s[i]), int(s[i]) + c[i]) for s, c, i in zip(starts, data.chunks, index, strict=True)
        )
        block = data.blocks[index]
        if size and size + block.nbytes > batch_bytes:
            batches.append([])
            size = 0
        batches[-1].append((region, block))
        size += block.nbytes
    return [b for b in batches if b]


def _compute(batch: list[tuple[tuple[slice, ...], Any]]) -> list[np.ndarray]:
    """The blocks of a batch as C-contiguous arrays (copied here, off the writing thread, if needed)."""
    import dask

    return [np.ascontiguousarray(v) for v in dask.compute(*(block for _, block in batch))]


def _write_block(dset: h5py.Dataset, region: tuple[slice, ...], value: np.ndarray) -> None:
    if not value.size:
        return
    if value.dtype == dset.dtype and value.flags.c_contiguous:
        dset.write_direct(value, dest_sel=region or None)
    else:
        dset[region or ...] = value
