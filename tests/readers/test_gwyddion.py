"""Gwyddion reader: manifest corpus through every door, gwyfile values, synthetic GWY/GSF, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import fsspec
import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.gwyddion import GwyddionBackendEntrypoint
from pycrox.readers.gwyddion import reader as gwy
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files


@pytest.fixture(scope="module")
def gwy_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "gwyddion"


# ----------------------------------------------------------------------- a small GWYP writer


def _c(name: str, kind: str, payload: bytes) -> bytes:
    return name.encode() + b"\x00" + kind.encode() + payload


def _obj(type_name: str, *components: bytes) -> bytes:
    body = b"".join(components)
    return type_name.encode() + b"\x00" + struct.pack("<I", len(body)) + body


def _unit(text: str) -> bytes:
    return _obj("GwySIUnit", _c("unitstr", "s", text.encode() + b"\x00"))


def _field(data: np.ndarray, xreal: float, yreal: float, z: str = "m", xoff: float = 0.0) -> bytes:
    ny, nx = data.shape
    return _obj(
        "GwyDataField",
        _c("xres", "i", struct.pack("<i", nx)),
        _c("yres", "i", struct.pack("<i", ny)),
        _c("xreal", "d", struct.pack("<d", xreal)),
        _c("yreal", "d", struct.pack("<d", yreal)),
        _c("xoff", "d", struct.pack("<d", xoff)),
        _c("si_unit_xy", "o", _unit("m")),
        _c("si_unit_z", "o", _unit(z)),
        _c("data", "D", struct.pack("<I", data.size) + data.astype("<f8").tobytes()),
    )


def _write_gwy(path: Path, fields: dict[int, tuple[str, np.ndarray]], mask: np.ndarray | None = None) -> None:
    comps = []
    for i, (title, data) in fields.items():
        comps.append(_c(f"/{i}/data", "o", _field(data, 2e-6, 1e-6, xoff=1e-7)))
        comps.append(_c(f"/{i}/data/title", "s", title.encode() + b"\x00"))
        meta = _obj(
            "GwyContainer",
            _c("Date", "s", b"2024-03-05\x00"),
            _c("ScanRate", "s", b"2.5 Hz\x00"),
            _c("SpringConstant", "s", b"40\x00"),
        )
        comps.append(_c(f"/{i}/meta", "o", meta))
    if mask is not None:
        comps.append(_c("/0/mask", "o", _field(mask, 2e-6, 1e-6, z="")))
    graph_curve = _obj(
        "GwyGraphCurveModel",
        _c("xdata", "D", struct.pack("<I", 3) + np.array([0.0, 1, 2]).tobytes()),
        _c("ydata", "D", struct.pack("<I", 3) + np.array([5.0, 6, 7]).tobytes()),
        _c("description", "s", b"profile\x00"),
    )
    graph = _obj(
        "GwyGraphModel",
        _c("title", "s", b"Cut\x00"),
        _c("x_unit", "o", _unit("m")),
        _c("y_unit", "o", _unit("V")),
        _c("curves", "O", struct.pack("<I", 1) + graph_curve),
    )
    comps.append(_c("/0/graph/graph/1", "o", graph))
    path.write_bytes(b"GWYP" + _obj("GwyContainer", *comps))


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("gwyddion/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, GwyddionBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("gwyddion/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", ["PTO_110_Virgin0001.gwy", "test.gwy"])
def test_values_equal_gwyfile(gwy_dir, name):
    gwyfile = pytest.importorskip("gwyfile")
    ref = gwyfile.load(str(gwy_dir / name))
    channels = gwyfile.util.get_datafields(ref)
    signals = model.signal_nodes(pycrox.open_tree(gwy_dir / name))
    by_title = {da.attrs["title"]: da for da in signals.values()}
    assert set(channels) <= set(by_title)
    for title, field in channels.items():
        da = by_title[title]
        np.testing.assert_array_equal(da.values, field.data)
        assert float(da.x[1] - da.x[0]) == pytest.approx(field["xreal"] / field["xres"])


def test_asylum_metadata_are_normalised(gwy_dir):
    da = pycrox.open(gwy_dir / "PTO_110_Virgin0001.gwy", group="HeightRetrace")
    meta = da.attrs["metadata"]
    assert meta["date"] == "2023-12-20"
    assert meta["time"] == "11:44:03"
    assert meta["scan_rate"] == {"value": 1.0016, "units": "Hz"}
    assert meta["spring_constant"] == {"value": 1.0, "units": "N/m"}
    assert da.attrs["original_metadata"]["meta"]["ImagingMode"] == "PFM Mode"
    assert da.attrs["units"] == "m"


@pytest.mark.parametrize("rel", ["gwyddion/PTO_110_Virgin0001.gwy", "gwyddion/GwiddionReader_chip.gsf"])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(rel, store, shared_data, tmp_path):
    da = next(iter(model.signal_nodes(pycrox.open_tree(shared_data / "vendor" / rel)).values())).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic files


def test_synthetic_gwy_channels_masks_graphs(tmp_path):
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    mask = (a > 0).astype(float)
    _write_gwy(tmp_path / "s.gwy", {0: ("Height", a), 1: ("Phase", b)}, mask=mask)
    signals = model.signal_nodes(pycrox.open_tree(tmp_path / "s.gwy"))
    assert set(signals) == {"/Height", "/Height_mask", "/Phase", "/Cut profile"}
    np.testing.assert_array_equal(signals["/Height"].values, a)
    np.testing.assert_array_equal(signals["/Phase"].values, b)
    np.testing.assert_array_equal(signals["/Height_mask"].values, mask)
    height = signals["/Height"]
    np.testing.assert_allclose(height.x.values, 1e-7 + 2e-6 / 6 * np.arange(6))
    np.testing.assert_allclose(height.y.values, 1e-6 / 4 * np.arange(4))
    assert height.attrs["metadata"]["scan_rate"] == {"value": 2.5, "units": "Hz"}
    assert height.attrs["metadata"]["spring_constant"] == {"value": 40.0, "units": "N/m"}
    curve = signals["/Cut profile"]
    np.testing.assert_array_equal(curve.values, [5.0, 6, 7])
    assert curve.attrs["units"] == "V"


def test_data_stay_in_the_file_until_read(tmp_path):
    data = np.arange(300 * 280, dtype=float).reshape(300, 280)
    _write_gwy(tmp_path / "big.gwy", {0: ("Z", data)})
    fh = CountingFile.of(tmp_path / "big.gwy")
    tree = gwy.read_tree(fh)
    assert fh.bytes_read() < data.nbytes / 2
    fh.reset()
    np.testing.assert_array_equal(tree["Z"]["Z"].values, data)
    assert fh.bytes_read() >= data.nbytes


def test_gsf_synthetic_and_fsspec(tmp_path):
    data = np.arange(12, dtype="<f4").reshape(3, 4)
    header = b"Gwyddion Simple Field 1.0\nXRes = 4\nYRes = 3\nXReal = 4e-6\nYReal = 3e-6\nXOffset = 1e-6\n"
    header += b"XYUnits = m\nZUnits = V\nTitle = Potential\n"
    header += b"\x00" * (4 - len(header) % 4)
    (tmp_path / "p.gsf").write_bytes(header + data.tobytes())
    with fsspec.open("memory://gsf/p.gsf", "wb") as f:
        f.write(header + data.tobytes())
    for target in (tmp_path / "p.gsf", "memory://gsf/p.gsf"):
        da = pycrox.open(target)
        np.testing.assert_array_equal(da.values, data)
        assert da.attrs["title"] == "Potential"
        assert da.attrs["units"] == "V"
        np.testing.assert_allclose(da.x.values, 1e-6 + 1e-6 * np.arange(4))


# --------------------------------------------------------------------------- bad input


def test_bad_magic_and_truncation_name_the_file(tmp_path, gwy_dir):
    (tmp_path / "bad.gwy").write_bytes(b"GWYO" + b"\x00" * 64)
    with pytest.raises(FormatError, match=r"bad\.gwy.*GWYO"):
        gwy.read_tree(tmp_path / "bad.gwy")
    raw = (gwy_dir / "test.gwy").read_bytes()
    (tmp_path / "cut.gwy").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.gwy:offset \d+"):
        gwy.read_tree(tmp_path / "cut.gwy")
    (tmp_path / "cut.gsf").write_bytes(
        b"Gwyddion Simple Field 1.0\nXRes = 4\nYRes = 3\n\x00\x00\x00" + b"\x00" * 8
    )
    with pytest.raises(FormatError, match=r"cut\.gsf.*truncated"):
        pycrox.open(tmp_path / "cut.gsf").values  # noqa: B018
    assert not gwy.guess_can_open(tmp_path / "nothing.gwy")
