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
    da = pycrox.open(mdt_path)
    assert da.attrs["title"] == ref[0].title == "1F:Iprobe"
    np.testing.assert_allclose(da.values, np.asarray(ref[0]).T, rtol=1e-12)
    assert da.attrs["units"] == "nA"
    assert da.x.attrs["units"] == "µm"
    assert float(da.x[1] - da.x[0]) == pytest.approx(0.011767974683082529)
    assert float(da.x[0]) == pytest.approx(52.59741801320808)


def test_metadata_from_the_frame_parameters(mdt_path):
    da = pycrox.open(mdt_path)
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
    assert fh.bytes_read() < 200_000  # the image is 512 KiB, the file 2 MB
    (da,) = model.signal_nodes(tree).values()
    fh.reset()
    assert np.isfinite(da.values).all()
    assert fh.bytes_read() >= 256 * 256 * 8


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(store, mdt_path, tmp_path):
    da = pycrox.open(mdt_path).load()
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
