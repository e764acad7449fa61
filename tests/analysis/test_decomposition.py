"""decompose / denoise: exact-grade SVD, PCA as scikit-learn computes it, NMF, ICA, dask, data model."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis._dims import NonFiniteError
from pycrox.analysis.decomposition import decompose, denoise
from pycrox.errors import DimensionError
from pycrox.testing import raise_if_dask_computes

RNG = np.random.default_rng(42)


def phases(
    shape=(24, 20), n=64, k=4, noise=0.05, seed=0, dtype=np.float32
) -> tuple[xr.DataArray, np.ndarray]:
    """A spectral image mixing `k` Gaussian-peak spectra with random abundances, plus noise."""
    rng = np.random.default_rng(seed)
    energy = np.linspace(0.0, 1.0, n)
    spectra = np.stack([np.exp(-(((energy - c) / 0.06) ** 2)) + 0.2 for c in np.linspace(0.15, 0.85, k)])
    abundance = rng.random((*shape, k))
    data = abundance @ spectra + noise * rng.standard_normal((*shape, n))
    da = pycrox.from_array(
        data.astype(dtype),
        dims=("y", "x", "energy"),
        coords={
            "energy": {"values": 100 + 10 * energy, "units": "eV"},
            "x": {"values": np.arange(shape[1]) * 0.5, "units": "nm"},
        },
        units="counts",
        quantity="Intensity",
        title="phases",
        metadata={"beam_energy": {"value": 200.0, "units": "keV"}},
    )
    return da, spectra


def exact_singular_values(da: xr.DataArray) -> np.ndarray:
    rows = da.transpose(..., "energy").values.reshape(-1, da.sizes["energy"]).astype(np.float64)
    return np.linalg.svd(rows, compute_uv=False)


def test_svd_singular_values_match_float64_svd():
    da, _ = phases()
    result = decompose(da, 8)
    exact = exact_singular_values(da)[:8]
    np.testing.assert_allclose(result.singular_values.values, exact, rtol=1e-6)


def test_svd_components_are_the_right_singular_vectors():
    da, _ = phases(noise=0.01)
    rows = da.values.reshape(-1, da.sizes["energy"]).astype(np.float64)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    result = decompose(da, 4)
    overlap = np.abs(np.sum(result.components.values * vt[:4], axis=1))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-5)


def test_full_rank_svd_reconstructs_the_data():
    da, _ = phases(shape=(6, 5), n=12, dtype=np.float64)
    result = decompose(da, 12)
    rebuilt = xr.dot(result.loadings, result.components, dim="component").transpose(*da.dims)
    np.testing.assert_allclose(rebuilt.values, da.values, atol=1e-9)
    np.testing.assert_allclose(result.explained_variance_ratio.sum().item(), 1.0, rtol=1e-9)


def test_pca_matches_scikit_learn():
    sklearn_decomposition = pytest.importorskip("sklearn.decomposition")
    da, _ = phases(dtype=np.float64)
    rows = da.values.reshape(-1, da.sizes["energy"])
    reference = sklearn_decomposition.PCA(5, svd_solver="full").fit(rows)
    result = decompose(da, 5, method="pca")
    np.testing.assert_allclose(result.explained_variance.values, reference.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(
        result.explained_variance_ratio.values, reference.explained_variance_ratio_, rtol=1e-8
    )
    np.testing.assert_allclose(result["mean"].values, reference.mean_, rtol=1e-10)
    overlap = np.abs(np.sum(result.components.values[:4] * reference.components_[:4], axis=1))
    np.testing.assert_allclose(overlap, 1.0, atol=1e-6)
    scores = reference.transform(rows)[:, :4] * np.sign(
        np.sum(result.components.values[:4] * reference.components_[:4], axis=1)
    )
    np.testing.assert_allclose(result.loadings.values.reshape(-1, 5)[:, :4], scores, atol=1e-8)


def test_nmf_is_non_negative_and_reconstructs_a_mixture():
    da, _spectra = phases(noise=0.0, dtype=np.float64)
    result = decompose(da, 4, method="nmf")
    assert (result.components.values >= 0).all()
    assert (result.loadings.values >= 0).all()
    rebuilt = xr.dot(result.loadings, result.components, dim="component").transpose(*da.dims)
    relative = float(np.linalg.norm(rebuilt.values - da.values) / np.linalg.norm(da.values))
    assert relative < 1e-3
    np.testing.assert_allclose(np.linalg.norm(result.components.values, axis=1), 1.0)


def test_ica_unmixes_independent_sources():
    rng = np.random.default_rng(3)
    n_pixels, n = 4000, 50
    sources = np.stack(
        [
            rng.uniform(-1, 1, n_pixels),
            rng.laplace(size=n_pixels),
            np.sign(rng.standard_normal(n_pixels)) * rng.random(n_pixels) ** 2,
        ],
        axis=1,
    )
    mixing = rng.random((3, n)) + 0.1
    data = sources @ mixing + 0.001 * rng.standard_normal((n_pixels, n))
    da = pycrox.from_array(data.reshape(40, 100, n), dims=("y", "x", "energy"))
    result = decompose(da, 3, method="ica")
    found = result.loadings.values.reshape(-1, 3)
    correlation = np.abs(np.corrcoef(sources.T, found.T)[:3, 3:])
    assert (correlation.max(axis=1) > 0.98).all(), correlation
    assert sorted(correlation.argmax(axis=1)) == [0, 1, 2]


def test_result_keeps_the_data_model():
    da, _ = phases()
    result = decompose(da, 3, method="pca")
    assert pycrox.validate(result) == []
    assert result.components.dims == ("component", "energy")
    assert result.loadings.dims == ("y", "x", "component")
    assert result.energy.attrs["units"] == "eV"
    assert result.x.attrs["units"] == "nm"
    np.testing.assert_array_equal(result.x.values, da.x.values)
    assert result.loadings.attrs["units"] == "counts"
    assert result["mean"].attrs["units"] == "counts"
    assert result.components.attrs["units"] == ""
    assert result.explained_variance.attrs["units"] == pycrox.units.format(pycrox.units.parse("counts") ** 2)
    assert result.loadings.attrs["metadata"] == da.attrs["metadata"]
    assert result.component.attrs["dimension_type"] == "CHANNEL"
    assert result.loadings.attrs["data_type"] == "IMAGE_STACK"
    step = pycrox.provenance.last_step(result.loadings)
    assert step is not None
    assert step[0] == "decompose"
    assert step[1]["parameters"]["method"] == "pca"
    assert step[1]["parameters"]["n_components"] == 3


def test_components_over_several_dims():
    data = RNG.random((5, 6, 4, 3))
    da = pycrox.from_array(data, dims=("y", "x", "ky", "kx"))
    result = decompose(da, 2, dim=("ky", "kx"))
    assert result.components.dims == ("component", "ky", "kx")
    assert result.loadings.dims == ("y", "x", "component")
    exact = np.linalg.svd(data.reshape(30, 12), compute_uv=False)[:2]
    np.testing.assert_allclose(result.singular_values.values, exact, rtol=1e-8)


@pytest.mark.parametrize("method", ["svd", "pca", "nmf", "ica"])
def test_dask_input_matches_numpy(method):
    da, _ = phases(noise=0.02, dtype=np.float64)
    da = da.clip(min=0) if method == "nmf" else da
    lazy = decompose(da.chunk({"y": 5}), 3, method=method)
    eager = decompose(da, 3, method=method)
    assert isinstance(lazy.loadings.data, dsa.Array)
    tolerance = 1e-3 if method == "ica" else 1e-5  # FastICA stops at tol=1e-5 from slightly different inputs
    np.testing.assert_allclose(lazy.components.values, eager.components.values, atol=tolerance)
    np.testing.assert_allclose(
        lazy.loadings.values, eager.loadings.values, atol=10 * tolerance * float(abs(da).max())
    )


def test_dask_svd_reads_the_data_once_and_keeps_loadings_lazy():
    da, _ = phases()
    lazy = da.chunk({"y": 6, "x": 10})
    with raise_if_dask_computes(max_computes=1):
        result = decompose(lazy, 4)
    np.testing.assert_allclose(result.singular_values.values, exact_singular_values(da)[:4], rtol=1e-6)


def test_dask_split_along_dim_is_rechunked():
    da, _ = phases()
    result = decompose(da.chunk({"energy": 16}), 2)
    np.testing.assert_allclose(result.singular_values.values, exact_singular_values(da)[:2], rtol=1e-6)


def test_denoise_removes_noise_and_keeps_everything_else():
    clean, _ = phases(noise=0.0, dtype=np.float64)
    noisy = clean + 0.05 * RNG.standard_normal(clean.shape)
    noisy.attrs = clean.attrs
    result = denoise(noisy, 4)
    assert float(np.abs(result - clean).std()) < 0.5 * float(np.abs(noisy - clean).std())
    assert result.dims == noisy.dims
    assert result.attrs["units"] == "counts"
    assert pycrox.provenance.last_step(result)[0] == "denoise"
    lazy = denoise(noisy.chunk({"y": 8}), 4)
    assert isinstance(lazy.data, dsa.Array)
    np.testing.assert_allclose(lazy.values, result.values, atol=1e-10)


def test_denoise_with_all_components_returns_the_data():
    da, _ = phases(shape=(4, 5), n=8, dtype=np.float64)
    np.testing.assert_allclose(denoise(da, 8).values, da.values, atol=1e-10)


def test_denoise_keeps_float32():
    da, _ = phases()
    assert denoise(da, 2).dtype == np.float32


def test_bad_arguments_give_clear_errors():
    da, _ = phases(shape=(3, 4), n=6)
    with pytest.raises(ValueError, match="method must be one of"):
        decompose(da, 2, method="lda")
    with pytest.raises(ValueError, match="n_components=7 is out of range"):
        decompose(da, 7)
    with pytest.raises(TypeError, match="must be an integer"):
        decompose(da, 2.5)
    with pytest.raises(ValueError, match="non-negative data"):
        decompose(da - 10, 2, method="nmf")
    with pytest.raises(DimensionError, match="no SPECTRAL dimension"):
        decompose(da.assign_coords(energy=da.energy.assign_attrs(dimension_type="UNKNOWN")), 2)
    holed = da.copy(data=da.values.copy())
    holed[0, 0, 0] = np.nan
    for method in ("svd", "nmf"):
        with pytest.raises(NonFiniteError, match="NaN"):
            decompose(holed, 2, method=method)
    with pytest.raises(TypeError, match="complex data are not supported"):
        denoise(da.astype(complex), 2)
    with pytest.raises(DimensionError, match="has no dimension 'q'"):
        denoise(da, 2, dim="q")


@pytest.mark.slow
def test_svd_is_exact_grade_at_benchmark_size():
    """256 x 256 x 1024 float32 to 16 components: top 8 within 1e-4 of a float64 SVD."""
    rng = np.random.default_rng(0)
    rows, n = 65536, 1024
    energy = np.linspace(0, 1, n)
    spectra = np.stack([np.exp(-(((energy - c) / 0.05) ** 2)) + 0.3 for c in np.linspace(0.1, 0.9, 8)])
    abundance = rng.random((rows, 8)) * 0.2
    abundance[np.arange(rows), rng.integers(0, 8, rows)] += 1
    data = (abundance @ spectra + 0.05 * rng.standard_normal((rows, n))).astype(np.float32)
    result = decompose(pycrox.from_array(data.reshape(256, 256, n), dims=("y", "x", "energy")), 16)
    exact = np.linalg.svd(data.astype(np.float64), compute_uv=False)[:16]
    relative = np.abs(result.singular_values.values - exact) / exact
    assert relative[:8].max() < 1e-4
    assert relative.max() < 1e-3


@pytest.mark.slow
@pytest.mark.distributed
def test_svd_runs_out_of_core_on_a_memory_limited_cluster():
    """A 2 GiB lazy array through 2 worker processes limited to 600 MB each (1.2 GB in all)."""
    distributed = pytest.importorskip("distributed")
    n = 64
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit="600MB", dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        random = dsa.random.default_rng(7).random((4096, 2048, n), chunks=(32, 2048, n), dtype=np.float32)
        structure = np.linspace(1, 2, n, dtype=np.float32)
        data = random * structure + dsa.sin(random * 3)
        assert data.nbytes > 2 * 600e6
        da = pycrox.from_array(data, dims=("y", "x", "energy"))
        result = decompose(da, n, method="pca")
        # every component kept: the explained variances sum to the total variance, computed independently
        total = float(((data - data.mean(axis=(0, 1))) ** 2).sum().compute())
        assert result.explained_variance.sum().item() * (4096 * 2048 - 1) == pytest.approx(total, rel=1e-5)
        gram = result.components.values @ result.components.values.T
        np.testing.assert_allclose(gram, np.eye(n), atol=1e-8)
        first = result.loadings.isel(component=0).mean().compute()
        assert abs(float(first)) < 1e-3 * float(result.singular_values[0]) / np.sqrt(4096 * 2048)
