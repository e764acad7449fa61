"""Read USID HDF5 files (pyUSID, pycroscopy) as lazy pycrox DataTrees.

Every USID main dataset becomes a node whose path is its HDF5 path and whose one data variable
is named like it (one variable per field for compound datasets, node attrs
``pycrox_compound: True``); see `pycrox.adapters.usid._main`. Groups become nodes with their
attributes (Measurement groups, channels, results groups ``<Source>-<Process>_NNN`` with their
parameters and ``source_000`` as ``{"$ref": "/path"}``). Other datasets of a group (``Topography``,
``S``, ``completed_positions``, ...) are data variables of the group's node, with dims named
``<dataset>_dim_<i>`` that no signal uses. The ancillary datasets are not variables: they are
the coordinates of the signals that reference them. The mapping is written down in
``specs/usid-mapping.md``.
"""

from __future__ import annotations

import re
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends.locks import HDF5_LOCK

from pycrox._hdf5 import H5_ERRORS, has_dataset_with_attrs, lazy_variable_data, open_file_manager, probe
from pycrox.adapters.usid import _attrs, _be, mapping
from pycrox.adapters.usid._main import is_claimed_main, read_main
from pycrox.adapters.usid._pycroscopy import split_legacy_svd, svd_dataset
from pycrox.errors import FormatError
from pycrox.model import comparable_attrs

__all__ = ["guess_can_open", "read_tree"]

#: pyUSID's results-group names: ``<source>-<tool>_<NNN>``
_RESULTS_GROUP = re.compile(r"^.+-.+_\d{3}$")
#: what h5py raises on damaged files (besides our own errors)


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is an HDF5 file holding a USID main dataset; False instead of raising."""
    if isinstance(filename_or_obj, h5py.Dataset):
        try:
            return is_claimed_main(filename_or_obj)
        except H5_ERRORS:
            return False
    return probe(
        filename_or_obj,
        storage_options,
        lambda root: has_dataset_with_attrs(root, ("Position_Indices", "Spectroscopic_Indices")),
    )


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a USID file as a lazy DataTree, one node per main dataset.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL, h5py.File, h5py.Group, h5py.Dataset or file object
        The file; a group limits the tree to what lies below it, a dataset to that main dataset.
    storage_options : dict, optional
        fsspec options for URLs (``s3://``, ``memory://``, ...).

    Returns
    -------
    xarray.DataTree
        Nodes at the HDF5 paths; nothing is read from the main datasets until used.

    Raises
    ------
    NotFoundError
        If the file does not exist.
    FormatError
        If it is not HDF5, or a main dataset or its ancillary datasets break the USID rules.
    """
    owned = not isinstance(filename_or_obj, h5py.HLObject)
    target = filename_or_obj.file if isinstance(filename_or_obj, h5py.Dataset) else filename_or_obj
    manager, name = open_file_manager(target, storage_options)
    try:
        with HDF5_LOCK:
            h5 = manager.acquire()
            top = h5 if owned else filename_or_obj
            try:
                nodes, plain, legacy = _read_nodes(h5, top, manager, name)
            except FormatError:
                raise
            except (*H5_ERRORS, MemoryError) as exc:  # libhdf5 on a damaged file
                raise FormatError(name, f"damaged HDF5 file ({type(exc).__name__}: {exc})") from exc
        try:
            for parent, dname, variable in plain:  # lazy_variable_data takes HDF5_LOCK itself
                nodes.setdefault(parent, xr.Dataset())[dname] = variable()
            svd_dataset(nodes, legacy)  # pycroscopy's SVD groups as pycrox decomposition Datasets
        except H5_ERRORS as exc:
            raise FormatError(name, f"damaged HDF5 file ({type(exc).__name__}: {exc})") from exc
        tree = xr.DataTree.from_dict({path: comparable_attrs(node) for path, node in nodes.items()})
    except BaseException:
        if owned:
            manager.close()
        raise
    tree.set_close(manager.close if owned else None)
    return tree


