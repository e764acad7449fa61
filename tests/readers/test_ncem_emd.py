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
from pycrox.testing import assert_lossless
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


# --------------------------------------------------------------------------- issue #12: every EMD generation

PRISMATIC = "rsciio_Si100_2D_3D_DPC_potential_2slices.emd"
EMD1 = "rsciio_py4DSTEM_size2x3x4x5.h5"
REALSLICES = "/4DSTEM_simulation/data/realslices"


@pytest.fixture(scope="module")
def gap_dir(shared_data: Path) -> Path:
    folder = shared_data / "vendor-gaps" / "ncem_emd"
    if not folder.is_dir():
        pytest.skip(f"vendor-gaps samples not found at {folder}")
    return folder


def _doors(path: Path) -> dict[str, dict[str, xr.DataArray]]:
    """Every signal through pycrox.open_tree, pycrox.open(group=) and xr.open_dataset(group=)."""
    signals = model.signal_nodes(pycrox.open_tree(path))
    name = {group: group.rsplit("/", 1)[-1] for group in signals}
    return {
        "open_tree": dict(signals),
        "open": {g: pycrox.open(path, group=g) for g in signals},
        "open_dataset": {
            g: xr.open_dataset(path, engine=NCEMEMDBackendEntrypoint, group=g)[name[g]] for g in signals
        },
    }


@pytest.mark.reference
def test_prismatic_output_equals_rosettasciio(gap_dir):
    rsciio_emd = pytest.importorskip("rsciio.emd")
    path = gap_dir / PRISMATIC
    reference = {r["metadata"]["General"]["title"]: r for r in rsciio_emd.file_reader(str(path))}
    assert ncem_emd.guess_can_open(path)
    assert pycrox.detect_format(path) == "ncem_emd"
    # rosettasciio stacks the depth groups and reverses the stored axis order; pycrox keeps both
    expected = {
        "DPC_CoM_depth0000": (("x", "y", "channel"), reference["DPC_CoM"]["data"][0]),
        "DPC_CoM_depth0001": (("x", "y", "channel"), reference["DPC_CoM"]["data"][1]),
        "annular_detector_depth0001": (("x", "y"), reference["annular_detector"]["data"][1]),
        "ppotential": (("x", "y", "z"), reference["ppotential"]["data"]),
        "virtual_detector_depth0000": (("x", "y", "detector"), reference["virtual_detector"]["data"][0]),
    }
    for door, signals in _doors(path).items():
        assert len(signals) == 7, door
        for name, (dims, data) in expected.items():
            da = signals[f"{REALSLICES}/{name}"]
            assert da.dims == dims, (door, name)
            np.testing.assert_array_equal(da.transpose(*reversed(dims)).values, data)
            np.testing.assert_allclose(da.x.values, 0.0 + (0.33937499 if name == "ppotential" else 0.25)
                                       * np.arange(da.sizes["x"]), rtol=1e-6)  # fmt: skip
            assert da.x.attrs["units"] == "nm"
        dpc = signals[f"{REALSLICES}/DPC_CoM_depth0000"]
        assert dpc.channel.values.tolist() == ["DPC_CoM_x", "DPC_CoM_y"]  # the text vector's labels
        axis = reference["ppotential"]["axes"][0]
        np.testing.assert_allclose(signals[f"{REALSLICES}/ppotential"].z.values[1], axis["scale"], rtol=1e-6)
        detector = signals[f"{REALSLICES}/virtual_detector_depth0000"].detector
        axis = reference["virtual_detector"]["axes"][1]
        assert detector.attrs["units"] == axis["units"] == "mrad"
        np.testing.assert_allclose(
            detector.values[:2], [axis["offset"], axis["offset"] + axis["scale"]], rtol=1e-6
        )
    tree = pycrox.open_tree(path)
    assert tree.attrs["format_version"] == "0.5"
    assert tree.attrs["original_metadata"]["version_group"] == "/4DSTEM_simulation"


