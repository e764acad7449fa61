"""Test helpers for pycrox and its users: `assert_lossless`, hypothesis strategies, compute counters."""

from __future__ import annotations

from pycrox.testing.assertions import assert_attrs_equal, assert_lossless, raise_if_dask_computes

__all__ = ["assert_attrs_equal", "assert_lossless", "raise_if_dask_computes"]
