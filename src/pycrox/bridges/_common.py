"""Helpers both bridges share: the source's data without copying, attr values the other side takes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dask.array
import numpy as np
import xarray as xr

from pycrox import model
from pycrox.bridges._memo import dask_view
from pycrox.errors import ModelError

__all__ = ["as_dask", "check_dataarray", "data_type", "dimension_type", "plain", "text", "values_1d"]


def check_dataarray(da: Any, target: str) -> xr.DataArray:
    """`da` when it is a DataArray, else a `ModelError` naming what was given."""
    if not isinstance(da, xr.DataArray):
        raise ModelError(
            f"{target} converts one xarray.DataArray, got {type(da).__name__}; "
            "pick one signal first (pycrox.open(path, group=...) or dataset[name])"
        )
    return da


def as_dask(da: xr.DataArray) -> dask.array.Array:
    """The data of `da` as a dask array: its own dask array, or a one-chunk view of its numpy array."""
    data = da.variable.data
    if isinstance(data, dask.array.Array):
        return data
    return dask_view(data if isinstance(data, np.ndarray) else np.asarray(data))


def text(value: Any) -> str:
    """A str attr value as the other side stores it: the str itself, anything else as ``""``."""
    return value if isinstance(value, str) else ""


def data_type(value: Any) -> str:
    """The `model.DataType` name `value` spells, else ``"UNKNOWN"``."""
    upper = value.strip().upper() if isinstance(value, str) else ""
    return upper if upper in model.DataType.__members__ else "UNKNOWN"


def dimension_type(value: Any) -> str:
    """The `model.DimensionType` name `value` spells, else ``"UNKNOWN"``."""
    upper = value.strip().upper() if isinstance(value, str) else ""
    return upper if upper in model.DimensionType.__members__ else "UNKNOWN"


def plain(value: Any) -> Any:
    """A copy of nested dicts and lists as plain ``dict`` / ``list`` (leaves and arrays are shared)."""
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def values_1d(da: xr.DataArray, dim: Any) -> np.ndarray:
    """Float values of the coordinate of `dim` (``0, 1, ...`` when it has none or it is not real)."""
    size = da.sizes[dim]
    if dim in da.coords and da.coords[dim].ndim == 1:
        raw = np.asarray(da.coords[dim].values)
        if raw.dtype.kind in "biuf":
            return raw.astype(np.float64)
    return np.arange(size, dtype=np.float64)
