"""Write one signal (main dataset, dimension scales, dict groups) or one group node into HDF5.

Every part is written the way pyNSID writes it; then it is read back with the reader's own
functions and whatever differs from the pycrox object goes into the sidecar attribute, so the
reader restores the object exactly (see `pycrox.adapters.nsid._values`).
"""

from __future__ import annotations

import string
from collections.abc import Hashable, Mapping
from typing import Any

import h5py
import numpy as np
import xarray as xr

from pycrox import model
from pycrox.adapters.nsid import mapping
from pycrox.adapters.nsid._data import StorageOptions, create_dataset
from pycrox.adapters.nsid._decode import coordinate_attrs, signal_attrs
from pycrox.adapters.nsid._layout import GroupItem, SignalItem
from pycrox.adapters.nsid._values import attr_diff, read_attrs, write_attrs, write_dict_group, write_sidecar
from pycrox.errors import ModelError, WriteError

__all__ = ["write_group", "write_signal"]

_MAIN_EXCLUDE = frozenset(
    {*mapping.MAIN_ATTRS.values(), *mapping.DIMSCALE_ATTRS, mapping.SIDECAR_ATTR, "title"}
)
_SCALE_EXCLUDE = frozenset({*mapping.SCALE_ATTRS, *mapping.DIMSCALE_ATTRS, mapping.SIDECAR_ATTR, "long_name"})


def _group_at(root: h5py.Group, path: str) -> h5py.Group:
    relative = path.strip("/")
    if not relative:
        return root
    existing = root.get(relative)
    if existing is not None and not isinstance(existing, h5py.Group):
        raise WriteError(f"{root.file.filename}:{existing.name}: exists and is not a group")
    return existing if existing is not None else root.create_group(relative)


def write_group(root: h5py.Group, item: GroupItem, options: StorageOptions) -> h5py.Group:
    """Create (or reuse) the group of `item`; write its attrs (if given) and its other datasets."""
    group = _group_at(root, item.path)
    if item.attrs is not None:
        write_attrs(group, item.attrs, exclude={mapping.SIDECAR_ATTR})
        write_sidecar(group, attr_diff(item.attrs, read_attrs(group)), where=group.name)
    for key, variable in item.variables.items():
        _write_other(group, key, variable, options)
    return group


def _write_other(group: h5py.Group, key: Hashable, variable: xr.Variable, options: StorageOptions) -> None:
    """A data variable of a group node: a plain dataset (the reader makes it a variable again)."""
    if not mapping.is_link_name(key) or key in group:
        raise ModelError(f"{group.name}: variable {key!r} cannot be stored as an HDF5 dataset there")
    note = None
    if variable.dtype.kind in "biufc" and not variable.dtype.names:
        dset = create_dataset(group, key, variable, options)
    else:
        values, note = mapping.coordinate_storage(variable.values)
        dset = _plain_dataset(group, key, values)
    write_attrs(dset, variable.attrs, exclude=mapping.DIMSCALE_ATTRS | {mapping.SIDECAR_ATTR})
    dims = list(variable.dims)
    sidecar = {
        "dims": None if dims == [f"{key}_dim_{i}" for i in range(variable.ndim)] else dims,
        "dtype": note,
        **attr_diff(variable.attrs, read_attrs(dset, exclude=mapping.DIMSCALE_ATTRS)),
    }
    write_sidecar(dset, sidecar, where=dset.name)


def _plain_dataset(group: h5py.Group, key: str, values: np.ndarray) -> h5py.Dataset:
    if values.dtype == object:
        return group.create_dataset(key, data=values, dtype=h5py.string_dtype("utf-8"))
    return group.create_dataset(key, data=values)


def write_signal(root: h5py.Group, item: SignalItem, options: StorageOptions) -> h5py.Dataset:
    """Write one signal as an NSID main dataset with its scales, dict groups and sidecar."""
    group = _group_at(root, item.group)
    if item.name in group:
        raise WriteError(
            f"{group.file.filename}:{group.name}/{item.name}: exists; NSID datasets are never "
            "overwritten in place"
        )
    da = item.array
    dset = create_dataset(group, item.name, da.variable, options)
    taken = set(group.keys())
    scales = [_write_scale(group, dim, da, axis, taken) for axis, dim in enumerate(da.dims)]
    _write_extra_coordinates(group, da, taken)
    dict_groups = _write_main_attrs(dset, group, da.attrs, taken)
    for axis, scale in enumerate(scales):
        label = scale.name.split("/")[-1]
        scale.make_scale(label)
        dset.dims[axis].label = label
        dset.dims[axis].attach_scale(scale)
    decoded = signal_attrs(dset, {name: group[name] for name in dict_groups}, str(group.file.filename))
    sidecar = {**attr_diff(da.attrs, decoded), "node_attrs": dict(item.node_attrs)}
    write_sidecar(dset, sidecar, where=dset.name)
    return dset


