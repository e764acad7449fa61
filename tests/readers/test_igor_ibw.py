"""Igor binary wave reader: manifest corpus through every door, igor2 values, synthetic waves, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError, ModelError
from pycrox.readers.igor_ibw import IgorIBWBackendEntrypoint
from pycrox.readers.igor_ibw import reader as ibw
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

igor2 = pytest.importorskip("igor2.binarywave")


@pytest.fixture(scope="module")
def ibw_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "igor_ibw"


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("igor_ibw/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, IgorIBWBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("igor_ibw/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("rel", manifest_files("igor_ibw/"))
def test_data_and_scaling_equal_igor2(rel, shared_data):
    path = shared_data / "vendor" / rel
    wave = igor2.load(str(path))["wave"]
    reference = np.asarray(wave["wData"])
    tree = pycrox.open_tree(path)
    signals = list(model.signal_nodes(tree).values())
    header = wave["wave_header"]
    if len(signals) == 1:
        (da,) = signals
        np.testing.assert_array_equal(da.values, reference.T)  # igor2 keeps Igor's column-major axes
    else:  # one signal per label along the last dimension
        stacked = np.stack([da.values.T for da in signals], axis=-1)
        np.testing.assert_array_equal(stacked, reference)
    da = signals[0]
    if "sfA" in header and da.size:
        first = da.dims[-1]  # Igor's first dimension is the fastest one
        np.testing.assert_allclose(da[first].values[1] - da[first].values[0], header["sfA"][0], rtol=1e-12)
        assert da[first].values[0] == header["sfB"][0]


def test_channels_are_labels_cut_at_the_first_nul(ibw_dir):
    tree = pycrox.open_tree(ibw_dir / "IgorIBWReader_P0089OP0027.ibw")
    names = [p.strip("/") for p in model.signal_nodes(tree)]
    assert names == [
        "HeightRetrace",
        "AmplitudeRetrace",
        "DeflectionRetrace",
        "PhaseRetrace",
        "UserIn0Retrace",
    ]
    height = tree["HeightRetrace"]["HeightRetrace"]
    assert height.dims == ("y", "x")
    assert height.x.attrs["units"] == "m"
    assert height.attrs["data_type"] == "IMAGE"


def test_force_curve_axis_is_time_and_note_is_parsed(ibw_dir):
    tree = pycrox.open_tree(ibw_dir / "IgorIBWReader_ForceCurve.ibw")
    defl = tree["Defl"]["Defl"]
    assert defl.dims == ("time",)
    assert defl.time.attrs["units"] == "s"
    np.testing.assert_allclose(defl.time.values[:3], [0.0, 0.0005, 0.001])
    note = defl.attrs["original_metadata"]["note"]
    assert note["SpringConstant"] == pytest.approx(0.018189)
    assert note["TriggerChannel"] == "DeflVolts"
    assert defl.attrs["metadata"]["scan_rate"] == {"value": pytest.approx(0.89799), "units": "Hz"}


def test_image_metadata_date(ibw_dir):
    da = pycrox.open(ibw_dir / "IgorIBWReader_ImageStack_BTFO_DSO.ibw", group="PhaseRetrace")
    assert da.attrs["metadata"]["date"] == "2021-01-07"
    assert da.attrs["metadata"]["setpoint"] == pytest.approx(0.0008)


def test_channel_reads_only_its_block(ibw_dir):
    path = ibw_dir / "IgorIBWReader_ImageStack_BTFO_DSO.ibw"
    counting = CountingFile.of(path)
    tree = ibw.read_tree(counting)
    assert counting.bytes_read() < 40_000  # headers and note, not the 1 MB of data
    counting.reset()
    phase = tree["PhaseRetrace"]["PhaseRetrace"].values
    assert counting.bytes_read() == 256 * 256 * 4
    assert counting.reads[0][0] == 384 + 3 * 256 * 256 * 4
    np.testing.assert_array_equal(phase, np.asarray(igor2.load(str(path))["wave"]["wData"])[:, :, 3].T)


@pytest.mark.parametrize(
    "rel",
    [
        "igor_ibw/IgorIBWReader_ForceCurve.ibw",
        "igor_ibw/win-version2.ibw",
        "igor_ibw/mac-double.ibw",
        "igor_ibw/win-zeroPointWave.ibw",
    ],
)
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(rel, store, shared_data, tmp_path):
    tree = pycrox.open_tree(shared_data / "vendor" / rel).load()
    for index, da in enumerate(model.signal_nodes(tree).values()):
        target = tmp_path / f"s{index}.{'zarr' if store == 'zarr' else 'h5'}"
        if store == "usid" and 0 in da.shape:
            with pytest.raises(ModelError, match="empty"):  # USID derives sizes from index values
                pycrox.to_usid(da, target)
            continue
        getattr(pycrox, f"to_{store}")(da, target)
        with pycrox.open(target) as back:
            assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic waves


def _ibw5(
    data: np.ndarray,
    *,
    order: str = "<",
    labels: list[str] | None = None,
    note: bytes = b"",
    units: str = "nm",
    scale: float = 0.5,
    offset: float = -1.0,
) -> bytes:
    """A version-5 wave of `data` (C order, Igor dims reversed) as WaveMetrics TN003 describes it."""
    codes = {"f4": 2, "f8": 4, "i1": 8, "i2": 0x10, "i4": 0x20, "u1": 0x48, "u2": 0x50, "c8": 3, "c16": 5}
    igor_shape = list(data.shape[::-1]) + [0] * (4 - data.ndim)
    raw = np.ascontiguousarray(data).astype(data.dtype.newbyteorder(order)).tobytes()
    label_block = b"".join(s.encode().ljust(32, b"\0") for s in [""] + (labels or [])) if labels else b""
    label_sizes = [0, 0, 0, 0]
    if labels:
        label_sizes[data.ndim - 1] = len(label_block)
    wave = bytearray(320)
    struct.pack_into(order + "i", wave, 12, data.size)
    struct.pack_into(order + "h", wave, 16, codes[data.dtype.str[1:]])
    wave[28:32] = b"syn\0"
    struct.pack_into(order + "4i", wave, 68, *igor_shape)
    struct.pack_into(order + "4d", wave, 84, *([scale] * 4))
    struct.pack_into(order + "4d", wave, 116, *([offset] * 4))
    for axis in range(4):
        wave[152 + 4 * axis : 152 + 4 * axis + len(units)] = units.encode()
    binh = bytearray(
        struct.pack(
            order + "hhiiii4i4iiii", 5, 0, 320 + len(raw), 0, len(note), 0, 0, 0, 0, 0, *label_sizes, 0, 0, 0
        )
    )
    total = int(np.frombuffer(bytes(binh) + bytes(wave), order + "i2").astype(np.int64).sum())
    struct.pack_into(order + "h", binh, 2, (-total + 32768) % 65536 - 32768)
    return bytes(binh) + bytes(wave) + raw + note + label_block


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("dtype", ["f4", "f8", "i1", "i2", "i4", "u1", "u2", "c8", "c16"])
def test_every_type_and_byte_order(tmp_path, order, dtype):
    data = (np.arange(12).reshape(3, 4) * (1 + 1j if dtype.startswith("c") else 1)).astype(dtype)
    path = tmp_path / f"w_{dtype}.ibw"
    path.write_bytes(_ibw5(data, order=order))
    da = pycrox.open(path)
    assert da.dtype == np.dtype(dtype)  # native byte order
    assert da.dims == ("y", "x")
    np.testing.assert_array_equal(da.values, data)
    np.testing.assert_allclose(da.x.values, -1.0 + 0.5 * np.arange(4))
    assert da.x.attrs["units"] == "nm"


def test_labelled_layers_become_signals_and_note_lines_metadata(tmp_path):
    data = np.random.default_rng(0).normal(size=(2, 3, 5)).astype("f4")
    note = b"ScanRate: 1.5\rDate: 2024-03-09\rTime: 10:11:12 AM\rImagingMode:AC Mode\r"
    path = tmp_path / "layers.ibw"
    path.write_bytes(_ibw5(data, labels=["Height", "Phase"], note=note))
    tree = pycrox.open_tree(path)
    assert [p.strip("/") for p in model.signal_nodes(tree)] == ["Height", "Phase"]
    np.testing.assert_array_equal(tree["Phase"]["Phase"].values, data[1])
    meta = tree["Height"]["Height"].attrs["metadata"]
    assert meta["scan_rate"] == {"value": 1.5, "units": "Hz"}
    assert meta["date"] == "2024-03-09"
    assert tree["Height"]["Height"].attrs["original_metadata"]["note"]["ImagingMode"] == "AC Mode"


def test_unlabelled_3d_wave_is_one_signal(tmp_path):
    data = np.arange(2 * 3 * 4, dtype="f4").reshape(2, 3, 4)
    path = tmp_path / "cube.ibw"
    path.write_bytes(_ibw5(data))
    da = pycrox.open(path)
    assert da.dims == ("z", "y", "x")
    np.testing.assert_array_equal(da.values, data)


def test_igor2_reads_the_synthetic_wave_as_we_do(tmp_path):
    data = np.arange(6, dtype=">f8").reshape(2, 3)
    path = tmp_path / "be.ibw"
    path.write_bytes(_ibw5(data, order=">"))
    np.testing.assert_array_equal(
        np.asarray(igor2.load(str(path))["wave"]["wData"]).T, pycrox.open(path).values
    )


# --------------------------------------------------------------------------- bad input


def test_guess_claims_only_waves(ibw_dir, tmp_path):
    assert ibw.guess_can_open(ibw_dir / "win-version5.ibw")
    (tmp_path / "x.ibw").write_bytes(b"\x07\x00" + bytes(400))
    assert not ibw.guess_can_open(tmp_path / "x.ibw")


def test_bad_checksum_names_the_file(ibw_dir, tmp_path):
    raw = bytearray((ibw_dir / "win-version5.ibw").read_bytes())
    raw[100] ^= 0xFF
    (tmp_path / "bad.ibw").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"bad\.ibw:bytes 0\.\.384: header checksum"):
        ibw.read_tree(tmp_path / "bad.ibw")


def test_truncated_data_names_the_file(ibw_dir, tmp_path):
    raw = (ibw_dir / "IgorIBWReader_ForceCurve.ibw").read_bytes()
    (tmp_path / "cut.ibw").write_bytes(raw[:5000])
    with pytest.raises(FormatError, match=r"cut\.ibw.*truncated"):
        ibw.read_tree(tmp_path / "cut.ibw")


def test_text_wave_is_refused(tmp_path):
    data = np.zeros(3, "f4")
    raw = bytearray(_ibw5(data))
    struct.pack_into("<h", raw, 64 + 16, 0)  # type 0: text
    struct.pack_into("<h", raw, 2, 0)
    total = int(np.frombuffer(bytes(raw[:384]), "<i2").astype(np.int64).sum())
    struct.pack_into("<h", raw, 2, (-total + 32768) % 65536 - 32768)
    (tmp_path / "text.ibw").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="text wave"):
        ibw.read_tree(tmp_path / "text.ibw")


def test_data_stay_lazy(ibw_dir):
    ds = xr.open_dataset(
        ibw_dir / "IgorIBWReader_P0089OP0027.ibw", engine=IgorIBWBackendEntrypoint, group="HeightRetrace"
    )
    assert not isinstance(ds["HeightRetrace"].variable._data, np.ndarray)


def test_fsspec_url_reads_like_the_path(ibw_dir):
    fsspec = pytest.importorskip("fsspec")
    url = "memory://ibw-test/force.ibw"
    with fsspec.open(url, "wb") as fh:
        fh.write((ibw_dir / "IgorIBWReader_ForceCurve.ibw").read_bytes())
    remote = pycrox.open(url, group="ZSnsr").load()
    local = pycrox.open(ibw_dir / "IgorIBWReader_ForceCurve.ibw", group="ZSnsr").load()
    assert_lossless(remote, local)
