"""Zarr on a real S3-protocol server (moto on loopback), through s3fs as a user would."""

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.testing import assert_lossless, raise_if_dask_computes

pytestmark = pytest.mark.s3


def _stack(n=8, side=32):
    data = dsa.from_array(
        np.random.default_rng(1).random((n, side, side), dtype="float32"), chunks=(1, side, side)
    )
    return pycrox.from_array(
        data,
        dims=("frame", "y", "x"),
        name="stack",
        title="drift series",
        units="counts",
        coords={
            "x": {"values": 0.1 * np.arange(side), "units": "nm"},
            "y": {"values": 0.1 * np.arange(side), "units": "nm"},
        },
        metadata={"beam_energy": {"value": 300.0, "units": "keV"}, "z": 1j},
    )


def test_zarr_round_trip_on_s3_is_identical_and_lazy(s3_bucket):
    prefix, options, fs = s3_bucket
    da = _stack()
    url = f"{prefix}/stack.zarr"
    pycrox.to_zarr(da, url, storage_options=options)
    assert fs.exists(f"{url}/zarr.json")
    with raise_if_dask_computes():
        opened = pycrox.open(url, storage_options=options, chunks={})
        frame = opened.isel(frame=3)
    assert isinstance(opened.data, dsa.Array)
    np.testing.assert_array_equal(frame.values, da.isel(frame=3).values)
    assert_lossless(opened.load(), da.compute())


def test_plain_xarray_reads_our_s3_store(s3_bucket):
    prefix, options, _ = s3_bucket
    da = _stack(2, 8)
    pycrox.to_zarr(da, f"{prefix}/p.zarr", storage_options=options)
    plain = xr.open_zarr(f"{prefix}/p.zarr", storage_options=options)["stack"]
    assert plain.attrs["metadata"]["beam_energy"]["value"] == 300.0
    np.testing.assert_array_equal(plain.values, da.values)


def test_s3_write_refuses_to_clobber(s3_bucket):
    prefix, options, _ = s3_bucket
    pycrox.to_zarr(_stack(2, 8), f"{prefix}/c.zarr", storage_options=options)
    with pytest.raises(pycrox.WriteError, match=r"c\.zarr: exists"):
        pycrox.to_zarr(_stack(2, 8), f"{prefix}/c.zarr", storage_options=options)


def test_missing_key_and_bucket_name_the_url(s3_bucket):
    prefix, options, _ = s3_bucket
    with pytest.raises(pycrox.NotFoundError, match=r"nothing\.zarr"):
        pycrox.open(f"{prefix}/nothing.zarr", storage_options=options)
    with pytest.raises(FileNotFoundError, match="no-such-bucket-pycrox"):
        pycrox.open("s3://no-such-bucket-pycrox/x.zarr", storage_options=options)


def test_memory_filesystem_round_trip():
    da = _stack(2, 8).compute()
    pycrox.to_zarr(da, "memory://pycrox-test/m.zarr", mode="w")
    assert_lossless(pycrox.open("memory://pycrox-test/m.zarr").load(), da)


def test_s3_w_minus_race_is_what_the_docs_say(s3_bucket):
    """Two writers starting together may both succeed on an object store (documented, not promised away).

    What is guaranteed: a writer that starts after a store exists is refused, and the store that is left
    reads back as one of the two writers' data in every chunk (no error, no half store); whether chunks of
    both can mix is exactly what docs/cloud.md says is not guaranteed, so it is only reported.
    """
    import threading

    prefix, options, _ = s3_bucket
    url = f"{prefix}/race.zarr"
    signals = [
        pycrox.from_array(np.full((4, 8, 8), float(v)), dims=("frame", "y", "x"), name="s") for v in (1, 2)
    ]
    outcomes: list[str] = []

    def write(da):
        try:
            pycrox.to_zarr(da, url, storage_options=options, chunks={"frame": 1})
            outcomes.append("ok")
        except pycrox.WriteError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(da,)) for da in signals]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ok" in outcomes
    values = np.unique(pycrox.open(url, storage_options=options).values)
    assert set(values) <= {1.0, 2.0}
    print(f"race outcomes {sorted(outcomes)}; values in the store {sorted(values)}")
    with pytest.raises(pycrox.WriteError, match="exists"):
        pycrox.to_zarr(signals[0], url, storage_options=options)
