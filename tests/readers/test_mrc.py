"""MRC reader: manifest corpus through every door, modes, layouts, laziness, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.mrc import MRCBackendEntrypoint
from pycrox.readers.mrc import reader as mrc
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

mrcfile = pytest.importorskip("mrcfile")


@pytest.fixture(scope="module")
def mrc_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "mrc"


def _only(tree: xr.DataTree) -> xr.DataArray:
    (da,) = model.signal_nodes(tree).values()
    return da


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("mrc/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, MRCBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("mrc/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.filterwarnings("ignore:Map ID string not found:RuntimeWarning")  # mrcfile on temp.mrc
@pytest.mark.parametrize(
    "name", ["Custom_movie.mrc", "EMD-3001.mrc", "EMD-3197.mrc", "HAADFscan.mrc", "float16.mrc", "temp.mrc"]
)
def test_data_and_voxel_size_equal_mrcfile(mrc_dir, name):
    da = pycrox.open(mrc_dir / name)
    with mrcfile.open(mrc_dir / name, permissive=True) as reference:
        np.testing.assert_array_equal(da.values, reference.data)
        assert da.dtype == reference.data.dtype
        voxel = reference.voxel_size
    for dim, size in (("x", voxel.x), ("y", voxel.y)):
        np.testing.assert_allclose(float(da[dim][1] - da[dim][0]), size, rtol=1e-6)
        assert da[dim].attrs["units"] == "Å"


def test_fei2_extended_header_metadata(mrc_dir):
    da = pycrox.open(mrc_dir / "HAADFscan.mrc")
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["beam_energy"] == {"value": 300.0, "units": "keV"}
    assert (meta["microscope"], meta["detector"]) == ("Spectra", "HAADF")
    with mrcfile.open(mrc_dir / "HAADFscan.mrc") as reference:
        record = reference.indexed_extended_header[0]
        ours = da.attrs["original_metadata"]["fei2_extended_header"]
        for field in ("HT", "Pixel size X", "Dwell time", "Camera length", "Scan size right"):
            assert ours[field] == pytest.approx(float(record[field]))
    assert da.attrs["source"].startswith("Velox")


def test_layouts_follow_ispg(mrc_dir):
    assert pycrox.open(mrc_dir / "temp.mrc").dims == ("frame", "y", "x")  # ISPG 0: image stack
    assert pycrox.open(mrc_dir / "EMD-3197.mrc").dims == ("z", "y", "x")  # ISPG 1: volume
    assert pycrox.open(mrc_dir / "float16.mrc").dims == ("y", "x")


# --------------------------------------------------------------------------- synthetic files


@pytest.mark.parametrize("dtype", ["int8", "int16", "float32", "complex64", "uint16", "float16"])
def test_every_mode_reads_what_mrcfile_wrote(tmp_path, dtype):
    rng = np.random.default_rng(0)
    data = (rng.normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"m_{dtype}.mrc"
    with mrcfile.new(path) as out:
        out.set_data(data)
        out.voxel_size = (0.5, 0.25, 2.0)
    da = pycrox.open(path)
    assert da.dtype == data.dtype
    np.testing.assert_array_equal(da.values, data)
    np.testing.assert_allclose(da.x.values, 0.5 * np.arange(5))
    np.testing.assert_allclose(da.y.values, 0.25 * np.arange(4))


def test_volume_stack_has_frames_of_volumes(tmp_path):
    data = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    path = tmp_path / "vs.mrc"
    with mrcfile.new(path) as out:
        out.set_data(data)  # 4-D data: ISPG 401, MZ = 3
    da = pycrox.open(path)
    assert da.dims == ("frame", "z", "y", "x")
    np.testing.assert_array_equal(da[1, 2].values, data[1, 2])


def test_imod_unsigned_bytes(tmp_path):
    data = np.array([[0, 200], [255, 7]], dtype=np.uint8)
    path = tmp_path / "imod.mrc"
    with mrcfile.new(path) as out:
        out.set_data(data.view(np.int8))
    raw = bytearray(path.read_bytes())
    raw[152:160] = struct.pack("<ii", 1146047817, 0)  # IMOD stamp, flags: bytes unsigned
    path.write_bytes(bytes(raw))
    da = pycrox.open(path)
    assert da.dtype == np.uint8
    np.testing.assert_array_equal(da.values, data)


def test_big_endian_file(tmp_path):
    data = np.arange(12, dtype=">i2").reshape(3, 4)
    path = tmp_path / "be.mrc"
    with mrcfile.new(path) as out:
        out.set_data(data)
    da = pycrox.open(path)
    assert da.dtype == np.dtype(">i2")
    np.testing.assert_array_equal(da.values, data)


# --------------------------------------------------------------------------- laziness, URLs


def test_movie_slice_reads_only_its_frames(mrc_dir):
    movie = CountingFile.of(mrc_dir / "Custom_movie.mrc")
    da = _only(mrc.read_tree(movie))
    assert movie.bytes_read() < 2048  # the header, not the 15 kB of frames
    movie.reset()
    frames = da[3:5].values
    assert movie.bytes_read() == 2 * 16 * 16 * 2
    assert movie.reads == [(1024 + 3 * 512, 1024)]
    with mrcfile.open(mrc_dir / "Custom_movie.mrc", permissive=True) as reference:
        np.testing.assert_array_equal(frames, reference.data[3:5])


def test_data_stay_lazy(mrc_dir):
    da = xr.open_dataset(mrc_dir / "EMD-3001.mrc", engine=MRCBackendEntrypoint)["EMD-3001"]
    assert not isinstance(da.variable._data, np.ndarray)


def test_fsspec_url(mrc_dir):
    fsspec.filesystem("memory").pipe("/mrc-url/temp.mrc", (mrc_dir / "temp.mrc").read_bytes())
    remote = pycrox.open("memory://mrc-url/temp.mrc")
    xr.testing.assert_identical(remote.load(), pycrox.open(mrc_dir / "temp.mrc").load())


# --------------------------------------------------------------------------- bad input


def _spoiled(tmp_path: Path, mrc_dir: Path, offset: int, data: bytes, name: str = "temp.mrc") -> Path:
    raw = bytearray((mrc_dir / name).read_bytes())
    raw[offset : offset + len(data)] = data
    out = tmp_path / f"bad_{name}"
    out.write_bytes(bytes(raw))
    return out


def test_truncated_file_names_the_file(tmp_path, mrc_dir):
    path = tmp_path / "cut.mrc"
    path.write_bytes((mrc_dir / "EMD-3197.mrc").read_bytes()[:20000])  # has "MAP ": still claimed
    assert mrc.guess_can_open(path)
    with pytest.raises(FormatError, match=r"cut\.mrc:offset 1024: the data block .* the file has 20000"):
        pycrox.open(path)


def test_lying_nx_raises_before_allocating(tmp_path, mrc_dir):
    path = _spoiled(tmp_path, mrc_dir, 0, struct.pack("<i", 2**30), name="EMD-3197.mrc")
    with pytest.raises(FormatError, match=r"bad_EMD-3197\.mrc.*claims bytes"):
        pycrox.open(path, engine="mrc")


def test_unsupported_mode(tmp_path, mrc_dir):
    path = _spoiled(tmp_path, mrc_dir, 12, struct.pack("<i", 3), name="EMD-3197.mrc")
    with pytest.raises(FormatError, match=r"offset 12: MODE 3 is not supported"):
        mrc.read_tree(path)


def test_lying_extended_header_size(tmp_path, mrc_dir):
    path = _spoiled(tmp_path, mrc_dir, 92, struct.pack("<i", 10**9), name="EMD-3197.mrc")
    with pytest.raises(FormatError, match=r"extended header \(NSYMBT\)"):
        mrc.read_tree(path)


def test_zero_sections(tmp_path, mrc_dir):
    path = _spoiled(tmp_path, mrc_dir, 8, struct.pack("<i", 0), name="EMD-3197.mrc")
    assert not mrc.guess_can_open(path)
    with pytest.raises(FormatError, match="NZ is 0"):
        mrc.read_tree(path)


def test_guess_claims_no_other_file(shared_data, tmp_path):
    vendor = shared_data / "vendor"
    others = [
        *vendor.glob("velox_emd/*.emd"),
        *vendor.glob("dm/*.dm3"),
        *vendor.glob("tia/*"),
        *vendor.glob("quantumdetector/*"),
        *vendor.glob("msa/*"),
        vendor / "mrc" / "Custom_info.txt",
    ]
    assert [p.name for p in others if mrc.guess_can_open(p)] == []
    (tmp_path / "short.mrc").write_bytes(b"MAP " * 10)
    assert not mrc.guess_can_open(tmp_path / "short.mrc")


# --------------------------------------------------------------------------- issue #12: old FEI header


@pytest.fixture(scope="module")
def fei_tomo(shared_data: Path) -> Path:
    path = shared_data / "vendor-gaps" / "mrc" / "etspy_HAADF_FEI_tomo.mrc"
    if not path.is_file():
        pytest.skip(f"vendor-gaps sample not found at {path}")
    return path


def _doors(path: Path) -> dict[str, xr.DataArray]:
    tree = pycrox.open_tree(path)
    ((group, da),) = model.signal_nodes(tree).items()
    return {
        "open_tree": da,
        "open": pycrox.open(path, group=group),
        "open_dataset": xr.open_dataset(path, engine=MRCBackendEntrypoint, group=group)[group.strip("/")],
    }


@pytest.mark.reference
@pytest.mark.filterwarnings("ignore:Map ID string not found:RuntimeWarning")  # no MAP id: old FEI
@pytest.mark.filterwarnings("ignore:Unrecognised machine stamp:RuntimeWarning")  # and no stamp
def test_fei_tomography_series_equals_rosettasciio_and_mrcfile(fei_tomo):
    rsciio_mrc = pytest.importorskip("rsciio.mrc")
    (reference,) = rsciio_mrc.file_reader(str(fei_tomo))
    fei = reference["original_metadata"]["fei_header"]
    with mrcfile.mmap(fei_tomo, permissive=True) as raw:
        stored = np.asarray(raw.data)
        assert float(raw.voxel_size.x) == 1.0  # what the main header alone gives: 1 Å
    for door, da in _doors(fei_tomo).items():
        assert da.dims == ("tilt", "y", "x"), door
        np.testing.assert_array_equal(da.values, stored)
        np.testing.assert_array_equal(da.values, reference["data"])
        np.testing.assert_array_equal(da.tilt.values, np.asarray(fei["a_tilt"][:77], dtype=np.float64))
        np.testing.assert_array_equal(da.tilt.values, np.arange(-76.0, 77.0, 2.0))
        assert da.tilt.attrs["units"] == "deg"
        for dim, axis in zip(("y", "x"), reference["axes"][1:], strict=True):
            assert (axis["name"], axis["units"]) == (dim, "nm")
            np.testing.assert_allclose(np.diff(da[dim].values), axis["scale"], rtol=1e-6)
            assert da[dim].attrs["units"] == "nm"
        meta = da.attrs["metadata"]
        assert meta["magnification"] == float(fei["magnification"][0]) == 115_000.0
        assert meta["exposure_time"] == {"value": float(fei["exp_time"][0]), "units": "s"}
        assert meta["beam_energy"] == {"value": 300.0, "units": "keV"}  # record word 13: 300000 V
        original = da.attrs["original_metadata"]["fei_extended_header"]
        np.testing.assert_allclose(original["defocus"], fei["defocus"][:77])
        np.testing.assert_allclose(original["pixel_size"], fei["pixel_size"][:77])
        assert da.attrs["source"] == "MRC (FEI extended header)"
        assert da.attrs["data_type"] == "IMAGE_STACK"


def write_fei_legacy(path: Path, data: np.ndarray, records: dict[str, list[float]]) -> Path:
    """An MRC file as old FEI software wrote it: no MAP id, CELLA in pixels, 1024 x 128 B records."""
    nz, ny, nx = data.shape
    head = bytearray(1024)
    struct.pack_into("<10i6f3i3f2i", head, 0, nx, ny, nz, 1, 0, 0, 0, nx, ny, nz, nx, ny, nz, 90, 90, 90,
                     1, 2, 3, float(data.min()), float(data.max()), float(data.mean()), 0, 131072)  # fmt: skip
    struct.pack_into("<i", head, 220, 1)
    head[224:258] = b"    Fei Company (c) Copyright 2003"
    fields = ("a_tilt", "b_tilt", "x_stage", "y_stage", "z_stage", "x_shift", "y_shift", "defocus",
              "exp_time", "mean_int", "tilt_axis", "pixel_size", "magnification", "ht")  # fmt: skip
    table = np.zeros((1024, 32), dtype="<f4")
    for i, name in enumerate(fields):
        values = records.get(name, [0.0] * nz)
        table[: len(values), i] = values
    path.write_bytes(bytes(head) + table.tobytes() + data.astype("<i2").tobytes())
    return path


def test_fei_legacy_header_unordered_tilts_are_frames(tmp_path):
    data = np.arange(3 * 4 * 5, dtype="<i2").reshape(3, 4, 5)
    records = {"a_tilt": [0.0, 10.0, 10.0], "pixel_size": [2e-10] * 3, "magnification": [5e5] * 3,
               "defocus": [-1e-6, -2e-6, -3e-6]}  # fmt: skip
    da = pycrox.open(write_fei_legacy(tmp_path / "frames.mrc", data, records))
    assert da.dims == ("frame", "y", "x")
    np.testing.assert_array_equal(da.values, data)
    np.testing.assert_allclose(da.x.values, 0.2 * np.arange(5), rtol=1e-6)  # 2 Å = 0.2 nm
    assert da.attrs["metadata"] == {"magnification": 5e5}  # zero fields are "not set"
    np.testing.assert_allclose(
        da.attrs["original_metadata"]["fei_extended_header"]["defocus"], records["defocus"], rtol=1e-6
    )


def test_fei_legacy_single_image_and_implausible_pixel(tmp_path):
    image = np.arange(12, dtype="<i2").reshape(1, 3, 4)
    da = pycrox.open(write_fei_legacy(tmp_path / "one.mrc", image, {"pixel_size": [1e-9]}))
    assert da.dims == ("y", "x")
    np.testing.assert_allclose(da.y.values, [0.0, 1.0, 2.0])
    # a pixel size that is no length in metres: not the FEI layout, the main header rules (1 Å)
    other = pycrox.open(write_fei_legacy(tmp_path / "other.mrc", image, {"pixel_size": [42.0]}))
    assert other.x.attrs["units"] == "Å"
    assert "fei_extended_header" not in other.attrs["original_metadata"]


def test_fei_legacy_header_cut_short_names_the_file(tmp_path):
    path = write_fei_legacy(tmp_path / "cut.mrc", np.zeros((2, 3, 4), "<i2"), {"pixel_size": [1e-9] * 2})
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(
        FormatError, match=r"cut\.mrc:offset 1024: the extended header \(NSYMBT\) claims bytes 1024\.\.132096"
    ):
        pycrox.open(path, engine="mrc")


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_fei_tomography_conversion_is_lossless(fei_tomo, store, tmp_path):
    da = pycrox.open(fei_tomo).isel(tilt=slice(0, 3)).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)
