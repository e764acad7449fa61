"""Read NSID HDF5 files (pyNSID / sidpy / pyTEMlib) as lazy pycrox DataTrees.

The tree mirrors the HDF5 hierarchy: every group is a node carrying its attributes, every NSID
main dataset is a signal node at its own HDF5 path (``/Measurement_000/Channel_000/HAADF/HAADF``)
whose Dataset holds one lazy variable named like it, with its dimension scales as coordinates.
Groups next to a main dataset that hold no dataset (``metadata``, ``original_metadata``,
``provenance``, ``Structure_000``, any other dict) become nested-dict attrs of that signal, as the
sidpy reader makes them attributes of its Dataset. Datasets that are neither main datasets nor
their dimensions are kept as lazy variables of their group's node. See specs/nsid-mapping.md.
"""

from __future__ import annotations

from typing import Any

import h5py
import xarray as xr
from xarray.backends.locks import HDF5_LOCK

from pycrox._hdf5 import H5_ERRORS, has_dataset_with_attrs, lazy_variable_data, open_file_manager, probe
from pycrox.adapters.nsid import mapping
from pycrox.adapters.nsid._decode import SignalPlan, group_attrs, signal_plan
from pycrox.adapters.nsid._values import apply_sidecar, read_attrs, read_sidecar
from pycrox.errors import FormatError, PycroxError
from pycrox.model import comparable_attrs

__all__ = ["FileLayout", "guess_can_open", "is_main", "read_tree", "scan"]

#: what h5py raises on damaged files (besides our own errors)
#: attributes that mark an NSID main dataset (pyNSID's check_if_main needs more; see is_main)
_MAIN_MARKERS = ("main_data_name", "data_type")


def is_main(obj: Any) -> bool:
    """Whether `obj` is an NSID main dataset (it carries ``main_data_name`` and ``data_type``)."""
    return isinstance(obj, h5py.Dataset) and all(key in obj.attrs for key in _MAIN_MARKERS)


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is an HDF5 file holding at least one NSID main dataset."""
    return probe(
        filename_or_obj,
        storage_options,
        lambda root: has_dataset_with_attrs(root, _MAIN_MARKERS),
    )


class FileLayout:
    """What an NSID file holds, by HDF5 path: main datasets, their dict groups and dimension data."""

    def __init__(self) -> None:
        self.mains: list[str] = []
        self.groups: list[str] = ["/"]
        self.dict_groups: dict[str, dict[str, h5py.Group]] = {}  # main dataset -> {name: group}
        self.coords: dict[str, list[h5py.Dataset]] = {}  # main dataset -> extra coordinate datasets
        self.others: list[str] = []  # datasets kept as variables of their group's node


def scan(h5: h5py.File) -> FileLayout:
    """Classify every object of an open NSID file (see the module docstring)."""
    layout = FileLayout()
    objects: dict[str, Any] = {}

    def collect(name: str, obj: Any) -> None:
        objects["/" + name] = obj

    h5.visititems(collect)
    layout.mains = [path for path, obj in objects.items() if is_main(obj)]
    claimed: set[str] = set(layout.mains)
    inside_dicts: set[str] = set()
    for path in layout.mains:
        dset = objects[path]
        claimed |= _scale_paths(dset)
        groups, coords = _neighbours(dset.parent)
        layout.dict_groups[path], layout.coords[path] = groups, coords
        claimed |= {c.name for c in coords}
        inside_dicts |= {g.name for g in groups.values()}
    for path, obj in objects.items():
        if _within(path, inside_dicts):
            continue
        if isinstance(obj, h5py.Group):
            layout.groups.append(path)
        elif path not in claimed:
            layout.others.append(path)
    return layout


def _within(path: str, groups: set[str]) -> bool:
    """Whether `path` is one of `groups` or inside one of them."""
    parts = path.split("/")
    return any("/".join(parts[:i]) in groups for i in range(2, len(parts) + 1))


def _scale_paths(dset: h5py.Dataset) -> set[str]:
    paths = set()
    for axis in range(dset.ndim):
        try:
            paths |= {scale.name for scale in dset.dims[axis].values()}
        except (RuntimeError, OSError, KeyError, ValueError):
            continue
        label = dset.dims[axis].label
        if label and isinstance(dset.parent.get(label), h5py.Dataset):
            paths.add(dset.parent[label].name)
    return paths


def _neighbours(group: h5py.Group) -> tuple[dict[str, h5py.Group], list[h5py.Dataset]]:
    """Dict groups (no dataset at any depth) and pycrox extra coordinates beside a main dataset."""
    groups, coords = {}, []
    for key, item in group.items():
        if isinstance(item, h5py.Group) and not _holds_dataset(item):
            groups[key] = item
        elif isinstance(item, h5py.Dataset) and "coordinate" in read_sidecar(item):
            coords.append(item)
    return groups, coords


def _holds_dataset(group: h5py.Group) -> bool:
    return bool(group.visititems(lambda _, obj: True if isinstance(obj, h5py.Dataset) else None))


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an NSID file as a lazy DataTree mirroring its HDF5 hierarchy.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL, h5py.File, h5py.Group, Source or binary file object
        The file (fsspec URLs such as ``memory://`` or ``s3://`` with `storage_options`).
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node per HDF5 group (with its attributes) and one signal node per main dataset, at the
        dataset's HDF5 path, holding one lazy variable named like it.

    Raises
    ------
    FormatError
        If the file is not readable HDF5, holds no NSID main dataset, or a dimension dataset does
        not fit its axis.
    """
    manager, name = open_file_manager(filename_or_obj, storage_options)
    try:
        with HDF5_LOCK:
            groups, signals, others = _plan(manager.acquire(), name)
        nodes = _nodes(manager, groups, signals, others)
    except BaseException as exc:
        if not isinstance(filename_or_obj, h5py.Group):
            manager.close()
        if isinstance(exc, H5_ERRORS) and not isinstance(exc, PycroxError):
            raise FormatError(name, f"damaged HDF5 structure ({type(exc).__name__}: {exc})") from exc
        raise
    tree = xr.DataTree.from_dict({path: comparable_attrs(node) for path, node in nodes.items()})
    tree.set_close(None if isinstance(filename_or_obj, h5py.Group) else manager.close)
    return tree


