"""SHO fit streamed through a dask.distributed LocalCluster with small workers (the benchmark runs 1024 x 1024)."""

from __future__ import annotations

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

from pycrox.analysis import be
from pycrox.analysis.be import _sho
from tests.analysis.be.conftest import FREQ

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.distributed, pytest.mark.slow]

SIDE, ROWS = 64, 8


def _block(block_info=None):
    (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
    rng = np.random.default_rng(y0)
    shape = (y1 - y0, x1 - x0)
    p = [
        rng.uniform(0.5, 1.5, shape) * 1e-3,
        rng.uniform(296e3, 304e3, shape),
        rng.uniform(100, 300, shape),
        rng.uniform(-np.pi, np.pi, shape),
    ]
    return _sho.response(FREQ, *(q[..., None] for q in p)).astype(np.complex64)


def test_sho_fit_streams_on_a_local_cluster():
    data = dsa.map_blocks(
        _block, chunks=((ROWS,) * (SIDE // ROWS), (SIDE,), (FREQ.size,)), dtype=np.complex64
    )
    coords = {"Frequency": ("Frequency", FREQ, {"units": "Hz", "dimension_type": "SPECTRAL"})}
    da = xr.DataArray(data, dims=("y", "x", "Frequency"), coords=coords, attrs={"units": "V"})
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="1GiB"
        ) as cluster,
        distributed.Client(cluster),
    ):
        result = be.sho_fit(da, guess="direct")
        summary = xr.Dataset(
            {
                "converged": result.converged.mean(),
                "r2": result.r2.min(),
                "f0": result.resonance_frequency.isel(y=slice(0, ROWS)),
            }
        ).compute()
    assert float(summary.converged) == 1.0
    assert float(summary.r2) > 0.9999  # noise-free
    expected = np.random.default_rng(0)
    expected.uniform(size=(ROWS, SIDE))
    truth = expected.uniform(296e3, 304e3, (ROWS, SIDE))
    np.testing.assert_allclose(summary.f0.values, truth, rtol=1e-6)
