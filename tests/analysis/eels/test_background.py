"""eels.background: against scipy's curve_fit, on noise-free truth, lazily, and on bad input."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from scipy.optimize import curve_fit

import pycrox  # noqa: F401  (registers .pycro)
from pycrox.analysis.eels import EELSError, background
from pycrox.errors import DimensionError, UnitError
from pycrox.testing import raise_if_dask_computes
from tests.analysis.eels._synthetic import spectrum

ENERGY = np.arange(300.0, 700.0, 0.5)


def _noisy_powerlaw(shape=(4, 5), seed=0):
    rng = np.random.default_rng(seed)
    amplitude = rng.uniform(1e10, 3e10, (*shape, 1))
    exponent = rng.uniform(2.5, 3.5, (*shape, 1))
    values = rng.poisson(amplitude * ENERGY**-exponent).astype(np.float64)
    return spectrum(values, ENERGY, dims=("y", "x", "energy")), amplitude[..., 0], exponent[..., 0]


def test_powerlaw_matches_curve_fit_per_pixel():
    da, _, _ = _noisy_powerlaw()
    result = background(da, (300, 400))
    mask = (ENERGY >= 300) & (ENERGY <= 400)
    for iy, ix in [(0, 0), (1, 3), (3, 4)]:
        start = [float(result.amplitude[iy, ix]) * 1.2, float(result.exponent[iy, ix]) * 1.02]
        popt, pcov = curve_fit(
            lambda e, a, r: a * e**-r, ENERGY[mask], da.values[iy, ix, mask], p0=start, maxfev=10000
        )
        np.testing.assert_allclose([result.amplitude[iy, ix], result.exponent[iy, ix]], popt, rtol=1e-6)
        np.testing.assert_allclose(
            [result.amplitude_error[iy, ix], result.exponent_error[iy, ix]], np.sqrt(np.diag(pcov)), rtol=1e-4
        )
    assert result.converged.dtype == bool
    assert bool(result.converged.all())


def test_powerlaw_recovers_noise_free_truth_and_subtracts():
    values = 2e10 * ENERGY**-3.2
    values = values + np.where(ENERGY > 450, 5.0, 0.0)  # an "edge" step after the window
    result = background(spectrum(values, ENERGY), (320, 440))
    assert float(result.exponent) == pytest.approx(3.2, rel=1e-9)
    assert float(result.amplitude) == pytest.approx(2e10, rel=1e-8)
    assert float(result.r2) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(result.subtracted.values[ENERGY > 450], 5.0, atol=1e-6)
    assert result.amplitude.attrs["units"] == ""
    assert result.exponent.attrs["units"] == ""


@pytest.mark.parametrize(
    ("model", "values", "check"),
    [
        ("exponential", 5e3 * np.exp(-ENERGY / 80.0), {"decay": 80.0, "amplitude": 5e3}),
        ("polynomial", 3.0 + 0.5 * ENERGY - 1e-4 * ENERGY**2, {}),
        ("lcpl", 1e9 * ENERGY**-2.0 + 1e13 * ENERGY**-4.0, {}),
    ],
)
def test_other_models_fit_their_own_curves(model, values, check):
    result = background(
        spectrum(values, ENERGY), (320, 500), model, exponents=(2.0, 4.0) if model == "lcpl" else None
    )
    for name, truth in check.items():
        assert float(result[name]) == pytest.approx(truth, rel=1e-7)
    np.testing.assert_allclose(result.background.values, values, rtol=1e-6)
    assert bool(result.converged)
    assert float(result.r2) == pytest.approx(1.0, abs=1e-9)
    if model == "polynomial":
        np.testing.assert_allclose(result.coefficients.values, [3.0, 0.5, -1e-4], rtol=1e-6, atol=1e-9)
    if model == "lcpl":
        np.testing.assert_allclose(result.amplitude.values, [1e9, 1e13], rtol=1e-6)


def test_lazy_on_dask_and_equal_to_numpy():
    da, _, _ = _noisy_powerlaw((6, 4))
    lazy = da.chunk({"y": 2})
    with raise_if_dask_computes():
        result = background(lazy, (300, 400))
    assert isinstance(result.exponent.data, dsa.Array)
    eager = background(da, (300, 400))
    xr.testing.assert_allclose(
        result.compute()[["exponent", "amplitude", "subtracted"]],
        eager[["exponent", "amplitude", "subtracted"]],
    )
    assert "000_eels.background" in eager.attrs["provenance"]["pycrox"]


def test_accessor_delegates():
    da, _, _ = _noisy_powerlaw((2, 2))
    np.testing.assert_array_equal(
        da.pycro.eels.background((300, 400)).exponent, background(da, (300, 400)).exponent
    )


def test_window_outside_data_is_an_error():
    with pytest.raises(EELSError, match="outside the data"):
        background(spectrum(ENERGY**-3.0, ENERGY), (100, 200))


def test_window_with_too_few_channels_is_an_error():
    with pytest.raises(EELSError, match="at least 3"):
        background(spectrum(ENERGY**-3.0, ENERGY), (300, 300.6))


def test_unknown_model_is_an_error():
    with pytest.raises(EELSError, match="unknown model 'gauss'"):
        background(spectrum(ENERGY**-3.0, ENERGY), (300, 400), "gauss")


def test_no_energy_axis_is_an_error():
    with pytest.raises(DimensionError, match="no SPECTRAL dimension"):
        background(xr.DataArray(np.ones((3, 50)), dims=("x", "channel")), (1, 2))


def test_decreasing_energies_are_an_error():
    da = spectrum(ENERGY**-3.0, ENERGY).isel(energy=slice(None, None, -1))
    with pytest.raises(DimensionError, match="not strictly increasing"):
        background(da, (300, 400))


def test_energy_in_a_non_energy_unit_is_an_error():
    da = spectrum(ENERGY**-3.0, ENERGY)
    da["energy"].attrs["units"] = "nm"
    with pytest.raises(UnitError, match="not an energy"):
        background(da, (300, 400))


def test_window_in_kev_strings():
    result = background(spectrum(2e10 * ENERGY**-3.0, ENERGY), ("0.3 keV", "0.4 keV"))
    assert float(result.exponent) == pytest.approx(3.0, rel=1e-9)
