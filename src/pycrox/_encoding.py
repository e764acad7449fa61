"""Lossless encoding of model attrs for stores that only hold JSON (Zarr) or flat values (netCDF).

Zarr: JSON-native values (str, finite float, int, bool, None, lists and str-keyed dicts of
these) are written as they are, so plain ``xr.open_zarr`` users see them unchanged; any other
value becomes a tagged JSON object ``{"__pycrox__": kind, ...}`` (complex, ndarray, bytes,
non-finite float). netCDF: str, int and float scalars are written as they are; every other
value becomes a string ``"pycrox:json:" + <the Zarr encoding as JSON text>``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from pycrox._attrs import MetadataDict

__all__ = ["NETCDF_PREFIX", "decode_json", "decode_netcdf", "encode_json", "encode_netcdf", "map_attrs"]

TAG = "__pycrox__"
NETCDF_PREFIX = "pycrox:json:"


def encode_json(value: Any) -> Any:
    """A JSON-native, tagged form of an attribute value."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return encode_json(value.item())
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {TAG: "float", "value": repr(value)}
    if isinstance(value, complex):
        return {TAG: "complex", "value": [encode_json(value.real), encode_json(value.imag)]}
    if isinstance(value, bytes):
        return {TAG: "bytes", "base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, Mapping):
        if all(isinstance(k, str) for k in value) and TAG not in value:
            return {k: encode_json(v) for k, v in value.items()}
        return {TAG: "dict", "items": [[encode_json(k), encode_json(v)] for k, v in value.items()]}
    if isinstance(value, list | tuple):
        return [encode_json(v) for v in value]
    raise TypeError(f"cannot store an attribute value of type {type(value).__name__}: {value!r}")


def _encode_array(value: np.ndarray) -> dict:
    if value.dtype.kind in "OUS" or value.dtype.names:
        items = [encode_json(v) for v in value.reshape(-1).tolist()]
        if value.dtype.kind == "S":
            items = [encode_json(bytes(v)) for v in value.reshape(-1)]
    else:
        items = [encode_json(v) for v in value.reshape(-1).tolist()]
    return {
        TAG: "ndarray",
        "dtype": value.dtype.str if not value.dtype.names else str(value.dtype),
        "shape": list(value.shape),
        "data": items,
    }


def decode_json(value: Any) -> Any:
    """Invert `encode_json`."""
    if isinstance(value, list):
        return [decode_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(TAG)
    if kind is None:
        return MetadataDict((k, decode_json(v)) for k, v in value.items())
    if kind == "float":
        return float(value["value"])
    if kind == "complex":
        real, imag = (decode_json(v) for v in value["value"])
        return complex(real, imag)
    if kind == "bytes":
        return base64.b64decode(value["base64"])
    if kind == "dict":
        return MetadataDict((decode_json(k), decode_json(v)) for k, v in value["items"])
    if kind == "ndarray":
        items = [decode_json(v) for v in value["data"]]
        dtype = np.dtype(value["dtype"]) if not value["dtype"].startswith("[") else object
        return np.array(items, dtype=dtype).reshape(value["shape"])
    raise ValueError(f"unknown encoded attribute kind {kind!r}")


def encode_netcdf(value: Any) -> Any:
    """A netCDF-storable form: str/int/float scalars as they are, the rest as prefixed JSON text."""
    if isinstance(value, str) and not value.startswith(NETCDF_PREFIX):
        return value
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool | np.bool_):
        return value
    return NETCDF_PREFIX + json.dumps(encode_json(value), ensure_ascii=False, allow_nan=False)


def decode_netcdf(value: Any) -> Any:
    """Invert `encode_netcdf` (numpy scalars come back as Python scalars)."""
    if isinstance(value, str) and value.startswith(NETCDF_PREFIX):
        return decode_json(json.loads(value[len(NETCDF_PREFIX) :]))
    if isinstance(value, np.generic):
        return value.item()
    return value


def map_attrs(obj: Any, func: Any) -> Any:
    """Apply `func` to every attr value of a Dataset, its variables and coordinates (a new object)."""
    out = obj.copy(deep=False)
    out.attrs = {k: func(v) for k, v in obj.attrs.items()}
    for name, variable in out.variables.items():
        variable.attrs = {k: func(v) for k, v in obj.variables[name].attrs.items()}
    return out
