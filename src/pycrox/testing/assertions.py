"""`assert_lossless`: xarray's assert_identical plus dtypes and the kinds of attribute values."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import dask
import xarray as xr

from pycrox._kinds import attr_difference

__all__ = ["assert_attrs_equal", "assert_lossless", "raise_if_dask_computes"]


def _check(condition: bool, message: str) -> None:
    """Raise `AssertionError` with `message` unless `condition` (works under ``python -O`` too)."""
    if not condition:
        raise AssertionError(message)


def assert_attrs_equal(actual: Any, expected: Any, path: str = "attrs") -> None:
    """Assert two attribute values are equal and of the same kind, recursively.

    Raises
    ------
    AssertionError
        Naming the first path where they differ (see `pycrox._kinds.attr_difference`).
    """
    difference = attr_difference(actual, expected, path)
    _check(difference is None, str(difference))


def _assert_variable(actual: xr.Variable, expected: xr.Variable, where: str) -> None:
    _check(actual.dtype == expected.dtype, f"{where}: dtype {actual.dtype} != {expected.dtype}")
    assert_attrs_equal(dict(actual.attrs), dict(expected.attrs), f"{where}.attrs")


def _assert_dataset(actual: xr.Dataset, expected: xr.Dataset, where: str) -> None:
    _check(
        set(actual.variables) == set(expected.variables),
        f"{where}: variables {sorted(map(str, actual.variables))} != {sorted(map(str, expected.variables))}",
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
    _check(type(actual) is type(expected), f"type {type(actual).__name__} != {type(expected).__name__}")
    # xarray compares attrs with ==, which fails on nested arrays: compare structure without attrs,
    # then every attr with its kind below
    bare_actual, bare_expected = _without_attrs(actual), _without_attrs(expected)
    if not bare_actual.identical(bare_expected):
        try:  # xarray's message names the difference (its own asserts are stripped under -O)
            xr.testing.assert_identical(bare_actual, bare_expected)
        except AssertionError as exc:
            raise AssertionError(str(exc)) from None
        raise AssertionError(f"not identical:\n{bare_actual}\n!=\n{bare_expected}")
    if isinstance(expected, xr.DataTree) and isinstance(actual, xr.DataTree):
        for node in expected.subtree:
            other = actual[node.path] if node.path != "/" else actual
            if not isinstance(other, xr.DataTree):  # an assertion helper fails with AssertionError
                raise AssertionError(f"{node.path}: a variable, not a group")  # noqa: TRY004
            _assert_dataset(other.to_dataset(inherit=False), node.to_dataset(inherit=False), node.path)
            assert_attrs_equal(dict(other.attrs), dict(node.attrs), f"{node.path}.attrs")
    elif isinstance(expected, xr.Dataset) and isinstance(actual, xr.Dataset):
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
