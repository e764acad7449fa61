"""fit: batched Levenberg-Marquardt against scipy.optimize.curve_fit, built-in models, bad input, dask."""

from __future__ import annotations

import math
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from scipy.optimize import curve_fit

import pycrox
from pycrox.analysis import models
from pycrox.analysis.fitting import FitError, FitWarning, fit
from pycrox.errors import DimensionError
from pycrox.testing import raise_if_dask_computes

X = np.linspace(0.0, 10.0, 120)


def gaussian_offset(x, amplitude, center, sigma, offset):
    return amplitude * np.exp(-((x - center) ** 2) / (2 * sigma**2)) + offset


def peak_map(shape=(6, 7), noise=0.05, seed=0, dtype=np.float64) -> tuple[xr.DataArray, np.ndarray]:
    """Gaussian + offset spectra with random parameters per pixel; returns (da, true params (pixels, 4))."""
    rng = np.random.default_rng(seed)
    count = int(np.prod(shape))
    truth = np.stack(
        [
            rng.uniform(1, 3, count),
            rng.uniform(3, 7, count),
            rng.uniform(0.4, 1.0, count),
            rng.uniform(0, 0.5, count),
        ],
        axis=1,
    )
    data = gaussian_offset(X, *(truth[:, j : j + 1] for j in range(4)))
    data = data + noise * rng.standard_normal(data.shape)
    da = pycrox.from_array(
        data.reshape(*shape, X.size).astype(dtype),
        dims=("y", "x", "energy"),
        coords={"energy": {"values": X, "units": "eV"}},
        units="counts",
        title="peaks",
    )
    return da, truth


