"""Attribute values between pycrox attrs and HDF5 attributes, and the lossless sidecar.

Writing stores every value the way pyNSID / sidpy would (strings as variable-length UTF-8, lists of
strings as fixed-length UTF-8 byte arrays, numbers and arrays with their dtype, nested dicts as
groups); `from_h5` reads such values back as JSON-like Python values (int64, float64, bool and
complex128 scalars as Python numbers, other widths as numpy scalars so they are written back
unchanged). What that round trip would change (None, mixed lists, bytes, keys HDF5 cannot hold,
...) is found by reading back what was written and is recorded in the sidecar attribute
``{"set": [[path, value], ...], "drop": [path, ...]}`` (values in `pycrox._encoding`'s JSON form),
applied after reading. The sidpy reader ignores that attribute.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import h5py
import numpy as np

from pycrox._encoding import decode_json, encode_json
from pycrox._kinds import attr_difference
from pycrox.adapters.nsid.mapping import SIDECAR_ATTR, is_attr_name, is_link_name
from pycrox.errors import ModelError

__all__ = [
    "SKIP",
    "apply_sidecar",
    "attr_diff",
    "from_h5",
    "read_attrs",
    "read_dict_group",
    "read_sidecar",
    "to_h5",
    "write_attrs",
    "write_dict_group",
    "write_sidecar",
]

#: marker: the value has no native HDF5 form (the sidecar keeps it)
SKIP = object()
#: sidecar entries left out when empty
_OPTIONAL = ("set", "drop", "node_attrs")
_PYTHON_SCALARS = {np.dtype(np.int64), np.dtype(np.float64), np.dtype(np.bool_), np.dtype(np.complex128)}


def to_h5(value: Any) -> Any:
    """The value h5py should store for `value` (as pyNSID would), or `SKIP`."""
    if value is None:
        return SKIP
    if isinstance(value, np.generic):
        return value if value.dtype.kind in "biufcS" else (str(value) if value.dtype.kind == "U" else SKIP)
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return np.int64(value)
        return np.uint64(value) if 0 <= value < 2**64 else SKIP
    if isinstance(value, float | complex | str | bytes):
        return value
    if isinstance(value, np.ndarray):
        return _array_to_h5(value)
    if isinstance(value, list | tuple):
        return _sequence_to_h5(value)
    return SKIP


def _array_to_h5(array: np.ndarray) -> Any:
    if array.dtype.kind in "biufcS" and not array.dtype.names:
        return array
    if array.dtype.kind == "U":
        return np.char.encode(array, "utf-8")
    if array.dtype.kind == "O":
        return _sequence_to_h5(array.tolist()) if array.ndim == 1 else SKIP
    return SKIP


def _sequence_to_h5(values: list | tuple) -> Any:
    if len(values) == 0:
        return np.empty(0, dtype=np.float64)  # what pyNSID writes for []
    if any(v is None or isinstance(v, Mapping | bytes) for v in values):
        return SKIP
    if all(isinstance(v, str) for v in values):
        return np.array([v.encode("utf-8") for v in values])
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):  # ragged nesting
        return SKIP
    if array.dtype.kind in "biufc":
        return array
    return np.char.encode(array, "utf-8") if array.dtype.kind == "U" else SKIP  # str and numbers: all text


def from_h5(value: Any, owner: h5py.HLObject | None = None) -> Any:
    """A stored attribute value as a JSON-like Python value (see the module docstring).

    Object references become the path of their target in `owner`'s file (None if unresolvable).
    """
    if isinstance(value, h5py.Empty):
        return None
    if isinstance(value, h5py.RegionReference):
        return None
    if isinstance(value, h5py.Reference):
        return _reference_path(value, owner)
    if isinstance(value, np.generic):
        return value.item() if value.dtype in _PYTHON_SCALARS else value
    if isinstance(value, np.ndarray):
        return _array_from_h5(value)
    return value


def _array_from_h5(array: np.ndarray) -> Any:
    if array.dtype.kind == "S" and array.ndim == 1:
        try:
            return [bytes(v).decode("utf-8") for v in array]
        except UnicodeDecodeError:
            return array
    if array.dtype.kind == "O" and array.ndim == 1:
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else from_h5(v) for v in array]
    return array


def _reference_path(ref: h5py.Reference, owner: h5py.HLObject | None) -> str | None:
    try:
        return owner.file[ref].name if owner is not None and ref else None
    except (KeyError, ValueError, OSError, RuntimeError):
        return None


def read_attrs(obj: h5py.HLObject, exclude: Any = (), source: str = "") -> dict[str, Any]:
    """Every attribute of `obj` except `exclude` and the sidecar, as Python values."""
    out: dict[str, Any] = {}
    for key in obj.attrs:
        if key in exclude or key == SIDECAR_ATTR:
            continue
        try:
            out[key] = from_h5(obj.attrs[key], obj)
        except (OSError, TypeError, ValueError, RuntimeError) as exc:
            warnings.warn(
                f"{source}:{obj.name}: attribute {key!r} cannot be read ({exc}); skipped", stacklevel=3
            )
    return out


def write_attrs(obj: h5py.HLObject, attrs: Mapping[Any, Any], exclude: Any = ()) -> None:
    """Write the non-dict values of `attrs` natively, skipping what has no native form."""
    for key, value in attrs.items():
        if key in exclude or not is_attr_name(key) or isinstance(value, Mapping):
            continue
        _store(obj, key, value)


def _store(obj: h5py.HLObject, key: str, value: Any) -> None:
    stored = to_h5(value)
    if stored is SKIP:
        return
    try:
        obj.attrs[key] = stored
    except (TypeError, ValueError, OSError):  # h5py cannot store it; the sidecar keeps it
        if key in obj.attrs:
            del obj.attrs[key]


def write_dict_group(group: h5py.Group, tree: Mapping[Any, Any]) -> None:
    """Write a nested dict as pyNSID does: sub-dicts (and lists of dicts) as groups, the rest as attributes."""
    for key, value in tree.items():
        if _is_group_value(value):
            if is_link_name(key):
                write_dict_group(group.create_group(key), _as_dict(value))
        elif is_attr_name(key):
            _store(group, key, value)


def _is_group_value(value: Any) -> bool:
    if isinstance(value, Mapping):
        return True
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _as_dict(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {str(i): v for i, v in enumerate(value)}


def read_dict_group(group: h5py.Group, source: str = "") -> dict[str, Any]:
    """A group tree as a nested dict (attributes, then sub-groups); datasets inside are skipped."""
    out = read_attrs(group, source=source)
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = read_dict_group(item, source)
        else:
            warnings.warn(
                f"{source}:{item.name}: a dataset inside a metadata group is not NSID; skipped", stacklevel=3
            )
    return out


# ----------------------------------------------------------------------------------------- sidecar


def _same(actual: Any, expected: Any) -> bool:
    return attr_difference(actual, expected) is None


def attr_diff(original: Mapping, decoded: Mapping, path: tuple = ()) -> dict[str, list]:
    """What turns `decoded` (read back from the file) into `original`: ``{"set": ..., "drop": ...}``."""
    sets: list = []
    drops: list = [[*path, key] for key in decoded if key not in original]
    for key, value in original.items():
        if key not in decoded:
            sets.append([[*path, key], value])
        elif isinstance(value, Mapping) and isinstance(decoded[key], Mapping) and type(key) is str:
            inner = attr_diff(value, decoded[key], (*path, key))
            sets += inner["set"]
            drops += inner["drop"]
        elif not _same(decoded[key], value):
            sets.append([[*path, key], value])
    return {"set": sets, "drop": drops}


def apply_sidecar(attrs: dict, sidecar: Mapping) -> dict:
    """`attrs` with the sidecar's drops and sets applied (nested dicts are rebuilt, not shared)."""
    out = dict(attrs)
    for path in sidecar.get("drop", []):
        parent = _parent(out, path)
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    for path, value in sidecar.get("set", []):
        parent = _parent(out, path, create=True)
        parent[path[-1]] = value
    return out


