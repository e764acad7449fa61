"""Bruker EDS reader: corpus .bcf/.spx through three doors, rosettasciio cross-checks, laziness, bad input."""

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
from pycrox.readers.bruker_eds import BrukerEDSBackendEntrypoint, _bcf, _bcf_unpack, _sfs
from pycrox.readers.bruker_eds import reader as bruker_eds
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

FILES = manifest_files("bruker_eds/")
BCF = [
    "16x16_12bit_packed_8bit.bcf",
    "30x30_instructively_packed_16bit_compressed.bcf",
    "P45_the_default_job.bcf",
    "over16bit.bcf",
    "test_TEM.bcf",
]


@pytest.fixture(scope="module")
def eds_dir(shared_data) -> Path:
    return shared_data / "vendor" / "bruker_eds"


@pytest.fixture(scope="module")
def rsciio_bruker():
    return pytest.importorskip("rsciio.bruker")


# ----------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_matches_manifest(rel, door):
    assert check(rel, door, BrukerEDSBackendEntrypoint) == []


@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", BCF)
def test_hypermap_and_images_equal_rosettasciio(eds_dir, rsciio_bruker, name):
    """Every packing (16-bit, 12-bit, instructed, zlib container) against the reference decoder."""
    reference = rsciio_bruker.file_reader(str(eds_dir / name))
    tree = pycrox.open_tree(eds_dir / name)
    cube = tree["EDX"]["EDX"]
    np.testing.assert_array_equal(cube.values, reference[-1]["data"])
    assert cube.dtype == reference[-1]["data"].dtype
    images = {
        signal.attrs["title"]: signal for path, signal in model.signal_nodes(tree).items() if path != "/EDX"
    }
    for item in reference[:-1]:
        np.testing.assert_array_equal(images[item["metadata"]["General"]["title"]].values, item["data"])
    energy = reference[-1]["axes"][2]
    assert cube.energy.attrs["units"] == "keV"
    assert float(cube.energy[1] - cube.energy[0]) == pytest.approx(energy["scale"])


def test_line_slices_decode_only_their_lines(eds_dir, monkeypatch):
    path = eds_dir / "P45_the_default_job.bcf"
    full = pycrox.open_tree(path)["EDX"]["EDX"].values
    calls = []
    original = _bcf.HypermapArray.decode_lines
    monkeypatch.setattr(
        _bcf.HypermapArray, "decode_lines", lambda self, a, b: calls.append((a, b)) or original(self, a, b)
    )
    cube = pycrox.open_tree(path)["EDX"]["EDX"]
    np.testing.assert_array_equal(cube.isel(y=slice(10, 20, 3), x=5).values, full[10:20:3, 5])
    np.testing.assert_array_equal(cube.isel(y=40).values, full[40])
    assert calls == [(10, 20), (40, 41)]


