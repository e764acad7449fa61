"""A result appended to USID with source= an object converted (astype) after reading."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import pycrox
from pycrox.demo import eels_spectrum_image
from pycrox.errors import ModelError


def test_converted_source_finds_its_main_dataset(tmp_path):
    path = tmp_path / "eels.h5"
    pycrox.to_usid(eels_spectrum_image(6, 32), path)
    source = pycrox.open(path)
    converted = source.astype("float64")
    assert "usid_path" not in converted.encoding  # what made source= fail before
    result = converted.pycro.decompose(2, dim="energy_loss", method="svd")
    pycrox.to_usid(result, path, mode="a", source=converted)
    with h5py.File(path) as f:
        group = f["Measurement_000/Channel_000/eels-SVD_000"]
        assert f[group.attrs["source_000"]].name == "/Measurement_000/Channel_000/eels"
    np.testing.assert_array_equal(
        pycrox.open(path, group="/Measurement_000/Channel_000/eels").values, source.values
    )


def test_converted_source_that_matches_nothing_names_the_problem(tmp_path):
    path = tmp_path / "eels.h5"
    pycrox.to_usid(eels_spectrum_image(6, 32), path)
    other = eels_spectrum_image(4, 32).astype("float64")  # another shape: no main dataset matches
    result = other.pycro.decompose(2, dim="energy_loss", method="svd")
    with pytest.raises(ModelError, match="pass source= as the HDF5 path"):
        pycrox.to_usid(result, path, mode="a", source=other)
