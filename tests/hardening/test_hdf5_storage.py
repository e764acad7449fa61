"""HDF5 files cannot make pycrox read other files: external raw storage and virtual datasets are refused."""

import h5py
import numpy as np
import pytest

import pycrox


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "outside" / "passwords.txt"
    path.parent.mkdir()
    path.write_bytes(b"root:x:0:0:secret-token-1234\n" * 4)
    return path


def _signal():
    return pycrox.from_array(np.arange(12.0).reshape(3, 4), dims=("y", "x"), name="image")


def _add_external(path, secret):
    with h5py.File(path, "a") as h5:
        h5.create_dataset(
            "leak",
            shape=(secret.stat().st_size,),
            dtype="u1",
            external=[(str(secret), 0, secret.stat().st_size)],
        )


def _add_virtual(path, other):
    with h5py.File(other, "w") as h5:
        h5["data"] = np.arange(8)
    layout = h5py.VirtualLayout(shape=(8,), dtype="i8")
    layout[:] = h5py.VirtualSource(str(other), "data", shape=(8,))
    with h5py.File(path, "a") as h5:
        h5.create_virtual_dataset("mirror", layout)


WRITERS = {"nsid": pycrox.to_nsid, "usid": pycrox.to_usid, "netcdf": pycrox.to_netcdf}


@pytest.mark.parametrize("fmt", WRITERS)
def test_external_raw_storage_is_refused_naming_the_dataset_and_target(fmt, tmp_path, secret):
    path = tmp_path / f"crafted_{fmt}.h5"
    WRITERS[fmt](_signal(), path)
    _add_external(path, secret)
    with pytest.raises(pycrox.FormatError, match=r"crafted_.*/leak.*external raw storage.*passwords\.txt"):
        pycrox.open_tree(path, engine=fmt)


@pytest.mark.parametrize("fmt", WRITERS)
def test_virtual_datasets_are_refused(fmt, tmp_path):
    path = tmp_path / f"crafted_{fmt}.h5"
    WRITERS[fmt](_signal(), path)
    _add_virtual(path, tmp_path / "other.h5")
    with pytest.raises(pycrox.FormatError, match=r"/mirror.*virtual dataset.*other\.h5"):
        pycrox.open(path, engine=fmt)


def test_convert_does_not_copy_an_external_file(tmp_path, secret):
    from pycrox.cli import main

    path = tmp_path / "crafted.h5"
    pycrox.to_nsid(_signal(), path)
    _add_external(path, secret)
    assert main(["convert", str(path), str(tmp_path / "out.zarr"), "--quiet"]) == 1
    assert not (tmp_path / "out.zarr").exists()


def test_files_without_outside_storage_still_open(tmp_path):
    path = tmp_path / "plain.h5"
    pycrox.to_nsid(_signal(), path)
    np.testing.assert_array_equal(pycrox.open(path).values, _signal().values)
