"""Doctest namespace: ``np``, ``xr`` and ``pycrox`` are available in every docstring example."""

import numpy as np
import pytest
import xarray as xr

import pycrox


@pytest.fixture(autouse=True)
def _add_doctest_names(doctest_namespace: dict) -> None:
    doctest_namespace.update(np=np, xr=xr, pycrox=pycrox)
