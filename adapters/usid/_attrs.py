"""HDF5 attributes <-> JSON-like values, with the storage type kept where it is not the default.

Reading gives, for every attribute, a JSON-like value and a *type tag* that is ``None`` when the
default writing rule reproduces the stored type (Python ``str`` -> variable-length UTF-8, ``int``
-> int64, ``float`` -> float64, ``bool`` -> HDF5 enum bool, ``complex`` -> complex128, numpy arrays
-> their own dtype). Otherwise the tag names the stored type (``"|u1"``, ``"<f4"``, ``"|S5"``,
``"vlen-ascii"``, ``"empty:<f4"``, ``"refs"``), so `write_attrs` can store the same type again.

Object references become ``{"$ref": "/path"}`` and region references ``{"$regionref": "/path",
"bounds": [[first, last], ...]}`` (the bounding box of the selection, inclusive). Values that
HDF5 cannot hold natively (nested dicts, None, mixed lists, ...) are collected by `split_native`
so that the writer can keep them as JSON in one ``pycrox_model`` attribute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import Any

import h5py
import numpy as np

from pycrox._encoding import decode_json, encode_json

__all__ = ["dumps", "loads", "read_attrs", "split_native", "write_attrs"]

_DEFAULT_SCALARS = {np.dtype("int64"), np.dtype("float64"), np.dtype("bool"), np.dtype("complex128")}
_INT64 = (-(2**63), 2**63 - 1)


def read_attrs(obj: h5py.HLObject, skip: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, str]]:
    """Every attribute of `obj` as ``(values, tags)``; see the module docstring.

    Parameters
    ----------
    obj : h5py.Group or h5py.Dataset
        Where the attributes are.
    skip : tuple of str
        Attribute names to leave out.

    Returns
    -------
    (dict, dict)
        JSON-like values by name, and the non-default type tags by name.
    """
    values: dict[str, Any] = {}
    tags: dict[str, str] = {}
    for name in obj.attrs:
        if name in skip:
            continue
        value, tag = _read_one(obj, name)
        values[name] = value
        if tag is not None:
            tags[name] = tag
    return values, tags


def _read_one(obj: h5py.HLObject, name: str) -> tuple[Any, str | None]:
    attr = h5py.h5a.open(obj.id, name.encode("utf-8"))
    htype = attr.get_type()
    try:
        raw = obj.attrs[name]
    except (OSError, TypeError, ValueError) as exc:  # unreadable types: keep what can be said
        return f"<unreadable attribute: {exc}>", None
    if isinstance(raw, h5py.Empty):
        return None, f"empty:{np.dtype(raw.dtype).str}"
    if isinstance(raw, h5py.RegionReference | h5py.Reference):
        return _reference(obj, raw), None
    if (
        isinstance(raw, np.ndarray)
        and raw.dtype.kind == "O"
        and raw.size
        and isinstance(raw.flat[0], h5py.Reference)
    ):
        return [_reference(obj, r) for r in raw.reshape(-1)], "refs"
    if htype.get_class() == h5py.h5t.STRING:
        return _read_string(raw, htype)
    if isinstance(raw, np.generic):
        dtype = raw.dtype
        return raw.item(), None if dtype in _DEFAULT_SCALARS else dtype.str
    return raw, None


def _read_string(raw: Any, htype: Any) -> tuple[Any, str | None]:
    ascii_set = htype.get_cset() == h5py.h5t.CSET_ASCII
    if htype.is_variable_str():
        return raw, "vlen-ascii" if ascii_set else None
    if isinstance(raw, np.ndarray):  # fixed-length byte arrays stay numpy arrays (exact dtype)
        return raw, None if ascii_set else "fixed-utf8"
    text = bytes(raw).decode("utf-8", errors="surrogateescape")
    size = htype.get_size()
    return text, f"|S{size}" + ("" if ascii_set else "/utf8")


def _reference(obj: h5py.HLObject, ref: Any) -> dict[str, Any]:
    try:
        target = obj.file[ref]
    except (OSError, ValueError, KeyError):
        return {"$ref": None}
    if not isinstance(ref, h5py.RegionReference):
        return {"$ref": target.name}
    space = h5py.h5r.get_region(ref, target.id)
    first, last = space.get_select_bounds()
    return {"$regionref": target.name, "bounds": [[int(a), int(b)] for a, b in zip(first, last, strict=True)]}


def write_attrs(
    obj: h5py.HLObject,
    values: Mapping[str, Any],
    tags: Mapping[str, str] | None = None,
    *,
    resolve: Callable[[str], Any] | None = None,
) -> None:
    """Write native attribute values (see `split_native`) with their type tags.

    Parameters
    ----------
    obj : h5py.Group or h5py.Dataset
        Target.
    values : mapping
        Attribute values that `split_native` accepted.
    tags : mapping, optional
        Type tags from `read_attrs`; a tag that does not fit its value is ignored.
    resolve : callable, optional
        ``path -> h5py object`` for ``{"$ref": path}`` values; the file itself when omitted.
    """
    tags = tags or {}
    resolve = resolve or (lambda path: obj.file[path])
    for name, value in values.items():
        obj.attrs[name] = _to_h5(value, tags.get(name), resolve)


def _to_h5(value: Any, tag: str | None, resolve: Callable[[str], Any]) -> Any:
    if _is_reference(value):
        return _make_reference(value, resolve)
    if tag == "refs" and isinstance(value, list):
        return np.array([_make_reference(v, resolve) for v in value], dtype=h5py.ref_dtype)
    if tag is not None:
        tagged = _apply_tag(value, tag)
        if tagged is not None:
            return tagged
    if isinstance(value, list):
        return _list_array(value)
    if isinstance(value, np.ndarray) and value.dtype.kind == "U":
        return value.astype(object)
    if isinstance(value, bool):
        return np.bool_(value)
    return value


def _apply_tag(value: Any, tag: str) -> Any:
    """`value` stored with the type `tag` names, or None when they do not fit."""
    try:
        if tag.startswith("empty:"):
            return h5py.Empty(np.dtype(tag[6:])) if value is None else None
        if tag == "vlen-ascii":
            return _ascii(value)
        if tag == "fixed-utf8" and isinstance(value, np.ndarray) and value.dtype.kind == "S":
            return value.astype(h5py.string_dtype("utf-8", value.dtype.itemsize))
        if tag.startswith("|S") and isinstance(value, str):
            size, _, cset = tag[2:].partition("/")
            encoded = value.encode("utf-8", errors="surrogateescape")
            dtype = h5py.string_dtype("utf-8", int(size)) if cset else np.dtype(f"S{size}")
            return np.array(encoded, dtype=dtype) if len(encoded) <= int(size) else None
        dtype = np.dtype(tag)
        if isinstance(value, bool | int | float | complex) and dtype.kind in "biufc":
            cast = np.array(value).astype(dtype)
            return cast[()] if cast.item() == value else None
    except (TypeError, ValueError, OverflowError, UnicodeError):
        return None
    return None


def _ascii(value: Any) -> Any:
    dtype = h5py.string_dtype("ascii")
    if isinstance(value, str):
        return np.array(value.encode("ascii"), dtype=dtype)
    if isinstance(value, np.ndarray) and value.dtype.kind == "O":
        return np.array([str(v).encode("ascii") for v in value.reshape(-1)], dtype=dtype).reshape(value.shape)
    return None


def _is_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and (set(value) == {"$ref"} or set(value) == {"$regionref", "bounds"})


def _make_reference(value: Mapping[str, Any], resolve: Callable[[str], Any]) -> Any:
    """An HDF5 reference to the object `value` names; a null reference when it is not in the file."""
    regional = "$regionref" in value
    try:
        target = resolve(value["$regionref" if regional else "$ref"])
        if not regional:
            return target.ref
        return target.regionref[tuple(slice(a, b + 1) for a, b in value["bounds"])]
    except (KeyError, TypeError, ValueError, OSError):
        return h5py.RegionReference() if regional else h5py.Reference()


def _list_array(values: list) -> np.ndarray:
    if isinstance(values[0], str):
        return np.array(values, dtype=h5py.string_dtype("utf-8"))
    return np.array(values)


def split_native(
    values: Mapping[str, Any], tags: Mapping[str, str] | None = None, reserved: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split attrs into those HDF5 stores as they are and those kept as JSON.

    A value is native when writing and reading it back gives the same value of the same kind:
    str without NUL, bool, int64-range int, float, complex, non-empty numpy arrays of numbers,
    bytes or str, non-empty lists of one such scalar kind, references, and None with an
    ``empty:`` tag. Names in `reserved` always go to JSON.

    Returns
    -------
    (dict, dict)
        ``(native, as_json)``.
    """
    tags = tags or {}
    native: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    for name, value in values.items():
        value = value.item() if isinstance(value, np.generic) else value
        ok = name not in reserved and "\x00" not in name and _is_native(value, tags.get(name))
        (native if ok else rest)[name] = value
    return native, rest


