"""Nanonis reader: manifest corpus through every door, SciFiReaders values, synthetic grids, bad input."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.nanonis import NanonisBackendEntrypoint
from pycrox.readers.nanonis import reader as nanonis
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

GRID = "nanonis/NanonisReader_STS_grid_lockin.3ds"
# The manifest copies SciFiReaders' axis names for the grid (first axis "X"). The file says otherwise:
# consecutive records step along the frame's x direction (the per-point "X (m)"/"Y (m)" parameters
# move by (+d, -d) per record for the 45-degree frame, by (+d, +d) per row), so the first C-order
# axis is y. See docs/formats/nanonis.md.
_XY_NOTE = "manifest names the slow grid axis X (SciFiReaders); the file's point positions show it is y"


def _cases() -> list:
    return [
        pytest.param(rel, marks=pytest.mark.xfail(reason=_XY_NOTE, strict=True)) if rel == GRID else rel
        for rel in manifest_files("nanonis/")
    ]


@pytest.fixture(scope="module")
def nanonis_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "nanonis"


def _signals(path: Path) -> dict[str, xr.DataArray]:
    return {k.strip("/"): v for k, v in model.signal_nodes(pycrox.open_tree(path)).items()}


def _scifi(kind: str, path: Path) -> list:
    scifi = pytest.importorskip("SciFiReaders")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(scifi, f"Nanonis{kind}Reader")(str(path)).read()
    return list(out.values()) if isinstance(out, dict) else list(out)


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", _cases())
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, NanonisBackendEntrypoint) == []


def test_grid_fails_the_manifest_only_on_axis_names(shared_data):
    fails = check(GRID, "open_tree", NanonisBackendEntrypoint)
    assert fails
    assert all("x/y swapped" in f for f in fails)


@pytest.mark.parametrize("rel", manifest_files("nanonis/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.parametrize("name", ["A151216.123306-02602.sxm", "Au_mica_2023_Y_A_diPAMY_195.sxm"])
def test_sxm_frames_are_the_stored_frames(nanonis_dir, name):
    raw = (nanonis_dir / name).read_bytes()
    start = raw.find(b"\x1a\x04", raw.find(b":SCANIT_END:")) + 2
    signals = _signals(nanonis_dir / name)
    n = signals["Z forward"].shape[0]
    frames = np.frombuffer(raw[start:], ">f4").reshape(-1, n, n)
    assert len(signals) == frames.shape[0]
    for index, da in enumerate(signals.values()):
        np.testing.assert_array_equal(da.values, frames[index])
        assert da.dtype == np.float32
    assert list(signals)[:2] == ["Z forward", "Z backward"]


def test_sxm_metadata_scan_frame(nanonis_dir):
    da = _signals(nanonis_dir / "Au_mica_2023_Y_A_diPAMY_195.sxm")["Current backward"]
    meta = da.attrs["metadata"]
    assert meta["scan_direction"] == "down"
    assert meta["scan_angle"] == {"value": 135.1, "units": "deg"}
    assert meta["bias"] == {"value": -0.05, "units": "V"}
    assert da.attrs["units"] == "A"
    np.testing.assert_allclose(np.diff(da.x.values), 4e-9 / 256)
    assert da.attrs["original_metadata"]["header"]["DATA_INFO"]["Calibration"] == [9e-9, 1e-9]


@pytest.mark.parametrize(
    "name", ["Bias-Spectroscopy002.dat", "Z-Spectroscopy010.dat", "NanonisReader_BiasSpectroscopy.dat"]
)
def test_dat_columns_equal_scifireaders(nanonis_dir, name):
    reference = _scifi("Dat", nanonis_dir / name)
    ours = list(_signals(nanonis_dir / name).values())
    assert len(ours) == len(reference)
    for da, ref in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(da.values, np.asarray(ref))
        np.testing.assert_allclose(da[da.dims[0]].values[[0, -1]], np.asarray(ref.dim_0.values)[[0, -1]])


def test_dat_sweep_coordinate_and_units(nanonis_dir):
    signals = _signals(nanonis_dir / "Z-Spectroscopy010.dat")
    assert list(signals)[:2] == ["Current", "Phase"]
    phase = signals["Phase [bwd]"]
    assert phase.dims == ("z",)
    assert (phase.attrs["units"], phase.z.attrs["units"]) == ("deg", "m")
    assert phase.attrs["title"] == "Phase [bwd] (deg)"
    assert phase.attrs["metadata"]["exposure_time"] == {"value": 0.006, "units": "s"}


def test_grid_equals_scifireaders_and_parameters_are_coordinates(nanonis_dir):
    path = nanonis_dir / "NanonisReader_STS_grid_lockin.3ds"
    reference = _scifi("3ds", path)
    ours = list(_signals(path).values())
    for da, ref in zip(ours, reference, strict=True):
        np.testing.assert_array_equal(da.values, np.asarray(ref))
    current = ours[0]
    assert current.dims == ("y", "x", "bias")
    np.testing.assert_allclose(current.bias.values[[0, -1]], [-0.22, 0.22], rtol=1e-6)
    raw = path.read_bytes()
    first = np.frombuffer(raw, ">f4", count=10, offset=raw.find(b":HEADER_END:") + 14)
    assert current.sweep_start.dims == ("y", "x")
    assert current.point_x.attrs["units"] == "m"
    assert float(current.point_x[0, 0]) == first[2]
    assert float(current.integration_time[0, 0]) == first[7]


# --------------------------------------------------------------------------- synthetic grids


def _grid(path: Path, nx: int, ny: int, points: int, channels: int, n_params: int = 4) -> np.ndarray:
    """Write a 3DS grid as Nanonis documents it; return the records ``(ny, nx, values)``."""
    rng = np.random.default_rng(1)
    record = rng.normal(size=(ny, nx, n_params + channels * points)).astype(">f4")
    record[..., 0], record[..., 1] = -1.0, 1.0
    names = ";".join(f"Ch{i} (A)" for i in range(channels))
    header = (
        f'Grid dim="{nx} x {ny}"\r\nGrid settings=0;0;1E-8;2E-8;0\r\nSweep Signal="Bias (V)"\r\n'
        f'Fixed parameters="Sweep Start;Sweep End"\r\nExperiment parameters="X (m);Y (m)"\r\n'
        f"# Parameters (4 byte)={n_params}\r\nExperiment size (bytes)={channels * points * 4}\r\n"
        f'Points={points}\r\nChannels="{names}"\r\nDate="01.02.2024 10:00:00"\r\nUser=\r\n:HEADER_END:\r\n'
    )
    path.write_bytes(header.encode() + record.tobytes())
    return record


def test_synthetic_grid_channels_and_slices(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=5, ny=4, points=7, channels=3)
    signals = _signals(tmp_path / "g.3ds")
    assert list(signals) == ["Ch0", "Ch1", "Ch2"]
    for index, da in enumerate(signals.values()):
        expected = record[..., 4 + index * 7 : 4 + (index + 1) * 7]
        np.testing.assert_array_equal(da.values, expected)
        np.testing.assert_array_equal(da[1:3, ::2, 2].values, expected[1:3, ::2, 2])
        np.testing.assert_array_equal(da[::-1, 3].values, expected[::-1, 3])
        np.testing.assert_array_equal(da[2].values, expected[2])
    assert signals["Ch1"].dtype == np.dtype("float32")
    np.testing.assert_allclose(signals["Ch1"].y.values[[0, -1]], [-1e-8, 1e-8])


def test_grid_row_slice_reads_only_its_records(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=6, ny=5, points=8, channels=2)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting)
    counting.reset()
    row = tree["Ch1"]["Ch1"][3].values
    record_bytes = (4 + 2 * 8) * 4
    assert counting.bytes_read() == 6 * record_bytes  # one grid row, not the file
    np.testing.assert_array_equal(row, record[3, :, 12:20])


def test_grid_opens_lazily_in_blocks(tmp_path, monkeypatch):
    from pycrox.readers.nanonis import _strided

    monkeypatch.setattr(_strided, "BLOCK_BYTES", 100)  # several blocks per read
    record = _grid(tmp_path / "g.3ds", nx=7, ny=3, points=5, channels=2)
    da = _signals(tmp_path / "g.3ds")["Ch0"]
    assert not da.variable._in_memory
    np.testing.assert_array_equal(da.values, record[..., 4:9])


def test_grid_read_together_makes_one_pass(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=6, ny=5, points=8, channels=3)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting, read_together=True)
    counting.reset()
    first = tree["Ch2"]["Ch2"].values
    one_pass = counting.bytes_read()
    assert one_pass == 6 * 5 * (4 + 3 * 8) * 4  # the whole grid, once
    others = [tree[name][name].values for name in ("Ch0", "Ch1")]
    assert counting.bytes_read() == one_pass  # handed out, not read again
    for index, values in enumerate([*others, first]):
        np.testing.assert_array_equal(values, record[..., 4 + index * 8 : 4 + (index + 1) * 8])
    counting.reset()
    again = tree["Ch0"]["Ch0"][1:3].values  # a part reads only its rows, parked or not
    assert counting.bytes_read() == 2 * 6 * (4 + 3 * 8) * 4
    np.testing.assert_array_equal(again, record[1:3, :, 4:12])


def _grid_file(da: xr.DataArray):
    """The `GridFile` behind a grid channel (or parameter coordinate)."""
    array = da.variable._data
    while hasattr(array, "array"):
        array = array.array
    return array.grid


def test_grid_default_reads_every_channel_in_one_pass(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=6, ny=5, points=8, channels=3)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting)  # default options
    counting.reset()
    values = [tree[name][name].values for name in ("Ch0", "Ch1", "Ch2")]  # each channel in turn
    assert counting.bytes_read() == 6 * 5 * (4 + 3 * 8) * 4  # the grid once, not once per channel
    for index, got in enumerate(values):
        np.testing.assert_array_equal(got, record[..., 4 + index * 8 : 4 + (index + 1) * 8])
    assert _grid_file(tree["Ch0"]["Ch0"]).parked == ()  # every parked channel was handed out


def test_grid_parked_channels_are_handed_out_once(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=4, ny=3, points=5, channels=3)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting)
    grid = _grid_file(tree["Ch0"]["Ch0"])
    _ = tree["Ch0"]["Ch0"].values
    assert grid.parked == (1, 2)
    _ = tree["Ch1"]["Ch1"].values
    assert grid.parked == (2,)
    counting.reset()
    again = tree["Ch1"]["Ch1"].values  # handed out already: read from the file again (parks nothing new)
    assert counting.bytes_read() == 4 * 3 * (4 + 3 * 5) * 4
    np.testing.assert_array_equal(again, record[..., 9:14])
    assert grid.parked == (2,)


@pytest.mark.parametrize("how", ["tree", "node", "open_dataset"])
def test_grid_close_drops_parked_channels(tmp_path, how):
    import gc

    _grid(tmp_path / "g.3ds", nx=4, ny=3, points=5, channels=3)
    gc.disable()  # open_dataset's tree is garbage already: keep it (and its channels) until closed
    try:
        if how == "open_dataset":
            obj = xr.open_dataset(tmp_path / "g.3ds", engine=NanonisBackendEntrypoint, group="Ch0")
            da = obj["Ch0"]
        else:
            tree = pycrox.open_tree(tmp_path / "g.3ds")
            obj, da = (tree if how == "tree" else tree["Ch2"]), tree["Ch0"]["Ch0"]
        grid = _grid_file(da)
        _ = da.values
        assert grid.parked == (1, 2)  # the other channels, not collected yet
        obj.close()
        assert grid.parked == ()
    finally:
        gc.enable()


def test_grid_parks_only_channels_someone_can_still_read(tmp_path):
    import gc

    _grid(tmp_path / "g.3ds", nx=4, ny=3, points=5, channels=3)
    da = pycrox.open(tmp_path / "g.3ds", group="Ch1")  # the tree and its other channels are dropped
    gc.collect()
    grid = _grid_file(da)
    _ = da.values
    assert grid.parked == ()  # nothing parked for channels nobody holds
    tree = pycrox.open_tree(tmp_path / "g.3ds")
    _ = tree["Ch0"]["Ch0"].values
    grid = _grid_file(tree["Ch0"]["Ch0"])
    assert grid.parked == (1, 2)
    del tree["Ch2"]  # dropping a node drops what was parked for it
    gc.collect()
    assert grid.parked == (1,)


def test_grid_parking_is_bounded(tmp_path, monkeypatch):
    from pycrox.readers.nanonis import _strided

    _grid(tmp_path / "g.3ds", nx=4, ny=3, points=5, channels=4)
    channel_bytes = 4 * 3 * 5 * 4
    monkeypatch.setattr(_strided, "PARK_BYTES", 2 * channel_bytes)
    for option, parked in [(None, (1, 2)), (True, (1, 2, 3)), (False, ())]:
        tree = pycrox.open_tree(tmp_path / "g.3ds", read_together=option)
        _ = tree["Ch0"]["Ch0"].values
        assert _grid_file(tree["Ch0"]["Ch0"]).parked == parked, option


def test_grid_parts_read_only_what_they_cover(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=6, ny=5, points=8, channels=2)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting)
    da = tree["Ch1"]["Ch1"]
    record_bytes = (4 + 2 * 8) * 4
    counting.reset()
    np.testing.assert_array_equal(da[2, 3].values, record[2, 3, 12:20])  # one point: one record
    assert counting.bytes_read() == record_bytes
    counting.reset()
    np.testing.assert_array_equal(da[4, 1:5:2, 3].values, record[4, 1:5:2, 15])  # points of one row
    assert counting.bytes_read() == 3 * record_bytes
    assert _grid_file(da).parked == ()  # parts never park


def test_grid_parameters_are_read_on_first_use_once(tmp_path):
    record = _grid(tmp_path / "g.3ds", nx=6, ny=5, points=8, channels=2)
    counting = CountingFile.of(tmp_path / "g.3ds")
    tree = nanonis.read_tree(counting)
    header_bytes = len((tmp_path / "g.3ds").read_bytes()) - record.nbytes
    assert counting.bytes_read() < 2 * header_bytes + 2 * 2**20  # the header and the first record
    da = tree["Ch0"]["Ch0"]
    counting.reset()
    np.testing.assert_array_equal(da.point_x.values, record[..., 2])
    np.testing.assert_array_equal(tree["Ch1"]["Ch1"].sweep_end.values, record[..., 1])
    assert counting.bytes_read() == record.nbytes  # one pass for every parameter of every channel
    assert da.point_x.dtype == np.dtype("float32")


def test_grid_read_together_is_an_engine_option_and_pickles(tmp_path):
    import pickle

    record = _grid(tmp_path / "g.3ds", nx=3, ny=2, points=4, channels=2)
    ds = xr.open_dataset(tmp_path / "g.3ds", engine=NanonisBackendEntrypoint, group="Ch1", read_together=True)
    back = pickle.loads(pickle.dumps(ds["Ch1"]))
    np.testing.assert_array_equal(back.values, record[..., 8:12])


@pytest.mark.parametrize(
    "rel", ["nanonis/Au_mica_2023_Y_A_diPAMY_195.sxm", "nanonis/Z-Spectroscopy010.dat", GRID]
)
@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_conversion_is_lossless(rel, store, shared_data, tmp_path):
    signals = list(_signals(shared_data / "vendor" / rel).values())
    da = signals[-1].load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)


# --------------------------------------------------------------------------- bad input


def test_guess_claims_the_three_kinds_only(nanonis_dir, tmp_path):
    for name in ("A151216.123306-02602.sxm", "Z-Spectroscopy010.dat", "NanonisReader_STS_grid_lockin.3ds"):
        assert nanonis.guess_can_open(nanonis_dir / name)
    (tmp_path / "other.dat").write_text("Time\tValue\n0\t1\n")
    assert not nanonis.guess_can_open(tmp_path / "other.dat")


def test_truncated_grid_names_the_file(tmp_path):
    _grid(tmp_path / "g.3ds", nx=4, ny=4, points=5, channels=2)
    raw = (tmp_path / "g.3ds").read_bytes()
    (tmp_path / "cut.3ds").write_bytes(raw[:-100])
    with pytest.raises(FormatError, match=r"cut\.3ds.*truncated"):
        nanonis.read_tree(tmp_path / "cut.3ds")


def test_sxm_without_end_marker_names_the_file(nanonis_dir, tmp_path):
    raw = (nanonis_dir / "A151216.123306-02602.sxm").read_bytes()
    (tmp_path / "cut.sxm").write_bytes(raw[:2000])
    with pytest.raises(FormatError, match=r"cut\.sxm:header: no ':SCANIT_END:'"):
        nanonis.read_tree(tmp_path / "cut.sxm")


def test_truncated_sxm_data_names_the_file(nanonis_dir, tmp_path):
    raw = (nanonis_dir / "A151216.123306-02602.sxm").read_bytes()
    (tmp_path / "short.sxm").write_bytes(raw[:-5000])
    with pytest.raises(FormatError, match=r"short\.sxm.*truncated"):
        nanonis.read_tree(tmp_path / "short.sxm")


def test_dat_with_ragged_table_names_the_file(nanonis_dir, tmp_path):
    text = (nanonis_dir / "Bias-Spectroscopy002.dat").read_text(encoding="latin-1")
    (tmp_path / "ragged.dat").write_text(
        text.rstrip().rsplit("\t", 1)[0], encoding="latin-1"
    )  # last value cut
    with pytest.raises(FormatError, match=r"ragged\.dat:\[DATA\]: .* do not fill rows"):
        nanonis.read_tree(tmp_path / "ragged.dat")


@pytest.mark.parametrize(
    "name", ["A151216.123306-02602.sxm", "Z-Spectroscopy010.dat", "NanonisReader_STS_grid_lockin.3ds"]
)
def test_fsspec_url_reads_like_the_path(nanonis_dir, name):
    fsspec = pytest.importorskip("fsspec")
    url = f"memory://nanonis-test/{name}"
    with fsspec.open(url, "wb") as fh:
        fh.write((nanonis_dir / name).read_bytes())
    remote, local = _signals(url), _signals(nanonis_dir / name)
    assert list(remote) == list(local)
    last = list(local)[-1]
    assert_lossless(remote[last].load(), local[last].load())
