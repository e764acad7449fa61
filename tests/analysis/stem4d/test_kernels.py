"""Detector kernels: exact contractions in every dtype, and dask blocks streamed without copies.

The streaming tests read 4-D data back from NSID and Zarr files (the benchmark's path) and
compare the lazy results with numpy; the no-copy test hands `over_detector` a kernel that checks
every block it receives is a view of the block dask produced, not a concatenated copy.
"""

from __future__ import annotations

import dask
import dask.array
import numpy as np
import pytest

import pycrox
from pycrox.analysis.stem4d import center_of_mass, virtual_image
from pycrox.analysis.stem4d._kernels import com_kernel, contract, over_detector
from pycrox.testing import raise_if_dask_computes
from tests.analysis.stem4d.synthetic import stem4d

DET = 64  # 64 x 64 float64 patterns: 32 KiB each, 16 to a slab, so 5 x 7 patterns span 3 slabs


def _weights(columns: int, dtype: type) -> np.ndarray:
    rng = np.random.default_rng(1)
    shape = (DET * DET,) if columns == 0 else (DET * DET, columns)
    return rng.normal(size=shape).astype(dtype)


@pytest.mark.parametrize("data_dtype", [np.float32, np.float64, np.uint16, np.int32])
@pytest.mark.parametrize("columns", [0, 1, 3])
def test_contract_equals_einsum_for_every_dtype_and_slab_split(data_dtype, columns):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 1000, (5, 7, DET, DET)).astype(data_dtype)
    work = np.float32 if data_dtype == np.float32 else np.float64
    weights = _weights(columns, work)
    result = contract(values, weights)
    expected = np.einsum("ijkl,kl...->ij...", values.astype(np.float64), weights.reshape(DET, DET, -1).squeeze(-1) if columns == 0 else weights.reshape(DET, DET, columns))  # fmt: skip
    assert result.dtype == work
    assert result.shape == (5, 7) if columns == 0 else (5, 7, columns)
    rtol = 1e-4 if work == np.float32 else 1e-12
    np.testing.assert_allclose(result, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


def test_com_kernel_gives_nan_for_empty_patterns():
    values = np.zeros((2, 3, DET, DET))
    values[0, 1, 10, 20] = 4.0
    k = np.arange(DET, dtype=np.float64)
    rows, cols = np.meshgrid(k, k, indexing="ij")
    weights = np.stack([np.ones_like(rows), rows, cols], axis=-1).reshape(-1, 3)
    com = com_kernel(values, weights)
    np.testing.assert_array_equal(com[0, 1], [10.0, 20.0])
    assert np.isnan(com[1, 2]).all()


def test_over_detector_passes_dask_blocks_uncopied_and_maps_them_one_task_each():
    source = np.random.default_rng(2).random((6, 4, DET, DET))
    blocks = [source[i : i + 2] for i in range(0, 6, 2)]
    lazy = dask.array.concatenate(
        [dask.array.from_delayed(dask.delayed(b), b.shape, b.dtype) for b in blocks]
    )
    seen: list[bool] = []

    def kernel(block: np.ndarray, weights: np.ndarray) -> np.ndarray:
        seen.append(any(np.shares_memory(block, b) for b in blocks))
        return contract(block, weights)

    weights = _weights(3, np.float64)
    with raise_if_dask_computes():
        result = over_detector(lazy, kernel=kernel, weights=weights, size=3)
    assert result.chunks == ((6,), (4,), (3,))  # the small results merged along the scan
    with dask.config.set(scheduler="sync"):
        values = result.compute()
    assert seen == [True, True, True]  # one call per block, each on the block itself
    np.testing.assert_allclose(values, contract(source, weights))


def test_over_detector_rechunks_a_split_detector_and_keeps_scalar_outputs():
    source = np.random.default_rng(3).random((4, 3, DET, DET)).astype(np.float32)
    weights = _weights(0, np.float32)
    result = over_detector(
        dask.array.from_array(source, chunks=(1, 3, 16, DET)), kernel=contract, weights=weights
    )
    assert result.chunks == ((4,), (3,))
    expected = contract(source, weights)
    np.testing.assert_allclose(result.compute(), expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())
    assert isinstance(over_detector(source, kernel=contract, weights=weights), np.ndarray)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Float32 4-D data written to NSID (chunked by scan rows) and Zarr, and its in-memory original."""
    rng = np.random.default_rng(4)
    da = stem4d(rng.random((6, 5, 32, 32), dtype=np.float32), det_step=0.5)
    folder = tmp_path_factory.mktemp("stem4d_stream")
    nsid, zarr = folder / "stem.h5", folder / "stem.zarr"
    pycrox.to_nsid(da, nsid, chunks={"y": 2, "x": 5, "ky": 32, "kx": 32})
    pycrox.to_zarr(da.chunk({"y": 2}), zarr)
    return da, {"NSID": nsid, "Zarr": zarr}


@pytest.mark.parametrize("fmt", ["NSID", "Zarr"])
def test_virtual_image_and_com_stream_from_files_one_task_per_chunk(stored, fmt):
    da, paths = stored
    lazy = pycrox.open(paths[fmt], chunks={})
    assert lazy.chunks[0] == (2, 2, 2)
    with raise_if_dask_computes():
        adf = virtual_image(lazy, 3.0, 7.0)
        com = center_of_mass(lazy)
    tasks = [str(k) for k in dict(adf.data.__dask_graph__())]
    assert sum("keeping_axes" in k for k in tasks) == 3  # one kernel task per chunk ...
    assert not any("concatenate" in k for k in tasks)  # ... that copies nothing
    (optimized,) = dask.optimize(adf.data)
    names = {str(k[0]).split("-")[0] for k in dict(optimized.__dask_graph__()) if isinstance(k, tuple)}
    assert any("keeping_axes" in n for n in names)
    assert "xarray" not in names  # the read fused into the kernel task
    assert adf.chunks == ((6,), (5,))  # the small results merged into one chunk
    np.testing.assert_allclose(adf.values, virtual_image(da, 3.0, 7.0).values, rtol=1e-5)
    expected = center_of_mass(da)
    for name in ("com_kx", "com_ky"):
        np.testing.assert_allclose(com[name].values, expected[name].values, rtol=1e-5, atol=1e-6)
        assert com[name].attrs["units"] == "mrad"
