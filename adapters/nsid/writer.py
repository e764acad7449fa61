"""Write pycrox objects to NSID HDF5 files that pyNSID / sidpy / SciFiReaders read.

`write` is what `pycrox.to_nsid` calls. New files are written under a temporary name beside the
target and moved into place; ``mode="a"`` adds groups to an existing file and never touches what
was there (on failure it removes what it added). Results (objects with a pycrox provenance step)
are appended next to their source dataset in the layout of pyNSID's ``write_results``:
``<channel>/Log_<step>_<NNN>/<name>/<name>``, the step's parameters as attributes of the Log group.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import h5py
import xarray as xr
from xarray.backends.locks import HDF5_LOCK

from pycrox import provenance
from pycrox._names import check_write
from pycrox.adapters.nsid import mapping
from pycrox.adapters.nsid._data import StorageOptions
from pycrox.adapters.nsid._encode import write_group, write_signal
from pycrox.adapters.nsid._layout import GroupItem, SignalItem, plan
from pycrox.adapters.nsid._values import attr_diff, read_attrs, write_dict_group, write_sidecar
from pycrox.adapters.nsid.reader import is_main
from pycrox.errors import FormatError, ModelError, NotFoundError, WriteError
from pycrox.sources import atomic_target, is_local

__all__ = ["write"]


def write(
    obj: xr.DataArray | xr.Dataset | xr.DataTree,
    path: Any,
    *,
    mode: str = "w-",
    group: str | None = None,
    chunks: Any = None,
    compression: Any = None,
    compression_opts: Any = None,
    storage_options: dict | None = None,
) -> None:
    """Write a pycrox object to an NSID HDF5 file.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        A DataArray becomes ``/Measurement_000/Channel_000/<name>/<name>``; a Dataset one channel
        per variable; a DataTree keeps its node paths (as `pycrox.open_tree` gives them). numpy,
        dask (streamed block by block) or lazily opened data.
    path : str, os.PathLike, URL, h5py.File, h5py.Group or writable binary file object
        Target. Paths and URLs are written under a temporary name and moved into place; an open
        h5py group or file object is written into directly.
    mode : {"w-", "w", "a"}
        ``"w-"`` (default) refuses an existing file, ``"w"`` replaces it, ``"a"`` adds to an existing
        file: a result (an object with a pycrox provenance step) goes into a new
        ``Log_<step>_<NNN>`` group next to its source dataset, anything else into a new channel.
    group : str, optional
        With ``mode="a"``: the HDF5 path of the result's source main dataset (default: the dataset
        named by the result's provenance, else the file's only main dataset); for objects without
        provenance, the group to add the dataset group to.
    chunks : None, bool, tuple or dict, optional
        HDF5 chunk shape of the main datasets: None keeps the chunks the data were read with (else
        contiguous), True lets h5py choose, a tuple or ``{dim: size}`` sets them.
    compression : None, bool, str or int, optional
        ``"gzip"``, ``"lzf"`` or a gzip level; None keeps the compression the data were read with.
    compression_opts : optional
        Passed to h5py (e.g. the gzip level).
    storage_options : dict, optional
        fsspec options for URL targets.

    Raises
    ------
    WriteError
        If the target exists and `mode` is ``"w-"``, or a path to be written exists already.
    NotFoundError
        With ``mode="a"`` when the file does not exist.
    ModelError
        If `obj` holds something NSID cannot store (see ``specs/nsid-mapping.md``), or the source
        of a result cannot be told.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> da = pycrox.model.from_array(np.arange(6.0).reshape(2, 3), name="image", units="counts")
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "image.h5"
    >>> write(da, target)
    >>> pycrox.open(target).attrs["units"]
    'counts'
    """
    check_write(obj, path, "NSID", mode, ("w-", "w", "a"))
    options = StorageOptions(chunks, compression, compression_opts)
    if isinstance(path, h5py.Group):  # appending places results by absolute path: the whole file
        (_append if mode == "a" else _write_into)(path.file if mode == "a" else path, obj, group, options)
    elif mode == "a":
        _append_to_file(path, obj, group, options)
    elif hasattr(path, "write") and hasattr(path, "seek"):
        with h5py.File(path, "w", libver=mapping.LIBVER) as h5:
            _write_into(h5, obj, group, options)
    else:
        try:
            with (
                atomic_target(path, mode, storage_options, nbytes=obj.nbytes) as tmp,
                h5py.File(tmp, "w", libver=mapping.LIBVER) as h5,
            ):
                _write_into(h5, obj, group, options)
        except ModelError as exc:  # what cannot be stored, named inside the file: name the file too
            raise ModelError(f"{path}: {exc}") from exc


def _write_into(root: h5py.Group, obj: Any, group: str | None, options: StorageOptions) -> None:
    groups, signals = plan(obj)
    _write_plan(root, groups, signals, options)


def _write_plan(
    root: h5py.Group, groups: list[GroupItem], signals: list[SignalItem], options: StorageOptions
) -> None:
    for item in groups:
        if isinstance(item, _LogItem):
            write_log_group(root, item)
        else:
            write_group(root, item, options)
    for signal in signals:
        write_signal(root, signal, options)


def _append_to_file(path: Any, obj: Any, group: str | None, options: StorageOptions) -> None:
    if not is_local(path):
        raise WriteError(f"{path}: mode='a' needs a local file (HDF5 cannot be changed in place remotely)")
    local = os.path.expanduser(os.fspath(path).removeprefix("file://"))
    if not os.path.exists(local):
        raise NotFoundError(local, "no such file to append to; use mode='w-' to create it")
    _release_read_handles(local)
    try:
        h5 = h5py.File(local, "r+", libver=mapping.LIBVER)
    except OSError as exc:
        raise FormatError(local, f"cannot be appended to: it is not a writable HDF5 file ({exc})") from exc
    with h5:
        _append(h5, obj, group, options)


def _release_read_handles(path: str) -> None:
    """Close this process's cached read-only handles on `path` (HDF5 refuses ``r+`` beside them).

    Lazy arrays opened from the file reopen it on their next read, which HDF5 then shares with the
    writable handle, so a result computed lazily from the same file can still be appended to it.
    """
    from xarray.backends.file_manager import FILE_CACHE

    with HDF5_LOCK:
        for key, handle in list(FILE_CACHE.items()):
            if isinstance(handle, h5py.File) and _same_file(handle, path):
                FILE_CACHE.pop(key, None)
                handle.close()


def _same_file(handle: h5py.File, path: str) -> bool:
    try:
        return os.path.samefile(handle.filename, path)
    except (OSError, ValueError):
        return False


class _Created:
    """The top-most groups an append created, so a failure can remove exactly those."""

    def __init__(self, root: h5py.Group) -> None:
        self.root = root
        self.paths: list[str] = []

    def ensure(self, path: str) -> None:
        parts = path.strip("/").split("/")
        for i in range(len(parts)):
            prefix = "/".join(parts[: i + 1])
            if prefix not in self.root:
                self.paths.append(prefix)
                return

    def undo(self) -> None:
        for path in reversed(self.paths):
            if path in self.root:
                del self.root[path]


def _append(root: h5py.Group, obj: Any, group: str | None, options: StorageOptions) -> None:
    created = _Created(root)
    try:
        if isinstance(obj, xr.DataTree):
            groups, signals = plan(obj)
            _check_new(root, signals)
            groups = [
                GroupItem(g.path, None if _exists(root, g.path) else g.attrs, g.variables) for g in groups
            ]
        else:
            groups, signals = _append_plan(root, obj, group)
        for item in [*groups, *(GroupItem(s.group) for s in signals)]:
            created.ensure(item.path)
        _write_plan(root, groups, signals, options)
    except BaseException:
        created.undo()
        raise


def _exists(root: h5py.Group, path: str) -> bool:
    return not path.strip("/") or path.strip("/") in root


def _check_new(root: h5py.Group, signals: list[SignalItem]) -> None:
    for item in signals:
        path = f"{item.group.strip('/')}/{item.name}".strip("/")
        if path in root:
            raise WriteError(f"{root.file.filename}:/{path}: exists; mode='a' only adds new datasets")


def _append_plan(root: h5py.Group, obj: Any, group: str | None) -> tuple[list[GroupItem], list[SignalItem]]:
    step = provenance.last_step(obj) if isinstance(obj, xr.DataArray | xr.Dataset) else None
    if step is None:
        parent = group or f"/Measurement_000/Channel_{_next_index(root, 'Measurement_000', 'Channel'):03d}"
        _, signals = plan(obj)
        items = [SignalItem(f"{parent.rstrip('/')}/{s.name}", s.name, s.array) for s in signals]
        return [GroupItem(parent)], items
    name, entry = step
    source = _find_source(root, obj, entry, group)
    channel = root[source].parent.parent
    log = f"{channel.name.rstrip('/')}/Log_{name}_{_next_index(root, channel.name, f'Log_{name}'):03d}"
    parameters = entry.get("parameters")
    if not isinstance(parameters, dict):
        parameters = {}
    _, signals = plan(obj)
    items = [SignalItem(f"{log}/{s.name}", s.name, s.array) for s in signals]
    return [_LogItem(log, parameters)], items


class _LogItem(GroupItem):
    """A ``Log_<step>_<NNN>`` group: the step's parameters as attributes (dicts as sub-groups)."""

    def __init__(self, path: str, parameters: dict) -> None:
        super().__init__(path, None)
        self.parameters = parameters


