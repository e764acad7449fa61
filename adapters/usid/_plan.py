"""A pycrox signal -> what one USID main dataset and its ancillary datasets hold (no file access).

`plan_main` splits the dims into position and spectroscopic dims (SPATIAL and POINT_CLOUD dims
are positions, or ``position_dims=``), adds a size-1 dummy dim where a group is empty (USID needs
at least one of each), builds the index grid and the values, the 2-D matrix, the attributes
HDF5 can hold, and the ``pycrox_model`` JSON document with everything the reader cannot derive
from the file (see `pycrox.adapters.usid._main`), so that reading gives the object back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from pycrox.adapters.usid import _ancillary, _attrs, _be, _document, mapping
from pycrox.errors import ModelError

__all__ = ["AncillaryPlan", "MainPlan", "plan_main"]

_POSITION_TYPES = ("SPATIAL", "POINT_CLOUD")


@dataclass
class AncillaryPlan:
    """The Indices/Values pair of one kind, ready to write (arrays in spectroscopic shape)."""

    kind: str
    labels: list[str]
    units: list[str]
    inds: np.ndarray
    vals: np.ndarray
    order: list[int]
    scattered: bool = False
    layout: dict[str, dict[str, Any]] = field(default_factory=dict)

    def stored(self, role: str) -> np.ndarray:
        """The array of dataset `role` (``"Position_Indices"``, ...) as stored."""
        data = self.inds if role.endswith("Indices") else self.vals
        return data.T if self.kind == "Position" else data

    def attrs(self, role: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Attributes of dataset `role` and their type tags."""
        entry = self.layout.get(role, {})
        values: dict[str, Any] = {
            "labels": _ancillary.default_label_array(self.labels),
            "units": _ancillary.default_label_array(self.units),
            "type": _ancillary.default_type(len(self.labels), self.scattered),
        }
        values.update(entry.get("attrs", {}))
        for name in entry.get("absent", []):
            values.pop(name, None)
        return values, dict(entry.get("attr_types", {}))


@dataclass
class MainPlan:
    """Everything one main dataset holds."""

    name: str
    data: Any
    attrs: dict[str, Any]
    tags: dict[str, str]
    position: AncillaryPlan
    spectroscopic: AncillaryPlan
    storage: dict[str, Any]


@dataclass
class _Dim:
    label: str
    size: int
    units: str
    values: np.ndarray
    coord: xr.Variable | None
    dummy: bool = False


@dataclass
class _Dims:
    """The object's dims split into USID groups (dummy dims included)."""

    position: list[_Dim]
    spectroscopic: list[_Dim]
    scattered_dim: str | None


def plan_main(
    obj: xr.DataArray | xr.Dataset, name: str, *, position_dims: Any = None, node_attrs: dict | None = None
) -> MainPlan:
    """Plan the main dataset `name` for a DataArray, or for a Dataset written as one compound dataset.

    Raises
    ------
    ModelError
        If dims are not strings or empty, fields disagree on their dims, or `position_dims` names
        unknown dims.
    """
    obj = _be.to_file(obj)  # BE results read from a file get BGlib's field names back
    fields = {str(k): v for k, v in obj.data_vars.items()} if isinstance(obj, xr.Dataset) else {name: obj}
    if not fields:
        raise ModelError(f"{name}: a Dataset without data variables cannot be a USID main dataset")
    ref = next(iter(fields.values()))
    _check_fields(fields, ref, name)
    layout = obj.attrs.get(mapping.LAYOUT_ATTR)
    layout = layout if isinstance(layout, dict) else {}
    dims = _plan_dims(ref, position_dims, name)
    position = _ancillary_plan("Position", dims.position, layout, dims.scattered_dim is not None)
    spectroscopic = _ancillary_plan("Spectroscopic", dims.spectroscopic, layout, False)
    shape = (position.inds.shape[1], spectroscopic.inds.shape[1])
    order = [dims.scattered_dim] if dims.scattered_dim else [dims.position[i].label for i in position.order]
    order += [dims.spectroscopic[i].label for i in spectroscopic.order]
    dummies = [d.label for d in dims.position + dims.spectroscopic if d.dummy]
    matrices = {k: _matrix(v.variable, dummies, order, shape) for k, v in fields.items()}
    data = matrices[name] if isinstance(obj, xr.DataArray) else _structured(matrices)
    attrs, tags = _attributes(obj, name, fields, dims, (position, spectroscopic), layout, node_attrs)
    storage = mapping.storage_kwargs(ref.encoding, shape)
    return MainPlan(name, data, attrs, tags, position, spectroscopic, storage)


