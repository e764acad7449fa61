"""Zero-loss alignment, log-ratio thickness, mean free paths, Fourier deconvolution, Kramers-Kronig."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr

from pycrox.analysis.eels import (
    EELSError,
    EELSWarning,
    align_zero_loss,
    deconvolve,
    kramers_kronig,
    mean_free_path,
    thickness,
)
from pycrox.testing import raise_if_dask_computes
from tests.analysis.eels._synthetic import drude_lowloss, lowloss, spectrum

ENERGY = np.arange(-10.0, 150.0, 0.1)


def _image(t_values):
    stack = [lowloss(ENERGY, t_over_lambda=t) for t in t_values]
    return spectrum(np.stack([s[0] for s in stack]), ENERGY, dims=("x", "energy")), np.stack(
        [s[1] for s in stack]
    )


def test_log_ratio_recovers_known_t_over_lambda():
    da, _ = _image([0.2, 0.6, 1.1])
    result = thickness(da, mean_free_path="120 nm")
    np.testing.assert_allclose(result.t_over_lambda.values, [0.2, 0.6, 1.1], rtol=2e-3)
    np.testing.assert_allclose(result.thickness.values, 120 * np.array([0.2, 0.6, 1.1]), rtol=2e-3)
    assert result.thickness.attrs["units"] == "nm"
    assert float(result.mean_free_path) == 120.0


def test_thickness_is_lazy_and_poisson_noise_keeps_it_close():
    da, _ = _image([0.5, 0.5])
    noisy = da.copy(data=np.random.default_rng(1).poisson(np.clip(da.values, 0, None)).astype(float)).chunk(
        {"x": 1}
    )
    with raise_if_dask_computes():
        result = thickness(noisy, mean_free_path=100)
    np.testing.assert_allclose(result.t_over_lambda.values, 0.5, rtol=1e-2)


def test_thickness_without_a_mean_free_path_warns_with_the_fix():
    da, _ = _image([0.3])
    with pytest.warns(EELSWarning, match="mean_free_path="):
        result = thickness(da)
    assert "thickness" not in result
    assert "t_over_lambda" in result


def test_thickness_needs_a_beam_energy_for_the_mean_free_path():
    da, _ = _image([0.3])
    with pytest.raises(EELSError, match="beam_energy='200 kV'"):
        thickness(da, density=2.3)


def test_thickness_from_metadata_and_density():
    da, _ = _image([0.4])
    da.attrs["metadata"] = {
        "beam_energy": {"value": 200.0, "units": "keV"},
        "convergence_angle": {"value": 10.0, "units": "mrad"},
    }
    result = thickness(da, density="2.33 g/cm^3", collection_angle="20 mrad")
    assert float(result.mean_free_path) == pytest.approx(mean_free_path("200 kV", 20, 10, density=2.33))


def test_mean_free_path_matches_exspy():
    tools = pytest.importorskip("exspy._misc.eels.electron_inelastic_mean_free_path")
    for rho, e0, alpha, beta in [(2.33, 200, 0, 100), (5.1, 200, 30, 33), (8.9, 80, 0, 10)]:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference = tools.iMFP_Iakoubovskii(rho, e0) * tools.iMFP_angular_correction(rho, e0, alpha, beta)
        assert mean_free_path(e0, beta, alpha, density=rho) == pytest.approx(reference, rel=1e-6)


def test_malis_uses_the_effective_atomic_number():
    # Malis et al. (1988): lambda = 106 F E0 / (Em ln(2 beta E0 / Em)), Em = 7.6 Zeff^0.36
    f = (1 + 200 / 1021.99790) / (1 + 200 / 510.99895) ** 2
    em = 7.6 * 14**0.36
    assert mean_free_path(200, 10, composition="Si") == pytest.approx(
        106 * f * 200 / (em * np.log(4000 / em))
    )
    with pytest.raises(EELSError, match="unknown element 'Xx'"):
        mean_free_path(200, 10, composition={"Xx": 1})


def test_align_zero_loss_finds_sub_channel_shifts():
    shifts = np.array([0.0, 0.037, -0.21, 1.33])
    values = np.stack([np.interp(ENERGY - s, ENERGY, lowloss(ENERGY)[0]) for s in shifts])
    result = align_zero_loss(spectrum(values, ENERGY, dims=("x", "energy")).chunk({"x": 2}))
    np.testing.assert_allclose(result["shift"].values, shifts, atol=0.01)
    peak = result.aligned.values.argmax(axis=-1)
    assert np.all(np.abs(ENERGY[peak]) < 0.051)
    assert result["shift"].attrs["units"] == "eV"


def test_fourier_log_recovers_the_single_scattering_distribution():
    da, ssd = _image([0.3, 1.0])
    with raise_if_dask_computes():
        result = deconvolve(da.chunk({"x": 1}))
    np.testing.assert_allclose(result.values, ssd, atol=2e-3 * ssd.max())


def test_fourier_ratio_recovers_the_edge():
    low, _ = _image([0.8])
    core_energy = np.arange(300.0, 460.0, 0.1)
    edge = np.where(core_energy > 350, np.exp(-(core_energy - 350) / 10.0), 0.0) * 100
    size = 4 * core_energy.size
    i_zero = int(np.argmin(np.abs(ENERGY)))
    plural = np.roll(np.pad(low.values[0] / 1e5, (0, size - ENERGY.size)), -i_zero)
    zlp = np.roll(np.pad(lowloss(ENERGY)[2] / 1e5, (0, size - ENERGY.size)), -i_zero)
    padded = np.fft.rfft(np.pad(edge, (0, size - edge.size)))
    core = np.fft.irfft(padded * np.fft.rfft(plural), size)[: edge.size]
    truth = np.fft.irfft(padded * np.fft.rfft(zlp), size)[: edge.size]
    result = deconvolve(
        spectrum(core[None], core_energy, dims=("x", "energy")), "fourier_ratio", low_loss=low
    )
    np.testing.assert_allclose(result.values[0], truth, atol=0.03 * truth.max())


def test_fourier_ratio_needs_the_low_loss():
    with pytest.raises(EELSError, match="pass low_loss="):
        deconvolve(spectrum(np.ones(50), np.arange(50.0)), "fourier_ratio")


def test_kramers_kronig_recovers_a_drude_metal():
    energy = np.arange(-5.0, 250.0, 0.05)
    values, eps = drude_lowloss(energy, t_nm=40.0)
    da = spectrum(np.stack([values, values]), energy, dims=("x", "energy"))
    result = kramers_kronig(da, refractive_index=np.inf, beam_energy="200 kV", collection_angle="10 mrad")
    np.testing.assert_allclose(result.thickness.values, 40.0, rtol=0.02)
    near = (energy > 8) & (energy < 80)
    np.testing.assert_allclose(result.epsilon.values[0, near], eps[near], rtol=0.05, atol=0.01)
    known = kramers_kronig(da, thickness="40 nm", beam_energy=200, collection_angle=10)
    np.testing.assert_allclose(known.epsilon.values[0, near], eps[near], rtol=0.05, atol=0.01)


def test_kramers_kronig_on_an_axis_with_a_fractional_offset():
    energy = np.arange(-5.02, 250.0, 0.05)  # 0 eV falls between channels
    values, eps = drude_lowloss(energy, t_nm=60.0)
    result = kramers_kronig(
        spectrum(values, energy), refractive_index=np.inf, beam_energy=200, collection_angle=10
    )
    assert float(result.thickness) == pytest.approx(60.0, rel=0.02)
    near = (energy > 8) & (energy < 80)
    np.testing.assert_allclose(result.epsilon.values[near], eps[near], rtol=0.05, atol=0.01)
    assert np.isnan(result.epsilon.values[energy < 0]).all()


def test_kramers_kronig_needs_a_normalisation():
    with pytest.raises(EELSError, match="exactly one of refractive_index"):
        kramers_kronig(spectrum(np.ones(50), np.arange(50.0) - 5), beam_energy=200, collection_angle=10)


def test_accessor_thickness_and_deconvolve():
    da, _ = _image([0.3])
    xr.testing.assert_allclose(
        da.pycro.eels.thickness("100 nm").thickness, thickness(da, mean_free_path=100).thickness
    )
    xr.testing.assert_allclose(da.pycro.eels.deconvolve(), deconvolve(da))


def test_kramers_kronig_is_lazy_on_dask():
    energy = np.arange(-5.0, 150.0, 0.1)
    values, _ = drude_lowloss(energy, t_nm=30.0)
    da = spectrum(np.stack([values] * 4), energy, dims=("x", "energy")).chunk({"x": 2})
    with raise_if_dask_computes():
        result = kramers_kronig(da, refractive_index=np.inf, beam_energy=200, collection_angle=10)
    assert result.epsilon.chunks is not None
    np.testing.assert_allclose(result.thickness.values, 30.0, rtol=0.03)


def test_accessor_align_and_kramers_kronig():
    energy = np.arange(-5.0, 150.0, 0.1)
    values, _ = drude_lowloss(energy, t_nm=30.0)
    da = spectrum(values, energy)
    np.testing.assert_allclose(da.pycro.eels.align_zero_loss()["shift"], align_zero_loss(da)["shift"])
    kk = da.pycro.eels.kramers_kronig(refractive_index=np.inf, beam_energy=200, collection_angle=10)
    assert float(kk.thickness) == pytest.approx(30.0, rel=0.03)


def test_log_ratio_matches_exspy_estimate_thickness():
    exspy = pytest.importorskip("exspy")
    da, _ = _image([0.25, 0.9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = exspy.signals.EELSSpectrum(da.values)
        axis = s.axes_manager.signal_axes[0]
        axis.offset, axis.scale = ENERGY[0], ENERGY[1] - ENERGY[0]
        reference = s.estimate_thickness(threshold=3.0).data
    ours = thickness(da, threshold=3.0, mean_free_path=100).t_over_lambda.values
    np.testing.assert_allclose(ours, np.ravel(reference), rtol=2e-3)
