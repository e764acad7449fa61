"""Open any supported file as pycrox objects, and write them: the one door above every reader.

`open` / `open_tree` detect the format from content (then from the extension) and call the
same reader function that the format's xarray engine calls; `to_zarr`, `to_netcdf`, `to_nsid`
and `to_usid` write.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

import xarray as xr

from pycrox import native
from pycrox.errors import FormatError, PycroxError
from pycrox.sources import Source, open_source

__all__ = ["FORMATS", "detect_format", "open", "open_tree", "to_netcdf", "to_nsid", "to_usid", "to_zarr"]

#: every file format pycrox reads -> the module with ``guess_can_open`` and ``read_tree``, in detection order
FORMATS: dict[str, str] = {
    "nsid": "pycrox.adapters.nsid.reader",
    "usid": "pycrox.adapters.usid.reader",
    "velox": "pycrox.readers.velox",
    "ncem_emd": "pycrox.readers.ncem_emd",
    "dm": "pycrox.readers.dm",
    "tia": "pycrox.readers.tia",
    "mrc": "pycrox.readers.mrc",
    "mib": "pycrox.readers.mib",
    "bruker_eds": "pycrox.readers.bruker_eds",
    "nion": "pycrox.readers.nion",
    "msa": "pycrox.readers.msa",
    "tiff": "pycrox.readers.tiff",
}
_NATIVE = ("zarr", "netcdf", "references")


def _reader(name: str) -> Any:
    return importlib.import_module(FORMATS[name])


def detect_format(source: Any, storage_options: dict | None = None) -> str:
    """The name of the format of `source` (``"zarr"``, ``"netcdf"``, ``"nsid"``, ``"dm"``, ...).

    Raises
    ------
    NotFoundError
        If nothing exists at `source`.
    FormatError
        If no reader recognises it; the message lists what was tried.
    """
    src = open_source(source, storage_options)
    if (src.suffix == ".zarr" or src.is_dir()) and native.is_zarr(src):
        return "zarr"
    if native.is_references(src):
        return "references"
    if _is_pycrox_netcdf(src):
        return "netcdf"
    tried = []
    for name in FORMATS:
        try:
            module = _reader(name)
        except ImportError:
            continue
        tried.append(name)
        if module.guess_can_open(src):
            return name
    raise FormatError(src.name, f"no pycrox reader recognises this file (tried zarr, netcdf, {', '.join(tried)})")


def _is_pycrox_netcdf(src: Source) -> bool:
    from pycrox._hdf5 import is_hdf5

    if src.is_dir() or not is_hdf5(src):
        return False
    import h5py

    try:
        with (h5py.File(src.path, "r") if src.path else h5py.File(src.shared_handle(), "r")) as f:
            return "_NCProperties" in f.attrs or native.KIND_ATTR in f.attrs
    except (OSError, RuntimeError, KeyError, ValueError):
        return False


def _read_native(src: Source, engine: str, chunks: Any) -> tuple[xr.DataTree, str]:
    if engine == "references":
        return native.open_references(src, chunks=chunks)
    return native.read_tree(src, engine="zarr" if engine == "zarr" else "h5netcdf", chunks=chunks)


def open_tree(
    source: Any, *, engine: str | None = None, chunks: Any = None, storage_options: dict | None = None
) -> xr.DataTree:
    """Open every signal of a file as an `xarray.DataTree`, lazily.

    Parameters
    ----------
    source : str, os.PathLike, URL or file object
        The file or store.
    engine : str, optional
        A format name (see `FORMATS`, plus ``"zarr"`` and ``"netcdf"``); detected when omitted.
    chunks : dict, int, "auto" or -1, optional
        Return dask arrays with these chunks (as in xarray); None keeps lazily indexed arrays.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node per main dataset, named after it; group attrs on group nodes.

    Raises
    ------
    NotFoundError
        If `source` does not exist.
    FormatError
        If the file cannot be recognised or read.
    """
    if _is_h5py_object(source):
        tree = _read_h5py_object(source, engine)
        return tree.chunk(chunks) if chunks is not None else tree
    src = open_source(source, storage_options)
    engine = engine or detect_format(src)
    if engine in _NATIVE:
        tree, _ = _read_native(src, engine, chunks)
        return tree
    tree = _reader(engine).read_tree(src, storage_options=storage_options)
    return tree.map_over_datasets(lambda ds: _chunk(ds, chunks)) if chunks is not None else tree


def open(
    source: Any,
    group: str | None = None,
    *,
    engine: str | None = None,
    chunks: Any = None,
    storage_options: dict | None = None,
) -> xr.DataArray | xr.Dataset:
    """Open the main dataset of a file as a pycrox DataArray (a Dataset for compound data), lazily.

    Parameters
    ----------
    source : str, os.PathLike, URL or file object
        The file or store.
    group : str, optional
        Node path of the signal to open when the file holds several (see `open_tree`).
    engine, chunks, storage_options
        As in `open_tree`.

    Returns
    -------
    xarray.DataArray or xarray.Dataset

    Raises
    ------
    NotFoundError
        If `source` does not exist.
    FormatError
        If the file cannot be recognised or read.
    ModelError
        If the file holds several signals and `group` is not given (the message lists them).
    """
    from pycrox import model

    if _is_h5py_object(source):
        tree, name = _read_h5py_object(source, engine), source.file.filename
    else:
        src = open_source(source, storage_options)
        engine = engine or detect_format(src)
        if engine in _NATIVE:
            tree, kind = _read_native(src, engine, chunks)
            return native.unwrap(tree, kind, group, src.name)
        tree, name = _reader(engine).read_tree(src, storage_options=storage_options), src.name
    signal = model.select_signal(tree, group, name)
    return _chunk(signal, chunks) if chunks is not None else signal


def _chunk(obj: Any, chunks: Any) -> Any:
    """Chunk like xarray's ``chunks=``: ``{}`` means the file's own chunks (``preferred_chunks``)."""
    if isinstance(chunks, dict) and not chunks:
        variables = obj.variables.values() if isinstance(obj, xr.Dataset) else [obj.variable]
        preferred = {d: c for v in variables for d, c in v.encoding.get("preferred_chunks", {}).items()}
        return obj.chunk(preferred)
    return obj.chunk(chunks)


def _is_h5py_object(source: Any) -> bool:
    return type(source).__module__.startswith("h5py") and hasattr(source, "file")


def _read_h5py_object(source: Any, engine: str | None) -> xr.DataTree:
    """An open h5py File or Group: the caller keeps it open; HDF5 formats only."""
    if engine is None:
        engine = next((n for n in FORMATS if _guess(n, source)), None)
        if engine is None:
            raise FormatError(source.file.filename, "no pycrox reader recognises this HDF5 object", where=source.name)
    return _reader(engine).read_tree(source)


def _guess(name: str, source: Any) -> bool:
    try:
        return bool(_reader(name).guess_can_open(source))
    except ImportError:
        return False


def to_zarr(
    obj: xr.DataArray | xr.Dataset | xr.DataTree,
    store: Any,
    *,
    mode: str = "w-",
    chunks: dict | None = None,
    storage_options: dict | None = None,
) -> None:
    """Write a pycrox object to a Zarr v3 store that `open` and plain ``xr.open_zarr`` read back.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        What to write; dask arrays are written block by block.
    store : str, os.PathLike or URL
        Target store.
    mode : {"w-", "w"}
        ``"w-"`` (default) refuses an existing store, ``"w"`` replaces it.
    chunks : dict, optional
        Rechunk before writing, e.g. ``{"energy": -1}``.
    storage_options : dict, optional
        fsspec options for URLs.

    Raises
    ------
    WriteError
        If the target exists and `mode` is ``"w-"``.
    """
    native.write_zarr(obj, store, mode=mode, storage_options=storage_options, chunks=chunks)


def to_netcdf(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: Any, *, mode: str = "w-") -> None:
    """Write a pycrox object to netCDF-4 (h5netcdf) that `open` reads back losslessly.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        What to write.
    path : str or os.PathLike
        Target file, written under a temporary name and moved into place.
    mode : {"w-", "w"}
        ``"w-"`` (default) refuses an existing file, ``"w"`` replaces it.

    Raises
    ------
    WriteError
        If the target exists and `mode` is ``"w-"``.
    """
    native.write_netcdf(obj, path, mode=mode)


def to_nsid(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: Any, **kwargs: Any) -> None:
    """Write to NSID HDF5; see `pycrox.adapters.nsid.writer.write`."""
    from pycrox.adapters.nsid import writer

    writer.write(obj, path, **kwargs)


def to_usid(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: Any, **kwargs: Any) -> None:
    """Write to USID HDF5; see `pycrox.adapters.usid.writer.write`."""
    from pycrox.adapters.usid import writer

    writer.write(obj, path, **kwargs)


def formats() -> Sequence[str]:
    """Every format name `open` accepts as `engine`."""
    return (*_NATIVE, *FORMATS)


_ = PycroxError
