"""EELS functions on the real DigitalMicrograph files of ../shared/data, against exSpy where it installs."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pycrox
from pycrox.analysis.eels import EELSWarning, background, composition, thickness
from pycrox.analysis.eels._common import experimental

exspy = pytest.importorskip("exspy", reason="exSpy is the reference for EELS background fits")


@pytest.fixture(scope="module")
def dm(shared_data):
    folder = shared_data / "vendor" / "dm"
    if not folder.is_dir():
        pytest.skip(f"no DigitalMicrograph files in {folder}")
    return folder


def _exspy_spectrum(da):
    energy = da.energy_loss.values
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = exspy.signals.EELSSpectrum(np.moveaxis(da.values.astype(float), da.dims.index("energy_loss"), -1))
    axis = s.axes_manager.signal_axes[0]
    axis.offset, axis.scale = energy[0], energy[1] - energy[0]
    return s


def _exspy_background(s, window):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return s.remove_background(
            signal_range=window, background_type="PowerLaw", fast=False, show_progressbar=False
        ).data


def test_powerlaw_background_of_sto_spectrum_matches_exspy(dm):
    da = pycrox.open(dm / "DMReader_EELS_STO.dm3").load()
    result = background(da, (370, 450))
    reference = _exspy_background(_exspy_spectrum(da), (370.0, 450.0))
    np.testing.assert_allclose(result.subtracted.values, reference, atol=1e-6 * float(da.max()))
    assert bool(result.converged)
    assert float(result.r2) > 0.98


def test_powerlaw_background_of_spectrum_image_matches_exspy(dm):
    da = pycrox.open(dm / "DMReader_SpectrumImage_SI-EELS.dm3").isel(y=slice(0, 12)).load()
    result = background(da.chunk({"y": 4}), (370, 450)).compute()
    reference = _exspy_background(_exspy_spectrum(da), (370.0, 450.0))
    ours = result.subtracted.transpose("y", "x", "energy_loss").values
    np.testing.assert_allclose(ours, reference, atol=1e-5 * float(da.max()))
    assert result.exponent.dims == ("y", "x")
    assert bool(result.converged.all())


def test_collection_angle_is_read_from_the_dm_tags(dm):
    da = pycrox.open(dm / "DMReader_EELS_STO.dm3")
    assert experimental(da, "collection_angle", None, "test") == pytest.approx(33.0)
    assert experimental(da, "beam_energy", None, "test") == pytest.approx(200.0)
    assert experimental(da, "convergence_angle", None, "test") == pytest.approx(30.0)


def test_sto_composition_runs_on_the_ti_and_o_edges(dm):
    da = pycrox.open(dm / "DMReader_EELS_STO.dm3").load()
    result = composition(da, ["Ti", "O"], shells={"Ti": "L23"}, cross_sections={"Ti": "4e-8 nm^2"}, window=30)
    assert result.atomic_fraction.dims == ("element",)
    assert np.isfinite(result.atomic_fraction).all()
    assert float(result.atomic_fraction.sum()) == pytest.approx(1.0)
    assert float(result.cross_section.sel(element="O")) > 0


def test_thickness_of_a_spectrum_without_zero_loss_peak_is_nan_with_a_warning(dm):
    # test-EELS_spectrum.dm3 holds dark-corrected noise from -100 to 923 eV: no zero-loss peak
    da = pycrox.open(dm / "test-EELS_spectrum.dm3").load()
    with pytest.warns(EELSWarning, match="no zero-loss peak"):
        result = thickness(da, mean_free_path=100)
    assert np.isnan(float(result.t_over_lambda))
