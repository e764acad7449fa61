"""Bruker / Veeco Nanoscope reader: manifest corpus, hand-computed calibration, synthetic files, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.bruker_afm import BrukerAFMBackendEntrypoint
from pycrox.readers.bruker_afm import reader as bruker
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

IMAGE = "nanoscope_v4.32_image.007"
FORCE = "BrukerReader_ForceCurve_Sapphire_TAP525.001"


@pytest.fixture(scope="module")
def bruker_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "bruker_afm"


def _signals(path: Path) -> dict[str, xr.DataArray]:
    return {k.strip("/"): v for k, v in model.signal_nodes(pycrox.open_tree(path)).items()}


def _counts(path: Path, offset: int, count: int) -> np.ndarray:
    return np.fromfile(path, "<i2", count=count, offset=offset).astype(np.float64)


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("bruker_afm/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, BrukerAFMBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("bruker_afm/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_image_values_follow_the_header_by_hand(bruker_dir):
    signals = _signals(bruker_dir / IMAGE)
    assert list(signals) == ["Height Retrace", "Amplitude Retrace"]
    height, amplitude = signals["Height Retrace"], signals["Amplitude Retrace"]
    # \@2:Z scale: V [Sens. Zscan] (0.006713765 V/LSB) 7.237438 V   and   \@Sens. Zscan: V 11.39026 nm/V
    np.testing.assert_allclose(
        height.values.ravel(),
        _counts(bruker_dir / IMAGE, 20480, 65536) * 7.237438 / 65536 * 11.39026,
        rtol=1e-12,
    )
    assert height.attrs["units"] == "nm"
    # \@2:Z scale: V [Sens. Amplitude] (0.0000381470 V/LSB) 0.8232117 V   and   \@Sens. Amplitude: V 1.000000
    np.testing.assert_allclose(
        amplitude.values.ravel(), _counts(bruker_dir / IMAGE, 151552, 65536) * 0.8232117 / 65536, rtol=1e-12
    )
    assert amplitude.attrs["units"] == "V"
    # \Scan size: 2 2 ~m over 256 samples and 256 lines
    assert height.x.attrs["units"] == "µm"
    np.testing.assert_allclose(np.diff(height.y.values), 2 / 256)
    assert height.attrs["metadata"]["date"] == "2012-08-29"
    assert height.attrs["metadata"]["scan_rate"] == {"value": 2.00115, "units": "Hz"}


def test_force_curve_values_follow_the_header_by_hand(bruker_dir):
    signals = _signals(bruker_dir / FORCE)
    assert list(signals) == [
        "Deflection Error extend",
        "Deflection Error retract",
        "Height Sensor extend",
        "Height Sensor retract",
    ]
    path = bruker_dir / FORCE
    # force channels scale by the hard scale (V/LSB), not the soft value (a display range):
    # \@4:Z scale: V [Sens. DeflSens] (0.0003750000 V/LSB) 2.500000 V   and   \@Sens. DeflSens: V 72.76923 nm/V
    deflection = _counts(path, 40960, 1024) * 0.000375 * 72.76923
    np.testing.assert_allclose(signals["Deflection Error extend"].values, deflection[:512], rtol=1e-12)
    np.testing.assert_allclose(signals["Deflection Error retract"].values, deflection[512:], rtol=1e-12)
    # \@4:Z scale: V [Sens. ZsensSens] (0.0003750000 V/LSB) 5.119550 V   and   \@Sens. ZsensSens: V 960.1708 nm/V
    height = _counts(path, 43008, 1024) * 0.000375 * 960.1708
    np.testing.assert_allclose(signals["Height Sensor retract"].values, height[512:], rtol=1e-12)
    assert signals["Height Sensor extend"].attrs["units"] == "nm"
    assert signals["Height Sensor extend"].attrs["metadata"]["spring_constant"] == {
        "value": 0.0677954,
        "units": "N/m",
    }


def test_force_curve_z_ramp_follows_the_header_by_hand(bruker_dir):
    signals = _signals(bruker_dir / FORCE)
    # \@4:Ramp size: V [Sens. Zsens] (0.004780209 V/LSB) 16.72241 V   and   \@Sens. Zsens: V 35.88000 nm/V
    ramp_m = 16.72241 * 35.88 * 1e-9  # 600.0 nm
    # Samps/line: 512 512; both segments stored from the turnaround outwards, z from the retracted end
    expected = (511 - np.arange(512)) * ramp_m / 512
    for name, da in signals.items():
        assert da.dims == ("z",), name
        np.testing.assert_allclose(da.z.values, expected, rtol=1e-12)
        assert da.z.attrs["units"] == "m"
        assert da.z.attrs["dimension_type"] == "SPECTRAL"


def test_force_curve_scales_agree_with_each_other(bruker_dir):
    """The hard-scale calibration and the ramp are consistent with what the file itself measured."""
    signals = _signals(bruker_dir / FORCE)
    # the Z sensor (measured in nm) follows the computed piezo ramp (m) with slope ~1 ...
    extend = signals["Height Sensor extend"]
    slope = np.polyfit(extend.z.values * 1e9, extend.values, 1)[0]
    assert 0.95 < slope < 1.05
    # ... and spans the 600 nm ramp (the soft-value scaling would give ~123 nm)
    assert 570 < float(np.ptp(extend.values)) < 630
    # the extend stops where the relative trigger fires: deflection rises ~ \@4:Trig threshold Deflection
    # (0.2061311 V) x DeflSens (72.76923 nm/V) = 15.0 nm above its far-from-surface baseline
    deflection = signals["Deflection Error extend"].values
    rise = deflection[0] - np.median(deflection[-100:])
    assert rise == pytest.approx(0.2061311 * 72.76923, rel=0.1)


def test_header_is_kept_whole(bruker_dir):
    da = _signals(bruker_dir / IMAGE)["Height Retrace"]
    header = da.attrs["original_metadata"]["header"]
    assert header["Scanner list"]["@Sens. Zscan"] == "V 11.39026 nm/V"
    assert len(header["Ciao image list"]) == 2
    assert da.attrs["original_metadata"]["channel"]["Data offset"] == "20480"


def test_channel_reads_only_its_block(bruker_dir):
    counting = CountingFile.of(bruker_dir / IMAGE)
    tree = bruker.read_tree(counting)
    counting.reset()
    rows = tree["Amplitude Retrace"]["Amplitude Retrace"][10:12].values
    assert rows.shape == (2, 256)
    assert counting.bytes_read() == 2 * 256 * 2
    assert counting.reads[0][0] == 151552 + 10 * 512


@pytest.mark.parametrize("name", [IMAGE, FORCE])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(name, store, bruker_dir, tmp_path):
    da = list(_signals(bruker_dir / name).values())[-1].load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- synthetic files


def _nanoscope(counts: np.ndarray, *, bpp: int = 2) -> bytes:
    """A minimal v9-style file: one image section with 32-bit or 16-bit counts."""
    ny, nx = counts.shape
    lines = [
        "\\*File list",
        "\\Version: 0x09400202",
        "\\Date: 10:11:12 AM Tue Mar 05 2024",
        "\\Data length: 4096",
        "\\*Scanner list",
        "\\@Sens. Zsens: V 20.00000 nm/V",
        "\\*Ciao scan list",
        "\\Scan Rate: 1.5",
        "\\*Ciao image list",
        "\\Data offset: 4096",
        f"\\Data length: {counts.size * bpp}",
        f"\\Bytes/pixel: {bpp}",
        f"\\Samps/line: {nx}",
        f"\\Number of lines: {ny}",
        "\\Scan Size: 500 250 nm",
        "\\Line Direction: Trace",
        '\\@2:Image Data: S [ZSensor] "Height Sensor"',
        "\\@2:Z scale: V [Sens. Zsens] (0.0003750000 V/LSB) 4.000000 V",
        "\\*File list end",
    ]
    head = "\r\n".join(lines).encode("latin-1").ljust(4096, b"\x1a")
    return head + counts.astype(f"<i{bpp}").tobytes()


@pytest.mark.parametrize("bpp", [2, 4])
def test_synthetic_image_scaling(tmp_path, bpp):
    counts = np.arange(-6, 6).reshape(3, 4) * 1000
    path = tmp_path / "s.spm"
    path.write_bytes(_nanoscope(counts, bpp=bpp))
    da = pycrox.open(path)
    assert da.name == "Height Sensor"
    np.testing.assert_allclose(da.values, counts * 4.0 / 256.0**bpp * 20.0, rtol=1e-12)
    np.testing.assert_allclose(da.x.values, 125.0 * np.arange(4))
    np.testing.assert_allclose(da.y.values, 250 / 3 * np.arange(3))
    assert da.x.attrs["units"] == "nm"
    assert da.attrs["metadata"]["scan_rate"] == {"value": 1.5, "units": "Hz"}


def _force_file(ramp_lines: list[str], counts: np.ndarray) -> bytes:
    """A minimal force file: one channel of extend + retract counts, the ramp as `ramp_lines` say."""
    n = counts.size // 2
    lines = [
        "\\*Force file list",
        "\\Version: 0x09200000",
        "\\Data length: 4096",
        "\\*Scanner list",
        "\\@Sens. Zsens: V 20.00000 nm/V",
        "\\*Ciao scan list",
        "\\@Sens. DeflSens: V 50.00000 nm/V",
        "\\*Ciao force list",
        f"\\Samps/line: {n} {n}",
        *[line for line in ramp_lines if "Zsweep" in line or "scan size" in line],
        "\\*Ciao force image list",
        "\\Data offset: 4096",
        f"\\Data length: {counts.size * 2}",
        "\\Bytes/pixel: 2",
        f"\\Samps/line: {n} {n}",
        '\\@4:Image Data: S [DeflectionError] "Deflection Error"',
        "\\@4:Z scale: V [Sens. DeflSens] (0.0005000000 V/LSB) 2.000000 V",
        *[line for line in ramp_lines if "Zsweep" not in line and "scan size" not in line],
        "\\*File list end",
    ]
    head = "\r\n".join(lines).encode("latin-1").ljust(4096, b"\x1a")
    return head + counts.astype("<i2").tobytes()


@pytest.mark.parametrize(
    ("ramp_lines", "ramp_nm"),
    [
        (["\\@4:Ramp size: V [Sens. Zsens] (0.0047 V/LSB) 5.000000 V"], 100.0),  # the channel's own field
        (["\\@4:Ramp size Zsweep: V [Sens. Zsens] (0.0047 V/LSB) 2.500000 V"], 50.0),  # the force list's
        (["\\@Z scan size: V [Sens. Zsens] (0.0067 V/LSB) 1.000000 V"], 20.0),  # older files
        ([], None),  # no ramp: the sample index
    ],
)
def test_synthetic_force_curve(tmp_path, ramp_lines, ramp_nm):
    counts = np.arange(-8, 8) * 100
    path = tmp_path / "f.001"
    path.write_bytes(_force_file(ramp_lines, counts))
    signals = _signals(path)
    assert list(signals) == ["Deflection Error extend", "Deflection Error retract"]
    retract = signals["Deflection Error retract"]
    np.testing.assert_allclose(retract.values, counts[8:] * 0.0005 * 50.0, rtol=1e-12)
    if ramp_nm is None:
        assert retract.dims == ("sample",)
        np.testing.assert_array_equal(retract.sample.values, np.arange(8))
    else:
        np.testing.assert_allclose(retract.z.values, (7 - np.arange(8)) * ramp_nm * 1e-9 / 8, rtol=1e-12)


# --------------------------------------------------------------------------- bad input


def test_guess(bruker_dir, tmp_path):
    assert bruker.guess_can_open(bruker_dir / IMAGE)
    assert bruker.guess_can_open(bruker_dir / FORCE)
    (tmp_path / "x.001").write_bytes(b"\\*Something else\r\n")
    assert not bruker.guess_can_open(tmp_path / "x.001")


def test_truncated_data_names_the_file(bruker_dir, tmp_path):
    raw = (bruker_dir / IMAGE).read_bytes()
    (tmp_path / "cut.007").write_bytes(raw[:200_000])
    with pytest.raises(FormatError, match=r"cut\.007.*truncated"):
        bruker.read_tree(tmp_path / "cut.007")


def test_header_without_end_names_the_file(bruker_dir, tmp_path):
    raw = (bruker_dir / IMAGE).read_bytes()
    (tmp_path / "head.007").write_bytes(raw[:3000])
    with pytest.raises(FormatError, match=r"head\.007:header: no '\\\*File list end'"):
        bruker.read_tree(tmp_path / "head.007")


def test_data_stay_lazy(bruker_dir):
    ds = xr.open_dataset(bruker_dir / IMAGE, engine=BrukerAFMBackendEntrypoint, group="Height Retrace")
    assert not ds["Height Retrace"].variable._in_memory


def test_fsspec_url_reads_like_the_path(bruker_dir):
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://bruker-test/{IMAGE}"
    with fsspec.open(url, "wb") as fh:
        fh.write((bruker_dir / IMAGE).read_bytes())
    remote = pycrox.open(url, group="Height Retrace").load()
    local = pycrox.open(bruker_dir / IMAGE, group="Height Retrace").load()
    assert_lossless(remote, local)
