"""Anasys AXZ reader: manifest corpus through every door, SciFiReaders values, synthetic file, bad input."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.anasys_axz import AnasysAXZBackendEntrypoint
from pycrox.readers.anasys_axz import reader as axz
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, check, manifest_files

NAME = "PEA_BDA_film.axz"


@pytest.fixture(scope="module")
def axz_path(shared_data: Path) -> Path:
    return shared_data / "vendor" / "anasys_axz" / NAME


@pytest.fixture(scope="module")
def signals(axz_path):
    return model.signal_nodes(pycrox.open_tree(axz_path))


def _write_axz(path: Path, data: np.ndarray, spectrum: np.ndarray) -> None:
    b64 = base64.b64encode(data.astype("<f4").tobytes()).decode()
    s64 = base64.b64encode(spectrum.astype("<f4").tobytes()).decode()
    nx, ny = data.shape
    xml = f"""<?xml version="1.0" encoding="utf-16"?>
<Document xmlns="www.anasysinstruments.com" Version="1.0"><HeightMaps>
<HeightMap Label="Height 1" DataChannel="height"><Position><X>1</X><Y>2</Y></Position><Size><X>4</X><Y>2</Y></Size>
<Resolution><X>{nx}</X><Y>{ny}</Y></Resolution><Units>m</Units><UnitPrefix>n</UnitPrefix>
<Tags><Tag Name="ScanRate" Value="0.5 Hz"/><Tag Name="Setpoint" Value="-0.5 V"/></Tags>
<TimeStamp>2024-01-12T13:37:28.22-05:00</TimeStamp><SampleBase64>{b64}</SampleBase64></HeightMap></HeightMaps>
<RenderedSpectra><IRRenderedSpectra><Label>Spectrum 1</Label><DataPoints>{spectrum.size}</DataPoints>
<StartWavenumber>1000</StartWavenumber><EndWavenumber>1100</EndWavenumber><Location><X>3</X><Y>4</Y></Location>
<DataChannels Name="IR-Amplitude"><SampleBase64>{s64}</SampleBase64></DataChannels></IRRenderedSpectra>
</RenderedSpectra></Document>"""
    path.write_bytes(gzip.compress(xml.encode("utf-16")))


def _doors() -> list:
    # pycrox.open / xr.open_dataset open the file once per node (83 nodes): slow, so marked
    return [d if d == "open_tree" else pytest.param(d, marks=pytest.mark.slow) for d in DOORS]


@pytest.mark.parametrize("door", _doors())
@pytest.mark.parametrize("rel", manifest_files("anasys_axz/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, AnasysAXZBackendEntrypoint) == []


def test_height_maps_equal_scifireaders(axz_path, signals):
    scifi = pytest.importorskip("SciFiReaders")
    ref = scifi.AxzReader(str(axz_path)).read()
    images = [d for d in ref.values() if d.ndim == 2]
    assert len(images) == 68
    for ds in images[:5]:
        np.testing.assert_array_equal(signals[f"/{ds.title}"].values, np.asarray(ds))


def test_spectra_carry_wavenumbers_and_positions(signals):
    spectrum = signals["/Spectrum 1 IR-Amplitude"]
    assert spectrum.dims == ("wavenumber",)
    assert spectrum.wavenumber.attrs["units"] == "1/cm"
    assert float(spectrum.wavenumber[0]) == 2200
    assert float(spectrum.wavenumber[-1]) == 3200
    assert float(spectrum.x) == pytest.approx(6.382)
    assert spectrum.x.attrs["units"] == "µm"
    height = signals["/Height 1"]
    assert height.attrs["units"] == "nm"
    assert height.attrs["metadata"]["scan_rate"] == {"value": 1.0, "units": "Hz"}


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(store, signals, tmp_path):
    da = signals["/Height 1"].load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_synthetic_file(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    spectrum = np.linspace(0, 1, 11, dtype=np.float32)
    _write_axz(tmp_path / "s.axz", data, spectrum)
    found = model.signal_nodes(pycrox.open_tree(tmp_path / "s.axz"))
    height = found["/Height 1"]
    np.testing.assert_array_equal(height.values, data)
    assert height.dims == ("x", "y")
    np.testing.assert_allclose(height.x.values, 1 - 2 + 1.0 * np.arange(4))
    assert height.attrs["metadata"]["setpoint"] == -0.5
    ir = found["/Spectrum 1 IR-Amplitude"]
    np.testing.assert_array_equal(ir.values, spectrum)
    np.testing.assert_allclose(ir.wavenumber.values, np.linspace(1000, 1100, 11))


def test_bad_input_names_the_file(tmp_path):
    data = np.zeros((4, 3), np.float32)
    _write_axz(tmp_path / "ok.axz", data, np.zeros(3, np.float32))
    raw = (tmp_path / "ok.axz").read_bytes()
    (tmp_path / "cut.axz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(FormatError, match=r"cut\.axz.*truncated"):
        axz.read_tree(tmp_path / "cut.axz")
    (tmp_path / "plain.axz").write_bytes(b"not gzip at all")
    with pytest.raises(FormatError, match=r"plain\.axz"):
        axz.read_tree(tmp_path / "plain.axz")
    assert not axz.guess_can_open(tmp_path / "plain.axz")
    assert axz.guess_can_open(tmp_path / "ok.axz")


def test_reopening_a_file_does_not_share_data(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(4, 3)
    _write_axz(tmp_path / "s.axz", data, np.zeros(3, np.float32))
    first = pycrox.open(tmp_path / "s.axz", group="Height 1")
    first.values[:] = -1.0
    again = pycrox.open(tmp_path / "s.axz", group="Height 1")
    np.testing.assert_array_equal(again.values, data)
    _write_axz(tmp_path / "s.axz", data + 1, np.zeros(3, np.float32))  # changed file: read again
    np.testing.assert_array_equal(pycrox.open(tmp_path / "s.axz", group="Height 1").values, data + 1)
