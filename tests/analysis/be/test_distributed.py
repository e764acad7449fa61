"""SHO fit streamed through a dask.distributed LocalCluster whose workers have 200 MB each.

The benchmark (``benchmarks/bench_be.py --big``) runs 1024 x 1024 pixels the same way. The
workers get `pycrox.analysis.be._kernels.WORKER_PRELOAD`, which keeps out the optional libraries
that dask.array and pandas import eagerly when installed (sparse with numba, pyarrow): without
it an idle worker that has imported dask.array is already above 200 MB in this environment.
"""

from __future__ import annotations

import os
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

from pycrox.analysis import be
from pycrox.analysis.be import _kernels, _sho

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.distributed, pytest.mark.slow]

SIDE, ROWS = 64, 2
FREQ = np.linspace(290e3, 310e3, 64)
LIMIT = 200_000_000  # bytes: memory_limit="200MB"; the nanny restarts a worker above 95 %


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


def _rss() -> int:
    text = Path("/proc/self/status").read_text()
    return int(text.split("VmRSS:")[1].split()[0]) * 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads worker RSS from /proc")
def test_sho_fit_streams_on_200_MB_workers():
    data = dsa.map_blocks(
        _block, chunks=((ROWS,) * (SIDE // ROWS), (SIDE,), (FREQ.size,)), dtype=np.complex64
    )
    coords = {"Frequency": ("Frequency", FREQ, {"units": "Hz", "dimension_type": "SPECTRAL"})}
    da = xr.DataArray(data, dims=("y", "x", "Frequency"), coords=coords, attrs={"units": "V"})
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            memory_limit="200MB",
            preload=[_kernels.WORKER_PRELOAD],
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        pids = client.run(os.getpid)
        result = be.sho_fit(da, guess="direct")
        summary = xr.Dataset(
            {
                "converged": result.converged.mean(),
                "r2": result.r2.min(),
                "f0": result.resonance_frequency.isel(y=slice(0, ROWS)),
            }
        ).compute()
        assert client.run(os.getpid) == pids  # no worker was restarted
        after = client.run(_rss)
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert limits == [LIMIT, LIMIT]
    assert max(after.values()) < 0.8 * LIMIT  # below the pause threshold after the run
    assert float(summary.converged) == 1.0
    assert float(summary.r2) > 0.9999  # noise-free
    expected = np.random.default_rng(0)
    expected.uniform(size=(ROWS, SIDE))
    truth = expected.uniform(296e3, 304e3, (ROWS, SIDE))
    np.testing.assert_allclose(summary.f0.values, truth, rtol=1e-6)
