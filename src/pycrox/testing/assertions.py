"""`assert_lossless`: xarray's assert_identical plus dtypes and the kinds of attribute values."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping
from typing import Any

import dask
import numpy as np
import xarray as xr

__all__ = ["assert_attrs_equal", "assert_lossless", "raise_if_dask_computes"]


def _kind(value: Any) -> str:
    """The kind a value counts as: numpy scalars as the Python kind they hold, sequences alike."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, complex):
        return "complex"
    if isinstance(value, str):
        return "str"
    if isinstance(value, bytes):
        return "bytes"
    if isinstance(value, Mapping):
        return "dict"
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
    return a == b


def assert_attrs_equal(actual: Any, expected: Any, path: str = "attrs") -> None:
    """Assert two attribute values are equal and of the same kind, recursively.

    Raises
    ------
    AssertionError
        Naming the first path where they differ.
    """
    ka, ke = _kind(actual), _kind(expected)
    assert ka == ke, f"{path}: kind {ka} ({actual!r}) != {ke} ({expected!r})"
    if ka == "dict":
        assert set(map(str, actual)) == set(map(str, expected)), (
            f"{path}: keys {sorted(map(str, actual))} != {sorted(map(str, expected))}"
        )
        by_key = {str(k): v for k, v in actual.items()}
        for key, value in expected.items():
            assert_attrs_equal(by_key[str(key)], value, f"{path}[{key!r}]")
    elif ka == "sequence" or ka.startswith("ndarray"):
        a_list = list(np.asarray(actual, dtype=object).reshape(-1)) if ka != "sequence" or isinstance(
            actual, np.ndarray) else list(actual)
        e_list = list(np.asarray(expected, dtype=object).reshape(-1)) if ke != "sequence" or isinstance(
            expected, np.ndarray) else list(expected)
        if ka.startswith("ndarray"):
            assert np.shape(actual) == np.shape(expected), f"{path}: shape {np.shape(actual)} != {np.shape(expected)}"
        assert len(a_list) == len(e_list), f"{path}: length {len(a_list)} != {len(e_list)}"
        for i, (a, e) in enumerate(zip(a_list, e_list, strict=True)):
            assert_attrs_equal(a, e, f"{path}[{i}]")
    elif ka in ("float", "complex"):
        assert _same_number(actual, expected), f"{path}: {actual!r} != {expected!r}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def _assert_variable(actual: xr.Variable, expected: xr.Variable, where: str) -> None:
    assert actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}"
    assert_attrs_equal(dict(actual.attrs), dict(expected.attrs), f"{where}.attrs")


def _assert_dataset(actual: xr.Dataset, expected: xr.Dataset, where: str) -> None:
    assert set(actual.variables) == set(expected.variables), (
        f"{where}: variables {sorted(map(str, actual.variables))} != {sorted(map(str, expected.variables))}"
    )
    for name in expected.variables:
        _assert_variable(actual.variables[name], expected.variables[name], f"{where}[{name!r}]")
    assert_attrs_equal(dict(actual.attrs), dict(expected.attrs), f"{where}.attrs")


def assert_lossless(
    actual: xr.DataArray | xr.Dataset | xr.DataTree, expected: xr.DataArray | xr.Dataset | xr.DataTree
) -> None:
    """Assert that `actual` is what `expected` was: identical, with the same dtypes and attr kinds.

    xarray's ``assert_identical`` (values, dims, coords, names, attrs), plus: the dtype of the
    data and of every coordinate, and every attribute value compared recursively with its kind
    (numpy scalars count as the Python kind they hold; lists, tuples and 1-D arrays count as
    sequences compared element by element; str and bytes differ; NaN equals NaN).

    Raises
    ------
    AssertionError
        Naming the first difference.
    """
    assert type(actual) is type(expected), f"type {type(actual).__name__} != {type(expected).__name__}"
    # xarray compares attrs with ==, which fails on nested arrays: compare structure without attrs,
    # then every attr with its kind below
    xr.testing.assert_identical(_without_attrs(actual), _without_attrs(expected))
    if isinstance(expected, xr.DataTree):
        for node in expected.subtree:
            other = actual[node.path] if node.path != "/" else actual
            _assert_dataset(other.to_dataset(inherit=False), node.to_dataset(inherit=False), node.path)
            assert_attrs_equal(dict(other.attrs), dict(node.attrs), f"{node.path}.attrs")
    elif isinstance(expected, xr.Dataset):
        _assert_dataset(actual, expected, "dataset")
    else:
        _assert_variable(actual.variable, expected.variable, f"data {expected.name!r}")
        for name in expected.coords:
            _assert_variable(actual.coords[name].variable, expected.coords[name].variable, f"coord {name!r}")


def _without_attrs(obj: Any) -> Any:
    if isinstance(obj, xr.DataTree):
        stripped = obj.map_over_datasets(lambda ds: ds.drop_attrs(deep=True))
        for node in stripped.subtree:
            node.attrs = {}
        return stripped
    return obj.drop_attrs(deep=True)


class _CountingScheduler:
    def __init__(self, max_computes: int) -> None:
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk: Any, keys: Any, **kwargs: Any) -> Any:
        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(f"too many dask computations: {self.total_computes} > {self.max_computes}")
        return dask.get(dsk, keys, **kwargs)


@contextlib.contextmanager
def raise_if_dask_computes(max_computes: int = 0) -> Iterator[_CountingScheduler]:
    """A dask scheduler that raises when more than `max_computes` computations run inside the block."""
    scheduler = _CountingScheduler(max_computes)
    with dask.config.set(scheduler=scheduler):
        yield scheduler
