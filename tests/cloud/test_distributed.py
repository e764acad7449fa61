"""Scale-out on a real dask.distributed LocalCluster (2 worker processes): nothing else changes."""

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.testing import assert_lossless

distributed = pytest.importorskip("distributed")
pytestmark = [pytest.mark.distributed, pytest.mark.slow]


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit="2GiB"
    )
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _spectrum_image(side=24, n=96, seed=3):
    rng = np.random.default_rng(seed)
    energy = np.linspace(0, 10, n)
    comps = np.stack([np.exp(-((energy - c) ** 2) / 0.5) for c in (2.0, 5.0, 8.0)])
    weights = rng.random((side, side, 3))
    data = (weights @ comps + 0.01 * rng.standard_normal((side, side, n))).astype("float32")
    return pycrox.from_array(
        dsa.from_array(data, chunks=(8, 8, n)),
        dims=("y", "x", "energy"),
        coords={"energy": {"values": energy, "units": "keV"}},
        name="si",
        title="map",
        units="counts",
    )


def _without_times(ds: xr.Dataset) -> xr.Dataset:
    def strip(attrs):
        steps = (attrs.get("provenance") or {}).get("pycrox") or {}
        return {**attrs, "provenance": {"pycrox": {k: {**v, "time": ""} for k, v in steps.items()}}}

    out = ds.copy()
    out.attrs = strip(ds.attrs)
    for name in out.data_vars:
        out[name].attrs = strip(ds[name].attrs)
    return out


def test_nsid_to_zarr_and_decomposition_match_the_local_run(client, tmp_path):
    from pycrox.analysis.decomposition import decompose

    da = _spectrum_image()
    pycrox.to_nsid(da, tmp_path / "si.h5")  # written from the client; blocks computed on the workers
    lazy = pycrox.open(tmp_path / "si.h5", chunks={"y": 8, "x": 8})
    pycrox.to_zarr(lazy, tmp_path / "si.zarr")
    assert_lossless(pycrox.open(tmp_path / "si.zarr").load(), pycrox.open(tmp_path / "si.h5").load())

    on_cluster = decompose(
        pycrox.open(tmp_path / "si.zarr", chunks={"y": 8, "x": 8}), 3, dim="energy", method="svd"
    ).compute()
    with _local_scheduler():  # the reference run: local threads, no cluster
        local = decompose(pycrox.open(tmp_path / "si.zarr").load(), 3, dim="energy", method="svd").compute()
    ratio_c = on_cluster["explained_variance_ratio"].values
    np.testing.assert_allclose(ratio_c, local["explained_variance_ratio"].values, rtol=1e-5)
    # components are defined up to sign
    signs = np.sign((on_cluster["components"] * local["components"]).sum("energy"))
    np.testing.assert_allclose(
        (on_cluster["components"] * signs).values, local["components"].values, atol=1e-4
    )
    xr.testing.assert_allclose(
        _without_times(on_cluster.drop_vars(["components", "loadings"])),
        _without_times(local.drop_vars(["components", "loadings"])),
        rtol=1e-5,
    )


def _local_scheduler():
    import dask

    return dask.config.set(scheduler="threads")


def test_nsid_writes_from_worker_processes_are_safe(client, tmp_path):
    da = _spectrum_image(side=16, n=32)

    def write(path):
        import pycrox as p

        p.to_nsid(da.compute(), path)
        return path

    paths = [str(tmp_path / f"w{i}.h5") for i in range(4)]
    futures = client.map(write, paths)
    assert sorted(client.gather(futures)) == sorted(paths)
    for path in paths:
        np.testing.assert_array_equal(pycrox.open(path).values, da.values)
    # the same target from several processes: exactly one write wins, the others refuse cleanly
    target = str(tmp_path / "same.h5")
    results = client.gather(client.map(_try_write, [target] * 4, [da.compute()] * 4, pure=False))
    assert results.count("ok") == 1
    assert all(r == "ok" or "exists" in r for r in results)
    np.testing.assert_array_equal(pycrox.open(target).values, da.values)


def _try_write(path, da):
    import pycrox as p

    try:
        p.to_nsid(da, path)
    except p.WriteError as exc:
        return str(exc)
    return "ok"
