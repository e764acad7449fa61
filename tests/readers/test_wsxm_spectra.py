"""WSxM spectroscopy files without corpus files: synthetic ``.cur``, ``.iv``, ``.stp`` and ``.gsi``.

The files are written by `tests.readers._wsxm_synth` following the format; every value read back
is checked against the numbers written (and against SciFiReaders where it reads the kind).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError, PycroxError
from pycrox.readers.wsxm import WSxMBackendEntrypoint
from pycrox.readers.wsxm import reader as wsxm
from pycrox.testing import assert_lossless
from tests.readers import _wsxm_synth as synth
from tests.readers._vendor_corpus import CountingFile, assert_valid_tree

Z = np.linspace(0.0, 40.0, 6)
APPROACH = np.array([0.1, 0.2, np.nan, 0.4, 0.5, 0.6])
RETRACT = np.array([-0.1, -0.2, -0.3, -0.4, -0.5, -0.6])


def _cur(tmp_path: Path, name: str = "fz_0007_Normal force.cur", **kw) -> Path:
    path = tmp_path / name
    synth.cur_file(path, [(Z, APPROACH), (Z[::-1], RETRACT)], **kw)
    return path


# --------------------------------------------------------------------------- .cur / .iv curve files


def test_cur_spectroscopy_curve_is_calibrated_approach_and_retract(tmp_path):
    da = pycrox.open(_cur(tmp_path))
    assert da.attrs["title"] == "Normal force (3)"
    assert da.dims == ("z", "direction")
    assert list(da.direction_name.values) == ["approach", "retract"]
    expected = 0.5 + 2.0 * np.stack([APPROACH, RETRACT], axis=1)
    np.testing.assert_allclose(da.values, expected)  # NaN written as 1.#QNAN stays NaN
    assert np.isnan(da.values[2, 0])
    np.testing.assert_allclose(da.z.values, Z)
    np.testing.assert_allclose(da.z_retract.values, Z[::-1])
    assert da.attrs["units"] == "nN"
    assert da.z.attrs["units"] == "nm"
    assert da.attrs["metadata"]["bias"] == {"value": 0.25, "units": "V"}
    assert da.attrs["metadata"]["setpoint"] == 1.5
    assert da.attrs["original_metadata"]["kind"] == "FZ curve file"


def test_cur_inverted_channel_and_retract_first(tmp_path):
    da = pycrox.open(_cur(tmp_path, inverted=True, first_forward=False))
    np.testing.assert_allclose(da.values[:, 1], 0.5 - 2.0 * RETRACT)
    assert list(da.direction_name.values) == ["retract", "approach"]


def test_cur_equals_scifireaders(tmp_path):
    scifi = pytest.importorskip("SciFiReaders")
    path = _cur(tmp_path, name="fz_0008_Normal force.cur")
    ref = next(iter(scifi.WSxM1DReader(str(path)).read().values()))
    da = pycrox.open(path)
    ok = ~np.isnan(da.values[:, 0])  # SciFiReaders turns 1.#QNAN into 1.0
    np.testing.assert_allclose(np.asarray(ref)[ok], da.values[ok], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(ref.x), da.z_retract.values)  # the last line's x


def test_generic_cur_keeps_its_lines_as_written(tmp_path):
    path = tmp_path / "tune_0001.cur"
    freq = np.linspace(50.0, 60.0, 5)
    synth.cur_file(
        path,
        [(freq, np.arange(5.0)), (freq, np.arange(5.0) ** 2)],
        spectroscopy=False,
        x_unit="kHz",
        y_text="Amplitude [#y]",
        y_unit="V",
        kind="Tune curve file",
    )
    da = pycrox.open(path)
    assert da.dims == ("frequency", "line")
    np.testing.assert_allclose(da.frequency.values, freq)
    assert da.frequency.attrs["units"] == "kHz"
    np.testing.assert_allclose(da.values, np.stack([np.arange(5.0), np.arange(5.0) ** 2], axis=1))
    assert da.attrs["units"] == "V"


def test_iv_files_share_the_cur_layout(tmp_path):
    path = tmp_path / "sts_0002.iv"
    bias = np.linspace(-1.0, 1.0, 4)
    synth.cur_file(
        path,
        [(bias, bias * 3), (bias[::-1], bias[::-1] * 3)],
        x_unit="V",
        y_text="Current [#y]",
        factor="1 nA",
        offset="0 nA",
    )
    da = pycrox.open(path)
    np.testing.assert_allclose(da.values[:, 0], 3 * bias)
    assert da.attrs["units"] == "nA"
    assert pycrox.detect_format(path) == "wsxm"


# --------------------------------------------------------------------------- .stp and .gsi


def test_stp_rows_are_calibrated_curves(tmp_path):
    raw = np.array([[0, 10, 20, 30], [5, 15, 25, 35]], dtype=np.int16)
    path = tmp_path / "fz_0003_Normal force.b.stp"
    synth.stp_file(path, raw)
    da = pycrox.open(path)
    assert da.dims == ("curve", "z")
    np.testing.assert_allclose(da.values, raw * 3.0 / 35.0)
    np.testing.assert_allclose(da.z.values, np.linspace(0.0, 200.0, 4))
    assert da.attrs["units"] == "V"
    assert da.attrs["metadata"]["scan_direction"] == "backward"
    forward = tmp_path / "fz_0004_Normal force.f.stp"
    synth.stp_file(forward, raw, direction="Forward")
    np.testing.assert_allclose(pycrox.open(forward).values, raw[:, ::-1] * 3.0 / 35.0)


def test_gsi_volume_is_lazy_calibrated_and_flipped_like_the_images(tmp_path):
    rng = np.random.default_rng(3)
    topography = rng.integers(0, 1000, (6, 5)).astype(np.int16)
    ramp = rng.integers(-2000, 2000, (4, 6, 5)).astype(np.int16)
    zs = np.array([0.0, 5.0, 10.0, 15.0])
    path = tmp_path / "fv_0005_Normal force.gsi"
    synth.gsi_file(path, topography, ramp, zs)
    signals = model.signal_nodes(wsxm.read_tree(path))
    volume = signals["/Normal force volume"]
    topo = signals["/Normal force"]
    assert volume.dims == ("z", "y", "x")
    np.testing.assert_allclose(volume.values, 1.0 + ramp[:, ::-1, ::-1] * 0.001 * 4.0)
    np.testing.assert_allclose(volume[2, 1:3, 4].values, 1.0 + ramp[2, ::-1, ::-1][1:3, 4] * 0.004)
    np.testing.assert_allclose(volume.z.values, zs)
    assert volume.attrs["units"] == "nN"
    np.testing.assert_allclose(volume.x.values, topo.x.values)
    np.testing.assert_allclose(
        topo.values, topography[::-1, ::-1] * 50.0 / (topography.max() - topography.min())
    )
    inverted = tmp_path / "fv_0006_Normal force.gsi"
    synth.gsi_file(inverted, topography, ramp, zs, inverted=True)
    np.testing.assert_allclose(
        pycrox.open(inverted, group="Normal force volume").values, 1.0 - ramp[:, ::-1, ::-1] * 0.004
    )


def test_gsi_volume_stays_in_the_file_until_read(tmp_path):
    ramp = np.arange(20 * 30 * 40, dtype=np.int16).reshape(20, 30, 40)
    path = tmp_path / "big_0001_Normal force.gsi"
    synth.gsi_file(path, np.ones((30, 40), np.int16), ramp, np.arange(20.0))
    fh = CountingFile.of(path)
    tree = wsxm.read_tree(fh)
    assert fh.bytes_read() < ramp.nbytes / 10
    volume = model.signal_nodes(tree)["/Normal force volume"]
    fh.reset()
    np.testing.assert_allclose(volume[7].values, 1.0 + ramp[7, ::-1, ::-1] * 0.004)
    assert fh.bytes_read() < ramp.nbytes / 10  # one ramp image read, not the volume


@pytest.mark.parametrize("kind", ["cur", "stp", "gsi"])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(kind, store, tmp_path):
    if kind == "cur":
        path = _cur(tmp_path)
    elif kind == "stp":
        path = tmp_path / "s_0001_Normal force.b.stp"
        synth.stp_file(path, np.arange(8, dtype=np.int16).reshape(2, 4))
    else:
        path = tmp_path / "v_0001_Normal force.gsi"
        synth.gsi_file(
            path, np.arange(6, dtype=np.int16).reshape(2, 3), np.ones((2, 2, 3)), np.array([0.0, 1.0])
        )
    da = model.signal_nodes(pycrox.open_tree(path))
    da = da.get("/Normal force volume", next(iter(da.values()))).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_synthetic_trees_are_valid_and_every_door_agrees(tmp_path):
    path = _cur(tmp_path)
    synth.stp_file(tmp_path / "s_0001_Normal force.b.stp", np.arange(8, dtype=np.int16).reshape(2, 4))
    synth.gsi_file(
        tmp_path / "v_0001_Normal force.gsi", np.ones((2, 3), np.int16), np.ones((2, 2, 3)), np.arange(2.0)
    )
    for file in (path, tmp_path / "s_0001_Normal force.b.stp", tmp_path / "v_0001_Normal force.gsi"):
        assert_valid_tree(file)
    ours = pycrox.open(path)
    theirs = xr.open_dataset(path, engine=WSxMBackendEntrypoint, group=ours.name)
    np.testing.assert_array_equal(ours.values, theirs[ours.name].values)


# --------------------------------------------------------------------------- bad input


def test_bad_curve_rows_name_the_file_and_offset(tmp_path):
    path = _cur(tmp_path, name="bad.cur")
    data = path.read_bytes()
    head = data.index(b"[Header end]") + len(b"[Header end]\r\n")
    path.write_bytes(data[:head] + b"1.0 2.0 3.0\r\n" + data[head:])
    with pytest.raises(FormatError, match=rf"bad\.cur:offset {head}.*row 1 has 3 columns"):
        wsxm.read_tree(path)
    path.write_bytes(data[:head] + b"1.0 abc 3.0 4.0\r\n")
    with pytest.raises(FormatError, match=rf"bad\.cur:offset {head}.*row 1 is not numbers"):
        wsxm.read_tree(path)


def test_truncated_volume_names_the_file(tmp_path):
    path = tmp_path / "cut.gsi"
    synth.gsi_file(path, np.zeros((4, 4), np.int16), np.zeros((3, 4, 4), np.int16), np.arange(3.0))
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(FormatError, match=r"cut\.gsi:offset \d+.*truncated"):
        wsxm.read_tree(path)


def test_mutated_synthetic_files_fail_only_with_errors_naming_the_file(tmp_path):
    sources = {".cur": _cur(tmp_path).read_bytes()}
    synth.stp_file(tmp_path / "a.stp", np.arange(12, dtype=np.int16).reshape(3, 4))
    synth.gsi_file(
        tmp_path / "a.gsi", np.ones((3, 3), np.int16), np.ones((2, 3, 3), np.int16), np.arange(2.0)
    )
    sources[".stp"] = (tmp_path / "a.stp").read_bytes()
    sources[".gsi"] = (tmp_path / "a.gsi").read_bytes()
    rng = random.Random(7)
    for i in range(120):
        suffix, original = list(sources.items())[i % 3]
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(30, len(data))] ^= 1 << rng.randrange(8)
        if i % 4 == 0:
            data = data[: rng.randrange(30, len(data))]
        target = tmp_path / f"mutant{i}{suffix}"
        target.write_bytes(bytes(data))
        message = None
        try:
            for da in model.signal_nodes(wsxm.read_tree(target)).values():
                da.values  # noqa: B018 - reading is the point
        except PycroxError as exc:
            message = str(exc)
        assert message is None or target.name in message
