"""Writing into an open HDF5 file: main datasets, shared ancillary datasets, groups and attributes.

`FileWriter` keeps what it wrote so that main datasets with the same ancillary content share one
Indices/Values pair (as pyUSID files share them across channels and results groups), and it
writes reference-valued attributes last, when every target exists.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np
import xarray as xr

from pycrox._hdf5 import write_array
from pycrox.adapters.usid import _attrs, mapping
from pycrox.adapters.usid._plan import AncillaryPlan, MainPlan
from pycrox.errors import ModelError

__all__ = ["FileWriter"]

_ROLES = {
    "Position": ("Position_Indices", "Position_Values"),
    "Spectroscopic": ("Spectroscopic_Indices", "Spectroscopic_Values"),
}


class FileWriter:
    """Writes pycrox pieces into one open, writable h5py.File."""

    def __init__(self, h5: h5py.File) -> None:
        self.h5 = h5
        self._signatures: dict[str, str] = {}
        self._deferred: list[tuple[str, str, Any, str | None]] = []
        self.created: list[str] = []

    def group(self, path: str) -> h5py.Group:
        """The group at `path`, created (with its parents) when missing."""
        if path in ("", "/"):
            return self.h5
        if path not in self.h5:
            self.created.append(path)
        return self.h5.require_group(path)

    def set_attrs(self, obj: Any, attrs: Mapping[str, Any]) -> None:
        """Write pycrox attrs of a group or plain dataset (layout tags honoured, JSON for the rest)."""
        layout = attrs.get(mapping.LAYOUT_ATTR)
        tags = dict((layout or {}).get("attr_types") or {}) if isinstance(layout, Mapping) else {}
        values = {k: v for k, v in attrs.items() if k != mapping.LAYOUT_ATTR}
        native, rest = _attrs.split_native(values, tags, reserved=(mapping.MODEL_ATTR,))
        self.write_native(obj, native, tags)
        if rest:
            obj.attrs[mapping.MODEL_ATTR] = _attrs.dumps({"attrs": rest})

    def write_native(self, obj: Any, values: Mapping[str, Any], tags: Mapping[str, str]) -> None:
        """Write native attribute values now, references at `finish`."""
        now = {}
        for name, value in values.items():
            if _has_reference(value, tags.get(name)):
                self._deferred.append((obj.name, name, value, tags.get(name)))
            else:
                now[name] = value
        _attrs.write_attrs(obj, now, tags)

    def plain(self, parent: str, name: str, variable: xr.Variable) -> None:
        """A non-main dataset (a group node's data variable) with its attrs."""
        data = np.asarray(variable.values)
        if data.dtype.kind in "OU":
            data = data.astype(h5py.string_dtype("utf-8")) if data.dtype.kind == "U" else data
            kwargs: dict[str, Any] = {"dtype": h5py.string_dtype("utf-8")}
        else:
            kwargs = mapping.storage_kwargs(variable.encoding, data.shape)
        dset = self.group(parent).create_dataset(name, data=data, **kwargs)
        self.set_attrs(dset, variable.attrs)

    def main(self, parent: str, plan: MainPlan, prefer: Mapping[str, str] | None = None) -> h5py.Dataset:
        """Write one main dataset, its ancillary datasets (shared when identical) and attributes."""
        group = self.group(parent)
        if plan.name in group:
            raise ModelError(f"{parent}/{plan.name}: an object with this name already exists in the file")
        dset = group.create_dataset(plan.name, shape=plan.data.shape, dtype=plan.data.dtype, **plan.storage)
        write_array(dset, plan.data)
        self.write_native(dset, plan.attrs, plan.tags)
        for anc in (plan.position, plan.spectroscopic):
            for role in _ROLES[anc.kind]:
                target = self._place(parent, plan.name, role, anc, (prefer or {}).get(role))
                dset.attrs[role] = target.ref
        return dset

    def _place(
        self, parent: str, main_name: str, role: str, anc: AncillaryPlan, preferred: str | None
    ) -> Any:
        array = anc.stored(role)
        values, tags = anc.attrs(role)
        signature = _signature(array, values, tags)
        recorded = anc.layout.get(role, {}).get("path")
        candidates = [p for p in (preferred, recorded) if isinstance(p, str)]
        candidates += list(mapping.default_ancillary_paths(parent, main_name)[role])
        candidates += [f"{parent.rstrip('/')}/{main_name}_{role}_{k:03d}" for k in range(1, 1000)]
        for path in candidates:
            if path in self._signatures:
                if self._signatures[path] == signature:
                    return self.h5[path]
                continue
            if self._free(path):
                dset = self.group(path.rsplit("/", 1)[0] or "/").create_dataset(
                    path.rsplit("/", 1)[1], data=array
                )
                self.write_native(dset, values, tags)
                self._signatures[path] = signature
                return dset
        raise ModelError(f"{parent}/{main_name}: no free name for its {role} dataset")

    def _free(self, path: str) -> bool:
        parts = path.strip("/").split("/")
        node: Any = self.h5
        for part in parts[:-1]:
            if part not in node:
                return True
            node = node[part]
            if not isinstance(node, h5py.Group):
                return False
        return parts[-1] not in node

    def adopt(self, paths: list[str]) -> None:
        """Let identical ancillary datasets already in the file be shared (results groups)."""
        for path in paths:
            dset = self.h5[path]
            values, tags = _attrs.read_attrs(dset)
            self._signatures[path] = _signature(dset[()], values, tags)

    def finish(self) -> None:
        """Write the attributes that reference other objects."""
        for path, name, value, tag in self._deferred:
            _attrs.write_attrs(self.h5[path], {name: value}, {name: tag} if tag else {})
        self._deferred.clear()


def _has_reference(value: Any, tag: str | None) -> bool:
    if tag == "refs":
        return True
    return isinstance(value, Mapping) and ("$ref" in value or "$regionref" in value)


def _signature(array: np.ndarray, values: Mapping[str, Any], tags: Mapping[str, str]) -> str:
    digest = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    described = _attrs.dumps(
        {
            "dtype": array.dtype.str,
            "shape": list(array.shape),
            "attrs": dict(sorted(values.items())),
            "tags": dict(sorted(tags.items())),
        }
    )
    return digest + described
