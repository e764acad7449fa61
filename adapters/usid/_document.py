"""The ``pycrox_model`` JSON document: what a main dataset's attributes and ancillary datasets cannot say.

The writer compares the object with what the reader will derive from the file it writes
(`pycrox.adapters.usid.mapping.derived_array_attrs`, coordinates from the Values datasets) and
records only the differences:

``attrs`` / ``absent``
    Model attrs that differ from the derived ones / derived attrs the object does not have.
``fields``
    The same per field of a compound dataset.
``node_attrs``
    Attrs of the DataTree node of a signal.
``coords``
    Per coordinate: ``dtype``, exact ``values``, ``attrs``/``absent``, or ``drop`` (no coordinate).
``extra_coords``
    Coordinates that are not dims (scalar coords, auxiliary coords): dims, values and attrs.
``dims``
    The object's dims in their order (dims not listed are the size-1 dummies USID needed).
``position_dim``
    The name of a scattered-positions dim (the reader calls it ``position``).

A file written by pyUSID has no document; its objects come back with exactly the derived attrs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox.adapters.usid import _attrs, mapping

__all__ = ["attrs_diff", "coordinate_document", "main_attrs"]


def attrs_diff(actual: Mapping, derived: Mapping) -> dict[str, Any]:
    """``{"attrs": changed, "absent": missing}`` turning `derived` into `actual` (empty when equal)."""
    out: dict[str, Any] = {}
    changed = {k: v for k, v in actual.items() if k not in derived or not _attrs.same_value(v, derived[k])}
    absent = [k for k in derived if k not in actual]
    if changed:
        out["attrs"] = changed
    if absent:
        out["absent"] = absent
    return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) and "\x00" not in value else ""


def main_attrs(
    obj: xr.DataArray | xr.Dataset,
    name: str,
    fields: dict[str, xr.DataArray],
    dim_types: list[str],
    layout: dict,
    node_attrs: Mapping | None,
) -> tuple[dict, dict]:
    """HDF5 attributes of a main dataset and their type tags.

    ``quantity``, ``units``, the native ``original_metadata`` entries and, when the reader could
    not derive the object's attrs from these, ``pycrox_model``.
    """
    source = {k: v for k, v in obj.attrs.items() if k not in (mapping.LAYOUT_ATTR, model.COMPOUND_ATTR)}
    tags = {k: v for k, v in (layout.get("attr_types") or {}).items() if isinstance(v, str)}
    quantity, units = _text(source.get("quantity")), _text(source.get("units"))
    metadata = source.get("original_metadata")
    native, _ = _attrs.split_native(
        metadata if isinstance(metadata, Mapping) else {}, tags, reserved=mapping.RESERVED_MAIN_ATTRS
    )
    document = attrs_diff(source, mapping.derived_array_attrs(name, quantity, units, native, dim_types))
    if isinstance(obj, xr.Dataset):
        per_field = {
            k: attrs_diff(v.attrs, mapping.derived_field_attrs(k, dim_types)) for k, v in fields.items()
        }
        if any(per_field.values()):
            document["fields"] = {k: v for k, v in per_field.items() if v}
    if node_attrs:
        document["node_attrs"] = dict(node_attrs)
    attrs: dict[str, Any] = {"quantity": quantity, "units": units, **native}
    if document:
        attrs[mapping.MODEL_ATTR] = _attrs.dumps(document)
    return attrs, {k: v for k, v in tags.items() if k in attrs}


def coordinate_document(
    ref: xr.DataArray,
    pos_dims: list[dict],
    spec_dims: list[dict],
    pos_plan: Any,
    spec_plan: Any,
    scattered_dim: str | None,
) -> dict[str, Any]:
    """The ``coords``, ``extra_coords``, ``dims`` and ``position_dim`` entries for `ref`."""
    expected = _expected_coords(pos_dims, spec_dims, pos_plan, spec_plan, scattered_dim)
    document: dict[str, Any] = {}
    coords = {}
    for name, (values, attrs) in expected.items():
        actual = ref.coords[name].variable if name in ref.coords else None
        entry = _coord_entry(actual, values, attrs)
        if entry:
            coords[name] = entry
    if coords:
        document["coords"] = coords
    extra = {
        str(k): {"dims": [str(d) for d in c.dims], "values": c.values, "attrs": dict(c.attrs)}
        for k, c in ref.coords.items()
        if k not in expected
    }
    if extra:
        document["extra_coords"] = extra
    file_dims = ([scattered_dim] if scattered_dim else [d["label"] for d in pos_dims]) + [
        d["label"] for d in spec_dims
    ]
    if [str(d) for d in ref.dims] != file_dims:
        document["dims"] = [str(d) for d in ref.dims]
    if scattered_dim and scattered_dim != mapping.POSITION_DIM:
        document["position_dim"] = scattered_dim
    return document


def _expected_coords(
    pos_dims: list[dict], spec_dims: list[dict], pos_plan: Any, spec_plan: Any, scattered_dim: str | None
) -> dict[str, tuple[np.ndarray, dict]]:
    """What the reader derives: ``{name: (values, attrs)}`` (dummy dims left out)."""
    out: dict[str, tuple[np.ndarray, dict]] = {}
    if scattered_dim:
        out[scattered_dim] = (np.arange(pos_plan.inds.shape[1]), mapping.position_dim_attrs())
        for j, dim in enumerate(pos_dims):
            out[dim["label"]] = (
                pos_plan.vals[j],
                mapping.coordinate_attrs(dim["label"], dim["units"], "scattered"),
            )
    groups = [(spec_dims, spec_plan, "spectroscopic")] + (
        [] if scattered_dim else [(pos_dims, pos_plan, "position")]
    )
    for dims, plan, kind in groups:
        for j, dim in enumerate(dims):
            if dim["dummy"]:
                continue
            size = int(plan.inds[j].max()) + 1 if plan.inds.shape[1] else 0
            values = mapping.unit_values(plan.inds[j].astype(np.int64), plan.vals[j], size)[0]
            out[dim["label"]] = (values, mapping.coordinate_attrs(dim["label"], dim["units"], kind))
    return out


def _coord_entry(actual: xr.Variable | None, values: np.ndarray, attrs: dict) -> dict[str, Any]:
    if actual is None:
        return {"drop": True}
    entry: dict[str, Any] = {}
    stored = actual.values
    if stored.dtype != values.dtype:
        entry["dtype"] = stored.dtype.str
    try:
        with np.errstate(all="ignore"):
            cast = values.astype(stored.dtype)
    except (TypeError, ValueError):
        cast = None
    if cast is None or not _same_array(cast, stored):
        entry["values"] = stored
    entry.update(attrs_diff(actual.attrs, attrs))
    return entry


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))
