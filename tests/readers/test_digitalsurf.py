"""Digital Surf reader: manifest corpus through every door, rosettasciio values, synthetic SUR, bad input."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.digitalsurf import DigitalSurfBackendEntrypoint, _header
from pycrox.readers.digitalsurf import reader as sur
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

NAMES = ["test_profile.pro", "test_spectral_map.sur", "test_surface.sur"]


@pytest.fixture(scope="module")
def sur_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "digitalsurf"


def _only(path):
    (da,) = model.signal_nodes(pycrox.open_tree(path)).values()
    return da


def _write_sur(
    path: Path,
    raw: np.ndarray,
    *,
    obj_type: int = 2,
    zmin: int = 0,
    zspacing: float = 0.5,
    zoffset: float = 10.0,
    special: int = 0,
    compressed: bool = False,
    comment: str = "",
    objects: int = 1,
) -> None:
    ny, nx = raw.shape
    fields = {name: 0 for name, _ in _header._FIELDS}
    fields.update(
        {
            "Signature": b"DSCOMPRESSED" if compressed else b"DIGITAL SURF",
            "Number_of_Objects": objects,
            "Object_Type": obj_type,
            "Object_Name": b"synthetic",
            "Operator_Name": b"tester",
            "P_Size": 1,
            "Special_Points": special,
            "Size_of_Points": 32,
            "Zmin": zmin,
            "Number_of_Points": nx,
            "Number_of_Lines": ny,
            "Total_Nb_of_Pts": nx * ny,
            "X_Spacing": 0.25,
            "Y_Spacing": 0.5,
            "Z_Spacing": zspacing,
            "Name_of_Z_Axis": b"Height",
            "X_Step_Unit": b"um",
            "Y_Step_Unit": b"um",
            "Z_Step_Unit": b"nm",
            "Z_Unit_Ratio": 1.0,
            "Z_Offset": zoffset,
            "Year": 2021,
            "Month": 4,
            "Day": 9,
            "Hours": 13,
            "Minutes": 5,
            "Seconds": 7,
            "Comment_size": len(comment),
            "X_Unit_Ratio": 1.0,
            "Y_Unit_Ratio": 1.0,
        }
    )
    for name, fmt in _header._FIELDS:
        if fmt.endswith("s") and not isinstance(fields[name], bytes):
            fields[name] = b""
    header = _header._STRUCT.pack(*(fields[name] for name, _ in _header._FIELDS))
    points = raw.astype("<i4").tobytes()
    if compressed:
        zipped = zlib.compress(points)
        points = struct.pack("<III", 1, len(raw.tobytes()), len(zipped)) + zipped
    path.write_bytes((header + comment.encode("latin-1") + points) * objects)


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("digitalsurf/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, DigitalSurfBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("digitalsurf/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", NAMES)
def test_values_and_axes_equal_rosettasciio(sur_dir, name):
    rsciio = pytest.importorskip("rsciio.digitalsurf")
    (ref,) = rsciio.file_reader(str(sur_dir / name))
    da = _only(sur_dir / name)
    np.testing.assert_array_equal(da.values, ref["data"])
    for dim, axis in zip(da.dims, ref["axes"], strict=True):
        assert float(da[dim][0]) == pytest.approx(axis["offset"])
        assert float(da[dim][1] - da[dim][0]) == pytest.approx(axis["scale"])


def test_spectral_map_layout_and_cl_metadata(sur_dir):
    da = _only(sur_dir / "test_spectral_map.sur")
    assert da.dims == ("y", "x", "wavelength")
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    meta = da.attrs["metadata"]
    assert meta["beam_energy"] == {"value": pytest.approx(4.996), "units": "keV"}
    assert meta["magnification"] == pytest.approx(12390.080078)
    assert da.attrs["original_metadata"]["comment"]["SEM"]["Beam Energy"] == "4996.00 V"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(name, store, sur_dir, tmp_path):
    da = _only(sur_dir / name).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic files


@pytest.mark.parametrize("compressed", [False, True])
def test_synthetic_surface_scaling_and_missing_points(tmp_path, compressed):
    raw = np.arange(12, dtype=np.int32).reshape(3, 4) + 5
    raw[1, 2] = 5 - 2  # Zmin - 2: not measured
    _write_sur(
        tmp_path / "s.sur", raw, zmin=5, special=1, compressed=compressed, comment="$_Info\n$Operator = me\n"
    )
    da = _only(tmp_path / "s.sur")
    expected = (raw - 5) * 0.5 + 10.0
    expected[1, 2] = np.nan
    np.testing.assert_array_equal(da.values, expected)
    assert da.dims == ("y", "x")
    assert da.attrs["units"] == "nm"
    np.testing.assert_allclose(da.x.values, 0.25 * np.arange(4))
    np.testing.assert_allclose(da.y.values, 0.5 * np.arange(3))
    meta = da.attrs["metadata"]
    assert (meta["date"], meta["time"], meta["operator"]) == ("2021-04-09", "13:05:07", "tester")


def test_surface_series_stacks_the_objects(tmp_path):
    raw = np.arange(6, dtype=np.int32).reshape(2, 3)
    _write_sur(tmp_path / "series.sur", raw, obj_type=5, objects=3)
    da = _only(tmp_path / "series.sur")
    assert da.dims == ("frame", "y", "x")
    np.testing.assert_array_equal(da.values, np.stack([raw * 0.5 + 10.0] * 3))


def test_uncompressed_points_stay_in_the_file(tmp_path):
    raw = np.arange(200 * 150, dtype=np.int32).reshape(200, 150)
    _write_sur(tmp_path / "big.sur", raw)
    fh = CountingFile.of(tmp_path / "big.sur")
    tree = sur.read_tree(fh)
    assert fh.bytes_read() < raw.nbytes / 4
    (da,) = model.signal_nodes(tree).values()
    np.testing.assert_array_equal(da[10:12].values, raw[10:12] * 0.5 + 10.0)


# --------------------------------------------------------------------------- bad input


def test_bad_signature_and_truncation_name_the_file(tmp_path, sur_dir):
    (tmp_path / "bad.sur").write_bytes(b"NOT A SURF!!" + b"\x00" * 600)
    with pytest.raises(FormatError, match=r"bad\.sur:offset 0"):
        sur.read_tree(tmp_path / "bad.sur")
    raw = (sur_dir / "test_spectral_map.sur").read_bytes()
    (tmp_path / "cut.sur").write_bytes(raw[:-1000])
    with pytest.raises(FormatError, match=r"cut\.sur:offset \d+.*truncated"):
        sur.read_tree(tmp_path / "cut.sur")
    assert not sur.guess_can_open(tmp_path / "bad.sur")
    assert sur.guess_can_open(sur_dir / "test_surface.sur")
