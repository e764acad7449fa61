"""HyperSpy HSPY reader: the corpus through every door, axes of every kind, metadata, laziness, bad input."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.hspy import HSPYBackendEntrypoint
from pycrox.readers.hspy import reader as hspy
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, assert_valid_tree, check, manifest_files

CORPUS = ("example1_v1.2.hdf5", "example2_v3.1.hspy")


@pytest.fixture(scope="module")
def hspy_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "hspy"


@pytest.fixture(scope="module")
def hs():
    return pytest.importorskip("hyperspy.api")


def _only(tree: xr.DataTree) -> xr.DataArray:
    (da,) = model.signal_nodes(tree).values()
    return da


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("hspy/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, HSPYBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("hspy/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", CORPUS)
def test_data_and_axes_equal_rosettasciio(hspy_dir, name):
    rsciio_hspy = pytest.importorskip("rsciio.hspy")
    (reference,) = rsciio_hspy.file_reader(str(hspy_dir / name))
    da = pycrox.open(hspy_dir / name)
    np.testing.assert_array_equal(da.values, reference["data"])
    assert da.dtype == reference["data"].dtype
    for dim, axis in zip(da.dims, reference["axes"], strict=True):
        expected = axis["offset"] + axis["scale"] * np.arange(axis["size"])
        np.testing.assert_allclose(da[dim].values, expected, rtol=1e-12)
        assert da[dim].attrs["units"] == axis["units"]


def test_eels_spectrum_of_format_1_2(hspy_dir):
    da = pycrox.open(hspy_dir / "example1_v1.2.hdf5")
    assert da.dims == ("energy_loss",)  # "Energy" in eV of an EELS signal
    assert da.attrs["title"] == "NIO EELS OK SHELL"
    meta = da.attrs["metadata"]
    assert meta["signal"] == "EELS"
    assert meta["beam_energy"] == {"value": 120.0, "units": "keV"}  # stored as 120 with units "kV"
    assert meta["dwell_time"] == {"value": pytest.approx(0.1), "units": "s"}  # stored as 100 "ms"
    assert meta["date"] == "1991-10-01"  # from the pre-2.0 "_datetime_date" repr
    original = da.attrs["original_metadata"]
    assert original["original_metadata"]["TITLE"] == "NIO EELS OK SHELL"
    assert original["metadata"]["Acquisition_instrument"]["TEM"]["beam_energy_units"] == "kV"


def test_diffraction_pattern_of_format_3_1(hspy_dir):
    da = pycrox.open(hspy_dir / "example2_v3.1.hspy")
    assert da.dims == ("ky", "kx")
    assert da.ky.attrs["dimension_type"] == "RECIPROCAL"
    assert da.attrs["quantity"] == "Intensity"
    meta = da.attrs["metadata"]
    assert meta["microscope"] == "FEI Tecnai"
    assert meta["camera_length"]["value"] == pytest.approx(320.0)
    assert meta["exposure_time"] == {"value": 0.2, "units": "s"}
    assert da.encoding.get("preferred_chunks") in (None, {}) or set(da.encoding["preferred_chunks"]) <= set(
        da.dims
    )


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
@pytest.mark.parametrize("name", CORPUS)
def test_conversion_is_lossless(hspy_dir, name, store, tmp_path):
    da = pycrox.open(hspy_dir / name).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_fsspec_url_gives_the_same_data(hspy_dir):
    fsspec = pytest.importorskip("fsspec")
    path = hspy_dir / "example2_v3.1.hspy"
    fs = fsspec.filesystem("memory")
    fs.pipe("/hspy/example2.hspy", path.read_bytes())
    try:
        remote = pycrox.open("memory://hspy/example2.hspy")
        xr.testing.assert_identical(remote.load(), pycrox.open(path).load())
    finally:
        fs.rm("/hspy", recursive=True)


# --------------------------------------------------------------------------- files HyperSpy writes


def test_non_uniform_axis_and_navigation(hs, tmp_path):
    s = hs.signals.Signal1D(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    s.axes_manager[-1].convert_to_non_uniform_axis()
    s.axes_manager[-1].axis = np.array([1.0, 2.0, 4.0, 8.0])
    s.axes_manager[-1].units = "eV"
    s.axes_manager[0].units, s.axes_manager[0].scale = "nm", 0.5
    s.axes_manager[1].units, s.axes_manager[1].scale, s.axes_manager[1].offset = "nm", 2.0, 1.0
    s.metadata.General.title = "cube"
    s.save(tmp_path / "cube.hspy")
    da = pycrox.open(tmp_path / "cube.hspy")
    assert da.dims == ("y", "x", "energy_loss")
    np.testing.assert_array_equal(da.energy_loss.values, [1.0, 2.0, 4.0, 8.0])
    np.testing.assert_allclose(da.x.values, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(da.y.values, [1.0, 3.0])
    np.testing.assert_array_equal(da.values, s.data)
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert da.attrs["title"] == "cube"


def test_functional_axis_is_evaluated(hs, tmp_path):
    axis = {
        "expression": "a / x",
        "x": {"size": 5, "offset": 1, "scale": 1},
        "a": 1240.0,
        "units": "eV",
        "name": "E",
    }
    hs.signals.Signal1D(np.arange(5.0), axes=[axis]).save(tmp_path / "f.hspy")
    da = pycrox.open(tmp_path / "f.hspy")
    np.testing.assert_allclose(da[da.dims[0]].values, 1240.0 / np.arange(1.0, 6.0))
    assert da[da.dims[0]].attrs["units"] == "eV"


def test_functional_axis_never_runs_code(hs, tmp_path):
    axis = {"expression": "a / x", "x": {"size": 3, "offset": 1, "scale": 1}, "a": 2.0, "units": "eV"}
    hs.signals.Signal1D(np.arange(3.0), axes=[axis]).save(tmp_path / "f.hspy")
    with h5py.File(tmp_path / "f.hspy", "r+") as h5:
        h5["Experiments/__unnamed__/axis-0"].attrs["expression"] = "__import__('os').getcwd()"
    with pytest.raises(FormatError, match="functional axis expression"):
        pycrox.open(tmp_path / "f.hspy")


def test_complex_signal_stays_complex(hs, tmp_path):
    data = np.arange(12).reshape(3, 4) + 1j * np.linspace(0, 1, 12).reshape(3, 4)
    hs.signals.ComplexSignal2D(data).save(tmp_path / "c.hspy")
    da = pycrox.open(tmp_path / "c.hspy")
    assert da.dtype == np.complex128
    assert da.dims == ("y", "x")
    np.testing.assert_array_equal(da.values, data)


def test_ragged_signal_is_an_object_array_read_lazily(hs, tmp_path):
    arr = np.empty((2,), dtype=object)
    arr[0], arr[1] = np.arange(6.0).reshape(3, 2), np.arange(4.0).reshape(2, 2)
    hs.signals.BaseSignal(arr, ragged=True).save(tmp_path / "r.hspy")
    da = pycrox.open(tmp_path / "r.hspy")
    assert da.dtype == object
    assert da.shape == (2,)
    assert da.attrs["original_metadata"]["attributes"]["ragged"] is True
    values = da.values
    np.testing.assert_array_equal(values[0], arr[0])
    np.testing.assert_array_equal(values[1], arr[1])
    np.testing.assert_array_equal(da[1].values.item(), arr[1])


def test_four_d_stem_names_and_several_signals(hs, tmp_path):
    s = hs.signals.Signal2D(np.random.default_rng(0).integers(0, 9, (2, 3, 4, 5)).astype(np.uint16))
    for axis, unit in zip(s.axes_manager._axes, ("nm", "nm", "1/nm", "1/nm"), strict=True):
        axis.units, axis.name = unit, ""
    s.save(tmp_path / "stem.hspy")
    (tmp_path / "two.hspy").write_bytes((tmp_path / "stem.hspy").read_bytes())
    with h5py.File(tmp_path / "two.hspy", "r+") as h5:  # a hand-made second experiment: a second node
        h5.copy(h5["Experiments/__unnamed__"], "Experiments/copy")
    da = pycrox.open(tmp_path / "stem.hspy")
    assert da.dims == ("y", "x", "ky", "kx")
    assert da.attrs["data_type"] == "IMAGE_4D"
    np.testing.assert_array_equal(da.values, s.data)
    with pycrox.open_tree(tmp_path / "two.hspy") as tree:
        assert set(tree.children) == {"signal", "copy"}


def test_open_reads_no_data(hspy_dir, monkeypatch):
    from pycrox import _hdf5

    calls = []
    original = _hdf5.LazyH5Array._read_unchecked
    monkeypatch.setattr(
        _hdf5.LazyH5Array, "_read_unchecked", lambda self, key: calls.append(key) or original(self, key)
    )
    da = pycrox.open(hspy_dir / "example2_v3.1.hspy")
    assert calls == []
    assert int(da[3:5, 2].sum()) > 0
    assert len(calls) == 1


# --------------------------------------------------------------------------- detection and bad input


def test_guess_refuses_other_hdf5(tmp_path):
    with h5py.File(tmp_path / "plain.h5", "w") as h5:
        h5["Experiments/x/data"] = np.zeros(3)  # the layout, but no file_format attribute
    assert not hspy.guess_can_open(tmp_path / "plain.h5")
    assert not hspy.guess_can_open(tmp_path / "missing.h5")
    (tmp_path / "text.hspy").write_text("not HDF5")
    assert not hspy.guess_can_open(tmp_path / "text.hspy")


def test_signal_without_data_names_file_and_group(tmp_path):
    with h5py.File(tmp_path / "bad.hspy", "w") as h5:
        h5.attrs["file_format"], h5.attrs["file_format_version"] = "HyperSpy", "3.1"
        h5.create_group("Experiments/broken/metadata")
    with pytest.raises(FormatError, match=r"bad\.hspy.*Experiments/broken|Experiments/broken.*bad\.hspy"):
        pycrox.open_tree(tmp_path / "bad.hspy")


def test_missing_axes_are_a_format_error(tmp_path):
    with h5py.File(tmp_path / "bad.hspy", "w") as h5:
        h5.attrs["file_format"], h5.attrs["file_format_version"] = "HyperSpy", "3.1"
        h5["Experiments/s/data"] = np.zeros((2, 3))
    with pytest.raises(FormatError, match="axis"):
        pycrox.open_tree(tmp_path / "bad.hspy")


def test_truncated_file_is_a_format_error(hspy_dir, tmp_path):
    raw = (hspy_dir / "example2_v3.1.hspy").read_bytes()
    (tmp_path / "cut.hspy").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(FormatError, match=r"cut\.hspy"):
        pycrox.open_tree(tmp_path / "cut.hspy", engine="hspy").load()


def test_signal_named_like_its_dim(hs, tmp_path):
    s = hs.signals.Signal1D(np.arange(4.0))
    s.axes_manager[0].units = "nm"
    s.save(tmp_path / "x.hspy")
    with h5py.File(tmp_path / "x.hspy", "r+") as h5:
        h5.move("Experiments/__unnamed__", "Experiments/wavelength")
    tree = pycrox.open_tree(tmp_path / "x.hspy")
    (path,) = model.signal_nodes(tree)
    assert path == "/wavelength_signal"
    np.testing.assert_array_equal(tree[path]["wavelength_signal"].values, np.arange(4.0))
