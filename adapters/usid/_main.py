"""One USID main dataset -> the Dataset of its DataTree node (lazy).

A plain main dataset becomes one variable named like the dataset; a compound one becomes one
variable per field (node attrs ``pycrox_compound: True``). Dims are the position labels in file
order, then the spectroscopic labels in file order (``position`` for scattered positions, with
one coordinate per label). Attrs are derived from the file (`mapping.derived_array_attrs`),
then the ``pycrox_model`` JSON attribute, when present, restores what USID cannot store.
"""

from __future__ import annotations

import warnings
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model
from pycrox.adapters.usid import _ancillary, _attrs, mapping
from pycrox.adapters.usid._array import Geometry, NDimArray
from pycrox.errors import FormatError

__all__ = ["is_claimed_main", "read_main"]

_STORAGE_KEYS = ("chunks", "compression", "compression_opts", "shuffle", "fletcher32")


def is_claimed_main(obj: Any) -> bool:
    """Whether an HDF5 object carries USID ancillary references (is meant as a main dataset)."""
    return isinstance(obj, h5py.Dataset) and any(name in obj.attrs for name in mapping.ANCILLARY)


def read_main(
    dset: h5py.Dataset, manager: Any, source: str, completed: np.ndarray | None
) -> tuple[xr.Dataset, list[str]]:
    """The node Dataset of main dataset `dset`, and the paths of its ancillary datasets.

    Parameters
    ----------
    dset : h5py.Dataset
        A dataset for which `is_claimed_main` is True (the caller holds ``HDF5_LOCK``).
    manager : xarray file manager
        Keeps the file open for the lazy data.
    source : str
        File name for messages.
    completed : numpy.ndarray of bool, optional
        Which positions a results group completed (``completed_positions`` / ``last_pixel``).

    Raises
    ------
    FormatError
        When the dataset or its ancillary datasets break the USID rules.
    """
    where = dset.name
    values, tags = _attrs.read_attrs(dset, skip=mapping.ANCILLARY)
    _check_main(dset, values, source)
    targets = _ancillary.dereference(dset, source)
    pos = _ancillary.load(dset, targets, "Position", source)
    spec = _ancillary.load(dset, targets, "Spectroscopic", source)
    geometry, scattered = _geometry(pos, spec, dset.shape[0], source, where, completed)
    shared = set(pos.labels) & {*spec.labels, *([mapping.POSITION_DIM] if scattered else [])}
    if shared or (scattered and mapping.POSITION_DIM in spec.labels):
        raise FormatError(
            source, f"labels {sorted(shared) or [mapping.POSITION_DIM]} name two dimensions", where=where
        )
    name = where.rsplit("/", 1)[-1]
    document = _document_of(values, tags, source, where)
    dims, coords, layout = _coordinates(pos, spec, geometry, scattered)
    dim_types = mapping.dimension_types(len(pos.labels), len(spec.labels), scattered)
    quantity, units = values.pop("quantity", ""), values.pop("units", "")
    attrs = _finish_attrs(
        mapping.derived_array_attrs(name, quantity, units, values, dim_types),
        {**layout, **_main_layout(tags, pos, spec)},
        document,
    )
    if document:
        dims, coords = _apply_document(dims, coords, document, source, where)
    lazy = {field: _lazy(manager, dset, geometry, source, field) for field in dset.dtype.names or [None]}
    ds = _node_dataset(name, lazy, dims, coords, attrs, dim_types, document, _encoding(dset))
    return _restore_dims(ds, document, source, where), [t.name for t in targets.values()]


def _encoding(dset: h5py.Dataset) -> dict[str, Any]:
    encoding = {f"usid_{k}": getattr(dset, k) for k in _STORAGE_KEYS if getattr(dset, k)}
    encoding["usid_path"] = dset.name
    return encoding


def _node_dataset(
    name: str,
    lazy: dict,
    dims: list[str],
    coords: dict,
    attrs: dict,
    dim_types: list[str],
    document: dict,
    encoding: dict,
) -> xr.Dataset:
    """One variable named like the dataset, or one per field with the attrs on the node."""
    if None in lazy:
        var = xr.Variable(dims, lazy[None], attrs, encoding=encoding)
        return xr.Dataset({name: var}, coords=coords, attrs=dict(document.get("node_attrs", {})))
    fields = document.get("fields", {})
    variables = {
        field: xr.Variable(
            dims,
            data,
            _finish_attrs(mapping.derived_field_attrs(field, dim_types), {}, fields.get(field, {})),
            encoding=encoding,
        )
        for field, data in lazy.items()
    }
    return xr.Dataset(variables, coords=coords, attrs={**attrs, model.COMPOUND_ATTR: True})