def _main_string(attrs: Mapping, key: str) -> str:
    value = attrs.get("main_data_name", attrs.get("title")) if key == "title" else attrs.get(key)
    if key == "data_type":
        return mapping.data_type_name(value) or "UNKNOWN"  # the sidpy reader fails on anything else
    return value if isinstance(value, str) else str(model.ARRAY_ATTRS[key])


def _write_main_attrs(dset: h5py.Dataset, group: h5py.Group, attrs: Mapping, taken: set[str]) -> list[str]:
    """The main dataset's attributes and its dict groups (returned by name)."""
    for key, h5_key in mapping.MAIN_ATTRS.items():
        dset.attrs[h5_key] = _main_string(attrs, key)
    if "main_data_name" in attrs and isinstance(attrs.get("title"), str):
        dset.attrs["title"] = attrs["title"]
    extras = {k: v for k, v in attrs.items() if k not in mapping.MAIN_ATTRS and k != "main_data_name"}
    write_attrs(dset, extras, exclude=_MAIN_EXCLUDE)
    if not isinstance(dset.attrs.get("pyNSID_version"), str):
        dset.attrs["pyNSID_version"] = mapping.PYNSID_VERSION  # pyNSID's check_if_main needs it
    written = []
    for key, value in attrs.items():
        if not isinstance(value, Mapping) or (key in mapping.MODEL_DICTS and not value):
            continue
        if mapping.is_dict_group_name(key, taken):
            write_dict_group(group.create_group(key), value)
            taken.add(key)
            written.append(key)
    return written


def _write_scale(
    group: h5py.Group, dim: Hashable, da: xr.DataArray, axis: int, taken: set[str]
) -> h5py.Dataset:
    # sidpy sets the dimensions in axis order over its defaults 'a', 'b', ...: a name still held by a
    # later axis' default is refused, so such a dimension is stored under another name
    blocked = taken | {string.ascii_lowercase[i % 26] for i in range(axis + 1, da.ndim)}
    key = dim if mapping.is_scale_name(dim, blocked) else mapping.unique_name(dim, blocked)
    coord = da.coords.variables.get(dim)  # not da.coords.get: that makes up an index for bare dims
    sidecar: dict[str, Any] = {"name": dim if key != dim else None}
    if coord is None:
        values, attrs = np.arange(da.shape[axis], dtype=np.float64), {}
        sidecar["no_coordinate"] = True
    else:
        values, sidecar["dtype"] = mapping.coordinate_storage(coord.values)
        attrs = dict(coord.attrs)
    scale = _plain_dataset(group, key, values)
    taken.add(key)
    _write_scale_attrs(scale, key, attrs)
    if coord is not None:
        sidecar.update(attr_diff(attrs, coordinate_attrs(scale, str(group.file.filename))))
    write_sidecar(scale, sidecar, where=scale.name)
    return scale


def _write_scale_attrs(scale: h5py.Dataset, key: str, attrs: Mapping) -> None:
    units, quantity = attrs.get("units"), attrs.get("quantity")
    scale.attrs["name"] = key
    scale.attrs["units"] = units if isinstance(units, str) and units.strip() else mapping.PLACEHOLDER
    scale.attrs["quantity"] = (
        quantity if isinstance(quantity, str) and quantity.strip() else mapping.PLACEHOLDER
    )
    scale.attrs["dimension_type"] = mapping.dimension_type_name(attrs.get("dimension_type")) or "UNKNOWN"
    derived = model.long_name(scale.attrs["quantity"], scale.attrs["units"])
    if "long_name" in attrs and attrs["long_name"] != derived:
        write_attrs(scale, {"long_name": attrs["long_name"]})
    write_attrs(scale, attrs, exclude=_SCALE_EXCLUDE)


def _write_extra_coordinates(group: h5py.Group, da: xr.DataArray, taken: set[str]) -> None:
    """Coordinates that are not dimension coordinates: datasets the sidpy reader ignores."""
    for name, coord in da.coords.items():
        if name in da.dims:
            continue
        key = name if mapping.is_scale_name(name, taken) else mapping.unique_name(name, taken)
        values, note = mapping.coordinate_storage(coord.values)
        dset = _plain_dataset(group, key, values)
        taken.add(key)
        write_attrs(dset, coord.attrs, exclude=mapping.DIMSCALE_ATTRS | {mapping.SIDECAR_ATTR})
        decoded = read_attrs(dset, exclude=mapping.DIMSCALE_ATTRS)
        sidecar = {
            "coordinate": list(coord.dims),
            "name": name if key != name else None,
            "dtype": note,
            **attr_diff(dict(coord.attrs), decoded),
        }
        write_sidecar(dset, sidecar, where=dset.name)
