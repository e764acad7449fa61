"""FFT spots and the spot-mask (adaptive Fourier) filter on synthetic lattices of known spacings."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis.spots import fft_spots, spot_filter
from pycrox.analysis.stem4d import CalibrationWarning
from pycrox.errors import DimensionError
from pycrox.testing import raise_if_dask_computes

N, STEP = 128, 0.05  # pixels, nm


def lattice(d1: float, d2: float, angle_deg: float, step: float = STEP, units: str = "nm") -> xr.DataArray:
    x = np.arange(N) * step
    y, xx = np.meshgrid(x, x, indexing="ij")
    a = np.radians(angle_deg)
    image = np.cos(2 * np.pi * xx / d1) + 0.7 * np.cos(2 * np.pi * (xx * np.cos(a) + y * np.sin(a)) / d2)
    coords = {d: {"values": x, "units": units} for d in ("y", "x")}
    return pycrox.from_array(image, coords=coords, title="lattice")


@pytest.mark.parametrize(("d1", "d2", "angle"), [(0.37, 0.52, 57.3), (0.25, 0.25, 90.0), (0.8, 0.31, 30.0)])
def test_fft_spots_gives_known_spacings_and_angles(d1, d2, angle):
    spots = fft_spots(lattice(d1, d2, angle))
    assert spots.sizes["spot"] == 4  # two Friedel pairs
    found = np.unique(np.round(spots.d_spacing.values, 3))
    np.testing.assert_allclose(found, np.unique([d1, d2]), rtol=0.01)
    second = spots.angle.values[np.isclose(spots.d_spacing.values, d2, rtol=0.01)]
    assert np.min(np.abs((second - angle + 90) % 180 - 90)) < 1.0  # the k of the second wave, mod 180
    assert spots.k.attrs["units"] == "1/nm"
    assert spots.d_spacing.attrs["units"] == "nm"
    np.testing.assert_allclose(spots.k.values, np.hypot(spots.kx.values, spots.ky.values))


def test_positions_are_in_1_per_nm_for_an_angstrom_image():
    nm = fft_spots(lattice(0.37, 0.52, 57.3))
    angstrom = fft_spots(lattice(3.7, 5.2, 57.3, step=STEP * 10, units="Å"))
    np.testing.assert_allclose(np.sort(angstrom.k.values), np.sort(nm.k.values), rtol=1e-9)


def test_noisy_lattice_still_gives_its_spots():
    clean = lattice(0.37, 0.52, 57.3)
    noisy = clean + np.random.default_rng(0).normal(0, 1.0, clean.shape)
    spots = fft_spots(noisy)
    assert spots.sizes["spot"] == 4
    np.testing.assert_allclose(np.unique(np.round(spots.d_spacing.values, 2)), [0.37, 0.52], atol=0.01)


def test_spot_filter_removes_noise():
    clean = lattice(0.37, 0.52, 57.3)
    noisy = clean + np.random.default_rng(1).normal(0, 1.0, clean.shape)
    filtered = noisy.pycro.spot_filter(radius="0.3 1/nm")
    assert float((filtered - clean).std()) < 0.4 * float((noisy - clean).std())
    assert filtered.dims == noisy.dims
    assert "000_spot_filter" in filtered.attrs["provenance"]["pycrox"]


def test_spot_filter_equals_pytemlib_adaptive_filter():
    """pyTEMlib's adaptive_fourier_filter: union of spot disks and a low-pass disk, real part of the inverse."""
    image = lattice(0.37, 0.52, 57.3) + np.random.default_rng(2).normal(0, 0.5, (N, N))
    spots = fft_spots(image)
    u = np.fft.fftshift(np.fft.fftfreq(N, STEP))
    x, y = np.meshgrid(u, u)  # pyTEMlib: x along columns, y along rows
    mask = np.zeros((N, N))
    for k_row, k_col in zip(spots.ky.values, spots.kx.values, strict=True):
        mask += (x - k_col) ** 2 + (y - k_row) ** 2 < 0.25**2
    mask += x**2 + y**2 < 1.0**2
    mask[mask > 1] = 1
    expected = np.fft.ifft2(np.fft.ifftshift(np.fft.fftshift(np.fft.fft2(image.values)) * mask)).real
    np.testing.assert_allclose(
        spot_filter(image, spots, radius=0.25, low_pass=1.0).values, expected, atol=1e-10
    )


def test_spot_filter_is_lazy_on_a_stack():
    stack = xr.concat([lattice(0.37, 0.52, 57.3)] * 3, dim="frame").chunk({"frame": 1})
    spots = fft_spots(stack.isel(frame=0))
    with raise_if_dask_computes():
        filtered = spot_filter(stack, spots)
    assert filtered.chunks is not None
    np.testing.assert_allclose(filtered.values[2], spot_filter(stack.isel(frame=0).compute(), spots).values)


def test_uncalibrated_image_works_in_pixels_with_a_warning():
    image = lattice(0.37, 0.52, 57.3, units="")
    with pytest.warns(CalibrationWarning, match="1/px"):
        spots = fft_spots(image)
    assert spots.k.attrs["units"] == "1/px"
    np.testing.assert_allclose(np.unique(np.round(spots.d_spacing.values * STEP, 2)), [0.37, 0.52], atol=0.01)


def test_fft_spots_refuses_a_stack_and_unknown_dims():
    stack = xr.concat([lattice(0.37, 0.52, 57.3)] * 2, dim="frame")
    with pytest.raises(DimensionError, match="select one"):
        fft_spots(stack)
    with pytest.raises(DimensionError, match="two image dims"):
        fft_spots(lattice(0.37, 0.52, 57.3), dim="x")


def test_spots_of_other_dims_are_refused():
    image = lattice(0.37, 0.52, 57.3)
    spots = fft_spots(image)
    with pytest.raises(DimensionError, match="found on dims"):
        spot_filter(image, spots, dim=("x", "y"))
