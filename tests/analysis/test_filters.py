"""Filters in physical units, Fourier band filters, polynomial backgrounds and levelling."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import xarray as xr

import pycrox
from pycrox.analysis import filters
from pycrox.analysis._dims import NonFiniteError
from pycrox.errors import DimensionError, UnitError
from pycrox.testing import raise_if_dask_computes

RNG = np.random.default_rng(7)


def make_image(dtype=np.float64, frames=2, ny=20, nx=30) -> xr.DataArray:
    return pycrox.from_array(
        RNG.random((frames, ny, nx)).astype(dtype),
        dims=("frame", "y", "x"),
        coords={
            "frame": np.arange(frames),
            "y": {"values": 2.0 + 0.25 * np.arange(ny), "units": "Å"},
            "x": {"values": 0.1 * np.arange(nx), "units": "nm"},
        },
        units="pA",
        quantity="Current",
        title="scan",
    )


def make_spectra(n=64) -> xr.DataArray:
    return pycrox.from_array(
        RNG.random((3, n)),
        dims=("y", "energy"),
        coords={"energy": {"values": np.linspace(100.0, 200.0, n), "units": "eV"}},
        units="counts",
    )


def test_gaussian_with_physical_sigma_equals_scipy_in_pixels():
    da = make_image()
    result = filters.gaussian_filter(da, "0.5 nm")  # x: 0.1 nm -> 5 px; y: 0.25 Å -> 20 px
    expected = scipy.ndimage.gaussian_filter(da.values, sigma=(0, 20, 5))
    np.testing.assert_allclose(result.values, expected, rtol=1e-12, atol=1e-14)
    assert result.dims == da.dims
    assert result.attrs["units"] == "pA"
    assert result.x.attrs == da.x.attrs


def test_gaussian_sigma_per_dim_number_and_pixels():
    da = make_image()
    result = filters.gaussian_filter(da, {"y": "3 px", "x": 0.2})  # 0.2 nm = 2 px
    np.testing.assert_allclose(result.values, scipy.ndimage.gaussian_filter(da.values, (0, 3, 2)), atol=1e-14)
    params = pycrox.provenance.last_step(result)[1]["parameters"]
    np.testing.assert_allclose(params["sigma_pixels"], [3.0, 2.0])


def test_gaussian_keeps_float32():
    assert filters.gaussian_filter(make_image(np.float32), "1 px").dtype == np.float32


def test_gaussian_dask_equals_numpy_and_stays_lazy():
    da = make_image()
    with raise_if_dask_computes():
        lazy = filters.gaussian_filter(da.chunk({"frame": 1, "x": 10}), "0.2 nm")
    np.testing.assert_allclose(lazy.values, filters.gaussian_filter(da, "0.2 nm").values, atol=1e-14)


def test_sigma_with_incompatible_units_is_a_unit_error():
    with pytest.raises(UnitError, match=r"sigma='1 s' cannot be expressed in the units of 'y'"):
        filters.gaussian_filter(make_image(), "1 s")


def test_sigma_with_units_on_a_unitless_dim_is_a_unit_error():
    da = make_image().drop_vars("frame")
    with pytest.raises(UnitError, match="frame"):
        filters.gaussian_filter(da, "1 nm", dim="frame")


def test_sigma_mapping_must_cover_the_dims():
    with pytest.raises(DimensionError, match=r"missing \['x'\]"):
        filters.gaussian_filter(make_image(), {"y": 1.0})


def test_median_filter_in_physical_units_equals_scipy():
    da = make_image()
    result = filters.median_filter(da, {"y": "0.75 Å", "x": "0.3 nm"})
    expected = scipy.ndimage.median_filter(da.values, size=(1, 3, 3))
    np.testing.assert_array_equal(result.values, expected)
    lazy = filters.median_filter(da.chunk({"y": 5}), {"y": "0.75 Å", "x": "0.3 nm"})
    np.testing.assert_array_equal(lazy.values, expected)


def test_non_finite_data_raise():
    da = make_image()
    da[0, 3, 4] = np.inf
    with pytest.raises(NonFiniteError, match="1 NaN or infinite"):
        filters.gaussian_filter(da, "1 px")


def test_unknown_dim_lists_dims():
    with pytest.raises(DimensionError, match=r"no dimension 'energy'.*'frame' \(TEMPORAL\)"):
        filters.median_filter(make_image(), 1, dim="energy")


def sinusoids(waves: dict[str, tuple[float, float]]) -> tuple[xr.DataArray, dict[str, np.ndarray]]:
    """Plane waves ``{name: (ky, kx)}`` in 1/nm on a 4 nm x 4 nm grid (multiples of 0.25 are periodic)."""
    x = 0.1 * np.arange(40)
    y = 0.1 * np.arange(40)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    parts = {name: np.cos(2 * np.pi * (ky * yy + kx * xx)) for name, (ky, kx) in waves.items()}
    coords = {"y": {"values": y, "units": "nm"}, "x": {"values": x, "units": "nm"}}
    return pycrox.from_array(sum(parts.values()), coords=coords), parts


def test_fourier_filter_low_high_and_band_pass():
    da, parts = sinusoids({"slow": (0.0, 0.5), "mid": (1.5, 2.0), "fast": (4.0, 0.0)})  # |k| = 0.5, 2.5, 4
    low_pass = filters.fourier_filter(da, high="1 1/nm")
    np.testing.assert_allclose(low_pass.values, parts["slow"], atol=1e-12)
    high_pass = filters.fourier_filter(da, low="3 1/nm")
    np.testing.assert_allclose(high_pass.values, parts["fast"], atol=1e-12)
    band = filters.fourier_filter(da, low="1 1/nm", high="0.3 1/Å")
    np.testing.assert_allclose(band.values, parts["mid"], atol=1e-12)
    assert low_pass.attrs == {**da.attrs, "provenance": low_pass.attrs["provenance"]}


def test_fourier_filter_dask_equals_numpy():
    da, _ = sinusoids({"slow": (0.0, 0.5), "fast": (4.0, 0.0)})
    lazy = filters.fourier_filter(da.chunk({"x": 8}), high=1.0, order=4)
    np.testing.assert_allclose(lazy.values, filters.fourier_filter(da, high=1.0, order=4).values, atol=1e-12)


def test_fourier_filter_rejects_lengths_and_bad_bands():
    da, _ = sinusoids({"slow": (0.0, 0.5)})
    with pytest.raises(UnitError, match="cannot be expressed in '1/nm'"):
        filters.fourier_filter(da, low="2 nm")
    with pytest.raises(ValueError, match="must be below high"):
        filters.fourier_filter(da, low=2.0, high=1.0)
    with pytest.raises(ValueError, match="give low="):
        filters.fourier_filter(da)


def test_fourier_filter_across_units_that_cannot_combine():
    da = pycrox.from_array(
        RNG.random((8, 16)),
        dims=("x", "energy"),
        coords={
            "x": {"values": np.arange(8.0), "units": "nm"},
            "energy": {"values": np.arange(16.0), "units": "eV"},
        },
    )
    with pytest.raises(UnitError, match="energy"):
        filters.fourier_filter(da, dim=("x", "energy"), high=0.2)


def test_remove_background_removes_a_known_polynomial():
    da = make_spectra()
    energy = da.energy.values
    background = 5.0 - 0.03 * energy + 2e-4 * energy**2
    peak = np.exp(-((energy - 150.0) ** 2) / 8.0)
    signal = da.copy(data=np.broadcast_to(background + peak, da.shape).copy())
    result = filters.remove_background(signal, degree=2, ranges=[("100 eV", "130 eV"), (170.0, "0.2 keV")])
    outside = (energy < 130) | (energy > 170)
    np.testing.assert_allclose(
        result.values[:, outside], np.broadcast_to(peak, da.shape)[:, outside], atol=1e-9
    )
    assert pycrox.provenance.last_step(result)[0] == "remove_background"


def test_remove_background_with_mask_equals_ranges():
    da = make_spectra()
    inside = (da.energy.values > 130) & (da.energy.values < 170)
    by_mask = filters.remove_background(da, "energy", 1, mask=inside)
    by_ranges = filters.remove_background(da, "energy", 1, ranges=[(100, 130), (170, 200)])
    np.testing.assert_allclose(by_mask.values, by_ranges.values, atol=1e-12)


def test_remove_background_with_too_few_points():
    with pytest.raises(DimensionError, match="cannot fit 3 polynomial terms"):
        filters.remove_background(make_spectra(), degree=2, ranges=[(100, 101)])


def test_level_plane_removes_a_known_tilt_to_machine_precision():
    da = make_image(np.float64)
    yy, xx = np.meshgrid(da.y.values, da.x.values, indexing="ij")
    tilts = np.stack([3 + 0.7 * xx - 2.1 * yy, -1 + 0.2 * xx + 5 * yy])
    np.testing.assert_allclose(filters.level_plane(da.copy(data=tilts)).values, 0.0, atol=1e-13)
    # a surface plus a tilt levels to the same result as the surface alone
    result = filters.level_plane(da + tilts)
    np.testing.assert_allclose(result.values, filters.level_plane(da).values, atol=1e-13)
    assert np.abs(result.values).max() > 0.1
    assert result.dims == da.dims
    assert pycrox.provenance.last_step(result)[0] == "level_plane"


def test_level_plane_dask_equals_numpy_and_rejects_one_dim():
    da = make_image()
    np.testing.assert_allclose(
        filters.level_plane(da.chunk({"y": 7})).values, filters.level_plane(da).values, atol=1e-13
    )
    with pytest.raises(DimensionError, match="needs two image dims"):
        filters.level_plane(da, dim="x")


def test_level_lines_removes_per_line_offsets_and_slopes():
    da = make_image(np.float64)
    offsets = RNG.random((2, 20, 1))
    slopes = RNG.random((2, 20, 1))
    lines = da.copy(data=offsets + slopes * da.x.values)
    np.testing.assert_allclose(filters.level_lines(lines, degree=1).values, 0.0, atol=1e-13)
    once = filters.level_lines(lines, degree=0)
    np.testing.assert_allclose(once.mean("x").values, 0.0, atol=1e-13)
    np.testing.assert_allclose(filters.level_lines(lines.chunk({"x": 10})).values, 0.0, atol=1e-13)


def test_level_lines_with_nan_raises():
    da = make_image()
    da[0, 0, 0] = np.nan
    with pytest.raises(NonFiniteError):
        filters.level_lines(da)
