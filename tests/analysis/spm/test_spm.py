"""Scanning-probe corrections and statistics (``da.pycro.spm``) on synthetic surfaces of known truth."""

from __future__ import annotations

import dask.array
import numpy as np
import pytest
import scipy.ndimage
import scipy.stats
import xarray as xr

import pycrox
from pycrox.analysis import filters, spm
from pycrox.errors import DimensionError, NonFiniteError, UnitError
from pycrox.testing import raise_if_dask_computes

RNG = np.random.default_rng(2016)


def image(values: np.ndarray, step: float = 2.0, units: str = "nm", dims=("y", "x")) -> xr.DataArray:
    """A height image with SPATIAL coordinates in nm."""
    coords = {
        d: {"values": step * np.arange(n), "units": "nm"} for d, n in zip(dims, values.shape, strict=True)
    }
    return pycrox.from_array(values, dims=dims, coords=coords, units=units, quantity="Height", title="topo")


def rough(shape=(96, 128), sigma=2.0) -> np.ndarray:
    return scipy.ndimage.gaussian_filter(RNG.standard_normal(shape), sigma)


# --- align_rows --------------------------------------------------------------------------------


def test_align_rows_median_removes_row_offsets_even_with_features():
    surface = rough()
    surface[30:40, 50:60] += 50.0  # a tall feature that would bias a mean
    offsets = RNG.normal(0, 5, surface.shape[0])
    out = spm.align_rows(image(surface + offsets[:, None]), "median")
    expected = surface - np.median(surface, axis=1, keepdims=True)
    np.testing.assert_allclose(out.values, expected, atol=1e-12)
    assert out.attrs["units"] == "nm"
    assert any("align_rows" in k for k in out.attrs["provenance"]["pycrox"])


def test_align_rows_median_difference_matches_pyspm_formula_and_keeps_first_row():
    surface = rough() + 0.3 * np.arange(96)[:, None]  # a real slope along the slow axis
    offsets = np.concatenate([[0.0], RNG.normal(0, 4, 95)])
    data = surface + offsets[:, None]
    out = spm.align_rows(image(data), "median_difference").values
    # pySPM SPM_image.correct_median_diff, written out
    n2 = data - np.vstack([data[:1, :], data[:-1, :]])
    pyspm = data - np.tile(np.cumsum(np.median(n2, axis=1)), (data.shape[1], 1)).T
    np.testing.assert_allclose(out, pyspm, atol=1e-10)
    np.testing.assert_array_equal(out[0], data[0])
    # the random offsets are gone: neighbouring rows agree far better than before
    assert np.abs(np.median(np.diff(out, axis=0), axis=1)).max() < 1e-10


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_align_rows_polynomial_removes_per_row_polynomials_exactly(degree):
    x = np.linspace(-1, 1, 128)
    coefficients = RNG.normal(0, 3, (64, degree + 1))
    data = sum(coefficients[:, [p]] * x[None, :] ** p for p in range(degree + 1))
    out = spm.align_rows(image(data), "polynomial", degree=degree)
    np.testing.assert_allclose(out.values, 0.0, atol=1e-9)
    noisy = image(data + rough((64, 128)))
    same = filters.level_lines(noisy, "x", degree)
    np.testing.assert_allclose(
        spm.align_rows(noisy, "polynomial", degree=degree).values, same.values, atol=1e-9
    )


def test_align_rows_is_lazy_per_frame_and_keeps_dims_order():
    stack = np.stack([rough((32, 48)) + RNG.normal(0, 3, (32, 1)) for _ in range(3)])
    coords = {
        "frame": np.arange(3),
        "y": {"values": np.arange(32.0), "units": "nm"},
        "x": {"values": np.arange(48.0), "units": "nm"},
    }
    da = pycrox.from_array(
        dask.array.from_array(stack, chunks=(1, 16, 48)), dims=("frame", "y", "x"), coords=coords, units="nm"
    )
    with raise_if_dask_computes():
        out = da.pycro.spm.align_rows()
    assert out.dims == ("frame", "y", "x")
    expected = stack - np.median(stack, axis=2, keepdims=True)
    np.testing.assert_allclose(out.values, expected, atol=1e-12)