def _is_native(value: Any, tag: str | None) -> bool:
    if value is None:
        return bool(tag and tag.startswith("empty:"))
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, bool | float | complex):
        return True
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, np.ndarray):
        return _is_native_array(value)
    if isinstance(value, list):
        return _is_native_list(value, tag)
    return _is_reference(value)


def _is_native_array(value: np.ndarray) -> bool:
    if value.ndim == 0 or value.size == 0:
        return False
    if value.dtype.kind in "biufcS" or value.dtype.names:
        return True
    if value.dtype.kind in "UO":
        return all(isinstance(v, str) and "\x00" not in v for v in value.reshape(-1).tolist())
    return False


def _is_native_list(value: list, tag: str | None) -> bool:
    if not value:
        return False
    if tag == "refs":
        return all(_is_reference(v) for v in value)
    kinds = {type(v) for v in value}
    if len(kinds) != 1 or next(iter(kinds)) not in (bool, int, float, str):
        return False
    if kinds == {int}:
        return all(_INT64[0] <= v <= _INT64[1] for v in value)
    if kinds == {str}:
        return all("\x00" not in v for v in value)
    return True


def dumps(document: Mapping[str, Any]) -> str:
    """JSON text of a document whose leaves are attr values (pycrox's tagged JSON encoding)."""
    return json.dumps(encode_json(dict(document)), ensure_ascii=False, allow_nan=False)