def _lazy(manager: Any, dset: h5py.Dataset, geometry: Geometry, source: str, field: str | None) -> Any:
    return indexing.LazilyIndexedArray(NDimArray(manager, dset, geometry, source, field=field))


def _document_of(values: dict, tags: dict, source: str, where: str) -> dict:
    tags.pop(mapping.MODEL_ATTR, None)
    if mapping.MODEL_ATTR not in values:
        return {}
    try:
        document = _attrs.loads(values.pop(mapping.MODEL_ATTR))
    except (ValueError, TypeError) as exc:
        raise FormatError(
            source, f"attribute {mapping.MODEL_ATTR!r} is not valid JSON ({exc})", where=where
        ) from exc
    if not isinstance(document, dict):
        raise FormatError(source, f"attribute {mapping.MODEL_ATTR!r} is not a JSON object", where=where)
    return document


def _check_main(dset: h5py.Dataset, values: dict[str, Any], source: str) -> None:
    if dset.ndim != 2:
        raise FormatError(
            source,
            f"a USID main dataset must be 2-D (positions, spectroscopic steps); this "
            f"one has shape {dset.shape}",
            where=dset.name,
        )
    kind = dset.dtype.kind
    if not (kind in "biufc" or (kind == "V" and dset.dtype.names)):
        raise FormatError(
            source,
            f"main dataset has dtype {dset.dtype}; expected numbers or a compound of numbers",
            where=dset.name,
        )
    for name in ("quantity", "units"):
        value = values.get(name)
        if not isinstance(value, str):
            raise FormatError(
                source,
                f"attribute {name!r} is {'missing' if value is None else repr(value)}; expected a string",
                where=dset.name,
            )


def _geometry(
    pos: _ancillary.Ancillary,
    spec: _ancillary.Ancillary,
    n_rows: int,
    source: str,
    where: str,
    completed: np.ndarray | None,
) -> tuple[Geometry, bool]:
    spec_status, spec_sizes, spec_order = mapping.grid_status(spec.inds)
    if spec_status != "grid":
        raise FormatError(
            source,
            f"Spectroscopic_Indices {spec.labels} do not form a grid (sizes "
            f"{spec_sizes}, {spec.inds.shape[1]} steps)",
            where=where,
        )
    if mapping.is_scattered(pos.inds, pos.types):
        return Geometry(
            (n_rows,), tuple(spec_sizes), (0,), tuple(spec_order), _valid(completed, n_rows)
        ), True
    status, sizes, order = mapping.grid_status(pos.inds)
    if status == "invalid":
        raise FormatError(
            source,
            f"Position_Indices {pos.labels} do not form a grid: the rows are not "
            f"one odometer over the sizes {sizes}",
            where=where,
        )
    valid = _valid(completed, n_rows)
    total = int(np.prod(sizes, dtype=np.int64))
    if status == "truncated":
        valid = np.arange(total) < n_rows
    if valid is not None:
        warnings.warn(
            f"{source}:{where}: {int((~valid).sum())} of {total} positions are missing "
            "(incomplete acquisition or processing); they read as NaN",
            UserWarning,
            stacklevel=4,
        )
    return Geometry(tuple(sizes), tuple(spec_sizes), tuple(order), tuple(spec_order), valid), False


def _valid(completed: np.ndarray | None, n_rows: int) -> np.ndarray | None:
    if completed is None or completed.size != n_rows or completed.all():
        return None
    return completed.astype(bool)


