"""Edge table, hydrogenic K and L cross-sections against exSpy, and quantification of synthetic spectra."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pycrox.analysis.eels import EELSError, composition, edges, hydrogenic_k, hydrogenic_l
from tests.analysis.eels._synthetic import spectrum


def _exspy_edge(subshell: str, e0: float, beta: float, alpha: float):
    exspy_components = pytest.importorskip("exspy.components", reason="exSpy is the cross-section reference")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        edge = exspy_components.EELSCLEdge(subshell, GOS="hydrogenic")
        edge.set_microscope_parameters(E0=e0, alpha=alpha, beta=beta, energy_scale=0.1)
    return edge


def _exspy_sigma_nm2(subshell, e0, beta, alpha, width):
    edge = _exspy_edge(subshell, e0, beta, alpha)
    x = np.linspace(edge.onset_energy.value, edge.onset_energy.value + width, 4001)
    return np.trapezoid(edge.function(x), x) * 1e-10, edge.onset_energy.value  # barn -> nm^2


@pytest.mark.parametrize(
    ("subshell", "z", "e0", "beta", "alpha"),
    [
        ("B_K", 5, 200, 20, 0),
        ("C_K", 6, 100, 10, 0),
        ("N_K", 7, 200, 20, 10),
        ("O_K", 8, 300, 50, 15),
        ("Al_K", 13, 80, 30, 0),
        ("Si_K", 14, 200, 15, 25),
    ],
)
def test_hydrogenic_k_within_5_percent_of_exspy(subshell, z, e0, beta, alpha):
    reference, onset = _exspy_sigma_nm2(subshell, e0, beta, alpha, 50.0)
    assert hydrogenic_k(z, onset, 50.0, e0, beta, alpha) == pytest.approx(reference, rel=0.05)


@pytest.mark.parametrize(
    ("subshell", "z", "e0", "beta", "alpha", "width"),
    [
        ("Mg_L3", 12, 200, 20, 0, 60),  # the window passes the L1 onset (89 eV)
        ("Si_L3", 14, 100, 10, 0, 80),  # idem (149.7 eV)
        ("Si_L3", 14, 300, 40, 20, 30),
        ("Ca_L3", 20, 300, 50, 15, 40),
        ("Ti_L3", 22, 200, 20, 0, 50),
        ("Ti_L3", 22, 80, 5, 30, 150),  # alpha > beta; past L1 (564 eV)
        ("Fe_L3", 26, 200, 20, 10, 50),
        ("Cu_L3", 29, 80, 30, 0, 100),
        ("Ge_L3", 32, 200, 20, 10, 250),  # past L1 (1414 eV)
        ("Sr_L3", 38, 300, 20, 0, 100),  # beyond Egerton's table of u (Z > 36)
        ("Mo_L3", 42, 120, 60, 0, 100),
    ],
)
def test_hydrogenic_l_within_5_percent_of_exspy(subshell, z, e0, beta, alpha, width):
    reference, onset = _exspy_sigma_nm2(subshell, e0, beta, alpha, width)
    l1 = _exspy_edge(subshell, e0, beta, alpha).GOS.onset_energy_L1
    ours = hydrogenic_l(z, onset, width, e0, beta, alpha, l1_onset=l1)
    assert ours == pytest.approx(reference, rel=0.05)


def test_hydrogenic_l_physics():
    # grows with the collection angle and the window, falls with the beam energy
    base = hydrogenic_l(22, 456.0, 50.0, 200.0, 20.0, l1_onset=564.0)
    assert hydrogenic_l(22, 456.0, 50.0, 200.0, 40.0, l1_onset=564.0) > base
    assert hydrogenic_l(22, 456.0, 100.0, 200.0, 20.0, l1_onset=564.0) > base
    assert hydrogenic_l(22, 456.0, 50.0, 300.0, 20.0, l1_onset=564.0) < base
    # the 2s electrons add once the window passes L1; an L1 beyond the window changes nothing
    past = hydrogenic_l(22, 456.0, 150.0, 200.0, 20.0, l1_onset=564.0)
    assert past > hydrogenic_l(22, 456.0, 150.0, 200.0, 20.0, l1_onset=None)
    assert hydrogenic_l(22, 456.0, 50.0, 200.0, 20.0, l1_onset=None) == pytest.approx(base, rel=1e-12)
    # a convergent probe with alpha << beta barely matters; alpha = beta tilts part of the scattering
    # out of the aperture
    assert hydrogenic_l(22, 456.0, 50.0, 200.0, 20.0, 1.0, l1_onset=564.0) == pytest.approx(base, rel=0.01)
    assert hydrogenic_l(22, 456.0, 50.0, 200.0, 20.0, 20.0, l1_onset=564.0) < 0.95 * base


def test_hydrogenic_l_bad_input():
    with pytest.raises(EELSError, match="sodium"):
        hydrogenic_l(8, 10.0, 50.0, 200.0, 20.0)
    with pytest.raises(EELSError, match="L1 onset"):
        hydrogenic_l(22, 456.0, 50.0, 200.0, 20.0, l1_onset=400.0)
    with pytest.raises(EELSError, match="collection"):
        hydrogenic_l(22, 456.0, 50.0, 200.0, 0.0)
    with pytest.raises(EELSError, match="window"):
        hydrogenic_k(8, 532.0, -5.0, 200.0, 20.0)


def _oxide_spectrum(metal, amounts, energy, e0, beta, alpha, seed):
    """Edges made with exSpy's hydrogenic cross-sections at the pycrox onsets, a power law, Poisson noise."""
    shapes = []
    for el, amount in amounts.items():
        shell = "K" if el == "O" else "L3"
        edge = _exspy_edge(f"{el}_{shell}", e0, beta, alpha)
        edge.onset_energy.value = edges(None, el).sel(edge=f"{el}_{shell}").item()
        shapes.append(amount * edge.function(energy) * 0.5)
    rng = np.random.default_rng(seed)
    clean = 2e13 * energy**-3.0 + sum(shapes) * 100.0
    pixels = np.stack([rng.poisson(clean) for _ in range(16)]).astype(float)
    da = spectrum(pixels, energy, dims=("x", "energy"))
    da.attrs["metadata"] = {
        "beam_energy": {"value": e0, "units": "keV"},
        "convergence_angle": {"value": alpha, "units": "mrad"},
    }
    return da


