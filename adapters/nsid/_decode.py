"""One NSID main dataset as a pycrox signal: attrs, dimension coordinates, lazy data.

Shared by the reader and the writer (the writer reads back what it wrote with these functions to
find what needs the lossless sidecar).
"""

from __future__ import annotations

import string
import warnings
from typing import Any

import h5py
import numpy as np
import xarray as xr

from pycrox import model
from pycrox._hdf5 import lazy_variable_data, read_eager
from pycrox.adapters.nsid import mapping
from pycrox.adapters.nsid._data import frame_chunks
from pycrox.adapters.nsid._values import apply_sidecar, read_attrs, read_dict_group, read_sidecar
from pycrox.errors import FormatError

__all__ = ["SignalPlan", "coordinate_attrs", "group_attrs", "signal_attrs", "signal_plan"]


def _text(value: Any) -> Any:
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", "replace")
    return value.item() if isinstance(value, np.generic) else value


def signal_attrs(dset: h5py.Dataset, dict_groups: dict[str, h5py.Group], source: str) -> dict[str, Any]:
    """The model attrs of a main dataset, from its attributes and its dict groups (no sidecar)."""
    raw = read_attrs(dset, exclude=mapping.DIMSCALE_ATTRS, source=source)
    attrs: dict[str, Any] = {
        key: _text(raw.pop(attr, model.ARRAY_ATTRS[key])) for key, attr in mapping.MAIN_ATTRS.items()
    }
    if "title" in raw:  # another tool's title, honoured by the sidpy reader; keep main_data_name beside it
        attrs["main_data_name"], attrs["title"] = attrs["title"], _text(raw.pop("title"))
    data_type = mapping.data_type_name(attrs["data_type"])
    if data_type is None:
        warnings.warn(
            f"{source}:{dset.name}: data_type {attrs['data_type']!r} is not a sidpy DataType; read as UNKNOWN",
            stacklevel=4,
        )
    attrs["data_type"] = data_type or "UNKNOWN"
    attrs.update({key: {} for key in mapping.MODEL_DICTS})
    for name, group in dict_groups.items():
        attrs[name] = read_dict_group(group, source)
    for key, value in raw.items():
        if key in attrs:
            warnings.warn(
                f"{source}:{dset.name}: attribute {key!r} hides the group of that name; skipped", stacklevel=4
            )
            continue
        attrs[key] = value
    return attrs


def coordinate_attrs(scale: h5py.Dataset, source: str) -> dict[str, Any]:
    """The model attrs of a dimension coordinate, from its scale's attributes (no sidecar)."""
    raw = read_attrs(scale, exclude=mapping.DIMSCALE_ATTRS | {"name"}, source=source)
    units, quantity = _text(raw.pop("units", "")), _text(raw.pop("quantity", ""))
    stored_type = raw.pop("dimension_type", None)
    dim_type = mapping.dimension_type_name(stored_type)
    if dim_type is None and stored_type is not None:
        warnings.warn(
            f"{source}:{scale.name}: dimension_type {_text(stored_type)!r} is not a sidpy "
            "DimensionType; read as UNKNOWN",
            stacklevel=4,
        )
    attrs = {
        "units": units,
        "quantity": quantity,
        "dimension_type": dim_type or "UNKNOWN",
        "long_name": model.long_name(quantity, units) if isinstance(quantity, str) else "",
    }
    attrs.update(raw)
    return attrs


def group_attrs(group: h5py.Group, source: str) -> dict[str, Any]:
    """A group node's attrs: its attributes, with its sidecar applied."""
    return apply_sidecar(read_attrs(group, source=source), read_sidecar(group, source))


def _scale_of(dset: h5py.Dataset, axis: int, source: str) -> h5py.Dataset | None:
    """The dimension scale of one axis (the last attached, as sidpy), else the label's dataset."""
    dim = dset.dims[axis]
    try:
        scales = list(dim.values())
    except (RuntimeError, OSError, KeyError, ValueError):
        scales = []
    if scales:
        return scales[-1]
    label = dim.label
    candidate = dset.parent.get(label) if label else None
    if isinstance(candidate, h5py.Dataset):
        warnings.warn(
            f"{source}:{dset.name}: dimension {label!r} is not attached as a dimension scale; "
            "using the dataset of that name",
            stacklevel=5,
        )
        return candidate
    warnings.warn(
        f"{source}:{dset.name}: axis {axis} has no dimension dataset; using index values", stacklevel=5
    )
    return None


