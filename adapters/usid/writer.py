"""Write pycrox objects to USID HDF5 files that pyUSID reads as main datasets.

A DataArray becomes one main dataset (``/Measurement_000/Channel_000/<name>`` unless it was read
from a USID file, whose path it keeps), a Dataset one main dataset per variable sharing their
ancillary datasets (or one compound dataset), a DataTree one HDF5 object per node: signal nodes
become main datasets at their node paths, other nodes groups with their attrs and their data
variables as plain datasets. ``mode="a"`` with ``source=`` writes a results group next to a main
dataset of an existing file (`pycrox.adapters.usid._results`). The mapping is written down in
``specs/usid-mapping.md``.
"""

from __future__ import annotations

import os
from typing import Any, cast

import h5py
import xarray as xr

from pycrox import model
from pycrox._names import check_write
from pycrox.adapters.usid import _results
from pycrox.adapters.usid._h5write import FileWriter
from pycrox.adapters.usid._plan import plan_main
from pycrox.errors import ArgumentError, ModelError, WriteError
from pycrox.sources import atomic_target, is_local

__all__ = ["DEFAULT_GROUP", "write"]

#: where a lone DataArray or Dataset goes (pyUSID's Measurement/Channel convention)
DEFAULT_GROUP = "/Measurement_000/Channel_000"


def write(
    obj: xr.DataArray | xr.Dataset | xr.DataTree,
    path: Any,
    *,
    mode: str = "w-",
    position_dims: Any = None,
    compound: bool | None = None,
    source: Any = None,
    storage_options: dict | None = None,
) -> None:
    """Write a pycrox object to USID HDF5 (used by `pycrox.to_usid`).

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        What to write; dask-backed data are written block by block.
    path : str, os.PathLike or URL
        Target file; new files are written under a temporary name and moved into place.
    mode : {"w-", "w", "a"}
        ``"w-"`` refuses an existing file, ``"w"`` replaces it, ``"a"`` adds to an existing local
        file (a results group with `source`, else a new ``Measurement_NNN`` group).
    position_dims : str or sequence of str, optional
        Dims to store as position dims; by default those whose coordinate's ``dimension_type`` is
        SPATIAL or POINT_CLOUD. The others are spectroscopic.
    compound : bool, optional
        Write a Dataset as one compound (structured) main dataset; by default when its attrs carry
        ``pycrox_compound``.
    source : str or xarray object, optional
        With ``mode="a"``: the HDF5 path of the main dataset the result was computed from (or an
        object read from it); the result goes to a results group ``<source>-<step>_NNN`` whose
        attributes are the parameters of the result's newest provenance step.
    storage_options : dict, optional
        fsspec options for URLs.

    Raises
    ------
    WriteError
        If the file exists and `mode` is ``"w-"``, or `mode` is ``"a"`` on a missing or remote file.
    ModelError
        If the object cannot be laid out as USID (non-string dims, fields with different dims, ...).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> da = pycrox.from_array(np.arange(6.0).reshape(2, 3), dims=("y", "x"), name="height")
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "image.h5"
    >>> write(da, target)
    >>> back = pycrox.open(target)
    >>> back.dims, back.name
    (('y', 'x'), 'height')
    """
    check_write(obj, path, "USID", mode, ("w-", "w", "a"))
    if mode == "a":
        _append(obj, path, position_dims=position_dims, compound=compound, source=source)
        return
    if source is not None:
        raise ArgumentError(
            f"{path}: source= needs mode='a' (a results group goes into the source's existing file)"
        )
    with atomic_target(path, mode, storage_options, nbytes=obj.nbytes) as tmp, h5py.File(tmp, "w") as h5:
        writer = FileWriter(h5)
        write_object(writer, obj, position_dims=position_dims, compound=compound)
        writer.finish()


def _append(obj: Any, path: Any, *, position_dims: Any, compound: bool | None, source: Any) -> None:
    if not is_local(path) or not os.path.exists(os.fspath(path).removeprefix("file://")):
        raise WriteError(f"{path}: mode='a' needs an existing local file")
    local = os.fspath(path).removeprefix("file://")
    if source is not None:
        _results.write_results(obj, local, source, position_dims=position_dims, compound=compound)
        return
    with _results.open_for_append(local) as h5:
        writer = FileWriter(h5)
        index = 0
        while f"Measurement_{index:03d}" in h5:
            index += 1
        try:
            write_object(
                writer,
                obj,
                position_dims=position_dims,
                compound=compound,
                group=f"/Measurement_{index:03d}/Channel_000",
            )
            writer.finish()
        except BaseException:
            _results.remove(h5, writer.created)
            raise


