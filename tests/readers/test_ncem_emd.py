"""Berkeley EMD reader: manifest corpus through every door, dims and units, laziness, bad input."""

from __future__ import annotations

import time
from pathlib import Path

import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.ncem_emd import NCEMEMDBackendEntrypoint
from pycrox.readers.ncem_emd import reader as ncem_emd
from pycrox.readers.velox import reader as velox
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files


@pytest.fixture(scope="module")
def ncem_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "ncem_emd"


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("ncem_emd/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, NCEMEMDBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("ncem_emd/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_open_datatree_door_equals_open_tree(ncem_dir):
    path = ncem_dir / "Acquisition_18.emd"
    via_xarray = xr.open_datatree(path, engine=NCEMEMDBackendEntrypoint)
    ours = pycrox.open_tree(path)
    assert list(model.signal_nodes(via_xarray)) == ["/data/single"]
    xr.testing.assert_identical(
        via_xarray["data/single"].to_dataset().load(), ours["data/single"].to_dataset().load()
    )
    assert via_xarray["data"].attrs == {"filename": "Acquisition"}


def test_guess_claims_berkeley_emd_only(shared_data, ncem_dir):
    assert all(ncem_emd.guess_can_open(p) for p in ncem_dir.glob("*.emd"))
    others = [
        *(shared_data / "vendor" / "velox_emd").glob("*.emd"),
        *(shared_data / "nsid").glob("*.h5"),
        *(shared_data / "usid").glob("*.h5"),
        *(shared_data / "vendor" / "hspy").glob("*"),
    ]
    assert others
    assert not any(ncem_emd.guess_can_open(p) for p in others)
    assert not any(velox.guess_can_open(p) for p in ncem_dir.glob("*.emd"))


def test_named_axes_keep_the_stored_order(ncem_dir):
    path = ncem_dir / "Acquisition_18.emd"
    da = pycrox.open(path)
    with h5py.File(path) as f:
        raw, dim2 = f["data/single/data"][()], f["data/single/dim2"][()]
    assert da.dims == ("y", "x")
    np.testing.assert_array_equal(da.values, raw)
    np.testing.assert_array_equal(da.x.values, dim2)
    assert da.x.attrs["units"] == "nm"
    assert da.attrs["original_metadata"]["dims"]["dim2"] == {"name": "X", "units": "n_m"}


def test_microscope_group_is_normalised(ncem_dir):
    da = pycrox.open(ncem_dir / "Acquisition_18.emd")
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert meta["magnification"] == 5_100_000.0
    assert meta["dwell_time"] == {"value": 1e-6, "units": "s"}
    assert meta["microscope"] == "TEAM 0.5"
    stamp = time.gmtime(1570217141.484)  # the group's 'acquisition times'
    assert meta["date"] == time.strftime("%Y-%m-%d", stamp)
    assert meta["time"] == time.strftime("%H:%M:%S", stamp)


def test_text_metadata_and_group_attributes(ncem_dir):
    tree = pycrox.open_tree(ncem_dir / "example_metadata.emd")
    da = tree["signals/This is a test!"].to_dataset()["This is a test!"]
    assert da.attrs["metadata"]["beam_energy"] == {"value": 300.0, "units": "keV"}  # voltage '300kV'
    assert (da.attrs["metadata"]["operator"], da.attrs["metadata"]["sample"]) == ("John Doe", "TiO2")
    assert da.attrs["original_metadata"]["group"]["a"] == 1
    assert tree.attrs["original_metadata"]["comments"] == {"comment": "Test"}


@pytest.mark.reference
def test_hyperspy_files_name_axes_in_hyperspy_order(ncem_dir):
    rsciio_emd = pytest.importorskip("rsciio.emd")
    for name, dims in (("example_signal.emd", ("x", "y", "frame")), ("example_image.emd", ("x", "y"))):
        da = pycrox.open(ncem_dir / name)
        assert da.dims == dims
        reference = rsciio_emd.file_reader(str(ncem_dir / name))[0]["data"]  # HyperSpy order (..., y, x)
        np.testing.assert_array_equal(da.transpose(*reversed(dims)).values, reference)


# --------------------------------------------------------------------------- synthetic files


def write_emd(path: Path, data: np.ndarray, dims: list[tuple[np.ndarray, str, str]], **group_attrs) -> Path:
    """A minimal Berkeley EMD 0.2 file with one data group ``/data/signal``."""
    with h5py.File(path, "w") as f:
        f.attrs["version_major"], f.attrs["version_minor"] = 0, 2
        group = f.create_group("data/signal")
        group.attrs["emd_group_type"] = 1
        group.attrs.update(group_attrs)
        group.create_dataset("data", data=data, chunks=True)
        for i, (values, name, units) in enumerate(dims, start=1):
            dim = group.create_dataset(f"dim{i}", data=values)
            dim.attrs["name"], dim.attrs["units"] = np.bytes_(name), np.bytes_(units)
    return path


def test_dims_by_name_and_units(tmp_path):
    data = np.arange(4 * 3 * 5, dtype=np.float32).reshape(4, 3, 5)
    dims = [
        (np.arange(4) * 0.5, "Time", "[s]"),
        (np.array([1.0, 1.2]), "Qy", "[1/n_m]"),
        (np.arange(5.0), "", "[n_m]"),
    ]
    da = pycrox.open(write_emd(tmp_path / "stack.emd", data, dims))
    assert da.dims == ("time", "ky", "x")
    assert [da[d].attrs["units"] for d in da.dims] == ["s", "1/nm", "nm"]
    np.testing.assert_allclose(da.ky.values, [1.0, 1.2, 1.4])  # two values: offset and step
    np.testing.assert_array_equal(da.values, data)


def test_unnamed_dims_by_position(tmp_path):
    dims = [(np.arange(2.0), "", "[]")] * 3
    da = pycrox.open(write_emd(tmp_path / "three.emd", np.zeros((2, 6, 7), np.int16), dims))
    assert da.dims == ("frame", "y", "x")
    assert da.y.attrs["units"] == ""


def test_open_reads_no_data(tmp_path):
    data = np.arange(1024 * 1024, dtype=np.uint16).reshape(1024, 1024)
    dims = [(np.arange(1024.0), "Y", "n_m"), (np.arange(1024.0), "X", "n_m")]
    handle = CountingFile.of(write_emd(tmp_path / "big.emd", data, dims))
    da = model.select_signal(ncem_emd.read_tree(handle), None, "big.emd")
    assert handle.bytes_read() < 100_000  # the data are 2 MB
    handle.reset()
    np.testing.assert_array_equal(da[:8].values, data[:8])
    assert handle.bytes_read() < data.nbytes


def test_fsspec_url_reads_like_a_path(ncem_dir):
    fs = fsspec.filesystem("memory")
    fs.pipe("/ncem-url/example_metadata.emd", (ncem_dir / "example_metadata.emd").read_bytes())
    remote = pycrox.open_tree("memory://ncem-url/example_metadata.emd")
    local = pycrox.open_tree(ncem_dir / "example_metadata.emd")
    node = "signals/This is a test!"
    xr.testing.assert_identical(remote[node].to_dataset().load(), local[node].to_dataset().load())
    fs.rm("/ncem-url", recursive=True)


def test_backend_open_dataset_picks_a_group(ncem_dir):
    ds = xr.open_dataset(
        ncem_dir / "example_signal.emd", engine=NCEMEMDBackendEntrypoint, group="signals/__unnamed__"
    )
    assert list(ds.data_vars) == ["__unnamed__"]
    assert ds["__unnamed__"].shape == (3, 3, 3)


# --------------------------------------------------------------------------- bad input


def test_dim_vector_of_wrong_length_is_a_format_error(tmp_path):
    dims = [(np.arange(3.0), "Y", "n_m"), (np.arange(4.0), "X", "n_m")]
    path = write_emd(tmp_path / "lying.emd", np.zeros((3, 5)), dims)
    with pytest.raises(
        FormatError,
        match=r"lying\.emd:/data/signal/dim2: dimension vector has 4 values but data axis 2 has 5",
    ):
        pycrox.open(path)


def test_file_without_data_group_is_refused(tmp_path):
    path = tmp_path / "empty.emd"
    with h5py.File(path, "w") as f:
        f.attrs["version_major"], f.attrs["version_minor"] = 0, 2
        f.create_group("data/signal").attrs["emd_group_type"] = 1  # no 'data' dataset
    assert not ncem_emd.guess_can_open(path)
    with pytest.raises(FormatError, match=r"empty\.emd: no EMD data group"):
        ncem_emd.read_tree(path)


def test_file_without_version_is_refused(tmp_path):
    path = write_emd(tmp_path / "noversion.emd", np.zeros((2, 2)), [])
    with h5py.File(path, "a") as f:
        del f.attrs["version_major"]
    assert not ncem_emd.guess_can_open(path)
    with pytest.raises(FormatError, match=r"noversion\.emd:/: no EMD version"):
        ncem_emd.read_tree(path)


def test_truncated_and_foreign_files_are_format_errors(tmp_path, ncem_dir):
    data = (ncem_dir / "Acquisition_18.emd").read_bytes()
    truncated = tmp_path / "truncated.emd"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"truncated\.emd"):
        ncem_emd.read_tree(truncated)
    text = tmp_path / "text.emd"
    text.write_text("no HDF5 here")
    assert not ncem_emd.guess_can_open(text)
    with pytest.raises(FormatError, match=r"text\.emd"):
        ncem_emd.read_tree(text)


def test_damaged_hdf5_structure_is_a_format_error(ncem_dir, monkeypatch):
    def damaged(*args, **kwargs):
        raise RuntimeError("Object visitation failed (wrong B-tree signature)")

    monkeypatch.setattr(ncem_emd, "_emd_groups", damaged)  # what libhdf5 raises on a corrupt B-tree
    path = ncem_dir / "example_image.emd"
    assert not ncem_emd.guess_can_open(path)
    with pytest.raises(FormatError, match=r"example_image\.emd: damaged HDF5 structure \(RuntimeError"):
        ncem_emd.read_tree(path)