def test_open_does_not_decode_the_hypermap(eds_dir, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the hypermap was read at open")

    monkeypatch.setattr(_bcf.HypermapArray, "_load", refuse)
    tree = pycrox.open_tree(eds_dir / "30x30_instructively_packed_16bit_compressed.bcf")
    assert tree["EDX"]["EDX"].shape == (30, 30, 2048)


def test_bcf_metadata(eds_dir):
    cube = pycrox.open_tree(eds_dir / "test_TEM.bcf")["EDX"]["EDX"]
    md = cube.attrs["metadata"]
    assert md["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert md["elevation_angle"] == {"value": 18.0, "units": "deg"}
    assert md["magnification"] == 225000.0
    assert md["signal"] == "EDS"
    assert md["date"] == "2016-08-09"  # "9.8.2016" is day.month.year
    assert cube.x.attrs["units"] == "µm"
    assert cube.dims == ("y", "x", "energy")


def test_spx_spectrum(eds_dir, rsciio_bruker):
    path = eds_dir / "bruker_nano.spx"
    reference = rsciio_bruker.file_reader(str(path))[0]
    da = pycrox.open(path)
    np.testing.assert_array_equal(da.values, reference["data"])
    assert da.dims == ("energy",)
    assert da.attrs["data_type"] == "SPECTRUM"
    md = da.attrs["metadata"]
    detector = reference["metadata"]["Acquisition_instrument"]["SEM"]["Detector"]["EDS"]
    assert md["real_time"]["value"] == pytest.approx(detector["real_time"])
    assert md["live_time"]["value"] == pytest.approx(detector["live_time"])
    assert md["azimuth_angle"]["value"] == pytest.approx(detector["azimuth_angle"])
    assert da.attrs["original_metadata"]["Spectrum"]["CalibLin"] == pytest.approx(
        reference["axes"][0]["scale"]
    )


def test_fsspec_url_and_file_object(eds_dir):
    path = eds_dir / "over16bit.bcf"
    fsspec.filesystem("memory").pipe("/pycrox-bcf/m.bcf", path.read_bytes())
    local = pycrox.open_tree(path)["EDX"]["EDX"].values
    np.testing.assert_array_equal(pycrox.open_tree("memory://pycrox-bcf/m.bcf")["EDX"]["EDX"].values, local)
    fh = CountingFile.of(path)
    np.testing.assert_array_equal(pycrox.open(fh, group="EDX").values, local)
    fsspec.filesystem("memory").rm("/pycrox-bcf/m.bcf")


def test_backend_open_dataset_groups(eds_dir):
    path = eds_dir / "P45_the_default_job.bcf"
    ds = xr.open_dataset(path, engine=BrukerEDSBackendEntrypoint, group="BSE")
    assert list(ds.data_vars) == ["BSE"]
    assert ds["BSE"].dims == ("y", "x")
    tree = xr.open_datatree(path, engine=BrukerEDSBackendEntrypoint)
    assert sorted(model.signal_nodes(tree)) == ["/BSE", "/EDX", "/SE"]
    assert model.validate(tree) == []


# ----------------------------------------------------------------------------------- dtype and unpacking


def test_too_narrow_dtype_raises_with_a_hint(eds_dir):
    tree = bruker_eds.read_tree(eds_dir / "over16bit.bcf", hypermap_dtype="uint16")
    with pytest.raises(FormatError, match="hypermap_dtype"):
        tree["EDX"]["EDX"].values  # noqa: B018


def test_wider_dtype_gives_the_same_counts(eds_dir):
    narrow = pycrox.open_tree(eds_dir / "16x16_12bit_packed_8bit.bcf")["EDX"]["EDX"]
    wide = bruker_eds.read_tree(eds_dir / "16x16_12bit_packed_8bit.bcf", hypermap_dtype="uint32")["EDX"][
        "EDX"
    ]
    assert wide.dtype == np.uint32
    np.testing.assert_array_equal(wide.values, narrow.values)


def test_ragged_arange():
    assert _bcf_unpack.ragged_arange(np.array([3, 0, 2])).tolist() == [0, 1, 2, 0, 1]


# ----------------------------------------------------------------------------------- bad input


def test_wrong_magic(tmp_path):
    path = tmp_path / "x.bcf"
    path.write_bytes(b"NOTSFS!!" + bytes(600))
    assert not bruker_eds.guess_can_open(path)
    with pytest.raises(FormatError, match=r"x\.bcf:offset 0"):
        bruker_eds.read_tree(path)


def test_truncated_bcf_raises(eds_dir, tmp_path):
    raw = (eds_dir / "P45_the_default_job.bcf").read_bytes()
    path = tmp_path / "cut.bcf"
    path.write_bytes(raw[:200_000])
    with pytest.raises(FormatError, match=r"cut\.bcf"):
        pycrox.open_tree(path)["EDX"]["EDX"].values  # noqa: B018


def test_lying_chunk_size_raises(eds_dir, tmp_path):
    raw = bytearray((eds_dir / "over16bit.bcf").read_bytes())
    struct.pack_into("<I", raw, 0x128, 2**30)  # chunk size
    path = tmp_path / "lie.bcf"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"lie\.bcf:offset 0x124: implausible SFS chunk size"):
        pycrox.open_tree(path)


def test_lying_file_size_in_the_file_table_raises(eds_dir, tmp_path):
    raw = bytearray((eds_dir / "P45_the_default_job.bcf").read_bytes())
    (chunksize,) = struct.unpack_from("<I", raw, 0x128)
    tree_chunk, n_entries = struct.unpack_from("<II", raw, 0x140)
    table = 0x138 + tree_chunk * chunksize
    entry = next(
        table + 512 * i
        for i in range(n_entries)
        if raw[table + 512 * i + 224 :].startswith(b"SpectrumData0\x00")
    )
    struct.pack_into("<Q", raw, entry + 4, 2**40)  # the file's size
    path = tmp_path / "huge.bcf"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"SpectrumData0 claims 1099511627776 bytes"):
        pycrox.open_tree(path)["EDX"]["EDX"].values  # noqa: B018


def test_damaged_hypermap_stream_raises_on_access(eds_dir, tmp_path):
    raw = bytearray((eds_dir / "P45_the_default_job.bcf").read_bytes())
    container = _sfs.SFSContainer(pycrox.sources.open_source(eds_dir / "P45_the_default_job.bcf"))
    with _sfs._Reader(container.source) as reader:  # where the stream's first chunk lies
        first_chunk = int(container._pointers(reader, container.entry("EDSDatabase/SpectrumData0"))[0])
    assert struct.unpack_from("<ii", raw, first_chunk) == (75, 100)
    struct.pack_into("<ii", raw, first_chunk, 999, 999)  # map height/width
    path = tmp_path / "damaged.bcf"
    path.write_bytes(bytes(raw))
    cube = pycrox.open_tree(path)["EDX"]["EDX"]
    with pytest.raises(
        FormatError, match=r"damaged\.bcf:EDSDatabase/SpectrumData0 offset 0: the hypermap is 999"
    ):
        cube.values  # noqa: B018


def test_malformed_spx(tmp_path):
    path = tmp_path / "bad.spx"
    path.write_bytes(b'<?xml version="1.0"?><TRTSpectrum><ClassInstance Type="TRTSpectrum">')
    assert bruker_eds.guess_can_open(path)
    with pytest.raises(FormatError, match=r"bad\.spx:XML: the XML is not well formed"):
        pycrox.open(path)
