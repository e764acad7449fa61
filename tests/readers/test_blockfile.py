"""TVIPS blockfile reader: the corpus through every door, synthetic files of known content, laziness, bad input."""

from __future__ import annotations

import datetime as dt
import struct
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.blockfile import BlockfileBackendEntrypoint
from pycrox.readers.blockfile import reader as blo
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

CORPUS = ("test1.blo", "test2.blo")


def write_blockfile(
    path: Path,
    data: np.ndarray,
    *,
    vbf: np.ndarray | None = None,
    sx: float = 1.5,
    sdp: int = 5000,
    energy: int = 300000,
    camera: int = 1200,
    note: str = "note",
) -> None:
    """A blockfile of `data` ``(ny, nx, n, n)`` uint8 written by the TVIPS layout (test-local writer)."""
    ny, nx, size, _ = data.shape
    first = 0x1000
    second = first + ny * nx + (-(first + ny * nx)) % 16
    when = (dt.datetime(2020, 5, 17, 9, 30, 0) - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
    head = struct.pack(
        "<6sHIIIHHHHHddIHId",
        b"IMGBLO",
        0x0102,
        first,
        second,
        131141,
        size,
        0,
        nx,
        ny,
        1250,
        sx,
        sx,
        energy,
        sdp,
        camera,
        when,
    ) + bytes(8 * 22)
    image = (vbf if vbf is not None else data.mean(axis=(2, 3))).astype(np.uint8)
    with open(path, "wb") as fh:
        fh.write(head + note.encode("latin-1"))
        fh.write(bytes(first - fh.tell()))
        fh.write(image.tobytes())
        fh.write(bytes(second - fh.tell()))
        fh.writelines(
            b"\xaa\x55" + struct.pack("<I", index) + frame.tobytes()
            for index, frame in enumerate(data.reshape(ny * nx, size, size))
        )


@pytest.fixture(scope="module")
def blo_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "blockfile"


@pytest.fixture
def synthetic(tmp_path) -> tuple[Path, np.ndarray]:
    data = np.random.default_rng(3).integers(0, 256, (4, 5, 8, 8), dtype=np.uint8)
    path = tmp_path / "synthetic.blo"
    write_blockfile(path, data)
    return path, data


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("blockfile/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, BlockfileBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("blockfile/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", CORPUS)
def test_data_equal_rosettasciio(blo_dir, name):
    pytest.importorskip("skimage")  # rosettasciio's blockfile module imports it
    from rsciio.blockfile import file_reader

    (reference,) = file_reader(str(blo_dir / name))
    da = pycrox.open(blo_dir / name, group="diffraction")
    np.testing.assert_array_equal(da.values, np.asarray(reference["data"]).reshape(da.shape))
    header = reference["original_metadata"]["blockfile_header"]
    assert da.attrs["original_metadata"]["blockfile_header"]["Note"] == header["Note"]
    np.testing.assert_allclose(float(da.kx[1]), 100.0 / header["SDP"])
    np.testing.assert_allclose(float(da.x[1]), header["SX"])


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
@pytest.mark.parametrize("group", ["diffraction", "virtual_bright_field"])
def test_conversion_is_lossless(blo_dir, group, store, tmp_path):
    da = pycrox.open(blo_dir / "test1.blo", group=group).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic files


def test_synthetic_file_round_trip(synthetic):
    path, data = synthetic
    tree = pycrox.open_tree(path)
    da = tree["diffraction"]["diffraction"]
    assert da.dims == ("y", "x", "ky", "kx")
    np.testing.assert_array_equal(da.values, data)
    np.testing.assert_array_equal(
        tree["virtual_bright_field"]["virtual_bright_field"].values, data.mean(axis=(2, 3)).astype(np.uint8)
    )
    np.testing.assert_allclose(da.x.values, 1.5 * np.arange(5))
    assert da.x.attrs["units"] == "nm"
    assert da.kx.attrs["units"] == "cm"
    np.testing.assert_allclose(da.kx.values, 0.02 * np.arange(8))  # 100 / 5000 cm per pixel
    meta = da.attrs["metadata"]
    assert meta["beam_energy"] == {"value": 300.0, "units": "keV"}
    assert meta["camera_length"] == {"value": 120.0, "units": "mm"}
    assert (meta["date"], meta["time"]) == ("2020-05-17", "09:30:00")
    header = da.attrs["original_metadata"]["blockfile_header"]
    assert header["Note"] == "note"
    assert header["Scan_rotation"] == 1250


def test_slices_read_only_their_patterns(synthetic):
    path, data = synthetic
    counting = CountingFile.of(path)
    da = pycrox.open(counting, group="diffraction")
    counting.reset()
    np.testing.assert_array_equal(da[2, 1:4].values, data[2, 1:4])
    record = 8 * 8 + 6
    assert counting.bytes_read() <= 5 * record  # one row of patterns at most
    for key in [(slice(None, None, -1), 0), (slice(3, 0, -2),), (1, slice(None), slice(2, 5))]:
        np.testing.assert_array_equal(da[key].values, data[key])


def test_memory_mapped_reads_equal_file_object_reads(synthetic):
    path, _data = synthetic
    local = pycrox.open(path, group="diffraction")
    with open(path, "rb") as fh:
        remote = pycrox.open(fh, group="diffraction")
        for key in [(slice(None),), (slice(1, 3), slice(None, None, 2)), (-1, -1)]:
            np.testing.assert_array_equal(local[key].values, remote[key].values)
    assert local.encoding["preferred_chunks"] == {"y": 1, "x": 5, "ky": 8, "kx": 8}


def test_virtual_image_over_dask_chunks(synthetic):
    path, data = synthetic
    da = pycrox.open(path, group="diffraction", chunks={"y": 1})
    mask = xr.DataArray(np.ones((8, 8), bool), dims=("ky", "kx"))
    mask[2:6, 2:6] = False
    virtual = da.where(mask, 0).sum(("ky", "kx"), dtype=np.uint64)
    assert virtual.chunks is not None
    np.testing.assert_array_equal(virtual.values, (data * mask.values).sum(axis=(2, 3)))


def test_fsspec_url(synthetic):
    fsspec = pytest.importorskip("fsspec")
    path, data = synthetic
    fs = fsspec.filesystem("memory")
    fs.pipe("/blo/s.blo", path.read_bytes())
    try:
        np.testing.assert_array_equal(pycrox.open("memory://blo/s.blo", group="diffraction").values, data)
    finally:
        fs.rm("/blo", recursive=True)


# --------------------------------------------------------------------------- bad input


def test_guess(synthetic, tmp_path):
    path, _ = synthetic
    assert blo.guess_can_open(path)
    (tmp_path / "other.blo").write_bytes(b"IMGBL0" + bytes(300))
    assert not blo.guess_can_open(tmp_path / "other.blo")
    assert not blo.guess_can_open(tmp_path / "absent.blo")


def test_truncated_file_names_file_and_offset(synthetic, tmp_path):
    path, _ = synthetic
    raw = path.read_bytes()
    (tmp_path / "cut.blo").write_bytes(raw[:-10])
    with pytest.raises(FormatError, match=r"cut\.blo.*truncated|truncated.*cut\.blo") as info:
        pycrox.open_tree(tmp_path / "cut.blo")
    assert "offset" in str(info.value)


def test_bad_header_is_a_format_error(synthetic, tmp_path):
    path, _ = synthetic
    raw = bytearray(path.read_bytes())
    raw[20:22] = b"\x00\x00"  # DP_SZ = 0
    (tmp_path / "zero.blo").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="DP_SZ"):
        pycrox.open_tree(tmp_path / "zero.blo", engine="blockfile")
    (tmp_path / "magic.blo").write_bytes(b"XXXXXX" + bytes(raw[6:]))
    with pytest.raises(FormatError, match="IMGBLO"):
        pycrox.open_tree(tmp_path / "magic.blo", engine="blockfile")


def test_tree_nodes_are_signals(synthetic):
    path, _ = synthetic
    assert set(model.signal_nodes(pycrox.open_tree(path))) == {"/diffraction", "/virtual_bright_field"}