def _read_nodes(
    h5: h5py.File, top: Any, manager: Any, source: str
) -> tuple[dict[str, xr.Dataset], list, dict[str, dict[str, Any]]]:
    """Group and signal nodes, ``(parent, name, make_variable)`` for the other datasets, legacy SVD groups."""
    groups, found, plain = _inventory(top)
    mains, legacy = split_legacy_svd(found)  # older pycroscopy U/V: plain datasets
    plain += [dset for dset in found if dset not in mains]
    signals: dict[str, xr.Dataset] = {}
    ancillary: set[str] = set()
    for dset in mains:
        try:
            signals[dset.name], paths = read_main(dset, manager, source, _completed(dset))
            signals[dset.name] = _be.from_file(signals[dset.name])
        except FormatError:
            raise
        except H5_ERRORS as exc:
            raise FormatError(
                source, f"cannot read the main dataset ({type(exc).__name__}: {exc})", where=dset.name
            ) from exc
        ancillary.update(paths)
    taken = {str(d) for ds in signals.values() for d in ds.dims}
    nodes: dict[str, xr.Dataset] = {group.name: _group_node(group, source) for group in groups}
    deferred = []
    for dset in plain:
        path = dset.name
        if path not in ancillary:
            parent, _, dname = path.rpartition("/")
            deferred.append((parent or "/", dname, _plain_variable(dset, manager, source, taken)))
    nodes.update(signals)
    return nodes, deferred, legacy


def _inventory(top: Any) -> tuple[list[h5py.Group], list[h5py.Dataset], list[h5py.Dataset]]:
    """Groups, main datasets and other datasets under `top` (in name order)."""
    if isinstance(top, h5py.Dataset):
        return [], [top], []
    groups: list[h5py.Group] = [top]
    mains: list[h5py.Dataset] = []
    plain: list[h5py.Dataset] = []

    def visit(_: str, obj: Any) -> None:
        if isinstance(obj, h5py.Group):
            groups.append(obj)
        elif isinstance(obj, h5py.Dataset):
            (mains if is_claimed_main(obj) else plain).append(obj)

    top.visititems(visit)
    return groups, mains, plain


def _completed(dset: h5py.Dataset) -> np.ndarray | None:
    """Completed positions of a results group (``completed_positions``, else ``last_pixel``)."""
    if not _RESULTS_GROUP.match(dset.name.rsplit("/", 2)[-2] if dset.name.count("/") > 1 else ""):
        return None
    group = dset.parent
    status = group.get("completed_positions")
    if isinstance(status, h5py.Dataset) and status.ndim == 1 and status.dtype.kind in "biu":
        return np.asarray(status[()]).astype(bool)
    if "svd_method" in group.attrs:  # pycroscopy's SVD writes last_pixel = positions - 1
        return None
    last = group.attrs.get("last_pixel")
    if isinstance(last, int | np.integer) and 0 <= last < dset.shape[0]:
        return np.arange(dset.shape[0]) < int(last)
    return None


def _group_node(group: h5py.Group, source: str) -> xr.Dataset:
    values, tags = _read_object_attrs(group, source)
    return xr.Dataset(attrs=values if not tags else {**values, mapping.LAYOUT_ATTR: {"attr_types": tags}})


def _read_object_attrs(obj: Any, source: str) -> tuple[dict[str, Any], dict[str, str]]:
    values, tags = _attrs.read_attrs(obj)
    tags.pop(mapping.MODEL_ATTR, None)
    if mapping.MODEL_ATTR in values:
        try:
            document = _attrs.loads(values.pop(mapping.MODEL_ATTR))
        except (ValueError, TypeError) as exc:
            raise FormatError(
                source, f"attribute {mapping.MODEL_ATTR!r} is not valid JSON ({exc})", where=obj.name
            ) from exc
        values.update(document.get("attrs", {}))
    return values, tags


def _plain_variable(dset: h5py.Dataset, manager: Any, source: str, taken: set[str]) -> Any:
    """A function making the variable of a non-main dataset (call it without holding HDF5_LOCK)."""
    base = dset.name.rsplit("/", 1)[-1]
    dims = []
    for i in range(dset.ndim):
        dim = f"{base}_dim_{i}"
        while dim in taken:
            dim += "_"
        dims.append(dim)
    values, tags = _read_object_attrs(dset, source)
    attrs = values if not tags else {**values, mapping.LAYOUT_ATTR: {"attr_types": tags}}
    encoding = {
        f"usid_{k}": getattr(dset, k)
        for k in ("chunks", "compression", "compression_opts")
        if getattr(dset, k)
    }
    path, eager = dset.name, (dset[()] if dset.dtype.kind == "O" else None)
    return lambda: xr.Variable(
        dims, lazy_variable_data(manager, path) if eager is None else eager, attrs, encoding=encoding
    )
