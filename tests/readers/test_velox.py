"""Velox EMD reader: manifest corpus through every door, laziness, synthetic streams, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.ncem_emd import reader as ncem_emd
from pycrox.readers.velox import VeloxBackendEntrypoint
from pycrox.readers.velox import reader as velox
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

MARKER = 65535


@pytest.fixture(scope="module")
def velox_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "velox_emd"


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("velox_emd/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, VeloxBackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("velox_emd/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_open_datatree_door_equals_open_tree(velox_dir):
    path = velox_dir / "STEM_HAADF-DF4-DF2-BF_Diffraction_Micro.emd"
    via_xarray = xr.open_datatree(path, engine=VeloxBackendEntrypoint)
    ours = pycrox.open_tree(path)
    assert sorted(model.signal_nodes(via_xarray)) == ["/BF", "/DF2", "/DF4", "/HAADF"]
    for node in model.signal_nodes(ours):
        xr.testing.assert_identical(via_xarray[node].to_dataset().load(), ours[node].to_dataset().load())


def test_guess_claims_velox_only(shared_data, velox_dir):
    assert all(velox.guess_can_open(p) for p in velox_dir.glob("*.emd"))
    others = [
        *(shared_data / "vendor" / "ncem_emd").glob("*.emd"),
        *(shared_data / "nsid").glob("*.h5"),
        *(shared_data / "usid").glob("*.h5"),
        *(shared_data / "vendor" / "hspy").glob("*"),
    ]
    assert others
    assert not any(velox.guess_can_open(p) for p in others)
    assert not any(ncem_emd.guess_can_open(p) for p in velox_dir.glob("*.emd"))


def test_image_stack_keeps_the_stored_order(velox_dir):
    path = velox_dir / "EMDReader_SpectrumImage_Si.emd"
    da = pycrox.open(path, group="HAADF")
    with h5py.File(path) as f:
        raw = f["Data/Image/9f4e9989c30045d490f40dcf5ca5cd9d/Data"][()]
    assert da.dims == ("y", "x", "frame")
    np.testing.assert_array_equal(da.values, raw)
    np.testing.assert_allclose(da.frame.values, 0.0416 * np.arange(5))
    assert da.frame.attrs["units"] == "s"
    assert da.attrs["data_type"] == "IMAGE_STACK"
    frames = da.attrs["original_metadata"]["Frames"]
    assert len(frames) == 5
    assert frames[0] == {}


def test_complex_images_are_complex64(velox_dir):
    path = velox_dir / "fei_example_dpc_titles.emd"
    da = pycrox.open(path, group="DPC")
    with h5py.File(path) as f:
        raw = f["Data/Image/48ec9761367a4318866a522029cbac29/Data"][:, :, 0]
    assert da.dtype == np.complex64
    np.testing.assert_array_equal(da.values, raw["realFloat"] + 1j * raw["imagFloat"])


def test_diffraction_axes_are_reciprocal(velox_dir):
    da = pycrox.open(velox_dir / "Camera_Ceta_Diffraction_Micro.emd")
    assert da.dims == ("ky", "kx")
    assert da.kx.attrs["units"] == "1/nm"
    assert da.kx.attrs["dimension_type"] == "RECIPROCAL"
    np.testing.assert_allclose(float(da.kx[1] - da.kx[0]), 0.11442968019923937, rtol=1e-12)


def test_metadata_are_normalised(velox_dir):
    da = pycrox.open(velox_dir / "EMDReader_Image_FEI.emd")
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert meta["magnification"] == 40000.0
    assert meta["dwell_time"] == {"value": pytest.approx(2e-5), "units": "s"}
    assert (meta["date"], meta["time"], meta["detector"]) == ("2017-03-06", "09:56:41", "HAADF")
    assert da.attrs["original_metadata"]["Optics"]["AccelerationVoltage"] == "200000"


def test_camera_exposure_and_stack_period(velox_dir):
    da = pycrox.open(velox_dir / "fei_example_tem_stack.emd")
    assert da.attrs["metadata"]["exposure_time"] == {"value": 0.8, "units": "s"}
    assert "dwell_time" not in da.attrs["metadata"]
    np.testing.assert_allclose(da.frame.values, [0.0, 0.8])


def test_root_holds_the_file_metadata(velox_dir):
    tree = pycrox.open_tree(velox_dir / "Test_SI_16x16_215_kx.emd")
    assert tree.attrs["format_version"] == "11"
    assert tree.attrs["original_metadata"]["Version"] == {"version": "11", "format": "Velox"}
    assert "SharedProperties" in tree.attrs["original_metadata"]


@pytest.mark.reference
def test_signals_equal_rosettasciio(velox_dir):
    rsciio_emd = pytest.importorskip("rsciio.emd")
    pytest.importorskip("sparse")
    path = velox_dir / "Test_SI_16x16_215_kx.emd"
    reference = rsciio_emd.file_reader(str(path))
    tree = pycrox.open_tree(path)
    cube = next(r for r in reference if r["data"].ndim == 3)
    ours = tree["EDS"]["EDS"]
    np.testing.assert_array_equal(ours.values, cube["data"])
    energy = next(a for a in cube["axes"] if a["name"] == "X-ray energy")
    np.testing.assert_allclose(ours.energy[:2].values, [energy["offset"], energy["offset"] + energy["scale"]])
    tem = _mapped(cube)  # what HyperSpy would put under Acquisition_instrument.TEM
    assert ours.attrs["metadata"]["beam_energy"]["value"] == pytest.approx(tem["beam_energy"])
    assert ours.attrs["metadata"]["camera_length"]["value"] == pytest.approx(tem["camera_length"])
    assert ours.attrs["metadata"]["magnification"] == pytest.approx(tem["magnification"])


def _mapped(signal: dict) -> dict:
    """Apply a rosettasciio signal's metadata mapping to its original metadata (as HyperSpy does)."""
    out = {}
    for source, (target, convert) in signal["mapping"].items():
        value = signal["original_metadata"]
        for key in source.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if value is not None and target.startswith("Acquisition_instrument.TEM."):
            out[target.rsplit(".", 1)[-1]] = convert(value) if convert else value
    return out