def reference_fits(da: xr.DataArray, function, p0: np.ndarray, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel scipy.optimize.curve_fit: (params, standard errors), each (pixels, P); widths as magnitudes."""
    x = da.energy.values
    rows = da.values.reshape(-1, x.size).astype(np.float64)
    params, errors = [], []
    for row, start in zip(rows, np.broadcast_to(p0, (rows.shape[0], p0.shape[-1])), strict=True):
        popt, pcov = curve_fit(function, x, row, p0=start, **kwargs)
        params.append(popt)
        errors.append(np.sqrt(np.diag(pcov)))
    params = np.array(params)
    names = function.__code__.co_varnames[1 : function.__code__.co_argcount]
    widths = [i for i, n in enumerate(names) if n in ("sigma", "gamma")]
    params[:, widths] = np.abs(params[:, widths])
    return params, np.array(errors)


def stacked(result: xr.Dataset, names) -> np.ndarray:
    """(pixels, P) parameters; widths (which enter squared, so their sign is arbitrary) as magnitudes."""
    columns = [result[name].values.ravel() for name in names]
    return np.stack(
        [np.abs(c) if n in ("sigma", "gamma") else c for n, c in zip(names, columns, strict=True)], axis=1
    )


def per_pixel(da: xr.DataArray, values: np.ndarray, names) -> dict[str, xr.DataArray]:
    """``{name: DataArray over the pixel dims}`` from (pixels, P) values."""
    shape = [da.sizes[d] for d in da.dims[:-1]]
    return {n: xr.DataArray(values[:, j].reshape(shape), dims=da.dims[:-1]) for j, n in enumerate(names)}


NAMES = ("amplitude", "center", "sigma", "offset")


def test_builtin_gaussian_matches_curve_fit_per_pixel():
    da, truth = peak_map()
    result = fit(da, "gaussian_offset")
    params, errors = reference_fits(da, gaussian_offset, truth)
    np.testing.assert_allclose(stacked(result, NAMES), params, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(stacked(result, [f"{n}_error" for n in NAMES]), errors, rtol=1e-3)


def test_user_model_matches_curve_fit_per_pixel():
    da, truth = peak_map(seed=1)
    start = truth * 1.05
    result = fit(da, gaussian_offset, p0=per_pixel(da, start, NAMES))
    params, errors = reference_fits(da, gaussian_offset, start)
    np.testing.assert_allclose(stacked(result, NAMES), params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stacked(result, [f"{n}_error" for n in NAMES]), errors, rtol=1e-3)


def test_one_constant_start_finds_every_peak():
    """A single p0 for all pixels: the damping keeps far-off peaks from sending the fit astray."""
    da, truth = peak_map(shape=(10, 10), seed=2)
    result = fit(da, gaussian_offset, p0=[2.0, 5.0, 0.7, 0.2])
    assert np.abs(result.center.values.ravel() - truth[:, 1]).max() < 0.05


def test_float32_data_agree_with_curve_fit_within_a_tenth_of_a_percent():
    da, truth = peak_map(shape=(10, 10), dtype=np.float32)
    result = fit(da, "gaussian_offset")
    params, _ = reference_fits(da, gaussian_offset, truth)
    spread = truth.max(axis=0) - truth.min(axis=0)
    assert (np.abs(stacked(result, NAMES) - params) / spread).max() < 1e-3


def test_r2_and_curve_are_consistent():
    da, _ = peak_map()
    result = fit(da, "gaussian_offset", return_curve=True)
    assert result.fit.dims == da.dims
    assert result.fit.attrs["units"] == "counts"
    residual = ((da - result.fit) ** 2).sum("energy")
    total = ((da - da.mean("energy")) ** 2).sum("energy")
    np.testing.assert_allclose(result.r2.values, (1 - residual / total).values, rtol=1e-8)
    expected = gaussian_offset(X, *(result[n].values[..., None] for n in NAMES))
    np.testing.assert_allclose(result.fit.values, expected, rtol=1e-10)


def test_parameter_units_follow_the_signal():
    da, _ = peak_map(shape=(2, 2))
    result = fit(da, "gaussian_offset")
    assert {n: result[n].attrs["units"] for n in NAMES} == {
        "amplitude": "counts",
        "center": "eV",
        "sigma": "eV",
        "offset": "counts",
    }
    assert result.center_error.attrs["units"] == "eV"
    assert result.r2.attrs["units"] == ""
    assert pycrox.validate(result) == []
    with warnings.catch_warnings():  # a Voigt without offset on these data runs to sigma -> 0
        warnings.simplefilter("ignore", FitWarning)
        voigt = fit(da, "voigt")
    assert voigt.area.attrs["units"] == pycrox.units.format(pycrox.units.parse("counts * eV"))
    assert fit(da, "polynomial2").c2.attrs["units"] == pycrox.units.format(
        pycrox.units.parse("counts / eV**2")
    )
    assert fit(da, gaussian_offset, p0=[2, 5, 1, 0]).center.attrs["units"] == ""  # unknown for a user model
    step = pycrox.provenance.last_step(result.center)
    assert step is not None
    assert step[0] == "fit"
    assert step[1]["parameters"]["model"] == "gaussian_offset"


CASES = {
    "gaussian": (lambda x, a, c, s: a * np.exp(-0.5 * ((x - c) / s) ** 2), [2.0, 4.5, 0.8]),
    "lorentzian": (lambda x, a, c, g: a * g**2 / ((x - c) ** 2 + g**2), [1.5, 6.0, 0.5]),
    "voigt": (models.voigt.function, [3.0, 5.0, 0.4, 0.3]),
    "lorentzian_offset": (lambda x, a, c, g, o: a * g**2 / ((x - c) ** 2 + g**2) + o, [1.5, 6.0, 0.5, 0.3]),
    "polynomial3": (lambda x, c0, c1, c2, c3: c0 + c1 * x + c2 * x**2 + c3 * x**3, [1.0, -0.5, 0.1, -0.004]),
    "exponential": (lambda x, a, t: a * np.exp(-x / t), [5.0, 2.5]),
    "powerlaw": (lambda x, a, r: a * x ** (-r), [20.0, 1.7]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_builtin_fits_like_curve_fit_from_its_own_guess(name):
    function, truth = CASES[name]
    rng = np.random.default_rng(4)
    x = np.linspace(0.5, 10.0, 150)
    scale = rng.uniform(0.8, 1.2, (5, 1))
    clean = function(x, *(np.asarray(t) * (scale if i == 0 else 1) for i, t in enumerate(truth)))
    data = clean + 0.01 * np.abs(clean).max() * rng.standard_normal(clean.shape)
    da = pycrox.from_array(data, dims=("x", "energy"), coords={"energy": {"values": x, "units": "eV"}})
    result = fit(da, name)
    params = stacked(result, models.get(name).params)
    for row, found in zip(data, params, strict=True):
        expected, _ = curve_fit(function, x, row, p0=truth, maxfev=20000)
        np.testing.assert_allclose(found, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize(
    "name",
    [
        "gaussian",
        "lorentzian",
        "voigt",
        "gaussian_offset",
        "polynomial3",
        "exponential",
        "powerlaw",
        "voigt_offset",
    ],
)
def test_analytic_jacobians_match_finite_differences(name):
    model = models.get(name)
    x = np.linspace(0.5, 9.0, 40)
    p = np.array([[2.0, 4.0, 0.7, 0.4, 0.2][: len(model.params)]])
    if name == "polynomial3":
        p = np.array([[1.0, -0.5, 0.1, -0.01]])
    columns = [p[:, j : j + 1] for j in range(p.shape[1])]
    value, parts = model.jacobian(x, *columns)
    np.testing.assert_allclose(value, model.function(x, *columns), rtol=1e-12)
    for j in range(p.shape[1]):
        step = 1e-6 * max(1.0, abs(p[0, j]))
        up, down = [c.copy() for c in columns], [c.copy() for c in columns]
        up[j] = up[j] + step
        down[j] = down[j] - step
        numeric = (model.function(x, *up) - model.function(x, *down)) / (2 * step)
        np.testing.assert_allclose(np.broadcast_to(parts[j], numeric.shape), numeric, rtol=1e-5, atol=1e-7)


def test_nan_pixels_give_nan_and_leave_the_others_alone():
    da, _truth = peak_map()
    holed = da.copy(data=da.values.copy())
    holed[0, 0, 5] = np.nan
    holed[2, 3, :] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = fit(holed, "gaussian_offset")
        clean = fit(da, "gaussian_offset")
    assert np.isnan(result.center.values[0, 0])
    assert np.isnan(result.r2.values[2, 3])
    mask = np.ones((6, 7), bool)
    mask[0, 0] = mask[2, 3] = False
    np.testing.assert_array_equal(result.center.values[mask], clean.center.values[mask])


def test_pixels_that_fail_give_nan_with_a_count():
    def picky(x, a, c):
        return np.where(a > 5, np.nan, a * np.exp(-((x - c) ** 2)))

    rows = np.stack([picky(X, 1.0, 4.0), picky(X, 2.0, 5.0), picky(X, 1.5, 6.0)])
    da = pycrox.from_array(rows, dims=("x", "energy"), coords={"energy": X})
    start = {"a": xr.DataArray([1.2, 9.0, 1.4], dims="x"), "c": 5.0}
    with pytest.warns(FitWarning, match="1 of 3 pixels did not converge"):
        result = fit(da, picky, p0=start)
    assert np.isnan(result.a.values[1])
    assert np.isnan(result.a_error.values[1])
    np.testing.assert_allclose(result.a.values[[0, 2]], [1.0, 1.5], rtol=1e-6)


def test_model_that_raises_is_a_clear_error():
    def broken(x, a, b):
        raise RuntimeError("boom")

    da, _ = peak_map(shape=(2, 2))
    with pytest.raises(FitError, match="model broken raised RuntimeError: boom"):
        fit(da, broken)


def test_model_returning_the_wrong_shape_is_a_clear_error():
    da, _ = peak_map(shape=(2, 2))
    with pytest.raises(FitError, match=r"returned shape \(3,\) for x of shape \(120,\)"):
        fit(da, lambda x, a: np.ones(3) * a)


def test_model_that_does_not_broadcast_is_fitted_pixel_by_pixel():
    def scalar_model(x, amplitude, center, sigma, offset):
        return np.array([amplitude * math.exp(-((v - center) ** 2) / (2 * sigma**2)) + offset for v in x])

    da, truth = peak_map(shape=(2, 3))
    with pytest.warns(FitWarning, match="does not broadcast"):
        result = fit(da, scalar_model, p0=per_pixel(da, truth, NAMES))
    params, _ = reference_fits(da, gaussian_offset, truth)
    np.testing.assert_allclose(stacked(result, NAMES), params, rtol=1e-5, atol=1e-6)


def test_bad_arguments_give_clear_errors():
    da, _ = peak_map(shape=(2, 2))
    with pytest.raises(FitError, match="has 4 parameters but 'energy' has only 3 points"):
        fit(da.isel(energy=slice(0, 3)), "gaussian_offset")
    with pytest.raises(FitError, match="unknown model 'gauss'"):
        fit(da, "gauss")
    with pytest.raises(FitError, match="p0 has 2 values for the 4 parameters"):
        fit(da, "gaussian_offset", p0=[1, 2])
    with pytest.raises(FitError, match="missing \\['offset'\\]"):
        fit(da, "gaussian_offset", p0={"amplitude": 1, "center": 5, "sigma": 1})
    with pytest.raises(FitError, match="lower bound must be below"):
        fit(da, "gaussian", bounds={"sigma": (2, 1)})
    with pytest.raises(FitError, match="unknown parameters \\['width'\\]"):
        fit(da, "gaussian", bounds={"width": (0, 1)})
    with pytest.raises(FitError, match="give p0 or guess, not both"):
        fit(da, "gaussian", p0=[1, 5, 1], guess="auto")
    with pytest.raises(FitError, match="has no automatic guess"):
        fit(da, gaussian_offset, guess="auto")
    with pytest.raises(FitError, match="no parameter after x"):
        fit(da, lambda x: x)
    with pytest.raises(DimensionError, match="fits run along one dim"):
        fit(da, "gaussian", dim=["x", "energy"])
    with pytest.raises(FitError, match="complex data need p0= or a guess function"):
        fit(da.astype(complex), "gaussian")
    with pytest.raises(FitError, match="returns complex values but the data are real"):
        fit(da, lambda x, a: a * np.exp(1j * x))
    with pytest.raises(FitError, match="give params= \\(names\\) or n_params="):
        fit(da, lambda x, *p: p[0] * x, params=("a",), n_params=1)
    with pytest.raises(FitError, match="name the parameters of a function model"):
        fit(da, "gaussian", params=("a", "b", "c"))
    with pytest.raises(FitError, match="takes 2 parameters after x but 3 names were given"):
        fit(da, lambda x, a, b: a * x + b, params=("a", "b", "c"))
    with pytest.raises(FitError, match="clash with the result variables"):
        fit(da, lambda x, r2: r2 * x)
    with pytest.raises(FitError, match="min_r2 must be a number"):
        fit(da, "gaussian", min_r2="high")
    with pytest.raises(FitError, match="guess function returned shape"):
        fit(da, "gaussian", guess=lambda x, y: np.ones((1, 2)))


def test_bounds_are_respected_like_curve_fit():
    da, truth = peak_map(shape=(2, 3))
    result = fit(da, "gaussian_offset", bounds={"sigma": (0.0, 0.5)})
    assert (result.sigma.values <= 0.5).all()
    params, _ = reference_fits(
        da,
        gaussian_offset,
        np.clip(truth, None, [np.inf, np.inf, 0.5, np.inf]),
        bounds=([-np.inf, -np.inf, 0, -np.inf], [np.inf, np.inf, 0.5, np.inf]),
    )
    np.testing.assert_allclose(stacked(result, NAMES), params, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("how", ["kmeans", "callable", "per-pixel"])
def test_every_way_of_starting_reaches_the_same_fit(how):
    da, _truth = peak_map()
    reference = fit(da, "gaussian_offset")
    starts = {
        "kmeans": {"guess": "kmeans"},
        "callable": {"guess": models.get("gaussian_offset").guess},
        "per-pixel": {"p0": reference + 0.01},
    }
    result = fit(da, "gaussian_offset", **starts[how])
    np.testing.assert_allclose(stacked(result, NAMES), stacked(reference, NAMES), rtol=1e-5, atol=1e-6)


def test_dask_input_is_lazy_and_matches_numpy():
    da, _ = peak_map(shape=(8, 6))
    lazy_input = da.chunk({"y": 3})
    with raise_if_dask_computes():
        lazy = fit(lazy_input, "gaussian_offset", return_curve=True)
    assert isinstance(lazy.center.data, dsa.Array)
    assert isinstance(lazy.fit.data, dsa.Array)
    eager = fit(da, "gaussian_offset", return_curve=True)
    xr.testing.assert_allclose(lazy.compute().drop_attrs(), eager.drop_attrs(), rtol=1e-10)


def test_dask_split_along_the_fit_dim_is_rechunked():
    da, _ = peak_map(shape=(3, 3))
    result = fit(da.chunk({"energy": 40}), "gaussian_offset")
    np.testing.assert_allclose(result.center.values, fit(da, "gaussian_offset").center.values)


def test_progress_bar_is_shown_and_dask_results_are_computed(capsys):
    da, _ = peak_map(shape=(3, 3))
    fit(da, "gaussian_offset", progress=True)
    assert "fit" in capsys.readouterr().err
    result = fit(da.chunk({"y": 1}), "gaussian_offset", progress=True)
    assert not isinstance(result.center.data, dsa.Array)


def test_constant_guess_acts_like_p0():
    da, _ = peak_map(shape=(3, 4))
    by_guess = fit(da, "gaussian_offset", guess=[2.0, 5.0, 0.7, 0.25])
    by_p0 = fit(da, "gaussian_offset", p0={"amplitude": 2.0, "center": 5.0, "sigma": 0.7, "offset": 0.25})
    np.testing.assert_array_equal(stacked(by_guess, NAMES), stacked(by_p0, NAMES))


def test_single_spectrum_gives_scalars():
    da, truth = peak_map(shape=(1, 1))
    result = fit(da.isel(y=0, x=0), "gaussian_offset")
    assert result.center.dims == ()
    assert result.center.item() == pytest.approx(truth[0, 1], abs=0.05)


def test_model_raising_during_the_fit_is_a_clear_error():
    def fragile(x, a, c):
        if np.any(a > 3):
            raise ValueError("amplitude out of range")
        return a * np.exp(-((x - c) ** 2))

    rows = np.stack([fragile(X, 1.0, 4.0), 10 * fragile(X, 1.0, 5.0)])
    da = pycrox.from_array(rows, dims=("x", "energy"), coords={"energy": X})
    with pytest.raises(FitError, match="model fragile raised ValueError: amplitude out of range"):
        fit(da, fragile, p0={"a": xr.DataArray([1.0, 2.9], dims="x"), "c": 4.5})


def test_guess_given_as_an_array_acts_like_p0():
    da, _ = peak_map(shape=(2, 2))
    by_array = fit(da, "gaussian_offset", guess=np.array([2.0, 5.0, 0.7, 0.25]))
    by_p0 = fit(da, "gaussian_offset", p0=[2.0, 5.0, 0.7, 0.25])
    np.testing.assert_array_equal(stacked(by_array, NAMES), stacked(by_p0, NAMES))
