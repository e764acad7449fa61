"""The sidpy bridge against the real sidpy: round trips, zero copy, laziness, sidpy's own plots."""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import warnings

import dask.array
import matplotlib
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pycrox
from pycrox import model
from pycrox.bridges.sidpy import from_sidpy, to_sidpy
from pycrox.errors import DimensionError, ModelError
from pycrox.testing import assert_lossless, raise_if_dask_computes
from pycrox.testing.strategies import model_arrays
from tests.bridges._corpus import corpus_files

sidpy = pytest.importorskip("sidpy")
matplotlib.use("Agg")
pytestmark = pytest.mark.reference


def _graph_array(dataset) -> np.ndarray:
    """The one chunk a one-chunk dask array holds in its graph."""
    (key,) = (
        dataset.__dask_keys__() if dataset.ndim == 0 else list(dask.core.flatten(dataset.__dask_keys__()))
    )
    return dict(dataset.__dask_graph__())[key]


def _image() -> xr.DataArray:
    return model.from_array(
        np.arange(12.0).reshape(3, 4),
        dims=["y", "x"],
        coords={
            "y": model.coordinate("y", np.arange(3) * 0.5, units="nm"),
            "x": model.coordinate("x", np.arange(4) * 0.5, units="nm"),
        },
        name="haadf",
        title="HAADF",
        quantity="Intensity",
        units="counts",
        modality="STEM",
        source="test",
        metadata={"beam_energy": {"value": 200.0, "units": "keV"}},
        original_metadata={"tags": {"gain": np.array([1.0, 2.0])}},
    )


