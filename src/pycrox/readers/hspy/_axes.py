"""HyperSpy axes (``axis-<i>`` groups) as pycrox dims and coordinates.

An axis group holds ``name``, ``units``, ``navigate`` and, by its ``_type`` (format 3.x; older
files are all uniform): ``UniformDataAxis`` ``size``/``scale``/``offset``; ``DataAxis`` an
``axis`` dataset of the values; ``FunctionalDataAxis`` an ``expression`` of ``x`` (a uniform
axis in the ``x`` subgroup, or ``size``) and of parameters stored as attributes. Expressions are
evaluated by a small arithmetic interpreter (numbers, the parameters, ``x``, ``+ - * / **`` and
the numpy functions listed in `_FUNCTIONS`), never by `eval`.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Hashable
from typing import Any

import h5py
import numpy as np

from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers._common.values import number, unit_spelling

__all__ = ["Axis", "dims_and_coords", "read_axes"]

_FUNCTIONS = {
    name: getattr(np, name)
    for name in ("sqrt", "exp", "log", "log10", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "abs")
}
_FUNCTIONS.update({"asin": np.arcsin, "acos": np.arccos, "atan": np.arctan, "ln": np.log})
_BINARY = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.divide,
    ast.Pow: np.power,
}


@functools.lru_cache(maxsize=256)
def _unit(text: str) -> str:
    """`unit_spelling`, cached: pint parses each distinct unit once per process."""
    return unit_spelling(text)


@functools.lru_cache(maxsize=256)
def _dimension(unit: str, signal: str | None, spectral: bool) -> str:
    try:
        return model.dimension_for(unit, signal, spectral=spectral)
    except Exception:  # noqa: BLE001 - a unit pint does not know: named after the axis instead
        return "channel"


class Axis(dict):
    """One HyperSpy axis: ``name``, ``units``, ``navigate``, ``size`` and ``values`` (or None)."""


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return "" if value is None or value == "_None_" else str(value)


def _evaluate(node: ast.AST, names: dict[str, Any]) -> Any:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body, names)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_evaluate(node.left, names), _evaluate(node.right, names))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand, names)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*(_evaluate(arg, names) for arg in node.args))
    raise ValueError(f"unsupported expression element {ast.dump(node)[:60]}")


def _uniform(attrs: Any, size: int) -> np.ndarray:
    scale, offset = number(attrs.get("scale")), number(attrs.get("offset"))
    return (offset or 0.0) + (1.0 if scale is None else scale) * np.arange(size, dtype=np.float64)


def _functional(group: h5py.Group, attrs: dict[str, Any], size: int, source: str) -> np.ndarray:
    expression = _text(attrs.get("expression"))
    x = (
        _uniform(group["x"].attrs, size)
        if isinstance(group.get("x"), h5py.Group)
        else np.arange(size, dtype=float)
    )
    names: dict[str, Any] = {"x": x, "pi": np.pi, "e": np.e}
    for key, value in attrs.items():
        if number(value) is not None and not isinstance(value, bool | np.bool_):
            names[key] = float(value)
    try:
        values = np.broadcast_to(
            np.asarray(_evaluate(ast.parse(expression, mode="eval"), names), float), x.shape
        )
    except (SyntaxError, ValueError, TypeError, ZeroDivisionError) as exc:
        raise FormatError(
            source, f"cannot evaluate the functional axis expression {expression!r} ({exc})", where=group.name
        ) from None
    return np.array(values, dtype=np.float64)


def read_axes(group: h5py.Group, shape: tuple[int, ...], record_by: str, source: str) -> list[Axis]:
    """The axes of a signal group (``axis-<i>`` or, in old files, ``_list_<n>_axes``), in data order."""
    groups = [group.get(f"axis-{i}") for i in range(len(shape))]
    if not all(isinstance(g, h5py.Group) for g in groups):
        old = group.get(f"_list_{len(shape)}_axes")
        if isinstance(old, h5py.Group):
            groups = [old[k] for k in sorted(old, key=lambda k: int(re.sub(r"\D", "", k) or 0))]
        if len(groups) != len(shape) or not all(isinstance(g, h5py.Group) for g in groups):
            raise FormatError(source, f"the {len(shape)}-D data lack their axis-<i> groups", where=group.name)
    signal_axes = {"spectrum": 1, "image": 2}.get(record_by, len(shape))
    axes = []
    for index, (axis_group, size) in enumerate(zip(groups, shape, strict=True)):
        attrs = dict(axis_group.attrs)  # one read of every attribute (h5py reads are slow)
        kind = _text(attrs.get("_type")) or "UniformDataAxis"
        if kind == "DataAxis" and isinstance(axis_group.get("axis"), h5py.Dataset):
            values = np.asarray(axis_group["axis"][()], dtype=np.float64)
        elif kind == "DataAxis" and "axis" in attrs:
            values = np.asarray(attrs["axis"], dtype=np.float64)
        elif kind == "FunctionalDataAxis":
            values = _functional(axis_group, attrs, size, source)
        else:
            values = _uniform(attrs, size)
        if values.shape != (size,):
            raise FormatError(
                source, f"axis of {values.size} values for a data axis of {size}", where=axis_group.name
            )
        navigate = attrs.get("navigate")
        axes.append(
            Axis(
                name=_text(attrs.get("name")),
                units=_text(attrs.get("units")),
                navigate=bool(navigate) if navigate is not None else index < len(shape) - signal_axes,
                size=size,
                values=values,
                kind=kind,
                original={k: _text(v) if isinstance(v, bytes | str) else v for k, v in attrs.items()},
            )
        )
    return axes


def _key(name: str) -> str:
    return re.sub(r"\W+", "_", name.strip().lower()).strip("_")


def _dim_name(axis: Axis, signal: str | None, spectral: bool) -> str:
    unit, name = _unit(axis["units"]), _key(axis["name"])
    if unit:
        dim = _dimension(unit, signal, spectral)
        if dim in ("x", "kx") and name in ("y", "ky"):
            return dim.replace("x", "y")
        if dim in ("x", "kx") and name in ("z", "kz"):
            return dim.replace("x", "z")
        if dim != "channel":
            return dim
    if name in model.DIMENSIONS:
        return name
    return name if name.isidentifier() else ""


def _fill_unnamed(names: list[str], axes: list[Axis], signal: str | None) -> None:
    """Name axes that have neither name nor units by position.

    A pair of signal axes is an image (``ky``/``kx`` under a scan or for diffraction), a pair of
    navigation axes a scan ``y``/``x``.
    """
    for navigate in (True, False):
        index = [i for i, a in enumerate(axes) if a["navigate"] == navigate]
        if len(index) != 2 or any(names[i] for i in index):
            continue
        scanned = sum(a["navigate"] for a in axes) == 2
        reciprocal = not navigate and (signal == "diffraction" or scanned)
        pair = ("ky", "kx") if reciprocal else ("y", "x")
        if not any(p in names for p in pair):
            names[index[0]], names[index[1]] = pair


def dims_and_coords(axes: list[Axis], signal: str | None) -> tuple[list[str], dict[Hashable, Any]]:
    """The pycrox dims and coordinates of HyperSpy axes (names from the units, unique)."""
    signal_axes = [a for a in axes if not a["navigate"]]
    spectral = len(signal_axes) == 1 and signal not in ("image", "diffraction")
    names = [_dim_name(axis, signal, spectral and not axis["navigate"]) or "" for axis in axes]
    # two spatial axes named alike (no names in the file): the slower one is y
    for pair in (("x", "y"), ("kx", "ky")):
        hits = [i for i, n in enumerate(names) if n == pair[0]]
        if len(hits) == 2 and pair[1] not in names:
            names[hits[0]] = pair[1]
    _fill_unnamed(names, axes, signal)
    dims: list[str] = []
    for index, name in enumerate(names):
        base = name or ("frame" if axes[index]["navigate"] else "channel")
        dim, count = base, 1
        while dim in dims:
            count += 1
            dim = f"{base}_{count}"
        dims.append(dim)
    coords: dict[Hashable, Any] = {}
    for dim, axis in zip(dims, axes, strict=True):
        unit = _unit(axis["units"])
        entry: dict[str, Any] = {
            "values": axis["values"] if unit or axis["kind"] != "UniformDataAxis" else None
        }
        if entry["values"] is None:
            uniform = axis["values"]
            calibrated = not np.array_equal(uniform, np.arange(axis["size"]))
            entry["values"] = uniform if calibrated else np.arange(axis["size"])
        entry["units"] = unit
        coords[dim] = entry
    return dims, coords
