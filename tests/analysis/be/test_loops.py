"""Loop projection, BGlib's 9-parameter loop fit and loop metrics on loops of known parameters."""

from __future__ import annotations

import dask.array
import numpy as np
import pytest
import xarray as xr

import pycrox  # noqa: F401  (registers .pycro)
from pycrox import units
from pycrox.analysis import be
from pycrox.analysis.be import _loop
from pycrox.testing import raise_if_dask_computes
from tests.analysis.be.conftest import loop_data, loop_truth, triangle


@pytest.mark.parametrize("guess", ["kmeans", "direct"])
def test_loop_fit_recovers_coercive_biases(loop_case, guess):
    truth, da = loop_case
    result = da.pycro.be.loop_fit(guess=guess)
    assert bool(result.converged.all())
    step = float(np.abs(np.diff(da.DC_Offset.values)).max())  # 0.625 V
    for name, column in (("a_2", 2), ("a_3", 3)):
        error = np.abs(result[name].values - truth[:, column])
        assert np.quantile(error, 0.99) < step / 2, name
    assert float(result.r2.median()) > 0.99
    # the fit reaches the least squares: never worse than the true parameters on the noisy data
    fitted = np.column_stack([result[name].values for name in _loop.PARAMS])
    volts, loops = da.DC_Offset.values, da.values
    assert (
        np.mean(_loop.fit_cost(volts, loops, fitted) <= _loop.fit_cost(volts, loops, truth) * (1 + 1e-6))
        >= 0.99
    )


def test_loop_fit_labels_units(loop_case):
    _, da = loop_case
    result = be.loop_fit(da, guess="direct")
    assert result.a_0.attrs["units"] == "pm"
    assert result.a_2.attrs["units"] == "V"
    assert result.b_0.attrs["units"] == "V"
    assert units.parse(result.a_4.attrs["units"]) == units.parse("pm") / units.parse("V")
    assert list(result.data_vars) == [*_loop.PARAMS, "r2", "converged"]


def test_loop_fit_accepts_millivolts(loop_case):
    _, da = loop_case
    small = da.isel(pixel=slice(0, 20))
    mv = small.assign_coords(
        DC_Offset=("DC_Offset", small.DC_Offset.values * 1e3, {"units": "mV", "dimension_type": "SPECTRAL"})
    )
    np.testing.assert_allclose(
        be.loop_fit(mv, guess="direct").a_3.values, be.loop_fit(small, guess="direct").a_3.values, rtol=1e-6
    )


def test_loop_guess_kmeans_is_closer_than_nothing(loop_case):
    truth, da = loop_case
    guess = be.loop_guess(da)
    assert np.median(np.abs(guess.a_3.values - truth[:, 3])) < 0.5
    assert set(guess.data_vars) == {*_loop.PARAMS, "r2"}


def test_loop_fit_is_lazy_on_dask(loop_case):
    _, da = loop_case
    lazy = da.chunk({"pixel": 100})
    with raise_if_dask_computes():
        result = be.loop_fit(lazy, guess="direct")
    assert isinstance(result.a_2.data, dask.array.Array)
    xr.testing.assert_allclose(result.compute().drop_attrs(), be.loop_fit(da, guess="direct").drop_attrs())


def test_loop_metrics_switching_parameters_follow_bglib_definitions(loop_case):
    truth, da = loop_case
    fit = be.loop_fit(da, guess="direct")
    metrics = da.pycro.be.loop_metrics(fit=fit)
    np.testing.assert_allclose(metrics.v_plus, fit.a_3)
    np.testing.assert_allclose(metrics.v_minus, fit.a_2)
    np.testing.assert_allclose(metrics.imprint, (fit.a_2 + fit.a_3) / 2)
    np.testing.assert_allclose(metrics.r_plus, fit.a_0 + fit.a_1)
    np.testing.assert_allclose(metrics.switchable_polarization, fit.a_1)
    np.testing.assert_allclose(metrics.work_of_switching, np.abs(fit.a_3 - fit.a_2) * np.abs(fit.a_1))
    assert np.quantile(np.abs(metrics.v_plus.values - truth[:, 3]), 0.99) < 0.3
    assert list(metrics.data_vars) == list(_loop.METRICS)
    assert units.parse(metrics.area.attrs["units"]) == units.parse("pm") * units.parse("V")
    assert bool(np.isnan(metrics.rotation).all())  # real input: already projected


def test_loop_area_is_positive_and_matches_shoelace(loop_case):
    _, da = loop_case
    metrics = be.loop_metrics(da.isel(pixel=slice(0, 10)))
    v, y = da.DC_Offset.values, da.isel(pixel=0).values
    shoelace = 0.5 * np.sum(v[:-1] * y[1:] - v[1:] * y[:-1])
    assert float(metrics.area[0]) == pytest.approx(shoelace)
    assert bool((metrics.area > 0).all())


def test_loop_project_recovers_rotation_offset_and_loop():
    params = loop_truth(30, seed=7)
    loops = loop_data(params, triangle(), noise=0.0)
    theta, shift = 0.7, 0.3
    axis = np.exp(1j * theta)
    offset = shift * 1j * axis  # perpendicular to the axis
    response = (loops * axis + offset).assign_attrs(units="pm")
    projection = response.pycro.be.loop_project()
    np.testing.assert_allclose(projection.rotation, theta, atol=1e-9)
    np.testing.assert_allclose(projection.offset, shift, atol=1e-9)
    np.testing.assert_allclose(projection.projected_loop, loops, atol=1e-9)
    assert projection.projected_loop.dims == loops.dims


def test_loop_metrics_on_complex_loops_projects_first():
    params = loop_truth(30, seed=8)
    loops = loop_data(params, triangle(), noise=0.01)
    response = (loops * np.exp(-2.0j)).assign_attrs(units="pm")
    metrics = be.loop_metrics(response)
    np.testing.assert_allclose(metrics.rotation, -2.0, atol=0.05)
    assert np.quantile(np.abs(metrics.v_minus.values - params[:, 2]), 0.9) < 0.3


def test_loop_project_accepts_an_sho_fit_dataset():
    params = loop_truth(5, seed=9)
    loops = loop_data(params, triangle(), noise=0.0)
    fit_like = xr.Dataset(
        {"amplitude": np.abs(loops).assign_attrs(units="V"), "phase": xr.where(loops < 0, np.pi, 0.0)}
    )
    projection = be.loop_project(fit_like)
    np.testing.assert_allclose(np.abs(projection.projected_loop), np.abs(loops), atol=1e-12)