@pytest.mark.reference
def test_emd_1_0_datacube_equals_rosettasciio(gap_dir):
    rsciio_emd = pytest.importorskip("rsciio.emd")
    path = gap_dir / EMD1
    (reference,) = rsciio_emd.file_reader(str(path))
    assert pycrox.detect_format(path) == "ncem_emd"
    for door, signals in _doors(path).items():
        assert list(signals) == ["/datacube_root/datacube"], door
        da = signals["/datacube_root/datacube"]
        assert da.dims == ("x", "y", "kx", "ky")  # Rx, Ry, Qx, Qy as stored (and as rosettasciio)
        np.testing.assert_array_equal(da.values, reference["data"])
        for dim, axis in zip(da.dims, reference["axes"], strict=True):
            np.testing.assert_allclose(
                da[dim].values, axis["offset"] + axis["scale"] * np.arange(axis["size"])
            )
        assert [da[d].attrs["units"] for d in da.dims] == ["nm", "nm", "1/Å", "1/Å"]  # "A^-1": ångström
        calibration = da.attrs["original_metadata"]["datasets"]["metadata"]["calibration"]
        assert calibration["R_pixel_size"] == pytest.approx(0.126796875)
        assert da.attrs["data_type"] == "IMAGE_4D"
    tree = pycrox.open_tree(path)
    assert tree.attrs["format_version"] == "1.0"
    assert tree.attrs["original_metadata"]["file"]["authoring_program"] == "emdfile"


def test_gap_files_are_not_claimed_by_velox(gap_dir):
    for name in (PRISMATIC, EMD1):
        assert not velox.guess_can_open(gap_dir / name)


def test_version_on_a_subgroup_and_typed_groups(tmp_path):
    """Synthetic Prismatic (0.x on a type-2 group, ``realslice``) and EMD 1.0 (typed groups) files."""
    data = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
    prismatic = tmp_path / "prismatic.emd"
    with h5py.File(prismatic, "w") as f:
        top = f.create_group("4DSTEM_simulation")
        top.attrs.update(emd_group_type=2, version_major=0, version_minor=5)
        group = top.create_group("data/realslices/slice")
        group.attrs["emd_group_type"] = 1
        group.create_dataset("realslice", data=data)
        for i, (values, name, units) in enumerate(
            [(np.arange(2.0), "R_x", "[n_m]"), (np.arange(3.0), "R_y", "[n_m]"), (np.array([b"a", b"b", b"c", b"d"]), "", "")],
            start=1,
        ):  # fmt: skip
            vector = group.create_dataset(f"dim{i}", data=values)
            vector.attrs["name"], vector.attrs["units"] = np.bytes_(name), np.bytes_(units)
    da = pycrox.open(prismatic)
    assert da.dims == ("x", "y", "channel")
    assert da.channel.values.tolist() == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(da.values, data)

    typed = tmp_path / "typed.h5"
    with h5py.File(typed, "w") as f:
        f.attrs.update(emd_group_type="file", version_major=1, version_minor=0, authoring_program="test")
        root = f.create_group("root")
        root.attrs["emd_group_type"] = "root"
        array = root.create_group("spectrum")
        array.attrs["emd_group_type"] = "array"
        array.create_dataset("data", data=np.arange(5.0))
        vector = array.create_dataset("dim0", data=[100.0, 100.5])  # the first two values
        vector.attrs.update(name="energy loss", units="eV")
        bundle = root.create_group("metadatabundle/microscope")
        bundle.create_dataset("beam", data=300.0)
    da = pycrox.open(typed)
    assert da.dims == ("energy_loss",)
    np.testing.assert_allclose(da.energy_loss.values, 100.0 + 0.5 * np.arange(5))
    assert da.attrs["original_metadata"]["datasets"]["metadata"] == {"microscope": {"beam": 300.0}}
    assert pycrox.open_tree(typed).attrs["format_version"] == "1.0"


def test_version_on_a_group_of_another_type_is_refused(tmp_path):
    path = tmp_path / "untyped.h5"
    with h5py.File(path, "w") as f:
        top = f.create_group("top")
        top.attrs.update(version_major=0, version_minor=5)  # no emd_group_type = 2
        group = top.create_group("signal")
        group.attrs["emd_group_type"] = 1
        group.create_dataset("data", data=np.zeros(3))
    assert not ncem_emd.guess_can_open(path)
    with pytest.raises(FormatError, match=r"untyped\.h5:/: no EMD version"):
        ncem_emd.read_tree(path)


@pytest.mark.parametrize("name", [EMD1, PRISMATIC])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_gap_files_convert_losslessly(gap_dir, name, store, tmp_path):
    signals = model.signal_nodes(pycrox.open_tree(gap_dir / name))
    da = signals[min(signals)].load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)
