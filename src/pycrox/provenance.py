"""Provenance: the step every pycrox result records about how it was made."""

from __future__ import annotations

import copy
import datetime as _dt
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from pycrox._attrs import comparable

__all__ = ["jsonable", "last_step", "record"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


def jsonable(value: Any) -> Any:
    """A JSON-like copy of a parameter value (numpy scalars -> Python, arrays -> lists, else str)."""
    if value is None or isinstance(value, bool | int | float | str | complex):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if callable(value):
        return f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', repr(value))}"
    return str(value)


def record(obj: T, step: str, /, *, source: Any = None, **parameters: Any) -> T:
    """Return `obj` with one more provenance step under ``attrs["provenance"]["pycrox"]``.

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        The result; not modified (a shallow copy with new attrs is returned).
    step : str
        The function name, e.g. ``"fft"``.
    source : xarray object or str, optional
        What the result was computed from; its title (or name) is recorded.
    **parameters
        The function's parameters, stored JSON-like.

    Returns
    -------
    same type as `obj`
        ``attrs["provenance"]["pycrox"]["<NNN>_<step>"] = {function, parameters, version, time, source}``;
        a Dataset gets the step on itself and on each data variable.
    """
    from pycrox import __version__

    def add(attrs: dict) -> dict:
        prov = copy.deepcopy(dict(attrs.get("provenance") or {}))
        steps = dict(prov.get("pycrox") or {})
        entry = {
            "function": f"pycrox.{step}",
            "parameters": jsonable(parameters),
            "version": __version__,
            "time": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "source": _describe(source),
        }
        steps[f"{len(steps):03d}_{step}"] = entry
        prov["pycrox"] = steps
        return {**attrs, "provenance": comparable(prov)}

    out = obj.copy(deep=False)
    out.attrs = add(obj.attrs)
    if isinstance(out, xr.Dataset):
        for name in out.data_vars:
            out[name].attrs = add(out[name].attrs)
    return out


def _describe(source: Any) -> str:
    if source is None:
        return ""
    if isinstance(source, xr.DataArray | xr.Dataset):
        return str(source.attrs.get("title") or getattr(source, "name", None) or "")
    return str(source)


def last_step(obj: xr.DataArray | xr.Dataset) -> tuple[str, dict[str, Any]] | None:
    """The newest pycrox provenance step of `obj` as ``(step, entry)``, or None."""
    steps = (obj.attrs.get("provenance") or {}).get("pycrox") or {}
    if not steps:
        return None
    key = max(steps)
    return key.split("_", 1)[1], steps[key]