def _next_index(root: h5py.Group, parent: str, base: str) -> int:
    existing = root.get(parent.strip("/")) if parent.strip("/") else root
    names = set(existing.keys()) if isinstance(existing, h5py.Group) else set()
    return next(i for i in range(len(names) + 1) if f"{base}_{i:03d}" not in names)


def _find_source(root: h5py.Group, obj: Any, entry: dict, group: str | None) -> str:
    """HDF5 path of the main dataset a result was computed from."""
    mains: list[str] = []
    root.visititems(lambda name, item: mains.append(item.name) if is_main(item) else None)
    if group is not None:
        key = group.strip("/")
        item = root.get(key)
        if is_main(item):
            return item.name
        inside = [m for m in mains if m.startswith(f"{item.name.rstrip('/')}/")] if item is not None else []
        if len(inside) == 1:
            return inside[0]
        raise ModelError(
            f"{root.file.filename}: group {group!r} names no single NSID main dataset; "
            f"main datasets are {mains}"
        )
    wanted = str(entry.get("source") or "")
    named = [
        m for m in mains if wanted and wanted in (m.split("/")[-1], str(root[m].attrs.get("main_data_name")))
    ]
    found = named if len(named) == 1 else (mains if len(mains) == 1 else [])
    if not found:
        raise ModelError(
            f"{root.file.filename}: cannot tell which dataset {getattr(obj, 'name', None)!r} was "
            f"computed from (provenance source {wanted!r}); pass group= one of {mains}"
        )
    return found[0]


def write_log_group(root: h5py.Group, item: _LogItem) -> None:
    """The Log group of a result, as pyNSID's write_results makes it."""
    log = root.create_group(item.path.strip("/"))
    write_dict_group(log, item.parameters)
    log.attrs["timestamp"] = dt.datetime.now().strftime("%Y_%m_%d-%H_%M_%S")
    log.attrs["pyNSID_version"] = mapping.PYNSID_VERSION
    flat = {k: v for k, v in item.parameters.items() if not isinstance(v, dict)}
    decoded = {k: v for k, v in read_attrs(log).items() if k not in ("timestamp", "pyNSID_version")}
    write_sidecar(log, attr_diff(flat, decoded), where=log.name)
