"""The ``.pycro`` doors to the Fourier, filter and image functions give what the functions give.

Skipped as a whole until the accessor has the image-analysis methods (``da.pycro.fft`` is the
marker); once it does, every door below must exist and delegate.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.accessor import PycroDataArrayAccessor
from pycrox.analysis import atoms, filters, fourier, registration, windows

pytestmark = pytest.mark.skipif(
    not hasattr(PycroDataArrayAccessor, "fft"), reason="the .pycro image-analysis methods are not added yet"
)

RNG = np.random.default_rng(5)


@pytest.fixture
def stack() -> xr.DataArray:
    coords = {
        "frame": np.arange(3),
        "y": {"values": 0.1 * np.arange(24), "units": "nm"},
        "x": {"values": 0.1 * np.arange(32), "units": "nm"},
    }
    return pycrox.from_array(RNG.random((3, 24, 32)), dims=("frame", "y", "x"), coords=coords, units="counts")


@pytest.fixture
def image(stack) -> xr.DataArray:
    return stack.isel(frame=0, drop=True)


def same(door, direct, step: str) -> None:
    """Same data, coordinates and attrs (provenance compared by step name: it holds a time)."""
    if isinstance(direct, xr.Dataset):
        assert set(door.data_vars) == set(direct.data_vars)
        for name in direct.data_vars:
            same(door[name], direct[name], step)
        return
    np.testing.assert_array_equal(door.values, direct.values)
    assert door.dims == direct.dims
    for name in direct.coords:
        np.testing.assert_array_equal(door[name].values, direct[name].values)
    assert {k: v for k, v in door.attrs.items() if k != "provenance"} == {
        k: v for k, v in direct.attrs.items() if k != "provenance"
    }
    assert pycrox.provenance.last_step(door)[0] == step


def test_fourier_doors(stack):
    same(stack.pycro.fft(("y", "x"), shift=False), fourier.fft(stack, ("y", "x"), shift=False), "fft")
    spectrum = fourier.fft(stack, ("y", "x"))
    same(spectrum.pycro.ifft(), fourier.ifft(spectrum), "ifft")
    same(
        stack.pycro.power_spectrum(("y", "x"), window="hann"),
        fourier.power_spectrum(stack, ("y", "x"), window="hann"),
        "power_spectrum",
    )


def test_filter_doors(stack):
    same(stack.pycro.gaussian_filter("0.2 nm"), filters.gaussian_filter(stack, "0.2 nm"), "gaussian_filter")
    same(
        stack.pycro.median_filter("0.3 nm", dim=("y", "x")),
        filters.median_filter(stack, "0.3 nm", ("y", "x")),
        "median_filter",
    )
    same(
        stack.pycro.fourier_filter(high="2 1/nm"),
        filters.fourier_filter(stack, high="2 1/nm"),
        "fourier_filter",
    )
    same(stack.pycro.remove_background("x", 2), filters.remove_background(stack, "x", 2), "remove_background")
    same(stack.pycro.level_plane(), filters.level_plane(stack), "level_plane")
    same(stack.pycro.level_lines("x", 1), filters.level_lines(stack, "x", 1), "level_lines")


def test_image_doors(stack, image):
    same(
        stack.pycro.register("frame", upsample=10),
        registration.register(stack, "frame", upsample=10),
        "register",
    )
    tiles = image.pycro.windows(8, 4)
    same(tiles, windows.windows(image, 8, 4), "windows")
    same(tiles.pycro.reassemble(), windows.reassemble(tiles), "reassemble")
    same(image.pycro.find_atoms(sigma="0.2 nm"), atoms.find_atoms(image, sigma="0.2 nm"), "find_atoms")