def _coordinate(
    dset: h5py.Dataset, axis: int, taken: set[str], source: str
) -> tuple[Any, xr.Variable | None]:
    scale = _scale_of(dset, axis, source)
    size = dset.shape[axis]
    if scale is None:
        name = dset.dims[axis].label or string.ascii_lowercase[axis % 26]
        name = name if name not in taken else mapping.unique_name(name, taken)
        attrs = {"units": "", "quantity": "", "dimension_type": "UNKNOWN", "long_name": ""}
        return name, xr.Variable((name,), np.arange(size), attrs)
    if scale.ndim != 1 or scale.shape[0] != size:
        raise FormatError(
            source,
            f"dimension {scale.name.split('/')[-1]!r} has {scale.shape} values but data axis {axis} has "
            f"{size}; the file may be truncated or damaged",
            where=dset.name,
        )
    sidecar = read_sidecar(scale, source)
    name = sidecar.get(
        "name", dset.dims[axis].label or _text(scale.attrs.get("name")) or scale.name.split("/")[-1]
    )
    if sidecar.get("no_coordinate"):
        return name, None
    values = mapping.restore_coordinate(read_eager(scale, source), sidecar.get("dtype"))
    attrs = apply_sidecar(coordinate_attrs(scale, source), sidecar)
    return name, xr.Variable((name,), values, attrs)


def _extra_coordinate(dset: h5py.Dataset, source: str) -> tuple[Any, xr.Variable]:
    sidecar = read_sidecar(dset, source)
    values = mapping.restore_coordinate(read_eager(dset, source), sidecar.get("dtype"))
    attrs = apply_sidecar(read_attrs(dset, exclude=mapping.DIMSCALE_ATTRS, source=source), sidecar)
    name = sidecar.get("name", dset.name.split("/")[-1])
    return name, xr.Variable(tuple(sidecar["coordinate"]), values, attrs)


class SignalPlan:
    """Everything about one main dataset but its lazy data (built without holding the HDF5 lock)."""

    def __init__(self, path: str, dims: tuple, attrs: dict, encoding: dict, coords: xr.Dataset) -> None:
        self.path, self.dims, self.attrs, self.encoding, self.coords = path, dims, attrs, encoding, coords

    def dataset(self, manager: Any) -> xr.Dataset:
        """The node Dataset: one lazy variable named like the dataset, plus its coordinates.

        Call it without holding ``HDF5_LOCK`` (the lazy array takes it).
        """
        variable = xr.Variable(self.dims, lazy_variable_data(manager, self.path), self.attrs)
        variable.encoding = self.encoding
        return self.coords.assign({self.path.split("/")[-1]: variable})


def signal_plan(
    dset: h5py.Dataset, dict_groups: dict[str, h5py.Group], coords: list[h5py.Dataset], source: str
) -> SignalPlan:
    """Read the attrs and coordinates of one main dataset (call it holding ``HDF5_LOCK``)."""
    name = dset.name.split("/")[-1]
    coordinates: dict[Any, xr.Variable] = {}
    dims: list[Any] = []
    for axis in range(dset.ndim):
        dim, variable = _coordinate(dset, axis, set(map(str, dims)), source)
        if dim in dims or dim == name:
            raise FormatError(source, f"dimension name {dim!r} is used twice", where=dset.name)
        dims.append(dim)
        if variable is not None:
            coordinates[dim] = variable
    for extra in coords:
        coord_name, variable = _extra_coordinate(extra, source)
        if set(variable.dims) <= set(dims):
            coordinates[coord_name] = variable
    sidecar = read_sidecar(dset, source)
    attrs = apply_sidecar(signal_attrs(dset, dict_groups, source), sidecar)
    node = xr.Dataset(coords=coordinates, attrs=sidecar.get("node_attrs", {}))
    return SignalPlan(dset.name, tuple(dims), attrs, _encoding(dset, dims, source), node)


def _encoding(dset: h5py.Dataset, dims: list[Any], source: str) -> dict[str, Any]:
    encoding: dict[str, Any] = {"dtype": dset.dtype, "source": source}
    if dset.chunks:
        encoding["chunksizes"] = tuple(dset.chunks)
        encoding["preferred_chunks"] = dict(zip(dims, dset.chunks, strict=True))
    else:  # contiguous: read in frames (or row tiles) of a few MiB, so chunks={} and convert stream
        shape_only = xr.Variable(dims, np.broadcast_to(np.zeros((), dset.dtype), dset.shape))
        chunks = frame_chunks(shape_only)
        if chunks:
            encoding["preferred_chunks"] = dict(zip(dims, chunks, strict=True))
    if dset.compression:
        encoding["compression"] = dset.compression
        encoding["compression_opts"] = dset.compression_opts
    if dset.shuffle:
        encoding["shuffle"] = True
    if dset.fletcher32:
        encoding["fletcher32"] = True
    return encoding
