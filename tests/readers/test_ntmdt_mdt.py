"""NT-MDT MDT reader: manifest corpus through every door, SciFiReaders values, laziness, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.ntmdt_mdt import NTMDTBackendEntrypoint
from pycrox.readers.ntmdt_mdt import reader as mdt
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

NAME = "test_mdt.mdt"
IMAGE, CURVES = "1F:Iprobe", "I_(BV)"


@pytest.fixture(scope="module")
def mdt_path(shared_data: Path) -> Path:
    return shared_data / "vendor" / "ntmdt_mdt" / NAME


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("ntmdt_mdt/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, NTMDTBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("ntmdt_mdt/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_image_equals_scifireaders_and_is_calibrated(mdt_path):
    scifi = pytest.importorskip("SciFiReaders")
    ref = [d for d in scifi.MDTReader(str(mdt_path)).read().values() if hasattr(d, "title")]
    da = pycrox.open(mdt_path, group=IMAGE)
    assert da.attrs["title"] == ref[0].title == "1F:Iprobe"
    np.testing.assert_allclose(da.values, np.asarray(ref[0]).T, rtol=1e-12)
    assert da.attrs["units"] == "nA"
    assert da.x.attrs["units"] == "µm"
    assert float(da.x[1] - da.x[0]) == pytest.approx(0.011767974683082529)
    assert float(da.x[0]) == pytest.approx(52.59741801320808)


def test_metadata_from_the_frame_parameters(mdt_path):
    da = pycrox.open(mdt_path, group=IMAGE)
    meta = da.attrs["metadata"]
    assert meta["date"] == "2022-12-26"
    assert meta["time"] == "16:55:45"
    assert meta["spring_constant"] == {"value": 2.043, "units": "N/m"}
    assert meta["microscope"] == "NtegraEx"
    assert da.attrs["original_metadata"]["parameters"]["FrameComment"]["Parameters"]
    frames = pycrox.open_tree(mdt_path).attrs["original_metadata"]["frames"]
    assert [f["type"] for f in frames] == [3, 106, 190]


def test_data_stay_in_the_file_until_read(mdt_path):
    fh = CountingFile.of(mdt_path)
    tree = mdt.read_tree(fh)
    assert fh.bytes_read() < 200_000  # the image is 512 KiB, the curves 1.4 MB, the file 2 MB
    signals = model.signal_nodes(tree)
    fh.reset()
    assert np.isfinite(signals[f"/{IMAGE}"].values).all()
    assert fh.bytes_read() >= 256 * 256 * 8
    fh.reset()
    assert np.isfinite(signals[f"/{CURVES}"].values).all()
    assert fh.bytes_read() >= 150 * 587 * 8


def test_curve_frame_equals_scifireaders(mdt_path):
    """The 25 positions x 3 passes x 2 directions of the I(V) frame, as SciFiReaders reads them.

    SciFiReaders strings a position's six curves together in the file's order (forward list, then
    backward list), each against ``linspace(start, stop) - value`` (flipped for inverted curves);
    pycrox puts each curve in the axis order on ``linspace(start, stop)``: the same (bias, current)
    pairs, the bias shifted by the axis value (the file marks these curves as not relative).
    """
    scifi = pytest.importorskip("SciFiReaders")
    ref = scifi.MDTReader(str(mdt_path)).read()["002_Point_Cloud"]
    da = pycrox.open(mdt_path, group=CURVES)
    assert da.dims == ("position", "cycle", "direction", "bias")
    assert da.shape == (25, 3, 2, 587)
    assert da.attrs["units"] == "nA"
    assert da.bias.attrs["units"] == "V"
    index = da.attrs["original_metadata"]["frame"]
    value = -0.000144460000000102
    assert float(da.bias[0]) == pytest.approx(2.99987324)
    values = da.values
    for p in range(25):
        point = ref[f"point_{p}"]
        x, y = np.asarray(point.x), np.asarray(point)[:, 0]
        assert da.x.values[p] == pytest.approx(point.metadata["coordinate"][0])
        for k, (d, c) in enumerate((d, c) for d in (0, 1) for c in range(3)):
            xs, ys = x[k * 587 : (k + 1) * 587] + value, y[k * 587 : (k + 1) * 587]
            order = np.argsort(xs)
            ours = np.argsort(da.bias.values)
            np.testing.assert_allclose(xs[order], da.bias.values[ours], atol=1e-9)
            np.testing.assert_allclose(ys[order], values[p, c, d][ours], rtol=1e-12)
    assert index["type"] == 190


def test_curve_frame_metadata(mdt_path):
    da = pycrox.open(mdt_path, group=CURVES)
    assert da.attrs["title"] == CURVES
    assert da.attrs["metadata"]["date"] == "2022-12-26"
    assert da.attrs["metadata"]["spring_constant"] == {"value": 2.043, "units": "N/m"}
    np.testing.assert_allclose(da.y.values[:2], [62.0752357135135, 62.313083735656])
    assert da.x.attrs["units"] == "µm"
    assert list(da.direction_name.values) == ["forward", "backward"]


@pytest.mark.parametrize("group", [IMAGE, CURVES])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(store, group, mdt_path, tmp_path):
    da = pycrox.open(mdt_path, group=group).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_bad_magic_and_truncation_name_the_file(tmp_path, mdt_path):
    (tmp_path / "bad.mdt").write_bytes(b"\x00" * 64)
    with pytest.raises(FormatError, match=r"bad\.mdt:offset 0"):
        mdt.read_tree(tmp_path / "bad.mdt")
    raw = mdt_path.read_bytes()
    (tmp_path / "cut.mdt").write_bytes(raw[:300_000])
    with pytest.raises(FormatError, match=r"cut\.mdt:offset \d+.*truncated"):
        mdt.read_tree(tmp_path / "cut.mdt")
    assert not mdt.guess_can_open(tmp_path / "bad.mdt")
