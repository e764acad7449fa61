"""Open any supported file as pycrox objects, and write them: the one door above every reader.

`open` / `open_tree` detect the format from content (then from the extension) and call the
same reader function that the format's xarray engine calls; `to_zarr`, `to_netcdf`, `to_nsid`
and `to_usid` write.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import xarray as xr

from pycrox import formats as _formats
from pycrox import model
from pycrox.errors import ArgumentError, FormatError, PycroxError
from pycrox.sources import Source, open_source
from pycrox.stores import _tree

__all__ = [
    "detect_format",
    "formats",
    "open",
    "open_tree",
    "references",
    "to_netcdf",
    "to_nsid",
    "to_usid",
    "to_zarr",
]


def __getattr__(name: str) -> Any:
    if name == "FORMATS":  # the registry replaced this name -> module dict
        warnings.warn(
            "pycrox.io.FORMATS is deprecated; use pycrox.formats.FORMATS", DeprecationWarning, stacklevel=2
        )
        return {f.name: f.reader_module for f in _formats.FORMATS if f.kind != "store"}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def detect_format(source: Any, storage_options: dict | None = None) -> str:
    """The name of the format of `source` (``"zarr"``, ``"netcdf"``, ``"nsid"``, ``"dm"``, ...).

    Formats are tried in the order of `pycrox.formats.FORMATS`.

    Raises
    ------
    NotFoundError
        If nothing exists at `source`.
    FormatError
        If no reader recognises it; the message lists what was tried.
    """
    src = open_source(source, storage_options)
    tried = []
    try:
        for name in _formats.names():
            try:
                module = _formats.reader(name)
            except ImportError:
                continue
            tried.append(name)
            if module.guess_can_open(src):
                return name
    finally:
        if src._h5 is not None:  # the HDF5 guessers shared one open file
            from pycrox._hdf5 import release_probe

            release_probe(src)
    raise FormatError(src.name, f"no pycrox reader recognises this file (tried {', '.join(tried)})")


def _entry(src: Source, engine: str) -> _formats.Format:
    """The registry entry of `engine`; an unknown name is an `ArgumentError` naming the file."""
    try:
        return _formats.by_name(engine)
    except ArgumentError as exc:
        raise ArgumentError(f"{src.name}: {exc}") from None


def _read(
    src: Source, engine: str, chunks: Any, storage_options: dict | None, options: dict[str, Any]
) -> tuple[xr.DataTree, str | None]:
    """``(tree, kind)``: kind is what a store says it holds, None for files read by a format's reader."""
    entry = _entry(src, engine)
    _formats.check_options(engine, options)
    if entry.kind != "store" and src.path is not None and src.is_dir():
        raise FormatError(src.name, f"is a directory; the {engine} reader reads a file")
    if entry.kind == "store":
        return _formats.reader(engine).read_tree(src, chunks=chunks)
    tree = model.comparable_attrs(
        _formats.reader(engine).read_tree(src, storage_options=storage_options, **options), copy=False
    )
    return (tree.map_over_datasets(lambda ds: _chunk(ds, chunks)) if chunks is not None else tree), None


def open_tree(
    source: Any,
    *,
    engine: str | None = None,
    chunks: Any = None,
    storage_options: dict | None = None,
    **options: Any,
) -> xr.DataTree:
    """Open every signal of a file as an `xarray.DataTree`, lazily.

    Parameters
    ----------
    source : str, os.PathLike, URL or file object
        The file or store.
    engine : str, optional
        A format name (see `pycrox.formats.FORMATS`); detected when omitted.
    chunks : dict, int, "auto" or -1, optional
        Return dask arrays with these chunks (as in xarray); None keeps lazily indexed arrays.
    storage_options : dict, optional
        fsspec options for URLs.
    **options
        Reader options of the format (``pycrox formats`` lists them; e.g. ``binning=2`` for a Bruker
        hypermap).

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
    TypeError
        If an option is not one of the format's reader options.
    """
    if _is_h5py_object(source):
        tree = _read_h5py_object(source, engine)
        return tree.chunk(chunks) if chunks is not None else tree
    src = open_source(source, storage_options)
    tree, _ = _read(src, engine or detect_format(src), chunks, storage_options, options)
    return tree