def write_object(
    writer: FileWriter, obj: Any, *, position_dims: Any, compound: bool | None, group: str | None = None
) -> None:
    """Write a DataArray, Dataset or DataTree into the open file of `writer`."""
    if isinstance(obj, xr.DataTree):
        write_tree(writer, obj, position_dims=position_dims)
    elif isinstance(obj, xr.DataArray):
        name = dataset_name(obj.name, "Raw_Data")
        parent = group or _kept_parent(obj.encoding, name) or DEFAULT_GROUP
        writer.main(parent, plan_main(obj, name, position_dims=position_dims))
    elif isinstance(obj, xr.Dataset):
        _write_dataset(writer, obj, position_dims, compound, group)
    else:
        raise TypeError(f"cannot write {type(obj).__name__} to USID; pass a DataArray, Dataset or DataTree")


def _write_dataset(
    writer: FileWriter, ds: xr.Dataset, position_dims: Any, compound: bool | None, group: str | None
) -> None:
    as_compound = bool(ds.attrs.get(model.COMPOUND_ATTR)) if compound is None else compound
    first = next(iter(ds.data_vars.values()), None)
    if as_compound:
        name = dataset_name(ds.attrs.get("title") or None, "Raw_Data")
        kept = _kept_parent(first.encoding, None) if first is not None else None
        if kept and first is not None:
            name = first.encoding["usid_path"].rsplit("/", 1)[-1]
        writer.main(group or kept or DEFAULT_GROUP, plan_main(ds, name, position_dims=position_dims))
        return
    parent = group or DEFAULT_GROUP
    writer.set_attrs(writer.group(parent), ds.attrs)
    for key, var in ds.data_vars.items():
        writer.main(parent, plan_main(var, dataset_name(key, "Raw_Data"), position_dims=position_dims))


def write_tree(writer: FileWriter, tree: xr.DataTree, *, position_dims: Any = None) -> None:
    """Write every node of `tree` at its path: signals as main datasets, other nodes as groups."""
    signals = model.signal_nodes(tree)
    for node in tree.subtree:
        if node.path in signals and node.path != "/":
            _check_signal_node(node)
            continue
        group = writer.group(node.path)
        writer.set_attrs(group, {str(k): v for k, v in node.attrs.items()})
        for key, var in node.to_dataset(inherit=False).data_vars.items():
            if (node.path == "/" and "/" in signals) or var.encoding.get("usid_derived"):
                continue  # derived on reading (pycroscopy SVD as a decomposition): not in the file
            writer.plain(node.path, dataset_name(key, "data"), var.variable)
    for path in sorted(signals):
        node = tree if path == "/" else cast(xr.DataTree, tree[path])  # signal paths name nodes
        signal = signals[path]
        if path == "/":
            name = dataset_name(signal.name, "Raw_Data")
            writer.main("/", plan_main(signal, name, position_dims=position_dims))
            continue
        parent = path.rsplit("/", 1)[0] or "/"
        node_attrs = None if isinstance(signal, xr.Dataset) else dict(node.attrs)
        writer.main(
            parent,
            plan_main(
                signal,
                dataset_name(node.name, "Raw_Data"),
                position_dims=position_dims,
                node_attrs=node_attrs,
            ),
        )


def _check_signal_node(node: xr.DataTree) -> None:
    if node.children:
        raise ModelError(
            f"{node.path}: a signal node cannot have child nodes in USID (a dataset holds no "
            f"groups); children: {sorted(node.children)}"
        )
    if not node.attrs.get(model.COMPOUND_ATTR):
        others = [k for k in node.data_vars if k != node.name]
        if others:
            raise ModelError(
                f"{node.path}: a signal node holds one data variable named like it; found also {others}"
            )


def _kept_parent(encoding: dict, name: str | None) -> str | None:
    """The parent group of the USID path an object was read from, when it ends with `name`."""
    where = encoding.get("usid_path")
    if not isinstance(where, str) or not where.startswith("/"):
        return None
    parent, _, base = where.rpartition("/")
    return (parent or "/") if name is None or base == name else None


def dataset_name(name: Any, default: str) -> str:
    """An HDF5 dataset name for `name` (`default` when None).

    Raises
    ------
    ModelError
        When the name cannot name an HDF5 object (contains ``/``, is empty or ``.``).
    """
    if name is None:
        return default
    text = str(name)
    if not text or text in (".", "..") or "/" in text or "\x00" in text:
        raise ModelError(f"{text!r} cannot name an HDF5 dataset")
    return text
