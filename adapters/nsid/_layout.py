"""Where each part of a pycrox object goes in an NSID file: the inverse of the reader's tree.

* DataArray ``N``: ``/Measurement_000/Channel_000/N/N`` (the layout pyNSID's callers use).
* Dataset: one ``Channel_<i>`` per data variable; the Dataset's attrs on ``/Measurement_000``.
* DataTree: every node at its own path. A signal node ``.../G/N`` whose parent is named like it
  (what the reader gives) is written as the main dataset ``N`` of group ``G``; any other signal
  node gets its own group (``.../N/N``), since NSID keeps a dataset's dimensions, metadata groups
  and nothing else beside it.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import xarray as xr

from pycrox import model
from pycrox.adapters.nsid import mapping
from pycrox.errors import ModelError

__all__ = ["GroupItem", "SignalItem", "plan"]


@dataclass
class GroupItem:
    """One HDF5 group: its attrs (None: leave an existing group's attrs alone) and other datasets."""

    path: str
    attrs: dict[Hashable, Any] | None = None
    variables: dict[Hashable, xr.Variable] = field(default_factory=dict)


@dataclass
class SignalItem:
    """One main dataset ``name`` in group ``group``; `node_attrs` are the tree node's own attrs."""

    group: str
    name: str
    array: xr.DataArray
    node_attrs: dict[Hashable, Any] = field(default_factory=dict)


def plan(
    obj: xr.DataArray | xr.Dataset | xr.DataTree, channel: int = 0
) -> tuple[list[GroupItem], list[SignalItem]]:
    """The groups (parents first) and main datasets that store `obj`.

    Raises
    ------
    ModelError
        For objects NSID cannot hold: compound nodes, signal nodes with children or with
        further data variables, coordinates on group nodes, non-numeric data.
    TypeError
        If `obj` is not a DataArray, Dataset or DataTree.
    """
    if isinstance(obj, xr.DataArray):
        return _plan_array(obj, channel)
    if isinstance(obj, xr.Dataset):
        return _plan_dataset(obj, channel)
    if isinstance(obj, xr.DataTree):
        return _plan_tree(obj)
    raise TypeError(f"to_nsid writes a DataArray, Dataset or DataTree, not {type(obj).__name__}")


def _ancestors(path: str) -> list[GroupItem]:
    parts = path.strip("/").split("/")
    return [GroupItem("/" + "/".join(parts[: i + 1])) for i in range(len(parts))]


def _plan_array(da: xr.DataArray, channel: int) -> tuple[list[GroupItem], list[SignalItem]]:
    group, name = mapping.default_dataset_path(da.name, da.attrs.get("title"), channel)
    return _ancestors(group), [SignalItem(group, name, da)]


def _plan_dataset(ds: xr.Dataset, channel: int) -> tuple[list[GroupItem], list[SignalItem]]:
    groups: dict[str, GroupItem] = {"/Measurement_000": GroupItem("/Measurement_000", dict(ds.attrs))}
    signals = []
    for index, (key, variable) in enumerate(ds.data_vars.items()):
        group, name = mapping.default_dataset_path(key, variable.attrs.get("title"), channel + index)
        for item in _ancestors(group):
            groups.setdefault(item.path, item)
        signals.append(SignalItem(group, name, ds[key]))
    return list(groups.values()), signals


def _plan_tree(tree: xr.DataTree) -> tuple[list[GroupItem], list[SignalItem]]:
    signal_paths = {path for path in model.signal_nodes(tree) if path != "/"}
    if not signal_paths and tree.data_vars:  # data in the root only: as a Dataset
        groups, signals = _plan_dataset(tree.to_dataset(), 0)
        groups[0].attrs = None
        return [GroupItem("/", dict(tree.attrs)), *groups], signals
    groups = []  # list[GroupItem], typed by the Dataset branch above
    signals = []
    for node in tree.subtree:
        own = node.to_dataset(inherit=False)
        if node.attrs.get(model.COMPOUND_ATTR):
            raise ModelError(
                f"{node.path}: NSID has no compound datasets; write each field as its own signal"
            )
        if node.path in signal_paths:
            signals.append(_signal(node, own, groups))
        else:
            _check_group(node, own)
            groups.append(GroupItem(node.path, dict(node.attrs), {k: own[k].variable for k in own.data_vars}))
    return groups, signals


def _signal(node: xr.DataTree, own: xr.Dataset, groups: list[GroupItem]) -> SignalItem:
    name = str(node.name)
    if node.children:
        raise ModelError(
            f"{node.path}: a signal node cannot have child nodes in NSID (its main dataset is "
            f"an HDF5 dataset); move {sorted(node.children)} elsewhere"
        )
    extra = [k for k in own.data_vars if k != name]
    if extra:
        raise ModelError(f"{node.path}: NSID keeps one data variable per signal; {extra} would be lost")
    array = node.to_dataset(inherit=True)[name]
    parent = node.parent
    if parent is not None and parent.parent is not None and parent.name == name:
        siblings = [k for k in parent.children if k != name]
        if siblings:
            raise ModelError(
                f"{parent.path}: holds the NSID dataset {name!r}, so it cannot hold the nodes "
                f"{siblings} (the sidpy reader takes groups there for metadata)"
            )
        return SignalItem(parent.path, name, array, dict(node.attrs))
    groups.append(GroupItem(node.path))
    return SignalItem(node.path, name, array, dict(node.attrs))


def _check_group(node: xr.DataTree, own: xr.Dataset) -> None:
    if own.coords:
        raise ModelError(
            f"{node.path}: coordinates {list(own.coords)} on a group node cannot be stored in "
            "NSID; put them on the signals"
        )
    if not mapping.is_link_name(node.name) and node.parent is not None:
        raise ModelError(f"{node.path}: {node.name!r} cannot be an HDF5 group name")