def open(
    source: Any,
    group: str | None = None,
    *,
    engine: str | None = None,
    chunks: Any = None,
    storage_options: dict | None = None,
    **options: Any,
) -> xr.DataArray | xr.Dataset:
    """Open the main dataset of a file as a pycrox DataArray (a Dataset for compound data), lazily.

    Parameters
    ----------
    source : str, os.PathLike, URL or file object
        The file or store.
    group : str, optional
        Node path of the signal to open when the file holds several (see `open_tree`).
    engine, chunks, storage_options, **options
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
    if _is_h5py_object(source):
        tree, name = _read_h5py_object(source, engine), source.file.filename
    else:
        src = open_source(source, storage_options)
        engine = engine or detect_format(src)
        store = _entry(src, engine).kind == "store"
        tree, kind = _read(src, engine, chunks if store else None, storage_options, options)
        if kind is not None:
            return _tree.unwrap(tree, kind, group, src.name)
        name = src.name
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
        engine = next((n for n in _formats.names() if _guess(n, source)), None)
        if engine is None:
            raise FormatError(
                source.file.filename, "no pycrox reader recognises this HDF5 object", where=source.name
            )
    return model.comparable_attrs(_formats.reader(engine).read_tree(source), copy=False)


def _guess(name: str, source: Any) -> bool:
    try:
        return bool(_formats.reader(name).guess_can_open(source))
    except (ImportError, PycroxError, OSError, TypeError, ValueError):
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
    from pycrox._names import check_write
    from pycrox.stores.zarr.writer import write_zarr

    check_write(obj, store, "Zarr", mode)
    write_zarr(obj, store, mode=mode, storage_options=storage_options, chunks=chunks)


def to_netcdf(
    obj: xr.DataArray | xr.Dataset | xr.DataTree,
    path: Any,
    *,
    mode: str = "w-",
    storage_options: dict | None = None,
) -> None:
    """Write a pycrox object to netCDF-4 (h5netcdf) that `open` reads back losslessly.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        What to write.
    path : str, os.PathLike or URL
        Target file, written under a temporary name (a temporary key on object stores) and moved
        into place.
    mode : {"w-", "w"}
        ``"w-"`` (default) refuses an existing file, ``"w"`` replaces it.
    storage_options : dict, optional
        fsspec options for URLs.

    Raises
    ------
    WriteError
        If the target exists and `mode` is ``"w-"``, or is a directory.
    """
    from pycrox._names import check_write
    from pycrox.stores.netcdf.writer import write_netcdf

    check_write(obj, path, "netCDF", mode)
    write_netcdf(obj, path, mode=mode, storage_options=storage_options)


def to_nsid(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: Any, **kwargs: Any) -> None:
    """Write to NSID HDF5; see `pycrox.adapters.nsid.writer.write`."""
    from pycrox.adapters.nsid import writer

    writer.write(obj, path, **kwargs)


def to_usid(obj: xr.DataArray | xr.Dataset | xr.DataTree, path: Any, **kwargs: Any) -> None:
    """Write to USID HDF5; see `pycrox.adapters.usid.writer.write`."""
    from pycrox.adapters.usid import writer

    writer.write(obj, path, **kwargs)


def formats() -> Sequence[str]:
    """Every format name `open` accepts as `engine`, in detection order."""
    return tuple(_formats.names())


def references(
    source: Any, out: Any = None, *, storage_options: dict | None = None, mode: str = "w-"
) -> dict:
    """Write (and return) a reference set that opens `source` through Zarr with byte-range reads.

    Parameters
    ----------
    source : str, os.PathLike or URL
        An HDF5 file pycrox reads (NSID, USID, Velox, ...); the references point at this URL.
    out : str, os.PathLike or URL, optional
        Where to write the JSON; not written when omitted.
    storage_options : dict, optional
        fsspec options for `source` (and `out`).
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
    from pycrox.stores.references.writer import write_references

    src = open_source(source, storage_options)
    tree = open_tree(src)
    try:
        return write_references(tree, src, out, mode=mode)
    finally:
        tree.close()  # release the file now, not whenever the garbage collector runs
