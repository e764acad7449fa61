"""Nested attr values that xarray can compare: `MetadataDict` and `comparable_attrs`.

xarray compares attrs with ``xarray.core.utils.equivalent``: arrays and lists at the top level are
compared element-wise, but a dict is compared with ``==``, and ``dict.__eq__`` compares the values
it holds with ``==`` too, so a numpy array nested in ``attrs["metadata"]`` makes ``identical``,
``equals``, ``assert_identical`` and ``combine_attrs="identical"/"no_conflicts"`` raise
``ValueError: The truth value of an array ... is ambiguous``. A `MetadataDict` is a plain ``dict``
(it pickles, deep-copies, JSON-encodes and writes like one) whose ``==`` compares nested values
the way the data model defines equality (``specs/data-model.md``, "Attribute values").
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

import numpy as np
import xarray as xr

__all__ = ["MetadataDict", "comparable", "comparable_attrs", "equivalent"]

T = TypeVar("T", xr.DataArray, xr.Dataset, xr.DataTree)
_LEAVES = (str, bytes, int, float, complex, np.ndarray, np.generic, type(None))


class MetadataDict(dict):
    """A ``dict`` for nested attr values whose ``==`` compares nested numpy arrays correctly.

    Two mappings are equal when they have the same keys and `equivalent` values: numpy arrays
    need the same dtype, shape and values (NaN equals NaN), lists and tuples are compared element
    by element, NaN equals NaN, other values with ``==``. Everything else is ``dict``'s own.

    Examples
    --------
    >>> a = MetadataDict(gain=np.array([1.0, np.nan]), name="HAADF")
    >>> a == {"gain": np.array([1.0, np.nan]), "name": "HAADF"}, a == {"gain": np.array([1, 2])}
    (True, False)
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Mapping):
            return NotImplemented
        return _mapping_equivalent(self, other)

    def __ne__(self, other: object) -> bool:
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = None  # type: ignore[assignment]  # mutable, like dict

    def copy(self) -> MetadataDict:
        """A shallow copy that is still a `MetadataDict`."""
        return MetadataDict(self)

    def __or__(self, other: Any) -> MetadataDict:
        return MetadataDict({**self, **other}) if isinstance(other, Mapping) else NotImplemented

    def __ror__(self, other: Any) -> MetadataDict:
        return MetadataDict({**other, **self}) if isinstance(other, Mapping) else NotImplemented


def equivalent(first: Any, second: Any) -> bool:
    """Whether two attr values are equal by the data model's rule (see `MetadataDict`)."""
    if first is second:
        return True
    if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        return (
            isinstance(first, np.ndarray) and isinstance(second, np.ndarray) and _arrays_equal(first, second)
        )
    if isinstance(first, Mapping) or isinstance(second, Mapping):
        return (
            isinstance(first, Mapping) and isinstance(second, Mapping) and _mapping_equivalent(first, second)
        )
    if isinstance(first, list | tuple) or isinstance(second, list | tuple):
        return (
            isinstance(first, list | tuple)
            and isinstance(second, list | tuple)
            and len(first) == len(second)
            and all(map(equivalent, first, second))
        )
    if _is_nan(first) and _is_nan(second):
        return True
    try:
        result = first == second
    except (TypeError, ValueError):
        return False
    return bool(result) if isinstance(result, bool | np.bool_) else False


def _mapping_equivalent(first: Mapping, second: Mapping) -> bool:
    return len(first) == len(second) and all(
        key in second and equivalent(value, second[key]) for key, value in first.items()
    )


def _arrays_equal(first: np.ndarray, second: np.ndarray) -> bool:
    if first.dtype != second.dtype or first.shape != second.shape:
        return False
    if first.dtype.kind == "O":
        return all(map(equivalent, first.reshape(-1).tolist(), second.reshape(-1).tolist()))
    try:
        return bool(np.array_equal(first, second, equal_nan=first.dtype.kind in "fcmM"))
    except TypeError:  # structured dtypes have no isnan
        return bool(np.array_equal(first, second))


def _is_nan(value: Any) -> bool:
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    if isinstance(value, complex | np.complexfloating):
        return math.isnan(value.real) or math.isnan(value.imag)
    return False


def comparable(value: Any) -> Any:
    """`value` with every dict in it, at any depth (also inside lists and tuples), a `MetadataDict`.

    Other values, numpy arrays included, are kept as they are (not copied).
    """
    if isinstance(value, _LEAVES):
        return value
    if isinstance(value, Mapping):
        out = MetadataDict()
        for key, item in value.items():  # leaves inline: tag trees hold tens of thousands of them
            out[key] = item if isinstance(item, _LEAVES) else comparable(item)
        return out
    if isinstance(value, list):
        return [item if isinstance(item, _LEAVES) else comparable(item) for item in value]
    if isinstance(value, tuple):
        return tuple(item if isinstance(item, _LEAVES) else comparable(item) for item in value)
    return value


def _comparable_dict(attrs: Mapping) -> dict:
    return {key: comparable(value) for key, value in attrs.items()}


def _settle(value: Any) -> Any:
    """`value` made comparable like `comparable`, but a `MetadataDict` or list is fixed in place.

    For attrs nobody else holds yet (``comparable_attrs(copy=False)``): what `from_array` built is
    walked, not copied again; plain dicts and tuples inside are replaced by comparable copies.
    """
    if isinstance(value, _LEAVES):
        return value
    if type(value) is MetadataDict:
        for key, item in value.items():
            if not isinstance(item, _LEAVES):
                settled = _settle(item)
                if settled is not item:
                    value[key] = settled  # an existing key: the dict does not change size
        return value
    if type(value) is list:
        for index, item in enumerate(value):
            if not isinstance(item, _LEAVES):
                settled = _settle(item)
                if settled is not item:
                    value[index] = settled
        return value
    return comparable(value)


def _settled_dict(attrs: Mapping) -> dict:
    return {key: _settle(value) for key, value in attrs.items()}


def comparable_attrs(obj: T, *, copy: bool = True) -> T:
    """`obj` with every nested dict in its attrs made a `MetadataDict`, so xarray can compare it.

    Every attrs counts: the object's, its variables', its coordinates' and, in a tree, every
    node's. xarray can then compare, merge and concatenate the result.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        Not modified (unless `copy` is False); data are not copied or loaded.
    copy : bool, default True
        False changes the attrs of `obj` itself and returns it: for objects nobody else holds yet
        (a reader's fresh output), which saves the copy.

    Returns
    -------
    same type as `obj`
        A shallow copy (closing it closes the files `obj` holds open) whose attrs compare with xarray's ``identical``, ``equals``,
        ``xarray.testing.assert_identical`` and every ``combine_attrs`` option.
    """
    out = obj.copy(deep=False) if copy else obj  # a copy has new Variable objects, shared data
    convert = _comparable_dict if copy else _settled_dict
    if isinstance(out, xr.DataTree):
        for node in out.subtree:
            node.attrs = convert(node.attrs)
            for variable in node.variables.values():  # the copy's own Variable objects
                variable.attrs = convert(variable.attrs)
        if copy:
            out.set_close(obj.close)  # copies drop the closers: closing the copy closes what `obj` holds open
        return out
    out.attrs = convert(out.attrs)
    variables = out.coords.variables if isinstance(out, xr.DataArray) else out.variables
    for variable in variables.values():
        variable.attrs = convert(variable.attrs)
    return out
