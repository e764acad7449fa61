"""Memory promises: large MRC and contiguous NSID data are read in chunks of a few MiB, so converts stream."""

import h5py
import mrcfile
import numpy as np
import pytest

import pycrox

FRAMES, NY, NX = 6, 1024, 1024  # 24 MiB of float32: above the 8 MiB kept whole


@pytest.fixture
def stack():
    return np.arange(FRAMES, dtype="f4")[:, None, None] + np.zeros((FRAMES, NY, NX), "f4")


def _assert_streamed(da, stack):
    assert da.encoding["preferred_chunks"]  # the reader says how to cut the data
    assert max(da.data.chunksize)
    assert da.data.npartitions > 1
    assert da.data.nbytes / da.data.npartitions <= 8 * 2**20  # no chunk beyond a few MiB
    np.testing.assert_array_equal(da.values, stack)


def test_mrc_reader_gives_frame_chunks(stack, tmp_path):
    path = tmp_path / "stack.mrc"
    with mrcfile.new(path) as m:
        m.set_data(stack)
    _assert_streamed(pycrox.open(path, chunks={}), stack)


def test_contiguous_nsid_is_read_in_frame_chunks(stack, tmp_path):
    path = tmp_path / "contiguous.h5"
    da = pycrox.from_array(stack, dims=("frame", "y", "x"), name="stack")
    pycrox.to_nsid(da, path, chunks=False)
    with h5py.File(path) as h5:
        datasets = []
        h5.visititems(
            lambda n, o: datasets.append(o) if isinstance(o, h5py.Dataset) and o.ndim == 3 else None
        )
        assert [d.chunks for d in datasets] == [None]  # really contiguous
    back = pycrox.open(path, chunks={})
    _assert_streamed(back, stack)
    assert "chunksizes" not in back.encoding  # a rewrite is not forced into chunks it never had


def test_convert_of_a_large_mrc_writes_frame_chunks(stack, tmp_path):
    from pycrox.cli import main

    src = tmp_path / "stack.mrc"
    with mrcfile.new(src) as m:
        m.set_data(stack)
    dst = tmp_path / "out.zarr"
    assert main(["convert", str(src), str(dst), "--to", "zarr", "--quiet"]) == 0
    back = pycrox.open(dst, chunks={})
    assert back.data.npartitions > 1
    np.testing.assert_array_equal(back.values, stack)


def test_dm_reader_gives_frame_chunks(stack, tmp_path):
    from tests.readers.test_dm import dm_file, image

    path = dm_file(tmp_path / "stack.dm4", image(stack, 2))  # DM data type 2: float32
    _assert_streamed(pycrox.open(path, chunks={}), stack)