@pytest.mark.parametrize(
    ("metal", "amounts", "energy", "setup"),
    [
        ("Ti", {"Ti": 1.0, "O": 2.0}, np.arange(400.0, 620.0, 0.5), (200.0, 20.0, 10.0)),
        ("Fe", {"Fe": 2.0, "O": 3.0}, np.arange(480.0, 800.0, 0.5), (300.0, 30.0, 0.0)),
    ],
)
def test_composition_with_l_edges_of_a_spectrum_made_with_exspy(metal, amounts, energy, setup):
    e0, beta, alpha = setup
    da = _oxide_spectrum(metal, amounts, energy, e0, beta, alpha, seed=5)
    result = composition(da, [metal, "O"], shells={metal: "L23"}, collection_angle=beta, window=40)
    truth = np.array([amounts[metal], amounts["O"]]) / sum(amounts.values())
    np.testing.assert_allclose(result.atomic_fraction.mean("x").values, truth, rtol=0.05)
    assert bool(result.converged.all())


def test_composition_of_a_synthetic_spectrum_made_with_exspy_cross_sections():
    energy = np.arange(150.0, 700.0, 0.5)
    e0, beta, alpha = 200.0, 20.0, 10.0
    amounts = {"B": 1.0, "N": 1.0, "O": 0.5}
    shapes = {}
    for el, amount in amounts.items():
        edge = _exspy_edge(f"{el}_K", e0, beta, alpha)
        edge.onset_energy.value = {"B": 188.0, "N": 401.0, "O": 532.0}[el]
        shapes[el] = amount * edge.function(energy) * 0.5
    rng = np.random.default_rng(3)
    clean = 5e11 * energy**-3.0 + sum(shapes.values()) * 50.0
    pixels = np.stack([rng.poisson(clean) for _ in range(16)]).astype(float)
    da = spectrum(pixels, energy, dims=("x", "energy"))
    da.attrs["metadata"] = {
        "beam_energy": {"value": e0, "units": "keV"},
        "convergence_angle": {"value": alpha, "units": "mrad"},
    }
    result = composition(da, ["B", "N", "O"], collection_angle=beta, window=40, background_width=30)
    truth = np.array([1.0, 1.0, 0.5]) / 2.5
    np.testing.assert_allclose(result.atomic_fraction.mean("x").values, truth, rtol=0.05)
    assert bool(result.converged.all())
    assert result.cross_section.attrs["units"] == "nm^2"
    np.testing.assert_allclose(result.atomic_fraction.sum("element").values, 1.0)


