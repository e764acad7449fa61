"""Attribute values compared with their kinds: the one comparison behind lossless writes and tests.

`attr_difference` says where two attribute values differ in value or in kind (numpy scalars count
as the Python kind they hold; lists, tuples and 1-D arrays count as sequences compared element by
element; str and bytes differ; NaN equals NaN). Writers use it to decide what a file cannot hold
natively; `pycrox.testing.assert_attrs_equal` turns a difference into an `AssertionError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["attr_difference", "kind"]


def kind(value: Any) -> str:
    """The kind a value counts as: numpy scalars as the Python kind they hold, sequences alike."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "none"
    for name, types in (
        ("bool", bool),
        ("int", int),
        ("float", float),
        ("complex", complex),
        ("str", str),
        ("bytes", bytes),
        ("dict", Mapping),
    ):
        if isinstance(value, types):
            return name
    if isinstance(value, list | tuple) or (isinstance(value, np.ndarray) and value.ndim <= 1):
        return "sequence"
    if isinstance(value, np.ndarray):
        return f"ndarray{value.ndim}"
    return type(value).__name__


def _same_number(a: Any, b: Any) -> bool:
    a, b = (v.item() if isinstance(v, np.generic) else v for v in (a, b))
    if isinstance(a, float | complex) and isinstance(b, float | complex):
        pairs = [(complex(a).real, complex(b).real), (complex(a).imag, complex(b).imag)]
        return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in pairs)
    return bool(a == b)


def _items(value: Any, value_kind: str) -> list:
    if value_kind != "sequence" or isinstance(value, np.ndarray):
        return list(np.asarray(value, dtype=object).reshape(-1))
    return list(value)


def attr_difference(actual: Any, expected: Any, path: str = "attrs") -> str | None:
    """Where `actual` differs from `expected` in value or kind (recursively), or None when they agree.

    Examples
    --------
    >>> attr_difference({"a": [1, 2.0]}, {"a": [1, 2.0]}) is None
    True
    >>> attr_difference({"a": [1, 2]}, {"a": [1, 2.0]})
    "attrs['a'][1]: kind int (2) != float (2.0)"
    """
    ka, ke = kind(actual), kind(expected)
    if ka != ke:
        return f"{path}: kind {ka} ({actual!r}) != {ke} ({expected!r})"
    if ka == "dict":
        if set(map(str, actual)) != set(map(str, expected)):
            return f"{path}: keys {sorted(map(str, actual))} != {sorted(map(str, expected))}"
        by_key = {str(k): v for k, v in actual.items()}
        return next(
            (
                d
                for key, value in expected.items()
                if (d := attr_difference(by_key[str(key)], value, f"{path}[{key!r}]")) is not None
            ),
            None,
        )
    if ka == "sequence" or ka.startswith("ndarray"):
        if ka.startswith("ndarray") and np.shape(actual) != np.shape(expected):
            return f"{path}: shape {np.shape(actual)} != {np.shape(expected)}"
        a_list, e_list = _items(actual, ka), _items(expected, ke)
        if len(a_list) != len(e_list):
            return f"{path}: length {len(a_list)} != {len(e_list)}"
        return next(
            (
                d
                for i, (a, e) in enumerate(zip(a_list, e_list, strict=True))
                if (d := attr_difference(a, e, f"{path}[{i}]")) is not None
            ),
            None,
        )
    same = _same_number(actual, expected) if ka in ("float", "complex") else bool(actual == expected)
    return None if same else f"{path}: {actual!r} != {expected!r}"
