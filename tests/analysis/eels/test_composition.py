"""Edge table, hydrogenic K cross-sections against exSpy, and quantification of synthetic spectra."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pycrox.analysis.eels import EELSError, composition, edges, hydrogenic_k
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
    x = np.linspace(edge.onset_energy.value, edge.onset_energy.value + width, 2001)
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


def test_composition_needs_cross_sections_for_l_edges():
    energy = np.arange(400.0, 600.0, 0.5)
    da = spectrum(1e10 * energy**-3.0, energy)
    with pytest.raises(EELSError, match="cross_sections="):
        composition(da, ["Ti"], shells={"Ti": "L23"}, beam_energy=200, collection_angle=20)
    result = composition(da, ["Ti"], shells={"Ti": "L23"}, cross_sections={"Ti": "1e-6 nm^2"})
    assert result.cross_section.item() == pytest.approx(1e-6)


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
