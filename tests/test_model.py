import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model


def test_from_array_makes_a_valid_object_in_one_line():
    da = pycrox.from_array(np.zeros((4, 5, 6)))
    assert da.dims == ("y", "x", "energy")
    assert pycrox.validate(da) == []
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert da.x.attrs["dimension_type"] == "SPATIAL"
    assert da.energy.attrs["dimension_type"] == "SPECTRAL"


def test_from_array_keeps_dask_lazy():
    data = dsa.zeros((8, 8), chunks=4)
    da = pycrox.from_array(data)
    assert isinstance(da.data, dsa.Array)


def test_from_array_rejects_invalid_data_type():
    with pytest.raises(pycrox.ModelError, match="invalid data_type 'PICTURE'"):
        pycrox.from_array(np.zeros(3), dims=["x"], data_type="PICTURE")


def test_coordinate_rejects_invalid_dimension_type():
    with pytest.raises(pycrox.ModelError, match="invalid dimension_type 'sideways'"):
        model.coordinate("x", [0, 1], dimension_type="sideways")


def test_from_array_rejects_coordinate_of_wrong_length():
    with pytest.raises(pycrox.DimensionError, match="coordinate 'x' has shape"):
        pycrox.from_array(np.zeros((2, 3)), coords={"x": [0.0, 1.0]})


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["SPECTRAL"], "SPECTRUM"),
        (["SPATIAL", "SPATIAL"], "IMAGE"),
        (["SPATIAL", "SPATIAL", "SPECTRAL"], "SPECTRAL_IMAGE"),
        (["TEMPORAL", "SPATIAL", "SPATIAL"], "IMAGE_STACK"),
        (["SPATIAL", "SPATIAL", "RECIPROCAL", "RECIPROCAL"], "IMAGE_4D"),
        (["UNKNOWN"] * 5, "UNKNOWN"),
    ],
)
def test_guess_data_type(types, expected):
    assert model.guess_data_type(types) == expected


def test_validate_lists_every_problem():
    da = xr.DataArray(np.zeros((2, 2)), dims=("a", "b"), attrs={"data_type": "PICTURE", "metadata": 3})
    problems = pycrox.validate(da)
    assert any("data_type 'PICTURE'" in p for p in problems)
    assert any("'metadata' must be a dict" in p for p in problems)
    assert any("dimension 'a' has no coordinate" in p for p in problems)
    assert any("attr 'title' is missing" in p for p in problems)
    assert da.pycro.validate() == problems


def test_validate_walks_trees_and_datasets():
    good = pycrox.from_array(np.zeros(2), dims=["x"], name="good")
    tree = xr.DataTree.from_dict(
        {
            "/g/good": good.to_dataset(),
            "/g/bad": xr.Dataset({"bad": ("q", [1, 2])}),
            "/g": xr.Dataset({"raw_table": ("r", [1, 2])}),
        }
    )
    problems = pycrox.validate(tree)
    assert problems
    assert all(p.startswith("/g/bad:") for p in problems)  # group content that is no signal is not judged


def _tree():
    a = pycrox.from_array(np.zeros(2), dims=["x"], name="a")
    b = pycrox.from_array(np.zeros(3), dims=["x"], name="b")
    comp = xr.Dataset({"amp": ("p", [1.0]), "phase": ("p", [0.0])})
    return xr.DataTree.from_dict(
        {
            "/g1/a": a.to_dataset(),
            "/g2/b": b.to_dataset(),
            "/g2/fit": xr.DataTree(comp).to_dataset().assign_attrs({model.COMPOUND_ATTR: True}),
        }
    )


def test_signal_nodes_follow_the_naming_rule():
    signals = model.signal_nodes(_tree())
    assert sorted(signals) == ["/g1/a", "/g2/b", "/g2/fit"]
    assert isinstance(signals["/g2/fit"], xr.Dataset)
    assert signals["/g1/a"].name == "a"


def test_select_signal_lists_signals_when_ambiguous():
    with pytest.raises(pycrox.ModelError, match=r"holds 3 signals \['/g1/a', '/g2/b', '/g2/fit'\]"):
        model.select_signal(_tree(), None, "f.h5")
    assert model.select_signal(_tree(), "g2/b", "f.h5").shape == (3,)
    with pytest.raises(pycrox.ModelError, match="no signal at group 'nope'"):
        model.select_signal(_tree(), "nope", "f.h5")


def test_accessor_properties():
    da = pycrox.from_array(np.zeros((2, 2)), metadata={"a": 1})
    assert da.pycro.data_type == "IMAGE"
    assert da.pycro.dimension_types == {"y": "SPATIAL", "x": "SPATIAL"}
    assert da.pycro.metadata == {"a": 1}
    assert da.pycro.provenance == {}
    ds = da.to_dataset(name="v")
    assert ds.pycro.validate() == []
