"""A readable, plain-text tree of what a pycrox object holds (``pycrox info``)."""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox import model

__all__ = ["describe"]

_KEY_ATTRS = ("title", "data_type", "quantity", "units", "modality", "source")


def _units(attrs: dict) -> str:
    unit = attrs.get("units", "")
    return f" [{unit}]" if unit else ""


def _variable_line(name: Any, var: xr.DataArray, indent: str) -> str:
    shape = "x".join(str(n) for n in var.shape) or "scalar"
    dims = ", ".join(str(d) for d in var.dims)
    return f"{indent}{name}: {var.dtype} ({dims}) {shape}{_units(var.attrs)}"


def _coord_line(name: Any, coord: xr.DataArray, indent: str) -> str:
    kind = coord.attrs.get("dimension_type", "")
    if coord.size > 1 and coord.ndim == 1:
        span = f"{coord.values[0]:.6g} .. {coord.values[-1]:.6g}" if coord.dtype.kind in "fiuc" else ""
    else:
        span = str(coord.values.reshape(-1)[0]) if coord.size else ""
    return f"{indent}{name}: {coord.size} values {span}{_units(coord.attrs)} {kind}".rstrip()


def _array_lines(name: Any, var: xr.DataArray, indent: str) -> list[str]:
    lines = [_variable_line(name, var, indent)]
    for key in _KEY_ATTRS:
        value = var.attrs.get(key)
        if value not in (None, ""):
            lines.append(f"{indent}    {key}: {value}")
    meta = var.attrs.get("metadata") or {}
    if meta:
        shown = ", ".join(f"{k}={_short(v)}" for k, v in list(meta.items())[:8])
        lines.append(f"{indent}    metadata: {shown}{' ...' if len(meta) > 8 else ''}")
    orig = var.attrs.get("original_metadata") or {}
    if orig:
        lines.append(f"{indent}    original_metadata: {len(orig)} top-level entries")
    return lines


def _short(value: Any) -> str:
    if isinstance(value, dict) and "value" in value:
        return f"{value['value']} {value.get('units', '')}".strip()
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(obj: xr.DataTree | xr.Dataset | xr.DataArray, title: str = "") -> str:
    """A plain-text tree: nodes, signals with dims, shapes, dtypes, units and key metadata.

    Parameters
    ----------
    obj : xarray.DataTree, xarray.Dataset or xarray.DataArray
        What to describe.
    title : str, optional
        First line.

    Returns
    -------
    str
    """
    tree = (
        obj
        if isinstance(obj, xr.DataTree)
        else xr.DataTree(obj.to_dataset(name=obj.name or "data") if isinstance(obj, xr.DataArray) else obj)
    )
    signals = model.signal_nodes(tree)
    lines = [title] if title else []
    lines.append(f"{len(signals)} signal(s)")
    for node in tree.subtree:
        depth = node.level
        indent = "  " * depth
        label = node.path + ("  <signal>" if node.path in signals else "")
        ds = node.to_dataset(inherit=False)
        if not ds.variables and not node.attrs and node.path != "/":
            lines.append(f"{indent}{label}")
            continue
        lines.append(f"{indent}{label}")
        for name, var in ds.data_vars.items():
            lines.extend(_array_lines(name, var, indent + "  "))
        for name, coord in ds.coords.items():
            lines.append(_coord_line(name, coord, indent + "  coord "))
        if node.attrs:
            lines.append(f"{indent}  attrs: {', '.join(map(str, list(node.attrs)[:10]))}")
    return "\n".join(lines)
