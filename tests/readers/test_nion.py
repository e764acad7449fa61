"""Nion Swift reader: corpus .ndata files through three doors, synthetic layouts, laziness, bad input."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.errors import FormatError
from pycrox.readers.nion import NionBackendEntrypoint
from pycrox.readers.nion import reader as nion
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

FILES = manifest_files("nion/")


@pytest.fixture(scope="module")
def nion_dir(shared_data) -> Path:
    return shared_data / "vendor" / "nion"


def _properties(**overrides) -> dict:
    base = {
        "type": "data-item",
        "title": "synthetic",
        "created": "2021-03-04T23:30:00.000000",
        "timezone_offset": "+0100",
        "is_sequence": False,
        "collection_dimension_count": 0,
        "datum_dimension_count": 2,
        "intensity_calibration": {"offset": 0.0, "scale": 1.0, "units": "counts"},
        "dimensional_calibrations": [{"offset": 0.0, "scale": 1.0, "units": ""}] * 2,
        "metadata": {},
    }
    return {**base, **overrides}


def _ndata(path: Path, data: np.ndarray, properties: dict, *, compression: int = zipfile.ZIP_STORED) -> Path:
    buffer = io.BytesIO()
    np.save(buffer, data)
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        zf.writestr("data.npy", buffer.getvalue())
        zf.writestr("metadata.json", json.dumps(properties))
    return path


# ----------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_matches_manifest(rel, door):
    assert check(rel, door, NionBackendEntrypoint) == []


@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_corpus_file_agrees_with_a_direct_zip_decode(nion_dir):
    for path in sorted(nion_dir.glob("*.ndata")):
        with zipfile.ZipFile(path) as zf:
            expected = np.load(io.BytesIO(zf.read("data.npy")))
            properties = json.loads(zf.read("metadata.json"))
        da = pycrox.open(path)
        np.testing.assert_array_equal(da.values, expected)
        assert da.name == properties["title"]
        assert da.dims == ("y", "x")
        assert da.x.attrs["units"] == properties["dimensional_calibrations"][1]["units"]
        assert da.attrs["original_metadata"]["uuid"] == properties["uuid"]
        assert da.attrs["metadata"]["date"] == properties["created"][:10]


def test_open_reads_only_headers_and_a_row_reads_one_row(nion_dir):
    path = min(nion_dir.glob("*.ndata"))
    fh = CountingFile.of(path)
    da = pycrox.open(fh)
    assert fh.bytes_read() < 8_000  # central directory, metadata.json, .npy header; data hold 1.4 MB
    fh.reset()
    row = da.isel(y=7).values
    assert fh.bytes_read() == da.sizes["x"] * 4
    np.testing.assert_array_equal(row, pycrox.open(path).values[7])


# ----------------------------------------------------------------------------------- synthetic layouts


def test_spectrum_image_dims_and_calibrations(tmp_path):
    data = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    calibrations = [
        {"offset": -1.0, "scale": 0.5, "units": "nm"},
        {"offset": 0.0, "scale": 0.5, "units": "nm"},
        {"offset": 100.0, "scale": 2.0, "units": "eV"},
    ]
    props = _properties(
        collection_dimension_count=2,
        datum_dimension_count=1,
        dimensional_calibrations=calibrations,
        metadata={"instrument": {"high_tension": 60000.0}, "hardware_source": {"exposure": 0.01}},
    )
    da = pycrox.open(_ndata(tmp_path / "si.ndata", data, props))
    assert da.dims == ("y", "x", "energy_loss")
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert da.y.values.tolist() == [-1.0, -0.5]  # offset + index x scale
    assert da.energy_loss.values.tolist() == [100.0, 102.0, 104.0, 106.0, 108.0]
    assert da.attrs["metadata"]["beam_energy"] == {"value": 60.0, "units": "keV"}
    assert da.attrs["metadata"]["exposure_time"] == {"value": 0.01, "units": "s"}
    assert (da.attrs["metadata"]["date"], da.attrs["metadata"]["time"]) == ("2021-03-05", "00:30:00")  # UTC+1
    assert da.attrs["units"] == "counts"
    np.testing.assert_array_equal(da.values, data)


def test_sequence_of_diffraction_patterns(tmp_path):
    data = np.zeros((4, 2, 3, 6, 6), dtype=np.uint16)
    props = _properties(
        is_sequence=True,
        collection_dimension_count=2,
        datum_dimension_count=2,
        dimensional_calibrations=[{"offset": 0, "scale": 1, "units": ""}] * 5,
    )
    da = pycrox.open(_ndata(tmp_path / "seq.ndata", data, props))
    assert da.dims == ("frame", "y", "x", "ky", "kx")


def test_fortran_order_and_deflated_members(tmp_path):
    data = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    stored = pycrox.open(_ndata(tmp_path / "f.ndata", data, _properties()))
    assert stored.dims == ("y", "x")
    np.testing.assert_array_equal(stored.values, data)
    np.testing.assert_array_equal(stored.isel(x=2).values, data[:, 2])
    deflated = pycrox.open(
        _ndata(
            tmp_path / "d.ndata", np.ascontiguousarray(data), _properties(), compression=zipfile.ZIP_DEFLATED
        )
    )
    np.testing.assert_array_equal(deflated.values, data)


def test_nion_hdf5_layout(tmp_path):
    path = tmp_path / "item.h5"
    data = np.arange(20, dtype=np.float64).reshape(4, 5)
    props = _properties(dimensional_calibrations=[{"offset": 0, "scale": 2, "units": "1/nm"}] * 2)
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=data).attrs["properties"] = json.dumps(props)
    assert pycrox.io.detect_format(path) == "nion"
    da = pycrox.open(path)
    assert da.dims == ("ky", "kx")
    assert da.kx.attrs["units"] == "1/nm"
    np.testing.assert_array_equal(da.values, data)
    ds = xr.open_dataset(path, engine=NionBackendEntrypoint)
    np.testing.assert_array_equal(ds["synthetic"].values, data)
    ds.close()


def test_other_hdf5_files_are_not_claimed(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.zeros(3))
    assert not nion.guess_can_open(path)


def test_fsspec_url(nion_dir):
    path = min(nion_dir.glob("*.ndata"))
    fsspec.filesystem("memory").pipe("/pycrox-nion/item.ndata", path.read_bytes())
    remote = pycrox.open("memory://pycrox-nion/item.ndata")
    np.testing.assert_array_equal(remote.isel(y=slice(0, 3)).values, pycrox.open(path).values[:3])
    fsspec.filesystem("memory").rm("/pycrox-nion/item.ndata")


# ----------------------------------------------------------------------------------- bad input


def test_truncated_archive_raises(nion_dir, tmp_path):
    raw = min(nion_dir.glob("*.ndata")).read_bytes()
    path = tmp_path / "cut.ndata"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.ndata.*zip"):
        pycrox.open(path, engine="nion")


def test_npy_header_claiming_more_data_than_stored_raises(tmp_path):
    path = _ndata(tmp_path / "lie.ndata", np.zeros((4, 4), np.float32), _properties())
    raw = bytearray(path.read_bytes())
    at = raw.index(b"(4, 4)")
    raw[at : at + 6] = b"(40,4)"
    path.write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"lie\.ndata:offset \d+: data\.npy declares"):
        pycrox.open(path)


def test_missing_member_and_bad_json(tmp_path):
    path = tmp_path / "nojson.ndata"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.npy", b"\x93NUMPY")
    with pytest.raises(FormatError, match=r"has no .metadata\.json"):
        pycrox.open(path, engine="nion")
    bad = tmp_path / "badjson.ndata"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("data.npy", b"")
        zf.writestr("metadata.json", "{not json")
    with pytest.raises(FormatError, match="not JSON"):
        pycrox.open(bad)


def test_calibration_count_must_match_dimensions(tmp_path):
    props = _properties(dimensional_calibrations=[{"offset": 0, "scale": 1, "units": ""}] * 3)
    with pytest.raises(FormatError, match=r"3 dimensional calibrations for 2-D data"):
        pycrox.open(_ndata(tmp_path / "x.ndata", np.zeros((2, 2)), props))


def test_deflated_member_streams_only_the_rows_a_read_needs(tmp_path):
    import tracemalloc

    frames = np.zeros((64, 256, 256), dtype=np.float32)  # 16 MiB, deflates to a few KiB
    frames[:, 0, 0] = np.arange(64)
    props = _properties(
        is_sequence=True,
        datum_dimension_count=2,
        dimensional_calibrations=[{"offset": 0.0, "scale": 1.0, "units": ""}] * 3,
    )
    da = pycrox.open(_ndata(tmp_path / "stack.ndata", frames, props, compression=zipfile.ZIP_DEFLATED))
    tracemalloc.start()
    first = da.isel(frame=1).values
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert first[0, 0] == 1.0
    assert peak < frames.nbytes / 4  # two frames (and zip buffers) decompressed, not all sixteen MiB
    np.testing.assert_array_equal(da.isel(frame=-1).values, frames[-1])


def test_deflate_bomb_declaring_more_than_deflate_can_expand_is_refused(tmp_path):
    path = tmp_path / "bomb.ndata"
    header = io.BytesIO()
    np.save(header, np.zeros(0, dtype=np.uint8))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "|u1", "fortran_order": False, "shape": (2**31,)}
        )
        zf.writestr("data.npy", buffer.getvalue() + b"\0" * 2**20)
        zf.writestr(
            "metadata.json",
            json.dumps(
                _properties(
                    datum_dimension_count=1,
                    dimensional_calibrations=[{"offset": 0.0, "scale": 1.0, "units": ""}],
                )
            ),
        )
    raw = bytearray(path.read_bytes())  # make the zip directory declare 2 GiB for data.npy, as a bomb does
    size = 2**31 + len(buffer.getvalue())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        at = raw.find(sig)
        offset = 22 if sig == b"PK\x03\x04" else 24
        raw[at + offset : at + offset + 4] = size.to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(pycrox.FormatError, match="more than deflate can expand"):
        pycrox.open(path)