def _plan(h5: h5py.File, name: str) -> tuple[dict[str, dict], list[SignalPlan], dict[str, tuple]]:
    """Group attrs, signal plans and other datasets of the file (no data read)."""
    layout = scan(h5)
    if not layout.mains:
        raise FormatError(
            name,
            "no NSID main dataset: expected a dataset with attributes "
            "main_data_name and data_type and attached dimension scales",
            where="/",
        )
    groups = {path: group_attrs(h5[path], name) for path in layout.groups}
    signals = [
        signal_plan(h5[path], layout.dict_groups[path], layout.coords[path], name) for path in layout.mains
    ]
    others = {path: _other_plan(h5[path], name) for path in layout.others}
    return groups, signals, others


def _nodes(manager: Any, groups: dict, signals: list[SignalPlan], others: dict) -> dict[str, xr.Dataset]:
    variables: dict[str, dict[str, xr.Variable]] = {path: {} for path in groups}
    for path, (dims, attrs) in others.items():
        parent, key = path.rsplit("/", 1)
        variables[parent or "/"][key] = xr.Variable(dims, lazy_variable_data(manager, path), attrs)
    nodes = {path: xr.Dataset(variables[path], attrs=attrs) for path, attrs in groups.items()}
    nodes.update({plan.path: plan.dataset(manager) for plan in signals})
    return nodes


def _other_plan(dset: h5py.Dataset, source: str) -> tuple[tuple, dict]:
    """Dims and attrs of a dataset that is no NSID main dataset (dims ``<name>_dim_<i>``)."""
    sidecar = read_sidecar(dset, source)
    key = dset.name.split("/")[-1]
    dims = tuple(sidecar.get("dims", [f"{key}_dim_{i}" for i in range(dset.ndim)]))
    attrs = apply_sidecar(read_attrs(dset, exclude=mapping.DIMSCALE_ATTRS, source=source), sidecar)
    return dims, attrs