def test_composition_needs_cross_sections_for_m_edges():
    energy = np.arange(400.0, 600.0, 0.5)
    da = spectrum(1e10 * energy**-3.0, energy)
    with pytest.raises(EELSError, match=r"no licence-clean M-shell model.*cross_sections="):
        composition(da, ["Sn"], shells={"Sn": "M45"}, beam_energy=200, collection_angle=20)
    with pytest.raises(EELSError, match="K and L23 edges only"):
        composition(da, ["Ti"], shells={"Ti": "L3"}, beam_energy=200, collection_angle=20)
    result = composition(da, ["Sn"], shells={"Sn": "M45"}, cross_sections={"Sn": "1e-6 nm^2"})
    assert result.cross_section.item() == pytest.approx(1e-6)
    # the hydrogenic L value is the one composition uses for L23
    ti = composition(da, ["Ti"], shells={"Ti": "L23"}, beam_energy=200, collection_angle=20, window=40)
    expected = hydrogenic_l(22, 453.8, 40.0, 200.0, 20.0, l1_onset=560.9)
    assert ti.cross_section.item() == pytest.approx(expected, rel=1e-12)


def test_composition_without_beam_energy_names_the_fix():
    energy = np.arange(150.0, 400.0, 0.5)
    with pytest.raises(EELSError, match="beam_energy='200 kV'"):
        composition(spectrum(1e10 * energy**-3.0, energy), ["B"], collection_angle=20)


def test_edges_table_and_range():
    energy = np.arange(400.0, 600.0, 1.0)
    onsets = edges(spectrum(np.ones_like(energy), energy), ["Ti", "O"])
    assert onsets.sel(edge="O_K").item() == 532.0
    assert onsets.sel(edge="Ti_L3").item() == pytest.approx(453.8)
    assert onsets.in_range.sel(edge="Ti_K").item() is False or not bool(onsets.in_range.sel(edge="Ti_K"))
    assert list(onsets.values) == sorted(onsets.values)


def test_unknown_element_and_edge_are_errors():
    with pytest.raises(EELSError, match="did you mean 'Ti'"):
        edges(None, "ti")
    energy = np.arange(100.0, 300.0, 1.0)
    with pytest.raises(EELSError, match="no 'K' edge of Sr"):
        composition(spectrum(np.ones_like(energy), energy), ["Sr"], beam_energy=200, collection_angle=20)


def test_composition_is_lazy_on_dask():
    from pycrox.testing import raise_if_dask_computes

    energy = np.arange(150.0, 350.0, 0.5)
    values = 5e11 * energy**-3.0 + np.where(energy > 188, 50 * np.exp(-(energy - 188) / 40), 0.0)
    da = spectrum(np.stack([values] * 4), energy, dims=("x", "energy")).chunk({"x": 2})
    with raise_if_dask_computes():
        result = composition(da, ["B"], beam_energy="200 kV", collection_angle="20 mrad")
    assert result.atomic_fraction.chunks is not None
    np.testing.assert_allclose(result.atomic_fraction.values, 1.0)


def test_accessor_edges_and_composition():
    energy = np.arange(150.0, 350.0, 0.5)
    values = 5e11 * energy**-3.0 + np.where(energy > 188, 50 * np.exp(-(energy - 188) / 40), 0.0)
    da = spectrum(values, energy)
    assert da.pycro.eels.edges("B").sel(edge="B_K").item() == 188.0
    via_accessor = da.pycro.eels.composition(["B"], beam_energy=200, collection_angle=20)
    direct = composition(da, ["B"], beam_energy=200, collection_angle=20)
    np.testing.assert_allclose(via_accessor.intensity.values, direct.intensity.values)