def _parent(tree: dict, path: list, create: bool = False) -> Any:
    node = tree
    for key in path[:-1]:
        child = node.get(key) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            if not create:
                return None
            child = {}
        node[key] = child = dict(child)
        node = child
    return node


def write_sidecar(obj: h5py.HLObject, content: Mapping[str, Any], where: str = "") -> None:
    """Store `content` (without empty entries) as the sidecar attribute of `obj`, if anything is left."""
    kept = {k: v for k, v in content.items() if v is not None and (k not in _OPTIONAL or v)}
    if not kept:
        if SIDECAR_ATTR in obj.attrs:
            del obj.attrs[SIDECAR_ATTR]
        return
    try:
        text = json.dumps(encode_json(kept), ensure_ascii=False, allow_nan=False)
    except TypeError as exc:
        raise ModelError(f"{where or obj.name}: an attribute value cannot be stored in NSID ({exc})") from exc
    obj.attrs[SIDECAR_ATTR] = text


def read_sidecar(obj: h5py.HLObject, source: str = "") -> dict[str, Any]:
    """The decoded sidecar of `obj` (``{}`` when absent; a warning when it cannot be parsed)."""
    raw = obj.attrs.get(SIDECAR_ATTR)
    if raw is None:
        return {}
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
        content = decode_json(json.loads(text))
    except ValueError as exc:
        warnings.warn(
            f"{source}:{obj.name}: unreadable {SIDECAR_ATTR} attribute ({exc}); ignored", stacklevel=3
        )
        return {}
    return content if isinstance(content, dict) else {}
