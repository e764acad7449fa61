"""Results groups: a computed object stored next to the main dataset it came from.

pyUSID keeps processing results in a group ``<source name>-<tool>_<NNN>`` beside the source main
dataset, with attributes ``tool``, ``num_source_dsets = 1``, ``source_000`` (an object reference
to the source) and the process parameters. pycrox takes the tool name and the parameters from the
result's newest provenance step (`pycrox.provenance.last_step`); results whose position (or
spectroscopic) dims equal the source's share the source's ancillary datasets.
"""

from __future__ import annotations

import os
import re
from typing import Any

import h5py
import xarray as xr
from xarray.backends.file_manager import FILE_CACHE
from xarray.backends.locks import HDF5_LOCK

from pycrox import provenance
from pycrox.adapters.usid import _attrs, _be, mapping
from pycrox.adapters.usid._h5write import FileWriter
from pycrox.adapters.usid._plan import plan_main
from pycrox.errors import ModelError, NotFoundError, WriteError

__all__ = ["open_for_append", "remove", "source_path", "write_results"]


def open_for_append(path: str) -> h5py.File:
    """`path` opened read-write, after closing pycrox's own cached read-only handles to it.

    Objects opened lazily from the file (the source of a result, typically) keep their file
    manager; it reopens the file on their next read.

    Raises
    ------
    WriteError
        When the file cannot be opened for writing (open elsewhere, read-only, not HDF5).
    """
    target = os.path.realpath(path)
    with HDF5_LOCK, FILE_CACHE._lock:
        for key in list(FILE_CACHE):
            handle = FILE_CACHE[key]
            if (
                isinstance(handle, h5py.File)
                and handle.id.valid
                and os.path.realpath(handle.filename) == target
            ):
                del FILE_CACHE[key]
                handle.close()
    try:
        return h5py.File(path, "r+")
    except OSError as exc:
        raise WriteError(f"{path}: cannot be opened for writing ({exc}); close other handles to it") from exc


def source_path(source: Any) -> str:
    """The HDF5 path of a main dataset given as a path or as an object read from it."""
    if isinstance(source, str):
        return "/" + source.strip("/")
    variables = (
        [source] if isinstance(source, xr.DataArray) else list(getattr(source, "data_vars", {}).values())
    )
    for var in variables:
        where = var.encoding.get("usid_path")
        if isinstance(where, str):
            return where
    raise ModelError("source= must be the HDF5 path of the source main dataset, or an object read from it")


def write_results(
    obj: xr.DataArray | xr.Dataset,
    path: str,
    source: Any,
    *,
    position_dims: Any = None,
    compound: bool | None = None,
) -> str:
    """Write `obj` into a new results group of main dataset `source` in the existing file `path`.

    Returns
    -------
    str
        The path of the results group.

    Raises
    ------
    NotFoundError
        If `source` is not a main dataset of the file.
    """
    try:
        where = source_path(source)
    except ModelError:  # a source converted after reading (astype) lost its path: find it by name and size
        from pycrox.adapters.usid._pycroscopy import find_source

        with h5py.File(path, "r") as h5:
            where = find_source(h5, source)
    with open_for_append(path) as h5:
        into = _be.existing_group(h5, where)  # a BE results group: add Fit beside its Guess
        where = into[1] if into else where
        src = h5.get(where)
        if not isinstance(src, h5py.Dataset) or "Position_Indices" not in src.attrs:
            raise NotFoundError(path, f"no USID main dataset at {where!r} to attach the results to")
        step = provenance.last_step(obj) if isinstance(obj, xr.DataArray | xr.Dataset) else None
        tool, parameters = (step[0], dict(step[1].get("parameters") or {})) if step else ("pycrox", {})
        tool = _be.tool_name(obj) or _tool_name(tool, parameters)
        writer = FileWriter(h5)
        group = into[0] if into else _new_group(writer, src, re.sub(r"-", "_", tool))
        try:
            if not into:
                _group_attrs(writer, group, tool, parameters, where)
            shared = {name: h5[src.attrs[name]].name for name in mapping.ANCILLARY}
            writer.adopt(list(shared.values()))
            for name, signal in _signals(obj, compound):
                writer.main(group.name, plan_main(signal, name, position_dims=position_dims), prefer=shared)
            writer.finish()
            if tool == "SVD" and not into:  # pycroscopy's U, S, V beside pycrox's variables
                from pycrox.adapters.usid._pycroscopy import write_svd

                write_svd(h5, group.name, where, obj)
        except BaseException:
            remove(h5, writer.created)
            raise
        return group.name


def _new_group(writer: FileWriter, src: h5py.Dataset, tool: str) -> h5py.Group:
    base = src.name.rsplit("/", 1)[-1]
    parent = src.parent
    index = 0
    while f"{base}-{tool}_{index:03d}" in parent:
        index += 1
    return writer.group(f"{parent.name.rstrip('/')}/{base}-{tool}_{index:03d}")


def _group_attrs(writer: FileWriter, group: h5py.Group, tool: str, parameters: dict, source: str) -> None:
    attrs = {"tool": tool, "num_source_dsets": 1, "source_000": {"$ref": source}}
    native, rest = _attrs.split_native(
        {k: v for k, v in parameters.items() if k not in attrs}, reserved=(mapping.MODEL_ATTR,)
    )
    writer.write_native(group, {**attrs, **native}, {})
    if rest:
        group.attrs[mapping.MODEL_ATTR] = _attrs.dumps({"attrs": rest})


def _signals(obj: Any, compound: bool | None) -> list[tuple[str, Any]]:
    bglib = _be.signals(obj) if compound is None else None
    if bglib is not None:
        return bglib
    if isinstance(obj, xr.DataArray):
        return [(str(obj.name) if obj.name is not None else "Result", obj)]
    if isinstance(obj, xr.Dataset):
        if compound or (compound is None and obj.attrs.get("pycrox_compound")):
            return [(str(obj.attrs.get("title") or "Result"), obj)]
        return [(str(k), v) for k, v in obj.data_vars.items()]
    raise TypeError(f"a results group holds a DataArray or Dataset, not {type(obj).__name__}")


def remove(h5: h5py.File, created: list[str]) -> None:
    """Delete objects created by a failed write (first created first, so children go with parents)."""
    for path in created:
        if path in h5:
            del h5[path]


def _tool_name(step: str, parameters: dict) -> str:
    """The process name of a results group, as pycroscopy names its tools (``SVD``, ``KMeans``, ...)."""
    if step == "decompose":
        return str(parameters.get("method") or "svd").upper()
    return {"cluster": "KMeans", "fit": "Fit"}.get(step, step)
