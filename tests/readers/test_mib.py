"""Merlin MIB reader: manifest corpus through every door, scan shapes, laziness, bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.mib import MIBBackendEntrypoint
from pycrox.readers.mib import reader as mib
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files


@pytest.fixture(scope="module")
def mib_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "quantumdetector"


def _only(tree: xr.DataTree) -> xr.DataArray:
    (da,) = model.signal_nodes(tree).values()
    return da


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("quantumdetector/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, MIBBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("quantumdetector/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.reference
@pytest.mark.parametrize("name", ["001_4x2_6bit.mib", "Quad_1_Frame_CounterDepth_12_Rows_256.mib"])
def test_data_equal_rosettasciio(mib_dir, name):
    reference = pytest.importorskip("rsciio.quantumdetector").file_reader(str(mib_dir / name))[0]
    ours = pycrox.open(mib_dir / name)
    assert ours.shape == reference["data"].shape
    np.testing.assert_array_equal(ours.values, reference["data"])


def test_scan_shape_and_metadata(mib_dir):
    da = pycrox.open(mib_dir / "001_4x2_6bit.mib")
    assert da.sizes == {"y": 2, "x": 4, "ky": 256, "kx": 256}
    assert da.attrs["data_type"] == "IMAGE_4D"
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["exposure_time"] == {"value": 0.1, "units": "s"}
    assert (meta["date"], meta["time"]) == ("2021-05-07", "16:51:10")  # UTC, from the extended header
    assert da.attrs["original_metadata"]["hdr"]["Counter Depth (number)"] == "6"


def test_quad_twelve_bit_stays_big_endian(mib_dir):
    da = pycrox.open(mib_dir / "Quad_1_Frame_CounterDepth_12_Rows_256.mib")
    assert da.dims == ("ky", "kx")
    assert da.dtype == np.dtype(">u2")


# --------------------------------------------------------------------------- synthetic files


def write_mib(
    path: Path,
    frames: np.ndarray,
    *,
    dtype: str = ">u2",
    gaps: list[float] | None = None,
    hdr: dict[str, str] | None = None,
    pixel_type: str | None = None,
) -> Path:
    """Merlin frames with 384-byte headers; `gaps` are the seconds between frame stamps."""
    n, height, width = frames.shape
    kind = pixel_type or {">u1": "U08", ">u2": "U16", ">u4": "U32"}[dtype]
    start = dt.datetime(2024, 1, 2, 3, 4, 5)
    moments = np.concatenate([[0.0], np.cumsum(gaps if gaps is not None else [0.001] * (n - 1))])
    out = b""
    for i, frame in enumerate(frames):
        stamp = (start + dt.timedelta(seconds=float(moments[i]))).isoformat(timespec="microseconds")
        text = (
            f"MQ1,{i + 1:06d},00384,01,{width:04d},{height:04d},{kind},   1x1,01,{stamp.replace('T', ' ')},"
            f"0.001000,0,0,0,1.0E+1,5.1E+2,0,0,0,0,0,0,3RX,011,511,MQ1A,{stamp}000Z,1000000ns,12,"
        )
        out += text.encode().ljust(384, b" ") + frame.astype(dtype).tobytes()
    path.write_bytes(out)
    if hdr is not None:
        lines = ["HDR,\t"] + [f"{k}:\t{v}" for k, v in hdr.items()] + ["End\t"]
        path.with_suffix(".hdr").write_text("\n".join(lines))
    return path


def test_frames_per_trigger_in_hdr_gives_the_scan(tmp_path):
    frames = np.arange(12 * 3 * 2).reshape(12, 3, 2)
    hdr = {"Frames in Acquisition (Number)": "12", "Frames per Trigger (Number)": "4"}
    da = pycrox.open(write_mib(tmp_path / "scan.mib", frames, hdr=hdr))
    assert da.sizes == {"y": 3, "x": 4, "ky": 3, "kx": 2}
    np.testing.assert_array_equal(da.values, frames.reshape(3, 4, 3, 2)[:, :, ::-1, :])
    np.testing.assert_array_equal(da[2, 1].values, frames[9, ::-1])


def test_line_gaps_in_time_stamps_give_the_scan(tmp_path):
    frames = np.arange(6 * 2 * 2).reshape(6, 2, 2)
    gaps = [0.001, 0.001, 0.005, 0.001, 0.001]  # 3 frames per line
    da = pycrox.open(write_mib(tmp_path / "stamps.mib", frames, dtype=">u4", gaps=gaps))
    assert da.sizes == {"y": 2, "x": 3, "ky": 2, "kx": 2}
    assert da.dtype == np.dtype(">u4")


def test_even_time_stamps_give_frames(tmp_path):
    frames = np.arange(5 * 2 * 2).reshape(5, 2, 2)
    da = pycrox.open(write_mib(tmp_path / "series.mib", frames, dtype=">u1"))
    assert da.dims == ("frame", "ky", "kx")
    np.testing.assert_array_equal(da.values, frames[:, ::-1, :])


def test_irregular_gaps_are_not_a_scan(tmp_path):
    frames = np.zeros((6, 2, 2))
    gaps = [0.001, 0.005, 0.001, 0.001, 0.005]  # long gaps at 2 and 5: no fixed line length
    assert pycrox.open(write_mib(tmp_path / "odd.mib", frames, gaps=gaps)).dims == ("frame", "ky", "kx")


def test_interrupted_scan_keeps_complete_lines(tmp_path):
    frames = np.arange(10 * 2 * 2).reshape(10, 2, 2)
    hdr = {"Frames in Acquisition (Number)": "16", "Frames per Trigger (Number)": "4"}
    da = pycrox.open(write_mib(tmp_path / "cut.mib", frames, hdr=hdr))
    assert da.sizes == {"y": 2, "x": 4, "ky": 2, "kx": 2}
    np.testing.assert_array_equal(da[1, 3].values, frames[7, ::-1])


# --------------------------------------------------------------------------- laziness, URLs


def test_one_pattern_reads_one_frame(mib_dir):
    data = CountingFile.of(mib_dir / "001_4x2_6bit.mib")
    da = _only(mib.read_tree(data))
    assert data.bytes_read() <= 8 * 384 + 64 + 384 + 4  # frame headers only
    data.reset()
    pattern = da[1, 2].values
    assert data.bytes_read() == 256 * 256
    assert data.reads == [(6 * 65920 + 384, 65536)]
    assert pattern.shape == (256, 256)


def test_fsspec_url_uses_the_hdr(tmp_path):
    frames = np.arange(8 * 2 * 2).reshape(8, 2, 2)
    hdr = {"Frames in Acquisition (Number)": "8", "Frames per Trigger (Number)": "2"}
    path = write_mib(tmp_path / "remote.mib", frames, hdr=hdr)
    fs = fsspec.filesystem("memory")
    fs.pipe("/mib-url/remote.mib", path.read_bytes())
    fs.pipe("/mib-url/remote.hdr", path.with_suffix(".hdr").read_bytes())
    da = pycrox.open("memory://mib-url/remote.mib")
    assert da.sizes == {"y": 4, "x": 2, "ky": 2, "kx": 2}
    xr.testing.assert_identical(da.load(), pycrox.open(path).load())


# --------------------------------------------------------------------------- bad input


def test_wrong_magic(tmp_path):
    path = tmp_path / "x.mib"
    path.write_bytes(b"XQ1,000001,00384" + b" " * 500)
    assert not mib.guess_can_open(path)
    with pytest.raises(FormatError, match=r"x\.mib:offset 0: not a Merlin MIB file"):
        mib.read_tree(path)


def test_raw_frames_are_refused(tmp_path):
    path = write_mib(tmp_path / "raw.mib", np.zeros((2, 2, 2)), pixel_type="R64")
    with pytest.raises(FormatError, match=r"raw\.mib:offset 28: raw \(R64\) frames are not supported"):
        pycrox.open(path)


def test_unknown_pixel_type(tmp_path):
    path = write_mib(tmp_path / "u12.mib", np.zeros((2, 2, 2)), pixel_type="U12")
    with pytest.raises(FormatError, match="pixel type 'U12'"):
        pycrox.open(path)


def test_lying_header_size(tmp_path, mib_dir):
    raw = bytearray((mib_dir / "001_4x2_6bit.mib").read_bytes())
    raw[11:16] = b"00400"
    path = tmp_path / "lying.mib"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"lying\.mib:offset \d+: frame 7 does not start with"):
        pycrox.open(path)


def test_file_shorter_than_a_frame(tmp_path, mib_dir):
    path = tmp_path / "short.mib"
    path.write_bytes((mib_dir / "001_4x2_6bit.mib").read_bytes()[:5000])
    with pytest.raises(FormatError, match=r"short\.mib.*holds no complete frame"):
        pycrox.open(path)


def test_guess_claims_no_other_file(shared_data):
    vendor = shared_data / "vendor"
    others = [
        *vendor.glob("tia/*"),
        *vendor.glob("mrc/*"),
        *vendor.glob("msa/*"),
        *vendor.glob("dm/*"),
        *vendor.glob("quantumdetector/*.hdr"),
    ]
    assert [p.name for p in others if mib.guess_can_open(p)] == []


SELECTIONS = [
    {"y": 1, "kx": 0},
    {"y": [2, 0], "x": slice(1, 3), "ky": 1, "kx": [1, 0]},
    {"y": slice(None, None, 2), "x": -1},
    {"x": slice(None, None, -1), "ky": slice(None, None, -1)},
    {"y": xr.DataArray([0, 2, 1], dims="p"), "x": xr.DataArray([3, 0, 1], dims="p")},
]


@pytest.mark.parametrize("selection", SELECTIONS)
def test_any_selection_equals_numpy(tmp_path, selection):
    frames = np.random.default_rng(1).integers(0, 4000, size=(12, 3, 2))
    hdr = {"Frames in Acquisition (Number)": "12", "Frames per Trigger (Number)": "4"}
    lazy = pycrox.open(write_mib(tmp_path / "sel.mib", frames, hdr=hdr))
    expected = lazy.load().isel(selection)
    xr.testing.assert_identical(pycrox.open(tmp_path / "sel.mib").isel(selection).load(), expected)
    np.testing.assert_array_equal(
        pycrox.open(tmp_path / "sel.mib").isel(selection).values,
        xr.DataArray(frames.reshape(3, 4, 3, 2)[:, :, ::-1, :], dims=lazy.dims).isel(selection).values,
    )
