"""fft / ifft / power_spectrum: values against numpy, reciprocal coordinates, round trips, errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis import fourier
from pycrox.analysis._dims import NonFiniteError
from pycrox.errors import DimensionError, UnitError
from pycrox.testing import raise_if_dask_computes

RNG = np.random.default_rng(42)


def make_stack(dtype=np.float32, frames=3, ny=16, nx=12) -> xr.DataArray:
    data = RNG.random((frames, ny, nx)).astype(dtype)
    return pycrox.from_array(
        data,
        dims=("frame", "y", "x"),
        coords={
            "frame": np.arange(frames),
            "y": {"values": -1.5 + 0.25 * np.arange(ny), "units": "Å"},
            "x": {"values": 7.0 + 0.2 * np.arange(nx), "units": "nm"},
        },
        units="counts",
        quantity="Intensity",
        title="stack",
    )


def test_fft_matches_numpy_fft2_with_shift():
    da = make_stack()
    result = fourier.fft(da, ("y", "x"))
    expected = np.fft.fftshift(np.fft.fft2(da.values), axes=(-2, -1))
    assert result.dims == ("frame", "ky", "kx")
    assert result.dtype == np.complex64
    np.testing.assert_allclose(result.values, expected, rtol=1e-5, atol=1e-4)


def test_fft_without_shift_matches_numpy_and_keeps_float64_precision():
    da = make_stack(np.float64)
    result = fourier.fft(da, ("y", "x"), shift=False)
    assert result.dtype == np.complex128
    np.testing.assert_allclose(result.values, np.fft.fft2(da.values), rtol=1e-12, atol=1e-12)


def test_fft_reciprocal_coordinates_have_inverse_units_and_type():
    da = make_stack()
    result = fourier.fft(da, ("y", "x"))
    np.testing.assert_allclose(result.kx.values, np.fft.fftshift(np.fft.fftfreq(12, 0.2)))
    np.testing.assert_allclose(result.ky.values, np.fft.fftshift(np.fft.fftfreq(16, 0.25)))
    assert result.kx.attrs["units"] == "1/nm"
    assert result.ky.attrs["units"] == "1/Å"
    assert result.kx.attrs["dimension_type"] == "RECIPROCAL"
    assert result.kx.attrs["quantity"] == "Reciprocal length"
    assert result.frame.attrs["dimension_type"] == "TEMPORAL"
    assert pycrox.model.validate(result) == []


def test_fft_of_reciprocal_units_gives_direct_units():
    da = pycrox.from_array(
        RNG.random(8), dims=["kx"], coords={"kx": {"values": 0.5 * np.arange(8), "units": "1/nm"}}
    )
    result = fourier.fft(da, "kx")
    assert result.kx.attrs["units"] == "nm"


def test_fft_keeps_data_attrs_and_records_provenance():
    da = make_stack()
    result = fourier.fft(da, ("y", "x"), window="hann")
    assert result.attrs["units"] == "counts"
    assert result.attrs["quantity"] == "Intensity"
    assert result.attrs["title"] == "FFT of stack"
    step, entry = pycrox.provenance.last_step(result)
    assert step == "fft"
    assert entry["parameters"]["dim"] == ["y", "x"]
    assert entry["parameters"]["window"] == "hann"


def test_fft_default_dims_are_spatial_then_spectral():
    assert fourier.fft(make_stack()).dims == ("frame", "ky", "kx")
    spectrum = pycrox.from_array(
        RNG.random((4, 32)),
        dims=("y", "energy"),
        coords={"energy": {"values": np.arange(32.0), "units": "eV"}},
    )
    only_spectral = spectrum.drop_vars("y")
    assert fourier.fft(spectrum).dims == ("ky", "energy")
    result = fourier.fft(only_spectral)
    assert result.energy.attrs["units"] == "1/eV"
    assert result.energy.attrs["dimension_type"] == "RECIPROCAL"


@pytest.mark.parametrize("shift", [True, False])
@pytest.mark.parametrize("real", [False, True])
def test_round_trip_restores_values_coordinates_and_attrs(shift, real):
    da = make_stack(np.float64)
    back = fourier.ifft(fourier.fft(da, ("y", "x"), shift=shift, real=real))
    assert back.dims == da.dims
    assert back.dtype == np.float64
    np.testing.assert_allclose(back.values, da.values, atol=1e-12)
    for name in ("x", "y"):
        np.testing.assert_allclose(back[name].values, da[name].values, rtol=1e-12)
        assert back[name].attrs == da[name].attrs
    assert back.attrs["title"] == "stack"


def test_half_spectrum_matches_numpy_rfft2():
    da = make_stack(np.float64)
    result = fourier.fft(da, ("y", "x"), real=True, shift=False)
    np.testing.assert_allclose(result.values, np.fft.rfft2(da.values), atol=1e-12)
    np.testing.assert_allclose(result.kx.values, np.fft.rfftfreq(12, 0.2))


def test_window_is_the_periodic_hann_window():
    da = make_stack(np.float64)
    hann = [0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n) for n in (16, 12)]
    expected = np.fft.fft2(da.values * np.outer(*hann), axes=(-2, -1))
    np.testing.assert_allclose(
        fourier.fft(da, ("y", "x"), shift=False, window="hann").values, expected, atol=1e-12
    )


def test_ifft_of_foreign_reciprocal_data_builds_direct_coordinates():
    k = np.fft.fftshift(np.fft.fftfreq(8, 0.5))
    da = pycrox.from_array(
        RNG.random((8, 8)) + 0j,
        dims=("ky", "kx"),
        coords={d: {"values": k, "units": "1/nm"} for d in ("ky", "kx")},
    )
    back = fourier.ifft(da)
    assert back.dims == ("y", "x")
    assert back.x.attrs["units"] == "nm"
    assert back.x.attrs["dimension_type"] == "SPATIAL"
    np.testing.assert_allclose(back.x.values, 0.5 * np.arange(8))
    np.testing.assert_allclose(back.values, np.fft.ifft2(np.fft.ifftshift(da.values)), atol=1e-12)


def test_dask_backed_is_lazy_and_equals_numpy(caplog):
    da = make_stack()
    lazy = da.chunk({"frame": 1, "x": 6})
    with caplog.at_level(logging.INFO, logger="pycrox.analysis"), raise_if_dask_computes():
        result = fourier.fft(lazy, ("y", "x"))
    assert "rechunking" in caplog.text
    assert "'x'" in caplog.text
    assert result.chunks is not None
    np.testing.assert_allclose(result.values, fourier.fft(da, ("y", "x")).values, rtol=1e-6)
    back = fourier.ifft(result)
    np.testing.assert_allclose(back.values, da.values, atol=1e-5)


def test_power_spectrum_is_abs_squared_with_squared_units_and_parseval():
    da = make_stack(np.float64)
    da.attrs["units"] = "nm"
    power = fourier.power_spectrum(da, ("y", "x"))
    spectrum = np.fft.fftshift(np.fft.fft2(da.values), axes=(-2, -1))
    np.testing.assert_allclose(power.values, np.abs(spectrum) ** 2, rtol=1e-10)
    assert power.attrs["units"] == "nm**2"
    assert power.dtype == np.float64
    np.testing.assert_allclose(power.sum(("ky", "kx")).values / (16 * 12), (da.values**2).sum(axis=(1, 2)))
    assert pycrox.provenance.last_step(power)[0] == "power_spectrum"


def test_power_spectrum_of_float32_is_float32():
    assert fourier.power_spectrum(make_stack(), ("y", "x")).dtype == np.float32


def test_unknown_dim_is_a_dimension_error_listing_dims():
    with pytest.raises(DimensionError, match=r"no dimension 'z'.*'frame'.*'y'.*'x'"):
        fourier.fft(make_stack(), ("y", "z"))


def test_non_uniform_coordinate_raises_unless_interpolated():
    da = make_stack(np.float64)
    x = da.x.values.copy()
    x[5:] += 0.1
    uneven = da.assign_coords(x=("x", x, da.x.attrs))
    with pytest.raises(DimensionError, match="'x' is not uniform"):
        fourier.fft(uneven, ("y", "x"))
    result = fourier.fft(uneven, ("y", "x"), interpolate=True)
    grid = np.linspace(x[0], x[-1], x.size)
    expected = fourier.fft(uneven.interp(x=grid), ("y", "x"))
    np.testing.assert_allclose(result.values, expected.values, atol=1e-10)
    np.testing.assert_allclose(result.kx.values, np.fft.fftshift(np.fft.fftfreq(12, grid[1] - grid[0])))


def test_non_finite_data_raise_a_clear_error():
    da = make_stack()
    da[1, 2, 3] = np.nan
    with pytest.raises(NonFiniteError, match="NaN or infinite"):
        fourier.fft(da, ("y", "x"))


def test_unknown_window_and_complex_real_are_rejected():
    da = make_stack()
    with pytest.raises(ValueError, match="unknown window 'kaiser'"):
        fourier.fft(da, window="kaiser")
    with pytest.raises(ValueError, match="real=True needs real data"):
        fourier.fft(da.astype(np.complex64), real=True)


def test_unknown_coordinate_unit_is_a_unit_error():
    da = make_stack()
    da.x.attrs["units"] = "furlongs-ish"
    with pytest.raises(UnitError, match="furlongs-ish"):
        fourier.fft(da, ("y", "x"))


@pytest.mark.reference
def test_two_dimensional_fft_agrees_with_sidpy():
    sidpy = pytest.importorskip("sidpy")
    image = RNG.random((16, 12))
    dset = sidpy.Dataset.from_array(image)
    dset.data_type = "IMAGE"
    dset.set_dimension(
        0, sidpy.Dimension(0.25 * np.arange(16), "y", units="nm", quantity="Length", dimension_type="SPATIAL")
    )
    dset.set_dimension(
        1, sidpy.Dimension(0.2 * np.arange(12), "x", units="nm", quantity="Length", dimension_type="SPATIAL")
    )
    theirs = dset.fft()
    ours = fourier.fft(
        pycrox.from_array(
            image,
            coords={
                "y": {"values": 0.25 * np.arange(16), "units": "nm"},
                "x": {"values": 0.2 * np.arange(12), "units": "nm"},
            },
        )
    )
    np.testing.assert_allclose(ours.values, np.asarray(theirs), atol=1e-12)
    np.testing.assert_allclose(ours.ky.values, theirs._axes[0].values)
    np.testing.assert_allclose(ours.kx.values, theirs._axes[1].values)
