"""Renishaw WDF reader: the corpus through every door, axes, metadata, white light, laziness, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.renishaw import RenishawBackendEntrypoint
from pycrox.readers.renishaw import reader as wdf
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

CORPUS = ("linescan", "map", "spectrum", "timeseries")
#: rosettasciio gives the time axis of series in "ns" while WiRE stores Windows FILETIME ticks of
#: 100 ns: its times are 100 times too small (docs/formats/renishaw.md); we follow the file.
TIME_UNIT_DISAGREEMENT = "renishaw/renishaw_test_timeseries.wdf"


@pytest.fixture(scope="module")
def wdf_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "renishaw"


def _path(wdf_dir: Path, kind: str) -> Path:
    return wdf_dir / f"renishaw_test_{kind}.wdf"


def _spectra(path: Path):
    return pycrox.open(path, group=f"renishaw_test_{path.stem.rsplit('_', 1)[-1]}")


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("renishaw/"))
def test_manifest_entry_matches(rel, door, shared_data):
    fails = check(rel, door, RenishawBackendEntrypoint)
    if rel == TIME_UNIT_DISAGREEMENT:
        # the one documented disagreement: the time step is 100 x the manifest's (FILETIME ticks)
        assert len(fails) == 1, fails
        assert "axis 'time' scale 3.0665045e+09 != 30665045 ns" in fails[0]
    else:
        assert fails == []


@pytest.mark.parametrize("rel", manifest_files("renishaw/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("kind", CORPUS)
def test_data_equal_rosettasciio(wdf_dir, kind):
    rsciio = pytest.importorskip("rsciio.renishaw")
    signals = rsciio.file_reader(str(_path(wdf_dir, kind)))
    da = _spectra(_path(wdf_dir, kind))
    np.testing.assert_array_equal(da.values, signals[0]["data"])
    spectral = signals[0]["axes"][-1]
    np.testing.assert_allclose(da[da.dims[-1]].values, spectral["axis"], rtol=1e-6)
    if len(signals) > 1:  # the white-light image
        white = pycrox.open(_path(wdf_dir, kind), group="white_light")
        reference = signals[1]["data"]
        np.testing.assert_array_equal(white.values, np.stack([reference[c] for c in "RGB"], axis=-1))


def test_axes_of_each_measurement(wdf_dir):
    assert _spectra(_path(wdf_dir, "spectrum")).dims == ("wavelength",)
    assert _spectra(_path(wdf_dir, "map")).dims == ("y", "x", "wavelength")
    line = _spectra(_path(wdf_dir, "linescan"))
    assert line.dims == ("distance", "wavelength")
    np.testing.assert_allclose(line.distance.values, 30.0 * np.arange(5), rtol=1e-6)
    np.testing.assert_allclose(line.x.values, -50.0 + 21.2132034 * np.arange(5), rtol=1e-6)  # stage positions
    series = _spectra(_path(wdf_dir, "timeseries"))
    assert series.dims == ("time", "raman_shift")
    assert series.raman_shift.attrs["units"] == "1/cm"
    assert series.raman_shift.attrs["dimension_type"] == "SPECTRAL"
    assert np.all(np.diff(series.raman_shift.values) > 0)  # stored descending, returned ascending


def test_time_axis_fits_the_acquisition_window(wdf_dir):
    series = _spectra(_path(wdf_dir, "timeseries"))
    header = series.attrs["original_metadata"]["WDF1"]
    assert series.time.attrs["units"] == "s"
    np.testing.assert_allclose(series.time.values, [0.0, 3.0884593, 6.133009], rtol=1e-6)
    duration = np.datetime64(header["time_end"]) - np.datetime64(header["time_start"])
    assert series.time.values[-1] < duration / np.timedelta64(1, "s") <= 3 * 3.1  # three ~3 s spectra


def test_raman_shift_from_the_laser(wdf_dir):
    da = _spectra(_path(wdf_dir, "map"))
    laser = da.attrs["metadata"]["laser_wavelength"]
    assert laser["units"] == "nm"
    assert laser["value"] == pytest.approx(1e7 / 30769.19921875)
    expected = 1e7 / laser["value"] - 1e7 / da.wavelength.values
    np.testing.assert_allclose(da.raman_shift.values, expected)
    assert da.raman_shift.dims == ("wavelength",)
    assert da.raman_shift.attrs["units"] == "1/cm"


@pytest.mark.parametrize(
    ("kind", "seconds"), [("linescan", 1.0), ("map", 2.0), ("spectrum", 360.0), ("timeseries", 1.0)]
)
def test_normalised_metadata(wdf_dir, kind, seconds):
    da = _spectra(_path(wdf_dir, kind))
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["exposure_time"] == {"value": seconds, "units": "s"}  # exposure x accumulations (WXDM)
    assert meta["signal"] == "Raman"
    assert meta["detector"] == "Renishaw Centrus 2URV61"
    assert "WXCS_0" in da.attrs["original_metadata"]
    assert "WDF1" in da.attrs["original_metadata"]


def test_white_light_position(wdf_dir):
    white = pycrox.open(_path(wdf_dir, "map"), group="white_light")
    assert white.dims == ("y", "x", "rgb")
    assert white.dtype == np.uint8
    assert white.x.attrs["units"] == "µm"
    np.testing.assert_allclose([white.x.values[0], white.y.values[0]], [-328.641, -212.765])
    np.testing.assert_allclose(float(white.x[1] - white.x[0]), 0.8639813829787234)


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
@pytest.mark.parametrize("kind", ["linescan", "timeseries"])
def test_conversion_is_lossless(wdf_dir, kind, store, tmp_path):
    da = _spectra(_path(wdf_dir, kind)).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_open_reads_no_spectra_or_image(wdf_dir):
    path = _path(wdf_dir, "map")
    counting = CountingFile.of(path)
    tree = pycrox.open_tree(counting)
    data_offset = 16 + 512 + 16  # after the WDF1 block and the DATA block's head
    spectra_bytes = 3 * 3 * 47 * 4
    assert not any(
        data_offset <= start < data_offset + spectra_bytes for start, n in counting.reads if n > 64
    )
    counting.reset()
    values = tree["renishaw_test_map"]["renishaw_test_map"][1].values
    assert values.shape == (3, 47)
    assert counting.bytes_read() < 2 * spectra_bytes


def test_fsspec_url(wdf_dir):
    fsspec = pytest.importorskip("fsspec")
    path = _path(wdf_dir, "spectrum")
    fs = fsspec.filesystem("memory")
    fs.pipe("/wdf/s.wdf", path.read_bytes())
    try:
        remote = pycrox.open("memory://wdf/s.wdf")
        np.testing.assert_array_equal(remote.values, _spectra(path).values)
    finally:
        fs.rm("/wdf", recursive=True)


# --------------------------------------------------------------------------- bad input


def test_guess(wdf_dir, tmp_path):
    assert wdf.guess_can_open(_path(wdf_dir, "map"))
    (tmp_path / "x.wdf").write_bytes(b"WDF2" + bytes(100))
    assert not wdf.guess_can_open(tmp_path / "x.wdf")
    assert not wdf.guess_can_open(tmp_path / "absent.wdf")


def test_truncated_file_names_file_and_offset(wdf_dir, tmp_path):
    raw = _path(wdf_dir, "map").read_bytes()
    (tmp_path / "cut.wdf").write_bytes(raw[:2000])
    with pytest.raises(FormatError, match=r"cut\.wdf") as info:
        pycrox.open_tree(tmp_path / "cut.wdf")
    assert "offset" in str(info.value)
    assert "truncated" in str(info.value)


def test_missing_data_block(wdf_dir, tmp_path):
    raw = bytearray(_path(wdf_dir, "spectrum").read_bytes())
    start = raw.index(b"DATA")
    raw[start : start + 4] = b"DATX"
    (tmp_path / "nodata.wdf").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match="no DATA block"):
        pycrox.open_tree(tmp_path / "nodata.wdf", engine="renishaw")


# --------------------------------------------------------------------------- synthetic files


def write_wdf(
    path: Path,
    spectra: np.ndarray,
    axis: np.ndarray,
    *,
    unit: int,
    measurement: int,
    orgn: dict[int, tuple[int, np.ndarray]],
    wmap: tuple | None = None,
    capacity: int | None = None,
) -> None:
    """A minimal WDF file (WDF1, DATA, XLST, ORGN and optionally WMAP blocks), test-local writer."""
    count, points = spectra.shape

    def block(name: bytes, content: bytes) -> bytes:
        return name + struct.pack("<IQ", 1 if name == b"WDF1" else 0, 16 + len(content)) + content

    header = bytearray(496)
    struct.pack_into(
        "<IIIQQIIII", header, 36, 0, 0, points, capacity or count, count, 1, 1, points, len(orgn)
    )
    header[80:84] = b"WiRE"
    struct.pack_into("<4H", header, 104, 5, 5, 0, 1)
    start = 133_000_000_000_000_000  # 2022-06-18 in FILETIME ticks
    struct.pack_into("<IIQQIf", header, 112, 1, measurement, start, start + 10**8, 6, 1e7 / 532.0)
    header[224:229] = b"synth"
    parts = [block(b"WDF1", bytes(header)), block(b"DATA", spectra.astype("<f4").tobytes())]
    parts.append(block(b"XLST", struct.pack("<II", 1, unit) + axis.astype("<f4").tobytes()))
    entries = b"".join(
        struct.pack("<II", kind, unit_type)
        + bytes(16)
        + (values.astype("<u8") if kind == 11 else values.astype("<f8")).tobytes()
        for kind, (unit_type, values) in orgn.items()
    )
    parts.append(block(b"ORGN", struct.pack("<I", len(orgn)) + entries))
    if wmap is not None:
        flag, offsets, scales, sizes = wmap
        parts.append(block(b"WMAP", struct.pack("<II3f3f3II", flag, 0, *offsets, *scales, *sizes, 0)))
    path.write_bytes(b"".join(parts))


def test_synthetic_z_series(tmp_path):
    spectra = np.arange(4 * 6, dtype=np.float32).reshape(4, 6)
    axis = np.linspace(1500.0, 1000.0, 6)  # Raman shift, stored descending
    z = np.array([0.0, 2.5, 5.0, 7.5])
    ticks = np.array([0, 10**7, 2 * 10**7, 3 * 10**7])  # 1 s apart in 100 ns ticks
    write_wdf(tmp_path / "z.wdf", spectra, axis, unit=1, measurement=2, orgn={5: (5, z), 11: (24, ticks)})
    da = pycrox.open(tmp_path / "z.wdf")
    assert da.dims == ("z", "raman_shift")
    np.testing.assert_array_equal(da.z.values, z)
    np.testing.assert_array_equal(da.elapsed_time.values, [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(da.raman_shift.values, axis[::-1])
    np.testing.assert_array_equal(da.values, spectra[:, ::-1])
    assert da.attrs["metadata"]["laser_wavelength"]["value"] == pytest.approx(532.0, rel=1e-6)
    assert da.attrs["title"] == "synth"


def test_synthetic_map_and_unfinished_map(tmp_path):
    spectra = np.random.default_rng(1).random((6, 5), dtype=np.float32)
    axis = np.linspace(500.0, 510.0, 5)  # nm, ascending
    x, y = np.tile([0.0, 1.0, 2.0], 2), np.repeat([10.0, 12.0], 3)
    wmap = (0, (0.0, 10.0, 0.0), (1.0, 2.0, 1.0), (3, 2, 1))
    write_wdf(
        tmp_path / "m.wdf", spectra, axis, unit=3, measurement=3, orgn={3: (5, x), 4: (5, y)}, wmap=wmap
    )
    da = pycrox.open(tmp_path / "m.wdf")
    assert da.dims == ("y", "x", "wavelength")
    np.testing.assert_array_equal(da.values, spectra.reshape(2, 3, 5))
    np.testing.assert_array_equal(da.y.values, [10.0, 12.0])
    np.testing.assert_allclose(da.raman_shift.values, 1e7 / 532.0 - 1e7 / axis, rtol=1e-5)
    # the measurement stopped after 4 of 6 spectra: the complete first row is kept
    write_wdf(
        tmp_path / "u.wdf",
        spectra[:4],
        axis,
        unit=3,
        measurement=3,
        orgn={3: (5, x[:4]), 4: (5, y[:4])},
        wmap=wmap,
        capacity=6,
    )
    part = pycrox.open(tmp_path / "u.wdf")
    assert part.shape == (1, 3, 5)
    np.testing.assert_array_equal(part.values[0], spectra[:3])
