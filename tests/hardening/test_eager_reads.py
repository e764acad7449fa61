"""What `open` reads at once is bounded by what the file stores: a crafted header cannot allocate GiB."""

import time

import h5py
import numpy as np
import pytest

import pycrox
from pycrox._hdf5 import EAGER_LIMIT, read_eager


def test_declared_but_unstored_dataset_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.h5"
    with h5py.File(path, "w") as h5:
        h5.create_dataset("scale", shape=(2**31,), dtype="f8", chunks=(2**16,))  # 16 GiB declared, 0 stored
    start = time.perf_counter()
    with (
        h5py.File(path, "r") as h5,
        pytest.raises(pycrox.FormatError, match=r"bomb\.h5:/scale.*16384 MiB.*stores 0"),
    ):
        read_eager(h5["scale"], str(path))
    assert time.perf_counter() - start < 1.0


def test_stored_and_compressed_datasets_are_read(tmp_path):
    path = tmp_path / "fine.h5"
    values = np.linspace(0, 1, EAGER_LIMIT // 8 * 2)  # twice the limit, really stored (compressed)
    with h5py.File(path, "w") as h5:
        h5.create_dataset("scale", data=values, compression="gzip")
    with h5py.File(path, "r") as h5:
        np.testing.assert_array_equal(read_eager(h5["scale"], str(path)), values)


def test_nsid_with_a_huge_dimension_scale_fails_fast(tmp_path):
    path = tmp_path / "huge_scale.h5"
    pycrox.to_nsid(pycrox.from_array(np.zeros(4), dims="x", name="signal"), path)
    n = 2**30  # 8 GiB of float64 coordinates declared in a file of a few KiB
    with h5py.File(path, "a") as h5:
        group = h5["Measurement_000/Channel_000/signal"]
        main_attrs = {k: v for k, v in group["signal"].attrs.items() if k not in ("DIMENSION_LIST",)}
        scale_attrs = {
            k: v for k, v in group["x"].attrs.items() if k not in ("REFERENCE_LIST", "CLASS", "NAME")
        }
        del group["signal"], group["x"]
        main = group.create_dataset("signal", shape=(n,), dtype="f8", chunks=(2**16,))
        scale = group.create_dataset("x", shape=(n,), dtype="f8", chunks=(2**16,))
        scale.make_scale("x")
        main.dims[0].attach_scale(scale)
        for key, value in {**main_attrs}.items():
            main.attrs[key] = value
        for key, value in scale_attrs.items():
            scale.attrs[key] = value
    assert path.stat().st_size < 64 * 2**10
    start = time.perf_counter()
    with pytest.raises(pycrox.FormatError, match=r"huge_scale\.h5.*/x.*stores 0 bytes"):
        pycrox.open(path)
    assert time.perf_counter() - start < 5.0