def test_cube_slices_equal_the_whole(velox_dir):
    da = pycrox.open(velox_dir / "EMDReader_SpectrumImage_Si.emd", group="EDS")
    whole = da.values
    assert whole.sum() > 0
    np.testing.assert_array_equal(da[2:9:3, 5, 90:300].values, whole[2:9:3, 5, 90:300])
    np.testing.assert_array_equal(
        da.isel(x=[4, 1, 4], energy=[200, 100]).values, whole[:, [4, 1, 4]][:, :, [200, 100]]
    )
    assert int(da[3, 7, 150]) == whole[3, 7, 150]


# --------------------------------------------------------------------------- synthetic files


def _json_column(meta: dict) -> np.ndarray:
    text = json.dumps(meta).encode()
    column = np.zeros(60000, dtype=np.uint8)
    column[: len(text)] = np.frombuffer(text, dtype=np.uint8)
    return column


def _metadata(frames: list[dict]) -> np.ndarray:
    return np.stack([_json_column(m) for m in frames], axis=1)


def _text(group: h5py.Group, key: str, value: dict) -> None:
    group.create_dataset(key, data=[json.dumps(value).encode()], dtype=h5py.string_dtype())


def scan_meta(detector: str, kind: str = "ScanningDetector", **detector_fields: str) -> dict:
    return {
        "Optics": {"AccelerationVoltage": "300000"},
        "Acquisition": {"AcquisitionStartDatetime": {"DateTime": "1700000000"}},
        "Scan": {"ScanSize": {"width": "8", "height": "8"}, "DwellTime": "1e-06", "FrameTime": "0.5"},
        "BinaryResult": {
            "Detector": detector,
            "DetectorIndex": "0",
            "PixelUnitX": "m",
            "PixelSize": {"width": "2e-09", "height": "3e-09"},
            "Offset": {"x": "1e-09", "y": "0"},
        },
        "Detectors": {"Detector-0": {"DetectorName": detector, "DetectorType": kind, **detector_fields}},
    }