def _coordinates(
    pos: _ancillary.Ancillary, spec: _ancillary.Ancillary, geo: Geometry, scattered: bool
) -> tuple[list[str], dict[str, xr.Variable], dict[str, Any]]:
    """Dims, coordinates and the non-default layout of the N-D form."""
    coords: dict[str, xr.Variable] = {}
    layout: dict[str, Any] = {}
    if scattered:
        coords[mapping.POSITION_DIM] = xr.Variable(
            mapping.POSITION_DIM, np.arange(pos.inds.shape[1]), mapping.position_dim_attrs()
        )
        for label, unit, row in zip(pos.labels, pos.units, pos.vals, strict=True):
            coords[label] = xr.Variable(
                mapping.POSITION_DIM, row, mapping.coordinate_attrs(label, unit, "scattered")
            )
        dims = [mapping.POSITION_DIM]
    else:
        dims = list(pos.labels)
        _grid_coords(coords, pos, geo.position_sizes, "position")
    _grid_coords(coords, spec, geo.spectroscopic_sizes, "spectroscopic")
    for anc, order in ((pos, geo.position_order), (spec, geo.spectroscopic_order)):
        if list(order) != list(range(len(order))):
            layout[f"{anc.kind.lower()}_order"] = [anc.labels[i] for i in order]
    return [*dims, *spec.labels], coords, layout


def _grid_coords(coords: dict, anc: _ancillary.Ancillary, sizes: tuple[int, ...], kind: str) -> None:
    for j, (label, unit) in enumerate(zip(anc.labels, anc.units, strict=True)):
        values, consistent = mapping.unit_values(anc.inds[j], anc.vals[j], sizes[j])
        if not consistent:
            entry = anc.layout.setdefault(f"{anc.kind}_Values", {})
            entry["data"] = anc.vals.T if anc.kind == "Position" else anc.vals
        coords[label] = xr.Variable(label, values, mapping.coordinate_attrs(label, unit, kind))


def _main_layout(tags: dict, pos: _ancillary.Ancillary, spec: _ancillary.Ancillary) -> dict[str, Any]:
    layout: dict[str, Any] = {}
    if tags:
        layout["attr_types"] = tags
    ancillary = {**pos.layout, **spec.layout}
    if ancillary:
        layout["ancillary"] = ancillary
    return layout


def _finish_attrs(attrs: dict, layout: dict, document: dict) -> dict:
    out = {**attrs, **document.get("attrs", {})}
    for key in document.get("absent", []):
        out.pop(key, None)
    if layout:
        out[mapping.LAYOUT_ATTR] = layout
    return out


def _renamed_dim(variable: xr.Variable, old: str, new: str) -> xr.Variable:
    """`variable` with its dim `old` called `new` (xarray.Variable has no ``rename``)."""
    dims = tuple(new if d == old else d for d in variable.dims)
    return (
        variable
        if dims == variable.dims
        else xr.Variable(dims, variable.data, variable.attrs, variable.encoding)
    )


def _apply_document(
    dims: list[str], coords: dict[str, xr.Variable], document: dict, source: str, where: str
) -> tuple[list[str], dict[str, xr.Variable]]:
    """Rename the scattered dim and restore the coordinates recorded by the writer."""
    try:
        renamed = document.get("position_dim")
        if renamed and mapping.POSITION_DIM in dims:
            dims = [renamed if d == mapping.POSITION_DIM else d for d in dims]
            coords = {
                (renamed if k == mapping.POSITION_DIM else k): _renamed_dim(v, mapping.POSITION_DIM, renamed)
                for k, v in coords.items()
            }
        for name, entry in document.get("coords", {}).items():
            if entry.get("drop"):
                coords.pop(name)
                continue
            coord = coords[name]
            values = np.asarray(entry["values"]) if "values" in entry else coord.values
            values = values.astype(entry["dtype"]) if "dtype" in entry else values
            coords[name] = xr.Variable(coord.dims, values, _finish_attrs(coord.attrs, {}, entry))
        for name, entry in document.get("extra_coords", {}).items():
            coords[name] = xr.Variable(entry["dims"], np.asarray(entry["values"]), entry.get("attrs", {}))
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise FormatError(
            source, f"attribute {mapping.MODEL_ATTR!r} does not fit the dataset ({exc})", where=where
        ) from exc
    return dims, coords


def _restore_dims(ds: xr.Dataset, document: dict, source: str, where: str) -> xr.Dataset:
    """Drop the size-1 dummy dims USID needed and restore the object's dims order."""
    if "dims" not in document:
        return ds
    keep = list(document["dims"])
    try:
        drop = [d for d in ds.dims if d not in keep]
        return ds.isel(dict.fromkeys(drop, 0), drop=True).transpose(*keep)
    except (KeyError, ValueError, IndexError) as exc:
        raise FormatError(
            source,
            f"attribute {mapping.MODEL_ATTR!r} lists dims {keep} that do not fit the dataset ({exc})",
            where=where,
        ) from exc
