"""cluster: k-means labels as scikit-learn finds them, cluster means, dask (lazy and out of core)."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis._dims import NonFiniteError
from pycrox.analysis.clustering import cluster
from pycrox.errors import DimensionError

sklearn_cluster = pytest.importorskip("sklearn.cluster")
sklearn_metrics = pytest.importorskip("sklearn.metrics")


def phase_map(
    shape=(30, 40), n=48, k=5, noise=0.1, seed=0, dtype=np.float32
) -> tuple[xr.DataArray, np.ndarray]:
    """Each pixel holds one of `k` spectra (a peak at its own position) plus noise; returns (da, true labels)."""
    rng = np.random.default_rng(seed)
    energy = np.linspace(0, 1, n)
    spectra = np.stack([np.exp(-(((energy - c) / 0.08) ** 2)) for c in np.linspace(0.1, 0.9, k)])
    truth = rng.integers(0, k, shape)
    data = spectra[truth] + noise * rng.standard_normal((*shape, n))
    da = pycrox.from_array(
        data.astype(dtype),
        dims=("y", "x", "energy"),
        coords={"energy": {"values": 280 + 20 * energy, "units": "eV"}},
        units="counts",
        title="phases",
        metadata={"microscope": "test"},
    )
    return da, truth


def ari(a: np.ndarray, b: np.ndarray) -> float:
    return float(sklearn_metrics.adjusted_rand_score(np.ravel(a), np.ravel(b)))


def test_labels_recover_the_phases_like_scikit_learn():
    da, truth = phase_map()
    result = cluster(da, 5)
    rows = da.values.reshape(-1, da.sizes["energy"])
    reference = sklearn_cluster.KMeans(5, n_init=1, random_state=0).fit(rows).labels_
    assert ari(result.labels.values, truth) == 1.0
    assert ari(result.labels.values, reference) == 1.0


def test_means_are_the_average_of_each_cluster():
    da, _ = phase_map(noise=0.3, dtype=np.float64)
    result = cluster(da, 5)
    labels = result.labels.values
    for j in range(5):
        expected = da.values[labels == j].mean(axis=0)
        np.testing.assert_allclose(result.means.sel(cluster=j).values, expected, rtol=1e-10)
    np.testing.assert_array_equal(result.counts.values, np.bincount(labels.ravel(), minlength=5))
    assert (np.diff(result.counts.values) <= 0).all()  # numbered by decreasing size


def test_inertia_is_the_sum_of_squared_distances():
    da, _ = phase_map(noise=0.3, dtype=np.float64)
    result = cluster(da, 5)
    rows = da.values.reshape(-1, da.sizes["energy"])
    centres = result.means.values[result.labels.values.ravel()]
    assert result.attrs["inertia"] == pytest.approx(float(((rows - centres) ** 2).sum()), rel=1e-6)


def test_result_keeps_the_data_model():
    da, _ = phase_map()
    result = cluster(da, 3)
    assert pycrox.validate(result) == []
    assert result.labels.dims == ("y", "x")
    assert result.labels.dtype == np.int32
    assert result.means.dims == ("cluster", "energy")
    assert result.means.attrs["units"] == "counts"
    assert result.energy.attrs["units"] == "eV"
    assert result.means.attrs["metadata"] == {"microscope": "test"}
    assert result.labels.attrs["data_type"] == "IMAGE"
    assert result.cluster.attrs["dimension_type"] == "CHANNEL"
    step = pycrox.provenance.last_step(result.labels)
    assert step is not None
    assert step[0] == "cluster"
    assert step[1]["parameters"]["n_clusters"] == 3


def test_dask_input_gives_the_same_clusters_lazily():
    da, _ = phase_map()
    eager = cluster(da, 5)
    lazy = cluster(da.chunk({"y": 7, "x": 20}), 5)
    assert isinstance(lazy.labels.data, dsa.Array)
    np.testing.assert_array_equal(lazy.labels.values, eager.labels.values)
    np.testing.assert_allclose(lazy.means.values, eager.means.values, rtol=1e-5, atol=1e-6)


def test_seed_controls_the_result():
    da, _ = phase_map(noise=1.0, k=4)  # heavy overlap: seeds may matter
    first, again = cluster(da, 6, random_state=3), cluster(da, 6, random_state=3)
    np.testing.assert_array_equal(first.labels.values, again.labels.values)


def test_clusters_along_a_chosen_dim_of_a_4d_signal():
    rng = np.random.default_rng(2)
    patterns = rng.random((2, 5, 5))
    truth = rng.integers(0, 2, (6, 7))
    da = pycrox.from_array(
        patterns[truth] + 0.01 * rng.standard_normal((6, 7, 5, 5)), dims=("y", "x", "ky", "kx")
    )
    result = cluster(da, 2, dim=("ky", "kx"))
    assert result.means.dims == ("cluster", "ky", "kx")
    assert ari(result.labels.values, truth) == 1.0


def test_bad_arguments_give_clear_errors():
    da, _ = phase_map(shape=(3, 4), n=5)
    with pytest.raises(ValueError, match="method must be one of"):
        cluster(da, 2, method="dbscan")
    with pytest.raises(ValueError, match="n_clusters=13 is out of range"):
        cluster(da, 13)
    with pytest.raises(TypeError, match="must be an integer"):
        cluster(da, "2")
    with pytest.raises(DimensionError, match="has no dimension"):
        cluster(da, 2, dim="wavelength")
    holed = da.copy(data=da.values.copy())
    holed[1, 1, 1] = np.nan
    with pytest.raises(NonFiniteError, match="NaN"):
        cluster(holed, 2)


@pytest.mark.slow
@pytest.mark.distributed
def test_kmeans_runs_out_of_core_on_a_memory_limited_cluster():
    """A 2 GiB lazy phase map through 2 worker processes limited to 600 MB each."""
    distributed = pytest.importorskip("distributed")
    n, k = 64, 4
    spectra = np.stack([np.roll(np.hanning(n), 12 * j) for j in range(k)]).astype(np.float32)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit="600MB", dashboard_address=None
        ) as local,
        distributed.Client(local),
    ):
        rng = dsa.random.default_rng(11)
        truth = rng.integers(0, k, (4096, 2048), chunks=(32, 2048))
        noise = rng.standard_normal((4096, 2048, n), chunks=(32, 2048, n), dtype=np.float32)
        data = truth.map_blocks(lambda t: spectra[t], new_axis=2, chunks=(32, 2048, n), dtype=np.float32)
        data = data + 0.2 * noise
        assert data.nbytes > 2 * 600e6
        result = cluster(pycrox.from_array(data, dims=("y", "x", "energy")), k, max_iter=10)
        found = result.labels.data[:64].compute()
        assert ari(found, truth[:64].compute()) == 1.0
        order = [int(np.argmax(m @ spectra.T)) for m in result.means.values]
        assert sorted(order) == list(range(k))
        np.testing.assert_allclose(result.means.values, spectra[order], atol=0.01)
        assert result.counts.sum().item() == 4096 * 2048