def encode_stream(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Velox stream of a ``(frame, y, x, channel)`` count array: channels per pixel, 65535 between pixels."""
    pieces = []
    for i, spectrum in enumerate(counts.reshape(-1, counts.shape[-1])):
        channels = np.repeat(np.arange(spectrum.size, dtype=np.uint16), spectrum)
        pieces.append(([MARKER] if i else []) + list(rng.permutation(channels)))
    return np.concatenate([np.asarray(p, dtype=np.uint16) for p in pieces])


def write_velox(
    path: Path,
    image: np.ndarray,
    streams: dict[str, np.ndarray] | None = None,
    *,
    bincount: int = 32,
    end_frame: int | None = None,
) -> Path:
    """A minimal Velox 11 file: one HAADF image ``(y, x, frame)`` and optional EDS streams."""
    with h5py.File(path, "w") as f:
        _text(f, "Version", {"version": "11", "format": "Velox"})
        group = f.create_group("Data/Image/aaaa0000")
        group.create_dataset("Data", data=image, chunks=(*image.shape[:2], 1))
        group.create_dataset("Metadata", data=_metadata([scan_meta("HAADF")] * image.shape[2]))
        for i, (detector, stream) in enumerate((streams or {}).items()):
            group = f.create_group(f"Data/SpectrumStream/bbbb000{i}")
            group.create_dataset("Data", data=stream.reshape(-1, 1), chunks=(min(8192, stream.size), 1))
            meta = scan_meta(detector, "AnalyticalDetector", Dispersion="10", OffsetEnergy="-500")
            group.create_dataset("Metadata", data=_metadata([meta]))
            _text(group, "AcquisitionSettings", {"bincount": str(bincount), "StreamEncoding": "uint16"})
        if end_frame is not None:
            _text(
                f.create_group("Data/SpectrumImage/cccc0000"),
                "SpectrumImageSettings",
                {"endFramePosition": str(end_frame)},
            )
    return path


@pytest.fixture
def counts() -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.poisson(0.3, size=(3, 8, 8, 32)).astype(np.int64)  # frames, y, x, channels


def test_streams_of_all_detectors_are_summed(tmp_path, counts):
    rng = np.random.default_rng(1)
    second = np.roll(counts, 1, axis=-1)
    streams = {"SuperXG21": encode_stream(counts, rng), "SuperXG22": encode_stream(second, rng)}
    path = write_velox(tmp_path / "si.emd", np.zeros((8, 8, 1), np.uint16), streams)
    da = pycrox.open(path, group="EDS")
    assert da.dims == ("y", "x", "energy")
    assert da.dtype == np.uint16
    np.testing.assert_array_equal(da.values, (counts + second).sum(axis=0))
    np.testing.assert_allclose(da.energy[:3].values, [-0.5, -0.49, -0.48])
    np.testing.assert_allclose(da.x[:2].values, [1.0, 3.0])
    np.testing.assert_allclose(da.y[:2].values, [0.0, 3.0])
    assert da.attrs["metadata"]["detector"] == "SuperXG21+SuperXG22"
    assert "live_time" not in da.attrs["metadata"]


def test_frames_after_end_position_are_ignored(tmp_path, counts):
    stream = encode_stream(counts, np.random.default_rng(2))
    path = write_velox(
        tmp_path / "si.emd", np.zeros((8, 8, 1), np.uint16), {"SuperXG21": stream}, end_frame=2
    )
    np.testing.assert_array_equal(pycrox.open(path, group="EDS").values, counts[:2].sum(axis=0))


def test_long_streams_widen_the_cube_dtype(tmp_path):
    counts = np.zeros((1, 8, 8, 32), np.int64)
    counts[0, 2, 3, 5] = 70_000  # more than uint16 holds in one voxel
    stream = encode_stream(counts, np.random.default_rng(3))
    da = pycrox.open(
        write_velox(tmp_path / "si.emd", np.zeros((8, 8, 1), np.uint16), {"G1": stream}), group="EDS"
    )
    assert da.dtype == np.uint32
    assert int(da[2, 3, 5]) == 70_000


def test_open_reads_neither_image_nor_stream(tmp_path, counts):
    image = np.arange(512 * 512, dtype=np.uint16).reshape(512, 512, 1)
    stream = np.tile(encode_stream(counts, np.random.default_rng(4)), 40)
    path = write_velox(tmp_path / "big.emd", image, {"SuperXG21": stream})
    handle = CountingFile.of(path)
    tree = velox.read_tree(handle)
    assert handle.bytes_read() < 250_000  # image 512 KB, stream ~290 KB, metadata 2 x 60 KB
    handle.reset()
    assert tree["HAADF"]["HAADF"][:16].values.shape == (16, 512)
    assert image.nbytes <= handle.bytes_read() < image.nbytes + 16_000  # Velox stores a frame as one chunk
    handle.reset()
    assert tree["EDS"]["EDS"].values.sum() > 0
    assert handle.bytes_read() >= stream.nbytes


def test_fsspec_url_reads_like_a_path(velox_dir):
    name = "fei_example_dpc_titles.emd"
    fs = fsspec.filesystem("memory")
    fs.pipe(f"/velox-url/{name}", (velox_dir / name).read_bytes())
    remote = pycrox.open_tree(f"memory://velox-url/{name}")
    local = pycrox.open_tree(velox_dir / name)
    for path in model.signal_nodes(local):
        xr.testing.assert_identical(remote[path].to_dataset().load(), local[path].to_dataset().load())
    fs.rm("/velox-url", recursive=True)


def test_backend_open_dataset_picks_a_group(velox_dir):
    path = velox_dir / "EMDReader_SpectrumImage_Si.emd"
    ds = xr.open_dataset(path, engine=VeloxBackendEntrypoint, group="EDS")
    assert list(ds.data_vars) == ["EDS"]
    xr.testing.assert_identical(ds["EDS"].load(), pycrox.open(path, group="EDS").load())


# --------------------------------------------------------------------------- bad input


def test_truncated_file_is_a_format_error(tmp_path, velox_dir):
    data = (velox_dir / "EMDReader_Image_FEI.emd").read_bytes()
    path = tmp_path / "truncated.emd"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(FormatError, match=r"truncated\.emd"):
        pycrox.open_tree(path, engine="velox")


def test_wrong_magic_is_not_claimed(tmp_path):
    path = tmp_path / "text.emd"
    path.write_text("not an HDF5 file")
    assert not velox.guess_can_open(path)
    with pytest.raises(FormatError, match=r"text\.emd"):
        velox.read_tree(path)


def test_hdf5_without_velox_layout_is_refused(tmp_path):
    path = tmp_path / "plain.emd"
    with h5py.File(path, "w") as f:
        f.create_dataset("Data/x", data=[1, 2])
    assert not velox.guess_can_open(path)
    with pytest.raises(FormatError, match=r"plain.emd:/Version: no Velox layout"):
        velox.read_tree(path)


def test_signal_group_without_data_is_a_format_error(tmp_path):
    path = write_velox(tmp_path / "nodata.emd", np.zeros((4, 4, 1), np.uint16))
    with h5py.File(path, "a") as f:
        del f["Data/Image/aaaa0000/Data"]
    with pytest.raises(FormatError, match=r"nodata.emd:/Data/Image/aaaa0000: .*no 'Data'"):
        velox.read_tree(path)


def test_broken_metadata_json_is_a_format_error(tmp_path):
    path = write_velox(tmp_path / "badjson.emd", np.zeros((4, 4, 1), np.uint16))
    with h5py.File(path, "a") as f:
        column = np.zeros((60000, 1), np.uint8)
        column[:5, 0] = np.frombuffer(b'{"a":', np.uint8)
        f["Data/Image/aaaa0000/Metadata"][...] = column
    with pytest.raises(
        FormatError, match=r"badjson.emd:/Data/Image/aaaa0000/Metadata\[:, 0\]: .*not valid JSON"
    ):
        velox.read_tree(path)


def test_stream_value_beyond_bincount_fails_on_load(tmp_path, counts):
    stream = encode_stream(counts, np.random.default_rng(5))
    stream[3] = 40  # bincount is 32
    da = pycrox.open(
        write_velox(tmp_path / "badstream.emd", np.zeros((8, 8, 1), np.uint16), {"G1": stream}), group="EDS"
    )
    with pytest.raises(FormatError, match=r"badstream.emd:.*stream value 40 is neither a channel below 32"):
        da.load()


def test_damaged_hdf5_structure_is_a_format_error(velox_dir, monkeypatch):
    def damaged(*args, **kwargs):
        raise RuntimeError("Object visitation failed (bad symbol table node signature)")

    monkeypatch.setattr(velox.meta_, "file_metadata", damaged)  # what libhdf5 raises on a corrupt B-tree
    with pytest.raises(FormatError, match=r"EMDReader_Image_FEI\.emd: damaged HDF5 structure \(RuntimeError"):
        velox.read_tree(velox_dir / "EMDReader_Image_FEI.emd")


def test_cube_pickles_and_reads_in_dask_chunks(velox_dir):
    import pickle

    path = velox_dir / "Test_SI_16x16_215_kx.emd"
    whole = pycrox.open(path, group="EDS").values
    chunked = pycrox.open(path, group="EDS", chunks={"y": 4, "energy": 1024})
    assert chunked.chunks is not None
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(chunked)).values, whole)
    assert int(chunked.sum()) == int(whole.sum()) == 42097  # all X-rays of the four detectors


# --------------------------------------------------------------------------- issue #12: EELS spectrum images


@pytest.fixture(scope="module")
def eels_file(shared_data: Path) -> Path:
    path = shared_data / "vendor-gaps" / "velox_emd" / "rsciio_example_velox_EELS_EDS.emd"
    if not path.is_file():
        pytest.skip(f"vendor-gaps sample not found at {path}")
    return path


def _eels_doors(path: Path) -> dict[str, list[xr.DataArray]]:
    signals = model.signal_nodes(pycrox.open_tree(path))
    groups = [g for g, da in signals.items() if da.attrs["modality"] == "EELS"]
    return {
        "open_tree": [signals[g] for g in groups],
        "open": [pycrox.open(path, group=g) for g in groups],
        "open_dataset": [
            xr.open_dataset(path, engine=VeloxBackendEntrypoint, group=g)[g.strip("/")] for g in groups
        ],
    }


@pytest.mark.reference
def test_eels_spectrum_images_equal_rosettasciio(eels_file):
    rsciio_emd = pytest.importorskip("rsciio.emd")
    references = [
        r
        for r in rsciio_emd.file_reader(str(eels_file), lazy=True)
        if r["metadata"]["General"]["title"] == "EELS"
    ]
    by_offset = {r["axes"][2]["offset"]: r for r in references}
    assert sorted(by_offset) == pytest.approx([-21.5026, 480.0, 800.0])
    for door, signals in _eels_doors(eels_file).items():
        assert len(signals) == 3, door
        for da in signals:
            assert da.dims == ("x", "energy_loss", "y"), door  # the stored order
            assert not da.variable._in_memory
            offset = float(da.energy_loss[0])
            reference = by_offset[min(by_offset, key=lambda o: abs(o - offset))]
            loss = reference["axes"][2]
            np.testing.assert_allclose(
                da.energy_loss.values, loss["offset"] + loss["scale"] * np.arange(loss["size"])
            )
            assert da.energy_loss.attrs["units"] == loss["units"] == "eV"
            np.testing.assert_array_equal(
                da.transpose("y", "x", "energy_loss").values, np.asarray(reference["data"])
            )
            for dim, axis in zip(("y", "x"), reference["axes"][:2], strict=True):
                assert da[dim].attrs["units"] == axis["units"] == "nm"
                np.testing.assert_allclose(
                    da[dim].values, axis["offset"] + axis["scale"] * np.arange(axis["size"])
                )
            meta = da.attrs["metadata"]
            assert set(meta) <= set(model.METADATA_KEYS)
            assert (meta["signal"], meta["detector"], meta["beam_energy"]) == (
                "EELS", "Zebra", {"value": 300.0, "units": "keV"}
            )  # fmt: skip
            assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    offsets = sorted(float(da.energy_loss[0]) for da in _eels_doors(eels_file)["open"])
    assert offsets == pytest.approx([-21.5026, 480.0, 800.0])  # the three Zebra ranges, with their offsets


def _eels_group(f: h5py.File, data: np.ndarray, offset: float, dispersion: float) -> None:
    group = f.create_group("Data/EelsSpectrumImage/dddd0000")
    group.create_dataset("Data", data=data)
    meta = scan_meta("Zebra", "AnalyticalDetector")
    del meta["BinaryResult"]["PixelSize"], meta["BinaryResult"]["Offset"]  # as Velox writes them
    group.create_dataset("Metadata", data=_metadata([meta]))
    lines = data.shape[2] if data.ndim == 3 else 1
    acquisition = {"Data": {"offset": offset, "dispersion": dispersion, "exposureTime": 0.002}}
    group.create_dataset("AcquisitionMetadata", data=_metadata([acquisition] * lines))


def test_eels_spectrum_image_takes_the_scan_calibration(tmp_path):
    image = np.zeros((6, 8, 1), dtype=np.uint16)  # y, x, frame
    cube = np.random.default_rng(3).integers(0, 1000, size=(8, 16, 6), dtype=np.uint16)  # x, loss, y
    path = write_velox(tmp_path / "eels.emd", image)
    with h5py.File(path, "a") as f:
        _eels_group(f, cube, offset=-5.0, dispersion=0.25)
    tree = pycrox.open_tree(path)
    da = tree["EELS"]["EELS"]
    assert da.dims == ("x", "energy_loss", "y")
    np.testing.assert_array_equal(da.values, cube)
    np.testing.assert_allclose(da.energy_loss.values, -5.0 + 0.25 * np.arange(16))
    np.testing.assert_allclose(da.x.values, 1.0 + 2.0 * np.arange(8))  # the HAADF image's pixels, nm
    np.testing.assert_allclose(da.y.values, 3.0 * np.arange(6))
    assert da.attrs["metadata"]["exposure_time"] == {"value": 0.002, "units": "s"}
    assert da.attrs["original_metadata"]["SpatialCalibration"]["from"] == "/Data/Image/aaaa0000"


def test_eels_line_scan_and_bad_shape(tmp_path):
    path = write_velox(tmp_path / "line.emd", np.zeros((1, 8, 1), dtype=np.uint16))
    with h5py.File(path, "a") as f:
        _eels_group(f, np.ones((8, 4), dtype=np.uint16), offset=100.0, dispersion=1.0)
    da = pycrox.open_tree(path)["EELS"]["EELS"]
    assert da.dims == ("x", "energy_loss")
    np.testing.assert_allclose(da.energy_loss.values, [100.0, 101.0, 102.0, 103.0])
    bad = write_velox(tmp_path / "bad.emd", np.zeros((8, 8, 1), dtype=np.uint16))
    with h5py.File(bad, "a") as f:
        _eels_group(f, np.ones((2, 2, 2, 2), dtype=np.uint16), offset=0.0, dispersion=1.0)
    with pytest.raises(
        FormatError, match=r"bad\.emd:/Data/EelsSpectrumImage/dddd0000/Data: EELS data has shape"
    ):
        pycrox.open_tree(bad)


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
def test_eels_conversion_is_lossless(eels_file, store, tmp_path):
    da = pycrox.open(eels_file, group="EELS_2").isel(y=slice(0, 2)).load()
    assert da.attrs["modality"] == "EELS"
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)
