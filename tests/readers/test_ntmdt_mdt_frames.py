"""NT-MDT MDT frame kinds without corpus files: synthetic classic and curve frames of known values.

The files are written byte by byte by `tests.readers._mdt_synth` following the format (Gwyddion's
``nt-mdt.c`` layout, the kaitai ``nt_mdt.ksy`` description); every value read back is checked
against the numbers written.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import formats, model
from pycrox.errors import FormatError, PycroxError
from pycrox.readers.ntmdt_mdt import NTMDTBackendEntrypoint
from pycrox.readers.ntmdt_mdt import reader as mdt
from pycrox.testing import assert_lossless
from tests.readers import _mdt_synth as synth
from tests.readers._vendor_corpus import CountingFile, assert_valid_tree

RAW = np.array([[0, 1, 2, 3], [10, 11, 12, 13], [-5, -6, -7, 30000]], dtype=np.int16)


def _write(path: Path, *frames: bytes) -> Path:
    path.write_bytes(synth.mdt_file(list(frames)))
    return path


def _curves(tmp_path: Path) -> Path:
    """Two points, two passes, forward stored inverted, one backward missing, and an int32 signal."""
    rng = np.random.default_rng(5)
    curves = [
        synth.Curve(rng.normal(size=5), point=0, direction=0, options=1),
        synth.Curve(rng.normal(size=5), point=0, direction=0, options=1, passno=1),
        synth.Curve(rng.normal(size=5), point=0, direction=1),
        synth.Curve(rng.normal(size=5), point=1, direction=0, options=1),
        synth.Curve(rng.normal(size=5), point=1, direction=1),
        synth.Curve(rng.normal(size=5), point=1, direction=1, passno=1),
        synth.Curve(np.array([100, 200, 300, 400, 500]), point=0, direction=0, name=2, integer=True),
    ]
    names = (("Bias", "V", 0.0, 1.0), ("Current", "nA", 0.0, 1.0), ("Height", "nm", 2.0, 0.5))
    frame = synth.curves_frame(curves, [(1.0, 2.0), (3.0, 4.0)], names=names)
    return _write(tmp_path / "curves.mdt", frame), curves


# --------------------------------------------------------------------------- classic scanned frames


def test_scanned_frame_is_a_calibrated_image(tmp_path):
    path = _write(tmp_path / "scan.mdt", synth.classic_frame(0, RAW, synth.Scan()))
    da = pycrox.open(path)
    assert da.dims == ("y", "x")
    assert da.attrs["title"] == "Height"
    assert da.attrs["units"] == "nm"
    # z offset + z step * raw, the stored first row last (as Gwyddion shows it)
    np.testing.assert_allclose(da.values, 10.0 + np.float32(0.01) * RAW[::-1].astype(np.float64), rtol=1e-12)
    np.testing.assert_allclose(da.x.values, 1.5 + 0.25 * np.arange(4))
    np.testing.assert_allclose(da.y.values, -2.0 + 0.5 * np.arange(3))
    assert da.x.attrs["units"] == da.y.attrs["units"] == "µm"
    meta = da.attrs["metadata"]
    assert meta["date"] == "2024-05-17"
    assert meta["time"] == "11:28:39"
    assert meta["bias"] == {"value": 0.75, "units": "V"}
    assert meta["setpoint"] == 1.25
    assert meta["scan_direction"] == "horizontal, from right, from bottom"
    frame = da.attrs["original_metadata"]["frame"]
    assert frame["scan"]["adc_mode"] == "Height"
    assert frame["scan"]["velocity_angstrom_per_s"] == 1000.0
    assert da.attrs["original_metadata"]["parameters"] == {"Parameters": {"Technique": 1}}


def test_scanned_frame_units_follow_the_unit_codes(tmp_path):
    scan = synth.Scan(x=(0.0, -2.0, synth.NM), y=(0.0, 2.0, synth.NM), z=(0.0, 1.0, synth.ANGSTROM), title="")
    da = pycrox.open(_write(tmp_path / "a.mdt", synth.classic_frame(0, RAW, scan)))
    assert da.attrs["units"] == "Å"
    assert da.attrs["title"] == "Height"  # no title: the ADC channel names it
    np.testing.assert_allclose(da.x.values, 2.0 * np.arange(4))  # |step|, as the format's readers do
    assert da.x.attrs["units"] == "nm"


def test_scanned_image_stays_in_the_file_until_read(tmp_path):
    raw = np.arange(256 * 300, dtype=np.int16).reshape(300, 256)
    path = _write(tmp_path / "big.mdt", synth.classic_frame(0, raw, synth.Scan()))
    fh = CountingFile.of(path)
    tree = mdt.read_tree(fh)
    assert fh.bytes_read() < raw.nbytes / 4
    (da,) = model.signal_nodes(tree).values()
    fh.reset()
    np.testing.assert_allclose(da.values[0], 10.0 + np.float32(0.01) * raw[-1])
    assert fh.bytes_read() >= raw.nbytes


def test_spectroscopy_frame_is_a_curve_along_its_x_axis(tmp_path):
    scan = synth.Scan(x=(-1.0, 0.5, synth.V), z=(0.0, 0.001, synth.NA), title="I(V)")
    values = np.array([[1, 2, 3, 4, 5]], dtype=np.int16)
    da = pycrox.open(_write(tmp_path / "s.mdt", synth.classic_frame(1, values, scan)))
    assert da.dims == ("bias",)
    assert da.attrs["units"] == "nA"
    assert da.bias.attrs["units"] == "V"
    np.testing.assert_allclose(da.bias.values, -1.0 + 0.5 * np.arange(5))
    np.testing.assert_allclose(da.values, np.float32(0.001) * values[0], rtol=1e-6)
    assert "bias" not in da.attrs["metadata"]  # the scanned-frame fields are not normalised for spectra
    rows = pycrox.open(_write(tmp_path / "rows.mdt", synth.classic_frame(1, RAW, scan)))
    assert rows.dims == ("curve", "bias")
    np.testing.assert_allclose(rows.values, np.float32(0.001) * RAW, rtol=1e-6)  # stored order, no flip


def test_point_curve_frame_holds_forward_and_backward_curves_per_dot(tmp_path):
    forward0, backward0 = np.array([1, 2, 3]), np.array([4, 5])
    forward1, backward1 = np.array([6, 7, 8]), np.array([9, 10, 11])
    flat = np.concatenate([forward0, backward0, forward1, backward1]).astype(np.int16)
    scan = synth.Scan(
        x=(0.0, 2.0, synth.NM),
        z=(1.0, 0.5, synth.NA),
        title="Spectra",
        dots=[(1.5, 2.5, 3, 2), (3.5, 4.5, 3, 3)],
    )
    path = _write(tmp_path / "p.mdt", synth.classic_frame(201, flat, scan, xres=flat.size, yres=1))
    da = pycrox.open(path)
    assert da.dims == ("position", "direction", "z")
    assert list(da.direction_name.values) == ["forward", "backward"]
    np.testing.assert_allclose(da.x.values, [1.5, 3.5])
    np.testing.assert_allclose(da.y.values, [2.5, 4.5])
    assert da.x.attrs["units"] == "nm"
    expected = np.full((2, 2, 3), np.nan)
    for p, pair in enumerate(((forward0, backward0), (forward1, backward1))):
        for d, curve in enumerate(pair):
            expected[p, d, : curve.size] = 1.0 + 0.5 * curve
    np.testing.assert_allclose(da.values, expected)
    np.testing.assert_allclose(da.z.values, [0.0, 2.0, 4.0])


# --------------------------------------------------------------------------- curve frames (190)


def test_curve_frame_gathers_curves_in_axis_order(tmp_path):
    path, curves = _curves(tmp_path)
    tree = pycrox.open_tree(path)
    signals = model.signal_nodes(tree)
    assert sorted(signals) == ["/I(V) map Current", "/I(V) map Height"]
    da = signals["/I(V) map Current"]
    assert da.dims == ("position", "cycle", "direction", "bias")
    assert da.shape == (2, 2, 2, 5)
    assert da.attrs["units"] == "nA"
    assert da.bias.attrs["units"] == "V"
    np.testing.assert_allclose(
        da.bias.values, np.linspace(-1.0, 1.0, 5)
    )  # start to stop, value not subtracted
    np.testing.assert_allclose(da.x.values, [1.0, 3.0])
    assert da.x.attrs["units"] == "µm"
    values = da.values
    np.testing.assert_allclose(values[0, 0, 0], curves[0].values[::-1])  # measured stop -> start
    np.testing.assert_allclose(values[0, 1, 0], curves[1].values[::-1])
    np.testing.assert_allclose(values[0, 0, 1], curves[2].values)
    assert np.isnan(values[0, 1, 1]).all()  # no second backward pass at point 0
    np.testing.assert_allclose(values[1, 0, 0], curves[3].values[::-1])
    np.testing.assert_allclose(values[1, 1, 1], curves[5].values)
    assert np.isnan(values[1, 1, 0]).all()
    height = signals["/I(V) map Height"]
    assert height.attrs["units"] == "nm"
    np.testing.assert_allclose(height.values[0, 0, 0], 2.0 + 0.5 * np.array([100, 200, 300, 400, 500]))
    assert np.isnan(height.values[1]).all()
    meta = da.attrs["metadata"]
    assert meta["date"] == "2024-05-17"
    assert meta["spring_constant"] == {"value": 3.5, "units": "N/m"}
    assert meta["microscope"] == "NtegraEx"
    assert "Meas" in da.attrs["original_metadata"]["index"]


def test_relative_curves_subtract_the_axis_value(tmp_path):
    curve = synth.Curve(np.arange(5.0), point=0, direction=0, options=2)
    path = _write(tmp_path / "r.mdt", synth.curves_frame([curve], [(0.0, 0.0)], axis=(0.0, 2.0, 5, 0.5)))
    da = pycrox.open(path)
    np.testing.assert_allclose(da.bias.values, np.linspace(0.0, 2.0, 5) - 0.5)
    np.testing.assert_allclose(da.values[0, 0, 0], np.arange(5.0))
    assert da.attrs["title"] == "I(V) map"


def test_points_sharing_one_index_block_follow_each_other(tmp_path):
    curves = [synth.Curve(np.full(5, 10.0 * p + d), point=p, direction=d) for p in range(3) for d in (0, 1)]
    frame = synth.curves_frame(curves, [(p, 0.0) for p in range(3)], shared_point_block=True)
    assert b'offset="-1"' in frame
    da = pycrox.open(_write(tmp_path / "shared.mdt", frame))
    np.testing.assert_array_equal(da.values[:, 0, :, 0], [[0.0, 1.0], [10.0, 11.0], [20.0, 21.0]])


def test_curve_frame_stays_in_the_file_until_read(tmp_path):
    curves = [synth.Curve(np.full(20_000, float(p)), point=p, direction=0) for p in range(8)]
    path = _write(
        tmp_path / "big.mdt", synth.curves_frame(curves, [(p, p) for p in range(8)], axis=(0, 1, 20_000, 0))
    )
    fh = CountingFile.of(path)
    tree = mdt.read_tree(fh)
    assert fh.bytes_read() < 8 * 20_000 * 8 / 4
    (da,) = model.signal_nodes(tree).values()
    assert not da.variable._in_memory
    np.testing.assert_array_equal(da.values[:, 0, 0, -1], np.arange(8.0))


@pytest.mark.parametrize("kind", ["scanned", "spectroscopy", "points", "curves"])
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(kind, store, tmp_path):
    if kind == "curves":
        path, _ = _curves(tmp_path)
    else:
        ftype = {"scanned": 0, "spectroscopy": 1, "points": 201}[kind]
        dots = [(1.0, 2.0, 2, 2), (3.0, 4.0, 2, 2)] if kind == "points" else []
        values = RAW if kind == "scanned" else RAW.reshape(1, -1)[:, :8]
        frame = synth.classic_frame(ftype, values, synth.Scan(dots=dots))
        path = _write(tmp_path / "k.mdt", frame)
    da = next(iter(model.signal_nodes(pycrox.open_tree(path)).values())).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


def test_synthetic_trees_are_valid_pycrox_trees(tmp_path):
    path, _ = _curves(tmp_path)
    assert_valid_tree(path)
    scan = synth.Scan(dots=[(1.0, 2.0, 2, 2)])
    frames = [
        synth.classic_frame(0, RAW, synth.Scan()),
        synth.classic_frame(201, RAW.reshape(1, -1)[:, :4], scan),
    ]
    frames.append(synth.classic_frame(1, RAW.reshape(1, -1), synth.Scan(x=(0.0, 1.0, synth.V), title="IV")))
    assert_valid_tree(_write(tmp_path / "all.mdt", *frames))
    assert len(model.signal_nodes(pycrox.open_tree(tmp_path / "all.mdt"))) == 3


def test_every_door_gives_the_same_curves(tmp_path):
    path, _ = _curves(tmp_path)
    ours = pycrox.open(path, group="I(V) map Current")
    theirs = xr.open_dataset(path, engine=NTMDTBackendEntrypoint, group="I(V) map Current")
    np.testing.assert_array_equal(ours.values, theirs[ours.name].values)
    assert formats.by_name(pycrox.detect_format(path)).name == "ntmdt_mdt"


# --------------------------------------------------------------------------- bad input


def test_short_scan_variables_name_the_file_and_offset(tmp_path):
    path = _write(tmp_path / "short.mdt", synth.classic_frame(0, RAW, synth.Scan(var_size=40)))
    with pytest.raises(FormatError, match=r"short\.mdt:offset 55.*40 bytes of scan variables"):
        mdt.read_tree(path)


def test_truncated_classic_data_name_the_file_and_offset(tmp_path):
    frame = bytearray(synth.classic_frame(0, RAW, synth.Scan()))
    frame[22 + 2 + 107 : 22 + 4 + 107] = (500).to_bytes(2, "little")  # xres 500 in the frame mode
    path = _write(tmp_path / "cut.mdt", bytes(frame))
    with pytest.raises(FormatError, match=r"cut\.mdt:offset \d+.*run past the frame"):
        mdt.read_tree(path)


def test_curve_frame_errors_name_the_file_and_offset(tmp_path):
    frame = synth.curves_frame([synth.Curve(np.zeros(5), point=0, direction=0)], [(0.0, 0.0)])
    bad = frame.replace(
        b'<Data name="data0.dat" offset="0" count="5"', b'<Data name="data0.dat" offset="0" count="9"'
    )
    with pytest.raises(FormatError, match=r"count\.mdt:offset \d+.*data record 0 claims 9 values"):
        mdt.read_tree(_write(tmp_path / "count.mdt", bad))
    missing = frame.replace(b"index.xml", b"other.xml")
    with pytest.raises(FormatError, match=r"noindex\.mdt:offset \d+.*no index\.xml"):
        mdt.read_tree(_write(tmp_path / "noindex.mdt", missing))
    broken = frame.replace(b"</Comment>", b"</Cimment>")
    with pytest.raises(FormatError, match=r"xml\.mdt:offset \d+.*not well-formed"):
        mdt.read_tree(_write(tmp_path / "xml.mdt", broken))


def test_mutated_synthetic_files_fail_only_with_errors_naming_the_file(tmp_path):
    path, _ = _curves(tmp_path)
    scan = synth.Scan(dots=[(1.0, 2.0, 2, 2)])
    sources = [
        path.read_bytes(),
        synth.mdt_file([synth.classic_frame(0, RAW, synth.Scan())]),
        synth.mdt_file([synth.classic_frame(201, RAW.reshape(1, -1)[:, :4], scan)]),
    ]
    rng = random.Random(13)
    for i in range(150):
        data = bytearray(sources[i % len(sources)])
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(33, len(data))] ^= 1 << rng.randrange(8)
        if i % 5 == 0:
            data = data[: rng.randrange(34, len(data))]
        target = tmp_path / f"mutant{i}.mdt"
        target.write_bytes(bytes(data))
        message = None
        try:
            for da in model.signal_nodes(mdt.read_tree(target)).values():
                da.values  # noqa: B018 - reading is the point
        except PycroxError as exc:
            message = str(exc)
        assert message is None or target.name in message
