"""The HyperSpy bridge against the real HyperSpy and exspy: round trips, zero copy, signal classes."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pycrox
from pycrox import model
from pycrox.bridges.hyperspy import from_hyperspy, signal_type, to_hyperspy
from pycrox.errors import DimensionError, ModelError
from pycrox.testing import assert_lossless, raise_if_dask_computes
from pycrox.testing.strategies import model_arrays
from tests.bridges._corpus import corpus_files

hs = pytest.importorskip("hyperspy.api")
exspy = pytest.importorskip("exspy")
matplotlib.use("Agg")
pytestmark = [
    pytest.mark.reference,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*deprecated.*"),
]


def _eels(lazy: bool = False) -> xr.DataArray:
    energy = 300.0 + 1.0 * np.arange(200)
    edge = np.where(energy > 400.0, 2e3 * (energy / 400.0) ** -2.0, 0.0)
    spectrum = 1e9 * energy**-3.0 + edge
    data = np.broadcast_to(spectrum, (2, 3, 200)).copy()
    da = model.from_array(
        data,
        dims=["y", "x", "energy_loss"],
        coords={
            "y": model.coordinate("y", np.arange(2) * 0.2, units="nm"),
            "x": model.coordinate("x", np.arange(3) * 0.2, units="nm"),
            "energy_loss": model.coordinate("energy_loss", energy, units="eV"),
        },
        name="si",
        title="EELS SI",
        quantity="Intensity",
        units="counts",
        modality="STEM EELS",
        metadata={"beam_energy": {"value": 200.0, "units": "keV"}, "signal": "EELS"},
        original_metadata={"Tags": {"gain": 2.0, "list": [1, 2, 3]}},
    )
    return da.chunk({"y": 1}) if lazy else da


def _image(**attrs) -> xr.DataArray:
    return model.from_array(
        np.arange(20.0).reshape(4, 5),
        dims=["ky", "kx"] if attrs.pop("reciprocal", False) else ["y", "x"],
        title="image",
        units="counts",
        **attrs,
    )


def test_eels_becomes_exspy_eels_and_shares_numpy():
    da = _eels()
    signal = to_hyperspy(da)
    assert isinstance(signal, exspy.signals.EELSSpectrum)
    assert signal.data is da.data
    assert np.shares_memory(signal.data, da.values)
    assert signal.axes_manager.signal_dimension == 1
    assert signal.axes_manager.navigation_shape == (3, 2)
    energy = signal.axes_manager.signal_axes[0]
    assert (energy.offset, energy.scale, energy.units) == (300.0, 1.0, "eV")
    assert signal.metadata.General.title == "EELS SI"
    assert signal.metadata.Signal.quantity == "Intensity (counts)"
    assert signal.metadata.Acquisition_instrument.TEM.beam_energy == 200.0
    assert signal.original_metadata.Tags.gain == 2.0
    back = from_hyperspy(signal)
    assert back.data is da.data
    assert_lossless(back, da)


def test_lazy_signal_is_not_computed():
    da = _eels(lazy=True)
    with raise_if_dask_computes():
        signal = to_hyperspy(da)
        back = from_hyperspy(signal)
    assert isinstance(signal, exspy.signals.LazyEELSSpectrum)
    assert signal.data is da.data
    assert back.data is da.data
    assert_lossless(back, da)


def test_exspy_remove_background_runs_on_converted_signal():
    signal = to_hyperspy(_eels())
    removed = signal.remove_background(signal_range=(330.0, 390.0), background_type="PowerLaw", fast=True)
    result = from_hyperspy(removed)
    assert result.dims == ("y", "x", "energy_loss")
    pre_edge = result.sel(energy_loss=slice(330, 390)).values
    assert np.abs(pre_edge).max() < 1e-3 * float(_eels().max())
    assert float(result.sel(energy_loss=450).mean()) > 1.0e3


def test_signal_types_follow_modality_and_data():
    assert signal_type(_eels()) == "EELS"
    eds = model.from_array(np.ones(100), dims=["energy"], modality="SEM EDS")
    assert signal_type(eds) == "EDS_SEM"
    assert isinstance(to_hyperspy(eds), exspy.signals.EDSSEMSpectrum)
    eds_tem = model.from_array(np.ones(100), dims=["energy"], metadata={"signal": "EDS"})
    assert isinstance(to_hyperspy(eds_tem), exspy.signals.EDSTEMSpectrum)
    image = to_hyperspy(_image())
    assert type(image) is hs.signals.Signal2D
    diffraction = _image(reciprocal=True, modality="diffraction")
    expected = "electron_diffraction" if "electron_diffraction" in _known() else ""
    assert signal_type(diffraction) == expected
    assert to_hyperspy(diffraction).axes_manager.signal_dimension == 2
    complex_eels = _eels().astype(np.complex64)
    assert isinstance(to_hyperspy(complex_eels), hs.signals.ComplexSignal1D)


def _known() -> set[str]:
    from hyperspy.extensions import ALL_EXTENSIONS

    return {v.get("signal_type") for v in ALL_EXTENSIONS["signals"].values()}


def test_edits_on_the_hyperspy_side_are_kept():
    da = _eels()
    signal = to_hyperspy(da)
    signal.metadata.General.title = "edited"
    signal.axes_manager.signal_axes[0].offset = 310.0
    back = from_hyperspy(signal)
    assert back.attrs["title"] == "edited"
    assert float(back.energy_loss[0]) == 310.0
    assert back.name == "si"


def test_spectral_dim_first_is_moved_last_as_a_view():
    da = _eels().transpose("energy_loss", "y", "x")
    signal = to_hyperspy(da)
    assert isinstance(signal, exspy.signals.EELSSpectrum)
    assert signal.axes_manager.signal_axes[0].name == "energy_loss"
    assert np.shares_memory(signal.data, da.values)
    back = from_hyperspy(signal)
    assert back.data is da.data
    assert_lossless(back, da)
    signal.data = signal.data * 2  # changed data come back in the source's dim order
    doubled = from_hyperspy(signal)
    assert doubled.dims == da.dims
    np.testing.assert_array_equal(doubled.values, 2 * da.values)


def test_native_hyperspy_signal():
    signal = hs.signals.Signal2D(np.zeros((2, 5, 6)))
    signal.axes_manager.signal_axes[0].units = "nm"
    signal.axes_manager.signal_axes[1].units = "nm"
    signal.metadata.General.title = "stack"
    da = from_hyperspy(signal)
    assert da.data is signal.data
    assert da.attrs["title"] == "stack"
    assert da.attrs["data_type"] == "IMAGE_STACK"
    assert da.sizes == {"frame": 2, "y": 5, "x": 6}
    assert da.x.attrs["units"] == "nm"
    assert model.validate(da) == []


def test_metadata_node_survives_without_the_memo():
    da = _eels()
    signal = to_hyperspy(da)
    del signal._pycrox_memo
    back = from_hyperspy(signal)
    assert back.attrs["metadata"] == da.attrs["metadata"]
    assert back.attrs["modality"] == "STEM EELS"
    assert back.energy_loss.attrs["dimension_type"] == "SPECTRAL"
    np.testing.assert_allclose(back.energy_loss.values, da.energy_loss.values)


def test_errors_name_what_was_found():
    with pytest.raises(ModelError, match="got Dataset"):
        to_hyperspy(xr.Dataset())
    with pytest.raises(DimensionError, match="0-D"):
        to_hyperspy(model.from_array(np.float64(1.0)))
    with pytest.raises(ModelError, match="got ndarray"):
        from_hyperspy(np.zeros(3))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=model_arrays(min_dims=1, max_dims=4), chunked=st.booleans())
def test_round_trip_model_arrays(da, chunked):
    if chunked:
        da = da.chunk()
    with raise_if_dask_computes():
        signal = to_hyperspy(da)
        back = from_hyperspy(signal)
    assert sorted(signal.data.shape) == sorted(da.shape)
    assert signal.data.dtype == da.dtype
    if not chunked and da.size:
        assert np.shares_memory(signal.data, da.values)
    assert_lossless(back, da)


def test_hyperspy_plot_runs_on_converted_signals():
    import matplotlib.pyplot as plt

    for da in (_eels(), _image()):
        to_hyperspy(da).plot()
        assert plt.get_fignums()
        plt.close("all")


def test_corpus_round_trips(shared_data):
    files = corpus_files(shared_data)
    if not files:
        pytest.skip("no corpus files of the bridge list present")
    for path in files:
        da = pycrox.open(path)
        if not isinstance(da, xr.DataArray) or da.ndim == 0:
            continue
        with raise_if_dask_computes():
            signal = to_hyperspy(da)
            back = from_hyperspy(signal)
        assert signal.metadata.General.title == da.attrs["title"], path
        assert_lossless(back, da)


def test_saved_and_reloaded_signal_converts_back(tmp_path):
    da = _eels()
    path = tmp_path / "si.hspy"
    to_hyperspy(da).save(path)
    back = from_hyperspy(hs.load(path))
    assert back.dims == da.dims
    for key in ("title", "quantity", "units", "data_type", "modality", "metadata", "original_metadata"):
        assert back.attrs[key] == da.attrs[key], key
    assert back.energy_loss.attrs["dimension_type"] == "SPECTRAL"
    np.testing.assert_array_equal(back.values, da.values)
