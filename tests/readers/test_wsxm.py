"""WSxM reader: manifest corpus through every door, SciFiReaders values, synthetic files, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.wsxm import WSxMBackendEntrypoint
from pycrox.readers.wsxm import reader as wsxm
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

TOP = "WSxM2DReader_jumpingmodeimage_0002_Topography.f.dy.top"
CURVES = "WSxM1DReader_spectrocurve_0001_Amplitude.f.curves"


@pytest.fixture(scope="module")
def wsxm_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "wsxm"


def _image_file(
    path: Path, raw: np.ndarray, *, dtype: str = "short", z: str = "100 nm", lo: int = 0, hi: int = 1000
) -> None:
    ny, nx = raw.shape
    body = (
        "\n[Control]\n\n    X Amplitude: 2 \u00b5m\n    Y Amplitude: 1 \u00b5m\n    Set Point: 0.5 V\n"
        "    Topography Bias: 250 mV\n    X-Frequency: 1.5 Hz\n\n[General Info]\n\n"
        "    Acquisition channel: Topography\n    Acquisition time: 17/05/2024, 11:28:39.048\n"
        f"    Image Data Type: {dtype}\n    Number of columns: {nx}\n    Number of rows: {ny}\n"
        f"    Z Amplitude: {z}\n    Force constant: 2.8 N/m\n\n[Miscellaneous]\n\n    Maximum: {hi}\n    Minimum: {lo}\n"
        "\n[Header end]\n"
    )
    first = "WSxM file copyright UAM\nSxM Image file\n"
    size = len(first) + len("Image header size: 0000\n") + len(body.encode("latin-1"))
    header = f"{first}Image header size: {size:04d}\n{body}".encode("latin-1")
    assert len(header) == size
    numpy_type = {"short": "<i2", "double": "<f8"}[dtype]
    path.write_bytes(header + raw.astype(numpy_type).tobytes())


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("wsxm/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, WSxMBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("wsxm/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_image_values_equal_scifireaders(wsxm_dir):
    scifi = pytest.importorskip("SciFiReaders")
    ref = scifi.WSxM2DReader(str(wsxm_dir / TOP)).read()
    signals = model.signal_nodes(pycrox.open_tree(wsxm_dir / TOP))
    by_title = {da.attrs["title"]: da for da in signals.values()}
    for ds in ref.values():
        np.testing.assert_allclose(by_title[ds.title].values, np.asarray(ds).T, rtol=1e-12)


def test_curves_hold_approach_and_retract(wsxm_dir):
    signals = model.signal_nodes(pycrox.open_tree(wsxm_dir / CURVES))
    curves = {k: v for k, v in signals.items() if k.startswith("/Amplitude")}
    assert len(curves) == 5
    one = curves["/Amplitude (1)"]
    assert one.dims == ("z", "direction")
    assert one.shape == (512, 2)
    assert list(one.direction_name.values) == ["approach", "retract"]
    assert one.z.attrs["units"] == "nm"
    assert one.attrs["units"] == "V"


@pytest.mark.parametrize("rel", [f"wsxm/{TOP}", f"wsxm/{CURVES}"])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(rel, store, shared_data, tmp_path):
    da = list(model.signal_nodes(pycrox.open_tree(shared_data / "vendor" / rel)).values())[-1].load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic files


def test_synthetic_image_scaling_orientation_metadata(tmp_path):
    raw = np.arange(20, dtype=np.int16).reshape(4, 5)
    _image_file(tmp_path / "a_0001.top", raw)
    da = pycrox.open(tmp_path / "a_0001.top")
    np.testing.assert_allclose(da.values, raw[::-1, ::-1] * 100 / 1000)
    assert da.dims == ("y", "x")
    assert da.attrs["units"] == "nm"
    np.testing.assert_allclose(da.x.values, 2 / 5 * np.arange(5))
    assert da.x.attrs["units"] == "µm"
    meta = da.attrs["metadata"]
    assert meta["date"] == "2024-05-17"
    assert meta["time"] == "11:28:39"
    assert meta["bias"] == {"value": 0.25, "units": "V"}
    assert meta["scan_rate"] == {"value": 1.5, "units": "Hz"}
    assert meta["spring_constant"] == {"value": 2.8, "units": "N/m"}
    assert meta["setpoint"] == 0.5


def test_double_images_are_in_z_units_and_lazy(tmp_path):
    raw = np.linspace(0, 1, 300 * 200).reshape(300, 200)
    _image_file(tmp_path / "d.top", raw, dtype="double", z="1 V")
    fh = CountingFile.of(tmp_path / "d.top")
    tree = wsxm.read_tree(fh)
    assert fh.bytes_read() < raw.nbytes / 4
    (da,) = model.signal_nodes(tree).values()
    np.testing.assert_array_equal(da.values, raw[::-1, ::-1])


def test_channels_of_one_measurement_are_read_together(tmp_path):
    _image_file(tmp_path / "m_0003.top", np.ones((2, 2)))
    _image_file(tmp_path / "m_0003.ch1", np.zeros((2, 2)))
    _image_file(tmp_path / "m_0004.top", np.zeros((2, 2)))
    assert len(model.signal_nodes(pycrox.open_tree(tmp_path / "m_0003.top"))) == 2


# --------------------------------------------------------------------------- bad input


def test_bad_magic_and_truncation_name_the_file(tmp_path):
    (tmp_path / "bad.top").write_bytes(b"WSxM file copyleft\n" + b"x" * 100)
    with pytest.raises(FormatError, match=r"bad\.top:offset 0"):
        wsxm.read_tree(tmp_path / "bad.top")
    _image_file(tmp_path / "cut.top", np.ones((40, 40)))
    raw = (tmp_path / "cut.top").read_bytes()
    (tmp_path / "cut.top").write_bytes(raw[:-100])
    with pytest.raises(FormatError, match=r"cut\.top:offset \d+.*truncated"):
        wsxm.read_tree(tmp_path / "cut.top")
    assert not wsxm.guess_can_open(tmp_path / "bad.top")