def test_align_rows_fast_dim_follows_dim_argument():
    data = rough((40, 40)) + RNG.normal(0, 3, (1, 40))  # column offsets
    out = spm.align_rows(image(data), dim=("x", "y"))  # rows run along y now
    np.testing.assert_allclose(np.median(out.values, axis=0), 0.0, atol=1e-12)


def test_align_rows_bad_input():
    with pytest.raises(ValueError, match="method must be one of"):
        spm.align_rows(image(rough((8, 8))), "mean")
    bad = rough((8, 8))
    bad[2, 3] = np.nan
    with pytest.raises(NonFiniteError, match="1 NaN"):
        spm.align_rows(image(bad)).compute()
    one_d = pycrox.from_array(
        np.zeros(5), dims=("x",), coords={"x": {"values": np.arange(5.0), "units": "nm"}}
    )
    with pytest.raises(DimensionError, match="two image dims"):
        spm.align_rows(one_d)


# --- remove_scars ----------------------------------------------------------------------------


def test_remove_scars_repairs_scars_and_leaves_real_features():
    surface = rough((80, 100), sigma=1.0) * 10 + RNG.normal(0, 0.5, (80, 100))
    surface[40:60, 10:30] += 8.0  # a real plateau many rows tall: not a scar
    data = surface.copy()
    sigma = np.sqrt(np.mean(np.diff(surface, axis=0) ** 2))
    data[20, 30:70] += 6 * sigma  # one-row scar
    data[50:52, 50:90] -= 6 * sigma  # two-row (negative) scar
    data[70, 5:9] += 6 * sigma  # too short: kept
    out = spm.remove_scars(image(data), min_length=16).values
    expected_20 = surface[19, 30:70] + (surface[21, 30:70] - surface[19, 30:70]) / 2
    np.testing.assert_allclose(out[20, 30:70], expected_20, atol=1e-12)
    for k in (0, 1):  # the two-row scar: linear between rows 49 and 52
        expected = surface[49, 50:90] + (k + 1) / 3 * (surface[52, 50:90] - surface[49, 50:90])
        np.testing.assert_allclose(out[50 + k, 50:90], expected, atol=1e-12)
    np.testing.assert_array_equal(out[70, 5:9], data[70, 5:9])
    # nothing else changes, except where hysteresis extends a scar by a pixel or two along its row
    untouched = np.ones(data.shape, dtype=bool)
    untouched[20, 27:73] = untouched[50:52, 47:93] = False
    np.testing.assert_array_equal(out[untouched], data[untouched])


def test_remove_scars_checks_thresholds():
    with pytest.raises(ValueError, match="threshold_low <= threshold_high"):
        spm.remove_scars(image(rough((8, 8))), threshold_low=1.0, threshold_high=0.5)


# --- level_three_point, level_facets, fix_zero -----------------------------------------------


def test_level_three_point_zeroes_the_three_points_and_removes_the_plane():
    y, x = np.meshgrid(2.0 * np.arange(50), 2.0 * np.arange(60), indexing="ij")
    plane = 3.0 + 0.2 * y - 0.1 * x
    bump = np.zeros_like(plane)
    bump[20:30, 20:30] = 10.0  # away from the three points
    points = [(0.0, 0.0), {"y": "0.098 µm", "x": 0.0}, (20.0, 118.0)]
    out = spm.level_three_point(image(plane + bump), points)
    np.testing.assert_allclose(out.values, bump, atol=1e-10)
    with pytest.raises(DimensionError, match="one line"):
        spm.level_three_point(image(plane), [(0, 0), (10, 10), (20, 20)])
    with pytest.raises(DimensionError, match="outside the image"):
        spm.level_three_point(image(plane), [(0, 0), (0, 500), (20, 20)])
    with pytest.raises(UnitError):
        spm.level_three_point(image(plane), [(0, 0), (0, "3 V"), (20, 20)])


