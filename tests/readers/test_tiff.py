"""TIFF reader: every corpus file through three doors, vendor calibrations, laziness, bad input."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import fsspec
import numpy as np
import pytest
import tifffile
import xarray as xr

import pycrox
from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers.tiff import TIFFBackendEntrypoint, _data
from pycrox.readers.tiff import reader as tiff
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files

FILES = manifest_files("tiff/")


@pytest.fixture(scope="module")
def tiff_dir(shared_data) -> Path:
    return shared_data / "vendor" / "tiff"


# ----------------------------------------------------------------------------------- corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_matches_manifest(rel, door):
    assert check(rel, door, TIFFBackendEntrypoint) == []


@pytest.mark.parametrize("rel", FILES)
def test_corpus_file_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_every_corpus_file_is_detected_as_tiff(tiff_dir):
    for path in sorted(tiff_dir.iterdir()):
        assert pycrox.io.detect_format(path) == "tiff", path.name


def test_fei_metadata_agrees_with_tifffile(tiff_dir):
    path = tiff_dir / "FEI-Helios-Ebeam-16bits.tif"
    with tifffile.TiffFile(path) as tif:
        fei = tif.fei_metadata
    da = pycrox.open(path)
    md = da.attrs["metadata"]
    assert md["beam_energy"] == {"value": fei["Beam"]["HV"] / 1000, "units": "keV"}
    assert md["dwell_time"] == {"value": fei["Scan"]["Dwelltime"], "units": "s"}
    assert md["date"] == "2016-06-13"
    assert md["time"] == "17:06:40"
    step = float(da.x[1] - da.x[0])
    assert da.x.attrs["units"] == "m"
    assert step == pytest.approx(fei["Scan"]["PixelWidth"], rel=1e-12)
    assert da.attrs["original_metadata"]["FEI_HELIOS"]["Scan"]["PixelHeight"] == fei["Scan"]["PixelHeight"]


def test_zeiss_pixel_size_agrees_with_field_width(tiff_dir):
    """Cross-check: item 3 of the flat CZ_SEM tuple x 1024 / width == image width / pixels."""
    path = tiff_dir / "test_tiff_Zeiss_SEM_512pix.tif"
    with tifffile.TiffFile(path) as tif:
        cz = tif.pages[0].tags[34118].value
    da = pycrox.open(path)
    field_width = cz["ap_width"][1] * 1e-6  # µm
    assert float(da.x[1] - da.x[0]) == pytest.approx(field_width / da.sizes["x"], rel=1e-3)
    assert da.attrs["metadata"]["beam_energy"] == {"value": cz["ap_actualkv"][1], "units": "keV"}
    assert da.attrs["metadata"]["magnification"] == 50000.0  # "50.00 K X"


def test_tvips_date_and_time_are_decoded(tiff_dir):
    da = pycrox.open(tiff_dir / "TVIPS_bin4.tif")
    md = da.attrs["metadata"]
    assert md["date"] == "2017-04-12"  # the image name ends in 12-04-2017
    assert md["magnification"] == da.attrs["original_metadata"]["TVIPS"]["TemMagnification"]
    assert md["beam_energy"]["value"] == pytest.approx(99.0)


def test_jeol_title_and_calibration_from_magnification(tiff_dir):
    da = pycrox.open(tiff_dir / "JEOL-SightX-TEM-mag-dummy.tif")
    assert da.attrs["title"] == "TEM, BrightField, MAG1, X150k"
    assert da.x.attrs["units"] == "nm"
    assert float(da.x[1] - da.x[0]) == pytest.approx(0.0254 / 93 / 150000 * 1e9)  # 93 dpi, x150k


def test_rgb_and_palette_images(tiff_dir):
    rgb = pycrox.open(tiff_dir / "re48.tiff")
    assert rgb.dims == ("y", "x", "rgb")
    assert rgb.sizes["rgb"] == 3
    assert rgb.attrs["data_type"] == "IMAGE"
    with tifffile.TiffFile(tiff_dir / "optical_Zeiss_AxioVision_BW.tif") as tif:
        indices = tif.asarray()
    palette = pycrox.open(tiff_dir / "optical_Zeiss_AxioVision_BW.tif")
    np.testing.assert_array_equal(palette.values, indices)  # palette indices, not colours
    assert palette.attrs["original_metadata"]["ColorMap"].shape == (3, 256)


def test_olympus_file_has_two_series(tiff_dir):
    tree = pycrox.open_tree(tiff_dir / "olympus_SIS.tif")
    assert sorted(model.signal_nodes(tree)) == ["/image_0", "/image_1"]
    with pytest.raises(pycrox.errors.ModelError, match="2 signals"):
        pycrox.open(tiff_dir / "olympus_SIS.tif")
    calibrated = xr.open_dataset(tiff_dir / "olympus_SIS.tif", engine=TIFFBackendEntrypoint, group="image_1")
    assert calibrated["image_1"].x.attrs["units"] == "m"


def test_hamamatsu_wavelength_axis_is_the_stored_table(tiff_dir):
    path = tiff_dir / "test_hamamatsu_streak_FOCUS.tif"
    with open(path, "rb") as fh:
        fh.seek(688212)  # ScalingXScalingFile="#0688212,0672"
        table = np.frombuffer(fh.read(672 * 4), "<f4")
    da = pycrox.open(path)
    assert da.dims == ("y", "wavelength")
    assert da.wavelength.attrs["units"] == "nm"
    np.testing.assert_allclose(da.wavelength.values, table, rtol=0, atol=2e-5)
    assert da.attrs["metadata"]["detector"] == "C13440-20CU"


def test_hamamatsu_streak_mode_keeps_a_non_uniform_time_axis(tmp_path):
    """Synthetic HPD-TA file: a quadratic time table (ns) and a linear wavelength table (nm)."""
    data = np.arange(6 * 8, dtype=np.uint16).reshape(6, 8)
    description = (
        '[Application],Software="HPD-TA"\r\n[Camera],CameraName="C0000"\r\n'
        '[Scaling],ScalingXType=2,ScalingXUnit="nm",ScalingXScalingFile="#XXXXXXXX,0008",'
        'ScalingYType=2,ScalingYUnit="ns",ScalingYScalingFile="#YYYYYYYY,0006"'
    )
    path = tmp_path / "streak.tif"
    tifffile.imwrite(
        path,
        data,
        description=description,
        software="HPD-TA 9.5",
        metadata=None,
        extratags=[(315, "s", 0, "Copyright Hamamatsu GmbH, 2018", True)],
    )  # Artist
    wavelength = (400.0 + 0.5 * np.arange(8)).astype("<f4")
    time = (0.1 * np.arange(6) ** 2).astype("<f4")
    raw = path.read_bytes()
    x_at, y_at = len(raw), len(raw) + wavelength.nbytes
    raw = raw.replace(b"XXXXXXXX", b"%08d" % x_at).replace(b"YYYYYYYY", b"%08d" % y_at)
    path.write_bytes(raw + wavelength.tobytes() + time.tobytes())
    da = pycrox.open(path)
    assert da.dims == ("time", "wavelength")
    np.testing.assert_array_equal(da.time.values, time.astype(np.float64))  # kept as stored
    assert da.time.attrs["units"] == "ns"
    np.testing.assert_allclose(np.diff(da.wavelength.values), 0.5)
    assert da.attrs["metadata"]["detector"] == "C0000"


def test_dm_stack_has_calibrated_frame_axis(tiff_dir):
    da = pycrox.open(tiff_dir / "test_loading_image_saved_with_DM_stack.tif")
    assert da.dims == ("frame", "y", "x")
    assert da.frame.attrs["units"] == "s"
    assert da.frame.values.tolist() == [0.0, 2.5]
    assert float(da.y[1] - da.y[0]) == pytest.approx(1.68674004)  # non-square pixels


# ----------------------------------------------------------------------------------- laziness and sources


def test_open_reads_no_pixels_and_a_slice_reads_only_its_rows(tiff_dir):
    path = tiff_dir / "FEI-Helios-Ebeam-16bits.tif"
    fh = CountingFile.of(path)
    da = pycrox.open(fh)
    assert isinstance(da.variable._data.array, RawArray)
    assert fh.bytes_read() < 20_000  # tags only; the image holds 482 kB
    fh.reset()
    row = da.isel(y=100).values
    assert fh.bytes_read() == 512 * 2
    with tifffile.TiffFile(path) as tif:
        np.testing.assert_array_equal(row, tif.asarray()[100])


def test_compressed_pages_decode_on_access_only(tmp_path, monkeypatch):
    data = np.arange(3 * 16 * 20, dtype=np.uint16).reshape(3, 16, 20)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, data, compression="zlib", photometric="minisblack")
    decoded = []
    original = _data.TiffPagesArray._decode
    monkeypatch.setattr(
        _data.TiffPagesArray,
        "_decode",
        lambda self, numbers: decoded.append(numbers) or original(self, numbers),
    )
    da = pycrox.open(path)
    assert da.dims == ("frame", "y", "x")
    assert decoded == []
    np.testing.assert_array_equal(da.isel(frame=2).values, data[2])
    assert decoded == [[2]]


def test_big_endian_imagej_data_come_back_native(tiff_dir):
    da = pycrox.open(tiff_dir / "test_loading_image_saved_with_imageJ_stack.tif")
    assert da.dtype == np.dtype("float32")
    assert da.dtype.isnative
    with tifffile.TiffFile(tiff_dir / "test_loading_image_saved_with_imageJ_stack.tif") as tif:
        np.testing.assert_array_equal(da.values, tif.asarray())


def test_imagej_hyperstack_written_by_tifffile(tmp_path):
    data = np.random.default_rng(0).integers(0, 1000, (4, 3, 8, 10), dtype=np.uint16)
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.25),
        metadata={"axes": "TZYX", "unit": "um", "spacing": 0.5, "finterval": 2.0},
    )
    da = pycrox.open(path)
    assert da.dims == ("time", "z", "y", "x")
    assert da.x.attrs["units"] == "µm"
    assert float(da.x[1]) == pytest.approx(0.25)
    assert da.time.values.tolist() == [0.0, 2.0, 4.0, 6.0]
    assert da.time.attrs["units"] == "s"
    np.testing.assert_array_equal(da.values, data)


def test_fsspec_url_and_file_object(tiff_dir):
    path = tiff_dir / "test_loading_image_saved_with_DM.tif"
    fs = fsspec.filesystem("memory")
    fs.pipe("/pycrox-tiff/dm.tif", path.read_bytes())
    local = pycrox.open(path)
    remote = pycrox.open("memory://pycrox-tiff/dm.tif")
    xr.testing.assert_identical(remote.drop_attrs(), local.drop_attrs())
    with open(path, "rb") as fh:
        np.testing.assert_array_equal(pycrox.open(fh).values, local.values)
    fs.rm("/pycrox-tiff/dm.tif")


def test_backend_guess_and_datatree(tiff_dir):
    path = tiff_dir / "olympus_SIS.tif"
    assert TIFFBackendEntrypoint().guess_can_open(str(path))
    assert not TIFFBackendEntrypoint().guess_can_open(str(tiff_dir))
    tree = xr.open_datatree(path, engine=TIFFBackendEntrypoint)
    assert model.validate(tree) == []


# ----------------------------------------------------------------------------------- bad input


def _small_tiff(tmp_path: Path) -> Path:
    path = tmp_path / "small.tif"
    tifffile.imwrite(path, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64))
    return path


def test_wrong_magic_is_not_claimed_and_raises(tmp_path):
    path = tmp_path / "fake.tif"
    path.write_bytes(b"GIF89a" + bytes(100))
    assert not tiff.guess_can_open(path)
    with pytest.raises(FormatError, match=r"fake\.tif"):
        tiff.read_tree(path)


def test_truncated_pixels_raise_at_open_naming_offset(tmp_path):
    path = _small_tiff(tmp_path)
    raw = path.read_bytes()
    with tifffile.TiffFile(path) as tif:
        offset = tif.pages[0].dataoffsets[0]
    assert offset < len(raw) // 2  # tifffile writes the tags first
    (tmp_path / "cut.tif").write_bytes(raw[: len(raw) - 4000])
    with pytest.raises(FormatError, match=r"cut\.tif:offset \d+: .*truncated"):
        pycrox.open(tmp_path / "cut.tif")


def test_lying_image_size_raises_without_allocating(tmp_path):
    path = _small_tiff(tmp_path)
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags[257]  # ImageLength
        offset = tag.valueoffset
        dtype = tag.dtype
    fmt = "<H" if dtype == 3 else "<I"
    struct.pack_into(fmt, raw, offset, 60000)
    (tmp_path / "lie.tif").write_bytes(bytes(raw))
    with pytest.raises(FormatError, match=r"lie\.tif"):
        pycrox.open(tmp_path / "lie.tif")


def test_garbage_after_magic_raises_format_error(tmp_path):
    path = tmp_path / "garbage.tif"
    path.write_bytes(b"II*\x00" + struct.pack("<I", 10**9) + bytes(64))
    assert tiff.guess_can_open(path)
    with pytest.raises(FormatError, match=r"garbage\.tif"):
        pycrox.open_tree(path)


def test_file_object_stays_open(tiff_dir):
    buffer = io.BytesIO((tiff_dir / "FEI-Helios-Ebeam-8bits.tif").read_bytes())
    pycrox.open(buffer).load()
    assert not buffer.closed