def loads(text: Any) -> dict[str, Any]:
    """Invert `dumps` (bytes are decoded first)."""
    if isinstance(text, bytes | np.bytes_):
        text = bytes(text).decode("utf-8")
    return decode_json(json.loads(str(text)))


def same_value(a: Any, b: Any) -> bool:
    """Whether two attr values are equal and of the same kind (NaN equals NaN), recursively."""
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (a, b))
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return (
            isinstance(a, Mapping)
            and isinstance(b, Mapping)
            and set(a) == set(b)
            and all(same_value(a[k], b[k]) for k in a)
        )
    if isinstance(a, np.ndarray | list | tuple) or isinstance(b, np.ndarray | list | tuple):
        return _same_sequence(a, b)
    if type(a) is not type(b):
        return False
    if isinstance(a, float | complex):
        return all(
            x == y or (math.isnan(x) and math.isnan(y))
            for x, y in ((complex(a).real, complex(b).real), (complex(a).imag, complex(b).imag))
        )
    return bool(a == b)


def _same_sequence(a: Any, b: Any) -> bool:
    if not isinstance(a, np.ndarray | list | tuple) or not isinstance(b, np.ndarray | list | tuple):
        return False
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and (a.shape != b.shape or a.dtype != b.dtype):
        return False
    if np.ndim(a) > 1 or np.ndim(b) > 1:
        return np.shape(a) == np.shape(b) and _same_sequence(
            np.asarray(a).reshape(-1), np.asarray(b).reshape(-1)
        )
    a_list = a.tolist() if isinstance(a, np.ndarray) else list(a)
    b_list = b.tolist() if isinstance(b, np.ndarray) else list(b)
    return len(a_list) == len(b_list) and all(same_value(x, y) for x, y in zip(a_list, b_list, strict=True))