def test_import_pycrox_does_not_import_sidpy_or_hyperspy():
    code = (
        "import sys, pycrox, pycrox.bridges, pycrox.bridges.sidpy, pycrox.bridges.hyperspy; "
        "print([m for m in ('sidpy', 'hyperspy', 'exspy') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_attrs_and_dims_map_one_to_one():
    da = _image()
    dataset = to_sidpy(da)
    assert isinstance(dataset, sidpy.Dataset)
    assert (dataset.title, dataset.quantity, dataset.units) == ("HAADF", "Intensity", "counts")
    assert (dataset.modality, dataset.source) == ("STEM", "test")
    assert dataset.data_type == sidpy.DataType.IMAGE
    assert dataset.metadata == {"beam_energy": {"value": 200.0, "units": "keV"}}
    assert dataset.provenance == {}
    assert dataset.x.units == "nm"
    assert dataset.y.quantity == "Length"
    assert dataset.x.dimension_type == sidpy.DimensionType.SPATIAL
    np.testing.assert_array_equal(dataset.x.values, [0, 0.5, 1.0, 1.5])


def test_numpy_is_not_copied_either_way():
    da = _image()
    dataset = to_sidpy(da)
    assert np.shares_memory(_graph_array(dataset), da.values)
    back = from_sidpy(dataset)
    assert back.variable.data is da.variable.data
    assert_lossless(back, da)


def test_dask_is_not_computed_either_way():
    da = _image().chunk({"y": 1})
    with raise_if_dask_computes():
        dataset = to_sidpy(da)
        back = from_sidpy(dataset)
        plain = from_sidpy(sidpy.Dataset.from_array(da.data))
    assert dataset.name == da.data.name
    assert back.data is da.data
    assert plain.data.name == da.data.name
    assert_lossless(back, da)


def test_edits_on_the_sidpy_side_are_kept():
    da = _image()
    dataset = to_sidpy(da)
    dataset.title = "edited"
    dataset.x.units = "Å"
    dataset.metadata["operator"] = "me"
    back = from_sidpy(dataset)
    assert back.attrs["title"] == "edited"
    assert back.x.attrs["units"] == "Å"
    assert back.attrs["metadata"]["operator"] == "me"
    assert back.name == "haadf"
    assert back.attrs["long_name"] == da.attrs["long_name"]


def test_changed_data_are_taken_from_sidpy():
    da = _image()
    dataset = to_sidpy(da)
    dataset[0, 0] = -1.0  # dask setitem: a new graph on the same object
    back = from_sidpy(dataset)
    assert float(back[0, 0]) == -1.0
    assert float(da[0, 0]) == 0.0


def test_dataset_made_by_sidpy():
    dataset = sidpy.Dataset.from_array(np.ones((2, 3, 5)), title="si", units="counts", quantity="Intensity")
    dataset.data_type = "SPECTRAL_IMAGE"
    dataset.set_dimension(
        0, sidpy.Dimension(np.arange(2.0), "x", units="nm", quantity="Length", dimension_type="spatial")
    )
    dataset.set_dimension(
        1, sidpy.Dimension(np.arange(3.0), "y", units="nm", quantity="Length", dimension_type="spatial")
    )
    dataset.set_dimension(
        2,
        sidpy.Dimension(
            np.linspace(100, 104, 5),
            "energy_loss",
            units="eV",
            quantity="Energy loss",
            dimension_type="spectral",
        ),
    )
    dataset.metadata = {"experiment": {"beam": 200}}
    da = from_sidpy(dataset)
    assert da.dims == ("x", "y", "energy_loss")
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert da.energy_loss.attrs == {
        "units": "eV",
        "quantity": "Energy loss",
        "dimension_type": "SPECTRAL",
        "long_name": "Energy loss",
    }
    assert da.attrs["metadata"] == {"experiment": {"beam": 200}}
    assert model.validate(da) == []
    again = to_sidpy(da)
    assert again.data_type == dataset.data_type
    assert again.energy_loss.units == "eV"
    assert again.title == "si"


def test_reserved_dim_names_become_attribute_safe():
    da = model.from_array(np.zeros((2, 3)), dims=["sum", "dim_0"])
    dataset = to_sidpy(da)
    assert [dataset._axes[i].name for i in range(2)] == ["sum_1", "dim_0_1"]
    assert callable(dataset.sum)
    assert_lossless(from_sidpy(dataset), da)


def test_errors_name_what_was_found():
    with pytest.raises(ModelError, match="got Dataset"):
        to_sidpy(xr.Dataset())
    with pytest.raises(DimensionError, match="size 0"):
        to_sidpy(model.from_array(np.zeros((0, 2))))
    with pytest.raises(ModelError, match="got ndarray"):
        from_sidpy(np.zeros(3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=model_arrays(max_dims=4), chunked=st.booleans())
def test_round_trip_model_arrays(da, chunked):
    if 0 in da.shape:
        return
    if chunked:
        da = da.chunk()
    with raise_if_dask_computes():
        dataset = to_sidpy(da)
        back = from_sidpy(dataset)
    assert dataset.shape == da.shape
    assert dataset.dtype == da.dtype
    assert_lossless(back, da)
    # what sidpy holds comes back without the memo as well
    object.__delattr__(dataset, "_pycrox_memo")
    bare = from_sidpy(dataset)
    assert bare.attrs["title"] == da.attrs["title"]
    assert bare.attrs["metadata"] == da.attrs["metadata"]
    assert bare.attrs["original_metadata"] == da.attrs["original_metadata"]
    assert bare.attrs["provenance"] == da.attrs["provenance"]
    for dim, ax in zip(da.dims, bare.dims, strict=True):
        assert bare[ax].attrs["dimension_type"] == da[dim].attrs["dimension_type"]
        assert bare[ax].attrs["units"] == (da[dim].attrs["units"] or "generic")
        np.testing.assert_array_equal(bare[ax].values, da[dim].values.astype(float))
    np.testing.assert_array_equal(bare.values, da.values)


def test_sidpy_plot_runs_on_converted_objects():
    import matplotlib.pyplot as plt

    image = to_sidpy(_image())
    spectrum = to_sidpy(
        model.from_array(
            np.linspace(0, 1, 50),
            dims=["energy_loss"],
            coords={"energy_loss": model.coordinate("energy_loss", np.linspace(100, 150, 50), units="eV")},
            title="spectrum",
        )
    )
    for dataset in (image, spectrum):
        dataset.plot()
        assert plt.get_fignums()
        plt.close("all")


def test_corpus_round_trips(shared_data):
    files = corpus_files(shared_data)
    if not files:
        pytest.skip("no corpus files of the bridge list present")
    for path in files:
        da = pycrox.open(path)
        if not isinstance(da, xr.DataArray):
            continue
        with raise_if_dask_computes():
            dataset = to_sidpy(da)
            back = from_sidpy(dataset)
        assert dataset.title == da.attrs["title"], path
        assert dataset.original_metadata.keys() == da.attrs["original_metadata"].keys(), path
        assert_lossless(back, da)


def test_dataset_read_by_scifireaders(tmp_path):
    scifireaders = pytest.importorskip("SciFiReaders")
    da = _image()
    path = tmp_path / "image.h5"
    pycrox.to_nsid(da, path)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = scifireaders.NSIDReader(str(path))
        (dataset,) = reader.read().values()
        back = from_sidpy(dataset).load()
        title = dataset.title  # SciFiReaders titles a dataset by its HDF5 path
        reader.close()
    assert back.dims == ("y", "x")
    assert back.attrs["title"] == title
    assert (back.attrs["quantity"], back.attrs["units"]) == ("Intensity", "counts")
    assert back.attrs["data_type"] == "IMAGE"
    assert back.x.attrs["units"] == "nm"
    np.testing.assert_array_equal(back.values, da.values)
    np.testing.assert_array_equal(back.x.values, da.x.values)


def test_large_metadata_dicts_are_kept():
    da = _image()
    da.attrs["original_metadata"] = {f"tag_{i}": i for i in range(5000)}
    dataset = to_sidpy(da)
    assert len(dataset.original_metadata) == 5000
    assert_lossless(from_sidpy(dataset), model.comparable_attrs(da))
