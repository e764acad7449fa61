"""Image tools: drift registration, sliding windows and atom finding on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.spatial
import xarray as xr

import pycrox
from pycrox.analysis import atoms, registration, windows
from pycrox.analysis._dims import NonFiniteError
from pycrox.errors import DimensionError, UnitError
from pycrox.testing import raise_if_dask_computes

RNG = np.random.default_rng(11)
SHIFTS = np.array([[0.0, 0.0], [1.37, -2.71], [-0.44, 0.83], [3.21, 1.06], [-2.5, -0.18]])


def shifted_stack(shifts=SHIFTS, size=64, spacing=0.05) -> tuple[xr.DataArray, np.ndarray]:
    """A smooth random image moved by known sub-pixel amounts (Fourier shift: content at r + s)."""
    base = scipy.ndimage.gaussian_filter(RNG.random((size, size)), 2.0)
    frames = [_fourier_shift(base, s) for s in shifts]
    coords = {
        "frame": np.arange(len(shifts)),
        "y": {"values": 10.0 + spacing * np.arange(size), "units": "nm"},
        "x": {"values": spacing * np.arange(size), "units": "nm"},
    }
    stack = pycrox.from_array(
        np.stack(frames), dims=("frame", "y", "x"), coords=coords, units="counts", title="drifting"
    )
    return stack, base


def _fourier_shift(image: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return np.fft.ifftn(scipy.ndimage.fourier_shift(np.fft.fftn(image), shift)).real


def test_register_recovers_known_subpixel_shifts():
    stack, base = shifted_stack()
    result = registration.register(stack, "frame")
    applied = np.column_stack([result.shift_y_pixels.values, result.shift_x_pixels.values])
    np.testing.assert_allclose(applied, -SHIFTS, atol=0.05)
    np.testing.assert_allclose(result.shift_x.values, 0.05 * result.shift_x_pixels.values)
    assert result.shift_x.attrs["units"] == "nm"
    assert result.shift_x_pixels.attrs["units"] == "px"
    np.testing.assert_allclose(result.aligned.values, np.broadcast_to(base, stack.shape), atol=0.02)
    assert result.aligned.dims == stack.dims
    assert result.aligned.attrs["units"] == "counts"
    assert pycrox.provenance.last_step(result)[0] == "register"


def test_register_against_another_reference_frame():
    stack, _ = shifted_stack()
    result = registration.register(stack, reference=1, upsample=20)
    expected = SHIFTS[1] - SHIFTS
    np.testing.assert_allclose(result.shift_y_pixels.values, expected[:, 0], atol=0.05)
    np.testing.assert_allclose(result.shift_x_pixels.values, expected[:, 1], atol=0.05)


def test_register_whole_pixels_with_upsample_one():
    stack, _ = shifted_stack(np.array([[0.0, 0.0], [3.0, -5.0]]))
    result = registration.register(stack, upsample=1)
    np.testing.assert_array_equal(result.shift_y_pixels.values, [0.0, -3.0])
    np.testing.assert_array_equal(result.shift_x_pixels.values, [0.0, 5.0])


def test_register_dask_is_lazy_and_matches_numpy():
    stack, _ = shifted_stack()
    with raise_if_dask_computes():
        lazy = registration.register(stack.chunk({"frame": 2}))
    eager = registration.register(stack)
    np.testing.assert_allclose(lazy.shift_x_pixels.values, eager.shift_x_pixels.values)
    np.testing.assert_allclose(lazy.aligned.values, eager.aligned.values, atol=1e-12)


def test_register_spline_interpolation_aligns_the_interior():
    stack, base = shifted_stack()
    result = registration.register(stack, interpolation="spline")
    np.testing.assert_allclose(
        result.aligned.values[:, 8:-8, 8:-8], np.broadcast_to(base, stack.shape)[:, 8:-8, 8:-8], atol=0.02
    )


def test_register_bad_inputs():
    stack, _ = shifted_stack()
    with pytest.raises(DimensionError, match="out of range"):
        registration.register(stack, reference=9)
    with pytest.raises(DimensionError, match="no dimension 'time'"):
        registration.register(stack, "time")
    with pytest.raises(ValueError, match="upsample"):
        registration.register(stack, upsample=0)
    with pytest.raises(DimensionError, match="reference image"):
        registration.register(stack, reference=stack.isel(frame=0, x=slice(0, 10)))
    bad = stack.copy()
    bad[2, 5, 5] = np.nan
    with pytest.raises(NonFiniteError):
        registration.register(bad)


def test_phase_correlation_integer_roll():
    image = RNG.random((32, 40))
    np.testing.assert_array_equal(
        registration.phase_correlation(np.roll(image, (4, -7), (0, 1)), image), [4.0, -7.0]
    )


def make_image(ny=24, nx=30) -> xr.DataArray:
    coords = {
        "y": {"values": 1.0 + 0.5 * np.arange(ny), "units": "nm"},
        "x": {"values": -3.0 + 0.2 * np.arange(nx), "units": "nm"},
    }
    return pycrox.from_array(
        RNG.random((2, ny, nx)), dims=("channel", "y", "x"), coords=coords, title="image"
    )


@pytest.mark.parametrize("method", ["centre", "mean"])
def test_windows_reassemble_exactly(method):
    image = make_image()
    tiles = windows.windows(image, {"y": 8, "x": "1.2 nm"}, {"y": 3, "x": 4})  # x: 6 px windows
    assert tiles.dims == ("channel", "y", "x", "window_y", "window_x")
    assert tiles.sizes["window_x"] == 6
    back = windows.reassemble(tiles, method=method)
    assert back.dims == image.dims
    np.testing.assert_array_equal(back.values, image.values)
    np.testing.assert_allclose(back.x.values, image.x.values)
    np.testing.assert_allclose(back.y.values, image.y.values)
    assert back.x.attrs == image.x.attrs


def test_windows_hold_the_right_pixels_and_coordinates():
    image = make_image()
    tiles = windows.windows(image, 8, 5)
    starts_y = [0, 5, 10, 15, 16]  # the last window is flush with the edge (24 = 16 + 8)
    starts_x = [0, 5, 10, 15, 20, 22]
    assert tiles.sizes["y"] == len(starts_y)
    assert tiles.sizes["x"] == len(starts_x)
    for i, sy in enumerate(starts_y):
        for j, sx in enumerate(starts_x):
            np.testing.assert_array_equal(tiles.values[:, i, j], image.values[:, sy : sy + 8, sx : sx + 8])
    np.testing.assert_allclose(tiles.y.values, 1.0 + 0.5 * (np.array(starts_y) + 3.5))
    np.testing.assert_allclose(tiles.window_x.values, 0.2 * (np.arange(8) - 3.5))
    assert tiles.window_x.attrs["units"] == "nm"
    assert tiles.window_x.attrs["dimension_type"] == "SPATIAL"


def test_windows_dask_is_lazy_and_equal():
    image = make_image()
    with raise_if_dask_computes():
        lazy = windows.windows(image.chunk({"channel": 1, "x": 10}), 6, 4)
        back = windows.reassemble(lazy)
    np.testing.assert_array_equal(lazy.values, windows.windows(image, 6, 4).values)
    np.testing.assert_array_equal(back.values, image.values)


def test_windows_bad_inputs():
    image = make_image()
    with pytest.raises(DimensionError, match="larger than 'y'"):
        windows.windows(image, 30, 1)
    with pytest.raises(TypeError, match="int"):
        windows.windows(image, 4.5, 1)
    with pytest.raises(UnitError, match="size"):
        windows.windows(image, "3 eV", 1)
    with pytest.raises(DimensionError, match="not cut by pycrox windows"):
        windows.reassemble(image)


def lattice(n=96, spacing=9.7, sigma=1.5, noise=0.02):
    """Gaussian atoms on a slightly oblique lattice, with sub-pixel positions."""
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    sites = np.array(
        [(4.3 + i * spacing + 0.15 * j, 3.8 + j * spacing) for i in range(12) for j in range(12)]
    )
    sites = sites[(sites[:, 0] < n - 3) & (sites[:, 1] < n - 3)]
    data = sum(np.exp(-((yy - py) ** 2 + (xx - px) ** 2) / (2 * sigma**2)) for py, px in sites)
    data = data + noise * RNG.standard_normal(data.shape)
    coords = {
        "y": {"values": 2.0 + 0.01 * np.arange(n), "units": "nm"},
        "x": {"values": 0.01 * np.arange(n), "units": "nm"},
    }
    return pycrox.from_array(data, coords=coords, units="counts", title="lattice"), sites


@pytest.mark.parametrize("refine", ["gaussian", "quadratic"])
def test_find_atoms_recovers_lattice_positions(refine):
    image, sites = lattice()
    found = atoms.find_atoms(image, sigma="0.01 nm", threshold=0.3, min_distance="0.05 nm", refine=refine)
    assert found.sizes["position"] == len(sites)
    pixels = np.column_stack([found.y_pixels.values, found.x_pixels.values])
    distance, _ = scipy.spatial.cKDTree(pixels).query(sites)
    assert distance.max() < 0.1
    np.testing.assert_allclose(found.y.values, 2.0 + 0.01 * found.y_pixels.values)
    assert found.x.attrs["units"] == "nm"
    assert found.position.attrs["dimension_type"] == "POINT_CLOUD"
    assert found.intensity.attrs["units"] == "counts"
    assert pycrox.model.validate(found) == []


def test_find_atoms_without_refinement_is_whole_pixels():
    image, sites = lattice(noise=0.0)
    found = atoms.find_atoms(image, refine=None)
    assert found.sizes["position"] == len(sites)
    np.testing.assert_array_equal(found.x_pixels.values, np.round(found.x_pixels.values))


def test_find_atoms_bad_inputs():
    image, _ = lattice()
    with pytest.raises(DimensionError, match="works on one image"):
        atoms.find_atoms(xr.concat([image, image], dim="frame"))
    with pytest.raises(ValueError, match="threshold"):
        atoms.find_atoms(image, threshold=2.0)
    with pytest.raises(UnitError, match="sigma"):
        atoms.find_atoms(image, sigma="1 eV")
    bad = image.copy()
    bad[3, 3] = np.nan
    with pytest.raises(NonFiniteError):
        atoms.find_atoms(bad)