def _plan_dims(ref: xr.DataArray, position_dims: Any, name: str) -> _Dims:
    positions, spectra = _split(ref, position_dims, name)
    scattered = _scattered_labels(ref, positions)
    pos_dims = _scattered_dims(ref, scattered) if scattered else _grid_dims(ref, positions)
    spec_dims = _grid_dims(ref, spectra)
    _add_dummy(pos_dims, spec_dims, ref)
    return _Dims(pos_dims, spec_dims, positions[0] if scattered else None)


def _attributes(
    obj: Any,
    name: str,
    fields: dict,
    dims: _Dims,
    plans: tuple[AncillaryPlan, AncillaryPlan],
    layout: dict,
    node_attrs: dict | None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """HDF5 attributes of the main dataset, ``pycrox_model`` included when needed."""
    scattered = dims.scattered_dim is not None
    dim_types = mapping.dimension_types(len(dims.position), len(dims.spectroscopic), scattered)
    attrs, tags = _document.main_attrs(obj, name, fields, dim_types, layout, node_attrs)
    ref = next(iter(fields.values()))
    views = ([_coord_view(d) for d in dims.position], [_coord_view(d) for d in dims.spectroscopic])
    coords_doc = _document.coordinate_document(ref, *views, *plans, dims.scattered_dim)
    if coords_doc:
        doc = _attrs.loads(attrs[mapping.MODEL_ATTR]) if mapping.MODEL_ATTR in attrs else {}
        attrs[mapping.MODEL_ATTR] = _attrs.dumps({**doc, **coords_doc})
    return attrs, tags


def _check_fields(fields: dict[str, xr.DataArray], ref: xr.DataArray, name: str) -> None:
    for dim in ref.dims:
        if not isinstance(dim, str):
            raise ModelError(f"{name}: dimension {dim!r} is not a string; USID labels are strings")
        if ref.sizes[dim] == 0:
            raise ModelError(
                f"{name}: dimension {dim!r} is empty; USID derives sizes from index values, so an "
                "empty dimension cannot be stored"
            )
    for key, var in fields.items():
        if set(var.dims) != set(ref.dims) or any(var.sizes[d] != ref.sizes[d] for d in ref.dims):
            raise ModelError(
                f"{name}: field {key!r} has dims {dict(var.sizes)} but {dict(ref.sizes)} are "
                "needed for one compound dataset; write the variables separately (compound=False)"
            )


def _split(ref: xr.DataArray, position_dims: Any, name: str) -> tuple[list[str], list[str]]:
    dims = [str(d) for d in ref.dims]
    if position_dims is not None:
        chosen = [position_dims] if isinstance(position_dims, str) else [str(d) for d in position_dims]
        unknown = [d for d in chosen if d not in dims]
        if unknown:
            raise ModelError(f"{name}: position_dims {unknown} are not dims of the data {dims}")
        return [d for d in dims if d in chosen], [d for d in dims if d not in chosen]
    is_position = {d: d in ref.coords and ref[d].attrs.get("dimension_type") in _POSITION_TYPES for d in dims}
    return [d for d in dims if is_position[d]], [d for d in dims if not is_position[d]]


def _scattered_labels(ref: xr.DataArray, positions: list[str]) -> list[str]:
    """Per-point coordinates of a single POINT_CLOUD position dim (scattered positions), if any."""
    if len(positions) != 1 or positions[0] not in ref.coords:
        return []
    dim = positions[0]
    if ref[dim].attrs.get("dimension_type") != "POINT_CLOUD":
        return []
    return [str(k) for k, c in ref.coords.items() if k != dim and c.dims == (dim,) and c.dtype.kind in "biuf"]


def _grid_dims(ref: xr.DataArray, dims: list[str]) -> list[_Dim]:
    out = []
    for dim in dims:
        coord = ref.coords[dim].variable if dim in ref.coords else None
        values = (
            coord.values if coord is not None and coord.dtype.kind in "biuf" else np.arange(ref.sizes[dim])
        )
        out.append(_Dim(dim, ref.sizes[dim], _units(coord), values, coord))
    return out


def _scattered_dims(ref: xr.DataArray, labels: list[str]) -> list[_Dim]:
    return [
        _Dim(
            label,
            ref.coords[label].size,
            _units(ref.coords[label].variable),
            ref.coords[label].values,
            ref.coords[label].variable,
        )
        for label in labels
    ]


def _units(coord: xr.Variable | None) -> str:
    units = coord.attrs.get("units", "") if coord is not None else ""
    return units if isinstance(units, str) else ""


def _add_dummy(pos_dims: list[_Dim], spec_dims: list[_Dim], ref: xr.DataArray) -> None:
    taken = {str(d) for d in ref.dims} | {str(c) for c in ref.coords}
    for dims, base in ((pos_dims, "arb_position"), (spec_dims, "arb")):
        if not dims:
            label = base
            while label in taken:
                label += "_"
            taken.add(label)
            dims.append(_Dim(label, 1, "a.u.", np.zeros(1, dtype=np.float32), None, dummy=True))


def _ancillary_plan(kind: str, dims: list[_Dim], layout: dict, scattered: bool) -> AncillaryPlan:
    entries = {
        k: v for k, v in (layout.get("ancillary") or {}).items() if k.startswith(kind) and isinstance(v, dict)
    }
    labels, units = [d.label for d in dims], [d.units for d in dims]
    index_dtype = _index_dtype(entries.get(f"{kind}_Indices", {}), dims)
    values_dtype = _values_dtype([d.values for d in dims])
    if scattered:
        n = dims[0].size
        inds = np.tile(np.arange(n, dtype=index_dtype), (len(dims), 1))
        vals = np.stack([d.values.astype(values_dtype) for d in dims])
        order = [0]
    else:
        order = _order(layout.get(f"{kind.lower()}_order"), labels)
        inds = mapping.odometer([d.size for d in dims], order, index_dtype)
        vals = np.empty(inds.shape, dtype=values_dtype)
        for j, dim in enumerate(dims):
            vals[j] = dim.values.astype(values_dtype)[inds[j]]
    kept = _kept_values(entries.get(f"{kind}_Values", {}), kind, vals)
    return AncillaryPlan(kind, labels, units, inds, kept, order, scattered, entries)


def _index_dtype(entry: dict, dims: list[_Dim]) -> np.dtype:
    try:
        dtype = np.dtype(entry.get("dtype", mapping.INDEX_DTYPE))
    except TypeError:
        return mapping.INDEX_DTYPE
    fits = dtype.kind in "iu" and all(d.size - 1 <= np.iinfo(dtype).max for d in dims)
    return dtype if fits else mapping.INDEX_DTYPE


def _values_dtype(values: list[np.ndarray]) -> np.dtype:
    dtype = np.result_type(*[v.dtype for v in values])
    if dtype.kind == "b":
        return np.dtype("uint8")
    return dtype if dtype.kind in "iuf" else np.dtype("float64")


def _order(recorded: Any, labels: list[str]) -> list[int]:
    if isinstance(recorded, list) and sorted(map(str, recorded)) == sorted(labels):
        return [labels.index(str(label)) for label in recorded]
    return list(range(len(labels)))


def _kept_values(entry: dict, kind: str, vals: np.ndarray) -> np.ndarray:
    """Values recorded verbatim on read (tiles that differ) when they still fit the coordinates."""
    data = entry.get("data")
    if not isinstance(data, np.ndarray):
        return vals
    data = data.T if kind == "Position" else data
    return data if data.shape == vals.shape and data.dtype == vals.dtype else vals


def _coord_view(dim: _Dim) -> dict[str, Any]:
    return {"label": dim.label, "units": dim.units, "coord": dim.coord, "dummy": dim.dummy}


def _matrix(var: xr.Variable, dummies: list[str], order: list[str], shape: tuple[int, int]) -> Any:
    """The 2-D (positions, spectroscopic steps) form of one variable: a view when already in order."""
    if dummies:
        var = var.set_dims({**dict.fromkeys(dummies, 1), **dict(var.sizes)})
    data = var.transpose(*order).data
    data = data if hasattr(data, "dask") or isinstance(data, np.ndarray) else np.asarray(data)
    return data.reshape(shape)


def _structured(matrices: dict[str, Any]) -> np.ndarray:
    first = next(iter(matrices.values()))
    dtype = np.dtype(
        [(k, np.asarray(m).dtype if not hasattr(m, "dask") else m.dtype) for k, m in matrices.items()]
    )
    out = np.empty(first.shape, dtype=dtype)
    for key, matrix in matrices.items():
        out[key] = np.asarray(matrix)
    return out
