"""The ``.pycro`` doors to decompose, denoise, cluster and fit give what the functions give.

Skipped as a whole until the accessor has these methods (``da.pycro.fit`` is the marker);
once it does, every door below must exist and delegate, keywords included.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.accessor import PycroDataArrayAccessor
from pycrox.analysis import clustering, decomposition, fitting

pytestmark = pytest.mark.skipif(
    not hasattr(PycroDataArrayAccessor, "fit"),
    reason="the .pycro decompose/cluster/fit methods are not added yet",
)


@pytest.fixture
def spectral_image() -> xr.DataArray:
    rng = np.random.default_rng(8)
    energy = np.linspace(0, 10, 40)
    centers = rng.uniform(3, 7, (5, 6, 1))
    data = 2 * np.exp(-0.5 * ((energy - centers) / 0.8) ** 2) + 0.3 + 0.02 * rng.standard_normal((5, 6, 40))
    return pycrox.from_array(
        data,
        dims=("y", "x", "energy"),
        coords={"energy": {"values": energy, "units": "eV"}},
        units="counts",
        title="peaks",
    )


def same(door, direct) -> None:
    """Same variables, values, dims and attrs (provenance compared by step name: it holds a time)."""
    if isinstance(direct, xr.Dataset):
        assert set(door.data_vars) == set(direct.data_vars)
        for name in direct.data_vars:
            same(door[name], direct[name])
        return
    np.testing.assert_array_equal(door.values, direct.values)
    assert door.dims == direct.dims
    assert {k: v for k, v in door.attrs.items() if k != "provenance"} == {
        k: v for k, v in direct.attrs.items() if k != "provenance"
    }
    assert pycrox.provenance.last_step(door)[0] == pycrox.provenance.last_step(direct)[0]


def test_decompose_door(spectral_image):
    same(
        spectral_image.pycro.decompose(3, method="pca"),
        decomposition.decompose(spectral_image, 3, method="pca"),
    )
    same(
        spectral_image.pycro.decompose(2, "energy"), decomposition.decompose(spectral_image, 2, dim="energy")
    )


def test_denoise_door(spectral_image):
    same(spectral_image.pycro.denoise(2), decomposition.denoise(spectral_image, 2))


def test_cluster_door(spectral_image):
    same(
        spectral_image.pycro.cluster(3, random_state=1), clustering.cluster(spectral_image, 3, random_state=1)
    )


def test_fit_door(spectral_image):
    door = spectral_image.pycro.fit("gaussian_offset", return_curve=True)
    same(door, fitting.fit(spectral_image, "gaussian_offset", return_curve=True))
    assert door.center.attrs["units"] == "eV"


def test_fit_door_passes_every_keyword(spectral_image):
    bounds = {"sigma": (0.1, 0.5)}
    door = spectral_image.pycro.fit("gaussian_offset", dim="energy", bounds=bounds, guess="kmeans")
    same(door, fitting.fit(spectral_image, "gaussian_offset", "energy", bounds=bounds, guess="kmeans"))
    assert float(door.sigma.max()) <= 0.5


def test_fit_door_passes_the_trust_keywords(spectral_image):
    def packed(x, *p):
        return p[0] * np.exp(-0.5 * ((x - p[1]) / p[2]) ** 2) + p[3]

    kwargs = {"n_params": 4, "p0": [2.0, 5.0, 0.8, 0.3], "min_r2": 0.5}
    door = spectral_image.pycro.fit(packed, **kwargs)
    same(door, fitting.fit(spectral_image, packed, **kwargs))
    assert bool(door.converged.all())
    assert float(door.c1.min()) > 2.5
