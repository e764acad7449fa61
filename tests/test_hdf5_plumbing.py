import dask.array as dsa
import h5py
import numpy as np
import pytest

from pycrox import _hdf5
from pycrox.testing import raise_if_dask_computes


@pytest.mark.parametrize("batch", [1, 10**9])
def test_write_array_streams_dask_blocks(tmp_path, batch):
    data = dsa.arange(6 * 7 * 5, chunks=37).reshape(6, 7, 5).rechunk((2, 3, 5)).astype("int32")
    with h5py.File(tmp_path / "w.h5", "w") as f:
        dset = f.create_dataset("d", shape=data.shape, dtype=data.dtype, chunks=(2, 3, 5))
        with raise_if_dask_computes(max_computes=data.npartitions):
            _hdf5.write_array(dset, data, max_batch_bytes=batch)
    with h5py.File(tmp_path / "w.h5") as f:
        np.testing.assert_array_equal(f["d"][()], data.compute())


def test_lazy_h5_array_reads_slices_and_fields(tmp_path):
    values = np.zeros(6, dtype=[("amp", "f4"), ("phase", "f4")])
    values["amp"] = np.arange(6)
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["c"] = values
        f["a"] = np.arange(12.0).reshape(3, 4)
    manager, _ = _hdf5.open_file_manager(tmp_path / "c.h5")
    import xarray as xr

    v = xr.Variable(("p", "q"), _hdf5.lazy_variable_data(manager, "/a"))
    np.testing.assert_array_equal(v[1:, ::2].values, np.arange(12.0).reshape(3, 4)[1:, ::2])
    r = xr.Variable(("p",), _hdf5.lazy_variable_data(manager, "/c", field="amp"))
    np.testing.assert_array_equal(r.values, np.arange(6, dtype="f4"))
    manager.close()


def test_open_file_manager_rejects_non_hdf5(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not hdf5 at all" * 100)
    import pycrox

    with pytest.raises(pycrox.FormatError, match=r"bad\.h5: not a readable HDF5 file"):
        _hdf5.open_file_manager(bad)
