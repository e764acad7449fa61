"""NSID and USID on a real S3-protocol server: write, open lazily, slice, reference sets."""

import json

import numpy as np
import pytest

import pycrox
from pycrox.testing import assert_lossless

pytestmark = pytest.mark.s3


def _stack():
    rng = np.random.default_rng(5)
    return pycrox.from_array(
        rng.random((6, 32, 32), dtype="float32"),
        dims=("frame", "y", "x"),
        name="stack",
        coords={
            "x": {"values": 0.1 * np.arange(32), "units": "nm"},
            "y": {"values": 0.1 * np.arange(32), "units": "nm"},
        },
        title="series",
        units="counts",
        metadata={"beam_energy": {"value": 80.0, "units": "keV"}},
    )


@pytest.mark.parametrize("fmt", ["nsid", "usid"])
def test_hdf5_round_trip_through_s3(s3_bucket, fmt):
    prefix, options, fs = s3_bucket
    da = _stack()
    url = f"{prefix}/stack_{fmt}.h5"
    getattr(pycrox, f"to_{fmt}")(da, url, storage_options=options)
    assert fs.exists(url)
    assert not [p for p in fs.ls(prefix) if p.endswith(".tmp")]  # the temporary key was moved away
    opened = pycrox.open(url, storage_options=options)
    assert not isinstance(opened.variable._data, np.ndarray)  # lazy
    np.testing.assert_array_equal(opened.isel(frame=2).values, da.isel(frame=2).values)
    assert_lossless(opened.load(), da)
    with pytest.raises(pycrox.WriteError, match="exists"):
        getattr(pycrox, f"to_{fmt}")(da, url, storage_options=options)


def test_reference_set_on_s3_opens_through_zarr_identically(s3_bucket):
    prefix, options, fs = s3_bucket
    da = _stack()
    pycrox.to_nsid(da, f"{prefix}/s.h5", storage_options=options)
    refs = pycrox.references(f"{prefix}/s.h5", f"{prefix}/s.refs.json", storage_options=options)
    stored = json.loads(fs.cat(f"{prefix}/s.refs.json"))
    assert stored == json.loads(json.dumps(refs))
    chunk_refs = [v for v in refs["refs"].values() if isinstance(v, list)]
    assert chunk_refs
    assert all(v[0] == f"{prefix}/s.h5" for v in chunk_refs)
    via_refs = pycrox.open(f"{prefix}/s.refs.json", storage_options=options, chunks={})
    direct = pycrox.open(f"{prefix}/s.h5", storage_options=options)
    assert_lossless(via_refs.load(), direct.load())


def test_reference_byte_ranges_agree_with_kerchunk(tmp_path):
    kerchunk_hdf = pytest.importorskip("kerchunk.hdf")
    da = _stack()
    path = tmp_path / "k.h5"
    pycrox.to_nsid(da, path, chunks={"frame": 1})
    ours = pycrox.references(path)["refs"]
    theirs = kerchunk_hdf.SingleHdf5ToZarr(str(path)).translate()["refs"]
    ranges = sorted(tuple(v[1:]) for v in ours.values() if isinstance(v, list))
    assert len(ranges) == 6  # one per frame chunk
    theirs_ranges = {tuple(v[1:]) for v in theirs.values() if isinstance(v, list)}
    assert set(ranges) <= theirs_ranges