def test_level_three_point_radius_averages_noise():
    noisy = image(RNG.normal(0, 1, (60, 60)) + 0.05 * np.arange(60)[None, :])
    out = spm.level_three_point(noisy, [(10, 10), (100, 10), (60, 100)], radius=4)
    slope = np.polyfit(np.arange(60), out.values.mean(axis=0), 1)[0]
    assert abs(slope) < 0.01


def test_level_facets_flattens_terraces_where_plane_levelling_cannot():
    y, x = np.meshgrid(np.arange(64.0), np.arange(96.0), indexing="ij")
    terraces = 5.0 * np.floor(x / 16)  # a staircase of flat terraces 16 px wide
    tilted = terraces + 0.3 * x - 0.2 * y + 7.0
    out = spm.level_facets(image(tilted, step=1.0)).values
    within = np.diff(out, axis=1)[:, (np.arange(95) % 16) != 15]  # differences inside terraces
    np.testing.assert_allclose(within, 0.0, atol=1e-6)
    np.testing.assert_allclose(np.diff(out, axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(out.mean(), tilted.mean(), rtol=1e-9)
    plane = filters.level_plane(image(tilted, step=1.0)).values
    assert np.abs(np.diff(plane, axis=1)[:, 0]).max() > 0.1  # level_plane tilts the terraces


@pytest.mark.parametrize(("to", "reduce"), [("minimum", np.min), ("mean", np.mean), ("median", np.median)])
def test_fix_zero(to, reduce):
    data = rough((20, 30)) + 4.0
    out = spm.fix_zero(image(data), to)
    assert reduce(out.values) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(out.values, data - reduce(data), atol=1e-12)


# --- roughness -------------------------------------------------------------------------------


def test_roughness_of_a_sine_surface_matches_closed_forms():
    amplitude = 3.0
    x = np.arange(1200)
    data = np.tile(amplitude * np.sin(2 * np.pi * x / 400), (20, 1)) + 11.0  # whole periods
    r = spm.roughness(image(data))
    assert float(r.Sq) == pytest.approx(amplitude / np.sqrt(2), rel=1e-12)
    assert float(r.Sa) == pytest.approx(2 * amplitude / np.pi, rel=1e-4)
    assert float(r.Sp) == pytest.approx(amplitude, rel=1e-12)
    assert float(r.Sv) == pytest.approx(amplitude, rel=1e-12)
    assert float(r.Sz) == pytest.approx(2 * amplitude, rel=1e-12)
    assert float(r.Ssk) == pytest.approx(0.0, abs=1e-12)
    assert float(r.Sku) == pytest.approx(1.5, rel=1e-12)
    np.testing.assert_allclose(r.Rq.values, amplitude / np.sqrt(2), rtol=1e-12)
    assert r.Ra.dims == ("y",)
    assert r.Sq.attrs["units"] == "nm"
    assert r.Ssk.attrs["units"] == ""


def test_roughness_matches_scipy_statistics_on_random_surfaces():
    data = RNG.gamma(2.0, 1.5, (64, 80))
    r = spm.roughness(image(data))
    d = data - data.mean()
    assert float(r.Sq) == pytest.approx(d.std(), rel=1e-12)
    assert float(r.Ssk) == pytest.approx(scipy.stats.skew(data, axis=None), rel=1e-10)
    assert float(r.Sku) == pytest.approx(scipy.stats.kurtosis(data, axis=None, fisher=False), rel=1e-10)
    np.testing.assert_allclose(r.Ra.values, np.abs(data - data.mean(1, keepdims=True)).mean(1), rtol=1e-12)


def test_roughness_is_lazy_over_frames():
    stack = RNG.normal(0, [[[1.0]], [[2.0]], [[3.0]]], (3, 64, 64))
    coords = {
        "frame": np.arange(3),
        "y": {"values": np.arange(64.0), "units": "nm"},
        "x": {"values": np.arange(64.0), "units": "nm"},
    }
    da = pycrox.from_array(
        dask.array.from_array(stack, chunks=(1, 32, 64)), dims=("frame", "y", "x"), coords=coords, units="nm"
    )
    with raise_if_dask_computes():
        r = da.pycro.spm.roughness()
    assert r.Sq.dims == ("frame",)
    assert r.Ra.dims == ("frame", "y")
    np.testing.assert_allclose(r.Sq.values, stack.reshape(3, -1).std(axis=1), rtol=1e-12)


def test_roughness_ignores_nan_with_a_warning():
    data = RNG.normal(0, 2, (30, 30))
    holed = data.copy()
    holed[5, 5] = np.nan
    with pytest.warns(RuntimeWarning, match="1 NaN or infinite"):
        r = spm.roughness(image(holed)).compute()
    assert float(r.Sq) == pytest.approx(np.nanstd(holed), rel=1e-12)
    assert np.isfinite(r.Rq.values).all()


# --- grains ----------------------------------------------------------------------------------


def discs(shape=(100, 120), centres=((25, 30), (70, 40), (50, 95)), radii=(8, 12, 6), heights=(4, 6, 3)):
    yy, xx = np.indices(shape)
    z = np.zeros(shape)
    for (cy, cx), r, h in zip(centres, radii, heights, strict=True):
        z[(yy - cy) ** 2 + (xx - cx) ** 2 <= r**2] = h
    return z


def test_grains_threshold_counts_and_measures_discs():
    z = discs()
    g = image(z + RNG.normal(0, 0.05, z.shape), step=0.5).pycro.spm.grains(threshold="1 nm")
    assert int(g["count"]) == 3
    yy, xx = np.indices(z.shape)
    # grains are numbered in scan order: the discs at (25, 30), (50, 95), (70, 40) px
    pixels = [np.count_nonzero((yy - 25) ** 2 + (xx - 30) ** 2 <= r**2) for r in (8, 6, 12)]
    expected_area = np.array(pixels) * 0.25
    np.testing.assert_allclose(g.area.values, expected_area)
    np.testing.assert_allclose(g.equivalent_diameter.values, np.sqrt(4 * expected_area / np.pi))
    np.testing.assert_allclose(g.height.values, [4, 3, 6], atol=0.3)
    np.testing.assert_allclose(g.centroid_y.values, [12.5, 25.0, 35.0], atol=1e-9)
    np.testing.assert_allclose(g.centroid_x.values, [15.0, 47.5, 20.0], atol=1e-9)
    assert g.area.attrs["units"] == "nm**2"  # pycrox.units.format of nm²
    assert g.labels.dims == ("y", "x")
    assert set(np.unique(g.labels.values)) == {0, 1, 2, 3}


def test_grains_threshold_defaults_to_otsu_and_percent_and_min_area():
    z = discs() + RNG.normal(0, 0.1, (100, 120))
    assert int(spm.grains(image(z))["count"]) == 3
    assert int(spm.grains(image(z), threshold="40%")["count"]) == 3
    # the smallest disc (r = 6 px -> 113 px -> 452 nm^2 at 2 nm pixels) goes with min_area
    assert int(spm.grains(image(z), threshold=1.0, min_area="500 nm^2")["count"]) == 2
    assert int(spm.grains(image(z), threshold=1.0, min_area="150 px")["count"]) == 2


def test_grains_invert_marks_pits():
    z = -discs()
    g = spm.grains(image(z), threshold=-1.0, invert=True)
    assert int(g["count"]) == 3
    np.testing.assert_allclose(sorted(g.height.values), [-6, -4, -3])


def test_grains_watershed_splits_touching_hills_that_threshold_merges():
    yy, xx = np.indices((80, 100))
    hills = 5 * np.exp(-((yy - 40) ** 2 + (xx - 38) ** 2) / 120) + 5 * np.exp(
        -((yy - 40) ** 2 + (xx - 62) ** 2) / 120
    )
    da = image(hills, step=1.0)
    assert int(spm.grains(da, threshold=1.0)["count"]) == 1
    w = spm.grains(da, "watershed", threshold=1.0, min_distance="5 px")
    assert int(w["count"]) == 2
    labels = w.labels.values
    # by symmetry the valley is the column x = 50: everything left of it is one grain, right the other
    assert set(np.unique(labels[:, :50])) == {0, 1}
    assert set(np.unique(labels[:, 51:])) == {0, 2}
    # together the two watershed grains cover exactly the thresholded region
    assert (w.labels.values > 0).sum() == (hills > 1.0).sum()
    np.testing.assert_allclose(w.area.sum(), (hills > 1.0).sum())


def test_grains_bad_input():
    z = discs()
    z[0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        spm.grains(image(z))
    stack = pycrox.from_array(np.zeros((2, 8, 8)), dims=("frame", "y", "x"))
    with pytest.raises(DimensionError, match="one image"):
        spm.grains(stack, dim=("y", "x"))
    with pytest.raises(ValueError, match="method must be"):
        spm.grains(image(discs()), "otsu")
    with pytest.raises(UnitError):
        spm.grains(image(discs()), threshold="3 s")


def test_accessor_methods_delegate():
    da = image(rough((32, 32)))
    ns = da.pycro.spm
    for name in ("align_rows", "remove_scars", "level_facets", "fix_zero", "roughness", "grains"):
        assert callable(getattr(ns, name))
    xr.testing.assert_identical(ns.fix_zero().drop_attrs(), spm.fix_zero(da).drop_attrs())
    xr.testing.assert_allclose(
        ns.level_three_point([(0, 0), (0, 60), (60, 0)]),
        spm.level_three_point(da, [(0, 0), (0, 60), (60, 0)]),
    )


# --- a real AFM height image ------------------------------------------------------------------


def test_real_afm_height_image(shared_data):
    path = shared_data / "vendor" / "igor_ibw" / "IgorIBWReader_P0089OP0027.ibw"
    if not path.exists():
        pytest.skip(f"{path.name} is not in the corpus")
    height = pycrox.open(path, group="HeightRetrace")  # Asylum Research, 256 x 256, metres
    z = height.values.astype(np.float64)
    aligned = height.pycro.spm.align_rows()
    assert aligned.dtype == np.float32
    np.testing.assert_allclose(np.median(aligned.values, axis=1), 0.0, atol=1e-15)
    n2 = z - np.vstack([z[:1, :], z[:-1, :]])  # pySPM's correct_median_diff, written out
    pyspm = z - np.cumsum(np.median(n2, axis=1))[:, None]
    np.testing.assert_allclose(
        height.pycro.spm.align_rows("median_difference").values, pyspm, atol=1e-6 * np.ptp(z)
    )
    r = aligned.pycro.spm.roughness()
    assert r.Sq.attrs["units"] == "m"
    a = aligned.values.astype(np.float64)
    assert float(r.Sq) == pytest.approx(a.std(), rel=1e-9)
    assert float(r.Sz) == pytest.approx(np.ptp(a), rel=1e-9)
    grains = aligned.pycro.spm.fix_zero().pycro.spm.grains(threshold="50%")
    step = float(height.x[1] - height.x[0])
    assert int(grains["count"]) > 0
    assert float(grains.area.sum()) == pytest.approx((grains.labels.values > 0).sum() * step**2, rel=1e-9)
    assert grains.area.attrs["units"] == "m**2"
