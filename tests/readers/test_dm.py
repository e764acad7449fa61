"""Gatan DigitalMicrograph DM3/DM4 reader: corpus files, synthetic files, laziness and bad input."""

from __future__ import annotations

import importlib.util
import io
import json
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model, units
from pycrox.errors import FormatError, ModelError
from pycrox.readers.dm import DMBackendEntrypoint, _data, _metadata, _tags
from pycrox.readers.dm import reader as dm
from pycrox.sources import open_source
from pycrox.testing import assert_lossless

REPO = Path(__file__).resolve().parents[2]
MANIFEST = REPO.parent / "shared" / "data" / "vendor" / "manifest.json"
DM_FILES = (
    sorted(k for k in json.loads(MANIFEST.read_text())["files"] if k.startswith("dm/"))
    if MANIFEST.is_file()
    else []
)
PACKED_FFT = "dm/test_fft_packed_complex8.dm4"


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def dm_dir(shared_data) -> Path:
    return shared_data / "vendor" / "dm"


@pytest.fixture(scope="module")
def manifest(shared_data) -> dict:
    return json.loads((shared_data / "vendor" / "manifest.json").read_text())


@pytest.fixture(scope="module")
def checker(shared_tools):
    spec = importlib.util.spec_from_file_location("vendor_check", shared_tools / "vendor_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _open_tree_door(path: str) -> xr.DataTree:
    return pycrox.open_tree(path)


def _open_door(path: str) -> dict[str, xr.DataArray]:
    return {group: pycrox.open(path, group=group) for group in model.signal_nodes(pycrox.open_tree(path))}


def _open_dataset_door(path: str) -> dict[str, xr.Dataset]:
    groups = model.signal_nodes(xr.open_datatree(path, engine=DMBackendEntrypoint))
    return {group: xr.open_dataset(path, engine=DMBackendEntrypoint, group=group) for group in groups}


def _corpus_params():
    reason = (
        "the manifest keeps rosettasciio's 5 x 4 array, which drops the last column of this 5 x 5 FFT; "
        "see test_packed_complex_fft_is_the_full_centred_transform"
    )
    return [
        pytest.param(rel, marks=pytest.mark.xfail(strict=True, reason=reason)) if rel == PACKED_FFT else rel
        for rel in DM_FILES
    ]


# ----------------------------------------------------------------------------------- corpus: the manifest


@pytest.mark.parametrize(
    "door", [_open_tree_door, _open_door, _open_dataset_door], ids=["open_tree", "open", "open_dataset"]
)
@pytest.mark.parametrize("rel", _corpus_params())
def test_manifest_entry_matches(rel, door, shared_data, manifest, checker):
    checker.ALIASES.update(manifest.get("metadata_aliases", {}))
    args = SimpleNamespace(verbose=False, held_out=False)
    result = checker.check_file(rel, manifest["files"][rel], door, shared_data / "vendor", None, args)
    assert not result.fails, result.fails


def test_packed_complex_fft_is_the_full_centred_transform(dm_dir, manifest, checker):
    # The file is the FFT of a 5 x 5 image whose rows all hold the ramp 0, 1, 2, 3, 4 (its sum, 50, is the
    # stored zero-frequency value). Its full transform, centred, is numpy's fftshift(fft2(ramp)).
    da = pycrox.open(dm_dir / "test_fft_packed_complex8.dm4")
    assert da.sizes == {"y": 5, "x": 5}
    ramp = np.tile(np.arange(5.0), (5, 1))
    expected = np.fft.fftshift(np.fft.fft2(ramp))
    np.testing.assert_allclose(da.values, expected, atol=1e-5)
    # rosettasciio's 5 x 4 array (the manifest entry) is our first four columns, bit for bit
    exp = manifest["files"][PACKED_FFT]["signals"][0]["data"]
    assert checker.sha256(checker.canon(da.values[:, :4])) == exp["sha256"]


@pytest.mark.parametrize("rel", DM_FILES)
def test_corpus_file_is_a_valid_pycrox_tree(rel, shared_data):
    tree = pycrox.open_tree(shared_data / "vendor" / rel)
    assert model.validate(tree) == []
    assert tree.attrs["source"] == "Gatan DigitalMicrograph"
    assert "ImageList" in tree.attrs["original_metadata"]
    for signal in model.signal_nodes(tree).values():
        assert _json_like(signal.attrs["original_metadata"])
        assert list(signal.attrs["original_metadata"]["ImageList"]) != []


def _json_like(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_json_like(v) for v in value)
    return isinstance(value, str | bool | int | float | np.ndarray) or value is None


# ----------------------------------------------------------------------------------- corpus: meaning


def test_int16_stays_signed(dm_dir):
    assert pycrox.open(dm_dir / "2D_test-1_int16.dm3").dtype == np.int16
    assert pycrox.open(dm_dir / "dmTest_3D_int16_64_65_66.dm4").dtype == np.int16


def test_spectrum_image_keeps_native_axis_order(dm_dir):
    da = pycrox.open(dm_dir / "EELS_SI.dm4")
    assert da.dims == ("energy_loss", "y", "x")
    assert da.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert da.energy_loss.attrs["dimension_type"] == "SPECTRAL"
    block = da.attrs["original_metadata"]["ImageList"]["TagGroup1"]["ImageData"]["Data"]
    raw = np.fromfile(dm_dir / "EELS_SI.dm4", "<f4", count=block["count"], offset=block["offset"])
    np.testing.assert_array_equal(da.values, raw.reshape(da.shape))


def test_units_are_unambiguous_and_vendor_spelling_is_kept(dm_dir):
    da = pycrox.open(dm_dir / "dmTest_float32_nonSquare_diffPixelSize.dm3")
    assert da.y.attrs["units"] == "Å"
    assert units.parse(da.y.attrs["units"]) == units.ureg.angstrom
    dims = da.attrs["original_metadata"]["ImageList"]["TagGroup1"]["ImageData"]["Calibrations"]["Dimension"]
    assert dims["TagGroup1"]["Units"] == "A"
    stack = pycrox.open(dm_dir / "dmTest_3D_int16_64_65_66.dm4")
    assert (stack.z.attrs["units"], stack.y.attrs["units"], stack.x.attrs["units"]) == ("µm", "nm", "pm")


def test_coordinates_follow_the_dm_origin_convention(dm_dir):
    da = pycrox.open(dm_dir / "test_STEM_image.dm3")
    cal = da.attrs["original_metadata"]["ImageList"]["TagGroup1"]["ImageData"]["Calibrations"]["Dimension"]
    for dim, entry in (("x", cal["TagGroup0"]), ("y", cal["TagGroup1"])):
        index = np.arange(da.sizes[dim])
        np.testing.assert_allclose(da[dim].values, (index - entry["Origin"]) * entry["Scale"])


@pytest.mark.parametrize(
    ("name", "dim", "units", "dimension_type"),
    [
        ("test-EDS_spectrum.dm3", "energy", "keV", "SPECTRAL"),
        ("test-EELS_spectrum.dm3", "energy_loss", "eV", "SPECTRAL"),
        ("test-MonoCL_spectrum-ccd.dm4", "wavelength", "nm", "SPECTRAL"),
        ("test_diffraction_pattern.dm3", "kx", "1/nm", "RECIPROCAL"),
        ("test_stackbuilder_imagestack.dm3", "frame", "", "TEMPORAL"),
    ],
)
def test_dimensions_are_named_by_meaning(dm_dir, name, dim, units, dimension_type):
    da = pycrox.open(dm_dir / name)
    assert dim in da.dims
    assert (da[dim].attrs["units"], da[dim].attrs["dimension_type"]) == (units, dimension_type)


def test_normalised_metadata(dm_dir):
    md = pycrox.open(dm_dir / "test-EDS_spectrum.dm3").attrs["metadata"]
    assert md["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert md["live_time"] == {"value": 3.806, "units": "s"}
    assert md["elevation_angle"] == {"value": 18.0, "units": "deg"}
    assert (md["date"], md["time"], md["microscope"], md["signal"]) == (
        "2016-08-08",
        "21:46:19",
        "FEI Titan",
        "EDS",
    )
    md = pycrox.open(dm_dir / "Fei_HAADF-UK_location.dm3").attrs["metadata"]
    assert (md["date"], md["time"]) == ("2016-08-27", "20:52:30")  # stored as '27/08/2016'
    assert md["camera_length"] == {"value": 135.0, "units": "mm"}
    assert md["dwell_time"]["units"] == "s"
    np.testing.assert_allclose(md["dwell_time"]["value"], 1.4e-6)
    md = pycrox.open(dm_dir / "DMReader_EELS_STO.dm4").attrs["metadata"]
    assert md["convergence_angle"] == {"value": 30.0, "units": "mrad"}
    assert set(md) <= set(model.METADATA_KEYS)


def test_ambiguous_dates_use_the_machine_timestamp():
    # '7/9/2014' with a FILETIME of 2014-07-09: July, not September
    roots = [
        {
            "DataBar": {
                "Acquisition Date": "7/9/2014",
                "Acquisition Time": "6:56:37 PM",
                "Acquisition Time (OS)": 1.3049398597890626e17,
            }
        }
    ]
    assert _metadata.metadata(roots)["date"] == "2014-07-09"
    roots[0]["DataBar"]["Acquisition Time (OS)"] = 1.3054e17  # 2014-09-04
    assert _metadata.metadata(roots)["date"] == "2014-09-07"
    assert _metadata.iso_date("29.08.2017") == "2017-08-29"
    assert _metadata.iso_date("no date") is None
    assert _metadata.iso_time("12:00:01 AM") == "00:00:01"


def test_rgba_image_has_a_trailing_rgb_dim(dm_dir):
    da = pycrox.open(dm_dir / "2D_test-23_rgba.dm4")
    assert da.dims == ("y", "x", "rgb")
    assert da.dtype == np.uint8
    assert list(da.rgb.values) == ["R", "G", "B", "A"]
    assert da.attrs["data_type"] == "IMAGE"


def test_rgba_bytes_are_blue_green_red_alpha(dm_dir):
    # The thumbnail of a spectrum shows the plot in the colours its display tags give (16-bit R, G, B):
    # grid (0, 65535, 65535), fill (23644, 49087, 49087). Read as B, G, R, A they appear; swapped they do not.
    source = open_source(dm_dir / "DMReader_EELS_STO.dm4")
    tags = _tags.read_tags(source).tags
    image = tags["ImageList"]["TagGroup0"]["ImageData"]
    display = tags["DocumentObjectList"]["TagGroup0"]["ImageDisplayInfo"]
    pixels = _data.lazy_image(source, image["Data"], 23, list(image["Dimensions"].values()), True, "")
    rgb = np.asarray(pixels.get_duck_array())[..., [2, 1, 0]].reshape(-1, 3)
    for colour in (display["GridColor"], display["SliceList"]["TagGroup0"]["FillColor"]):
        rgb8 = np.array(colour) % 65536 // 257
        assert (rgb == rgb8).all(axis=1).sum() > 1000
        assert (rgb == rgb8[::-1]).all(axis=1).sum() == 0


def test_thumbnails_are_not_signals_and_every_image_is(dm_dir):
    tree = pycrox.open_tree(dm_dir / "multi_signal.dm3")
    assert sorted(model.signal_nodes(tree)) == ["/HAADF", "/Plot"]
    with pytest.raises(ModelError, match="HAADF"):
        pycrox.open(dm_dir / "multi_signal.dm3")
    assert pycrox.open(dm_dir / "multi_signal.dm3", group="Plot").dims == ("x",)
    ds = xr.open_dataset(dm_dir / "multi_signal.dm3", engine=DMBackendEntrypoint, group="/HAADF")
    assert ds["HAADF"].sizes == {"y": 512, "x": 512}


@pytest.mark.parametrize("rel", DM_FILES)
def test_guess_can_open_recognises_corpus_files(rel, shared_data):
    assert dm.guess_can_open(shared_data / "vendor" / rel)
    assert DMBackendEntrypoint().guess_can_open(str(shared_data / "vendor" / rel))


def test_guess_can_open_rejects_other_files(shared_data, tmp_path):
    assert not dm.guess_can_open(shared_data / "vendor" / "mrc" / "EMD-3197.mrc")
    assert not dm.guess_can_open(shared_data / "vendor" / "tia" / "128x128-TEM_search_1.ser")
    (tmp_path / "x.dm3").write_bytes(b"not a dm file at all, just text" * 4)
    assert not dm.guess_can_open(tmp_path / "x.dm3")
    assert not dm.guess_can_open(tmp_path)
    assert not dm.guess_can_open(tmp_path / "missing.dm4")
    assert not dm.guess_can_open(12)
    assert pycrox.io.detect_format(shared_data / "vendor" / "dm" / "EELS_SI.dm4") == "dm"


# ----------------------------------------------------------------------------------- laziness and access


class TrackingFile(io.BytesIO):
    """A file object that records the byte ranges read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[tuple[int, int]] = []

    def read(self, n=-1):
        start = self.tell()
        out = super().read(n)
        self.reads.append((start, start + len(out)))
        return out

    def readinto(self, buffer):
        start = self.tell()
        n = super().readinto(buffer)
        self.reads.append((start, start + n))
        return n

    def bytes_read_in(self, begin: int, end: int) -> int:
        return sum(max(0, min(stop, end) - max(start, begin)) for start, stop in self.reads)


def test_opening_does_not_read_the_data_and_slices_read_only_their_bytes(dm_dir):
    fh = TrackingFile((dm_dir / "DMReader_SpectrumImage_SI-EELS.dm3").read_bytes())
    da = pycrox.open(fh)
    block = da.attrs["original_metadata"]["ImageList"]["TagGroup1"]["ImageData"]["Data"]
    begin, end = block["offset"], block["offset"] + block["bytes"]
    assert fh.bytes_read_in(begin, end) == 0
    fh.reads.clear()
    part = da.isel(energy_loss=slice(10, 12)).values
    assert fh.bytes_read_in(begin, end) == 2 * 49 * 6 * 4 == sum(b - a for a, b in fh.reads)
    full = np.frombuffer(fh.getvalue()[begin:end], "<f4").reshape(da.shape)
    np.testing.assert_array_equal(part, full[10:12])
    np.testing.assert_array_equal(da.values, full)


def test_lazy_through_xarray_and_dask(dm_dir):
    ds = xr.open_dataset(dm_dir / "EELS_SI.dm4", engine=DMBackendEntrypoint)
    assert not ds["EELS_SI"].variable._in_memory
    chunked = pycrox.open(dm_dir / "EELS_SI.dm4", chunks={"energy_loss": 512})
    assert chunked.chunks == ((512,) * 4, (2,), (2,))
    np.testing.assert_array_equal(chunked.values, ds["EELS_SI"].values)


def test_fsspec_url(dm_dir):
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/dm-test/EELS_SI.dm4", (dm_dir / "EELS_SI.dm4").read_bytes())
    remote = pycrox.open("memory://dm-test/EELS_SI.dm4")
    local = pycrox.open(dm_dir / "EELS_SI.dm4")
    assert_lossless(remote.load(), local.load())
    assert dm.guess_can_open("memory://dm-test/EELS_SI.dm4")
    fs.rm("/dm-test", recursive=True)


@pytest.mark.s3
def test_s3_url(dm_dir, s3_bucket):
    prefix, options, fs = s3_bucket
    fs.pipe(f"{prefix}/multi_signal.dm3", (dm_dir / "multi_signal.dm3").read_bytes())
    remote = pycrox.open(f"{prefix}/multi_signal.dm3", group="HAADF", storage_options=options)
    local = pycrox.open(dm_dir / "multi_signal.dm3", group="HAADF")
    np.testing.assert_array_equal(remote.isel(y=slice(100, 110)).values, local.isel(y=slice(100, 110)).values)


# ----------------------------------------------------------------------------------- synthetic files


class Raw:
    """A data tag written verbatim: type description words and value bytes."""

    def __init__(self, info: list[int], payload: bytes = b"") -> None:
        self.info, self.payload = info, payload


CODES = {"i2": 2, "i4": 3, "u2": 4, "u4": 5, "f4": 6, "f8": 7, "b1": 8, "i1": 9, "u1": 10, "i8": 11, "u8": 12}


class DMWriter:
    """A minimal DM3/DM4 writer for tests. Dict keys starting with '#' are written as unnamed tags."""

    def __init__(self, version: int = 4, little: bool = True) -> None:
        self.version, self.order = version, "<" if little else ">"
        self.word = ">I" if version == 3 else ">Q"

    def write(self, path: Path, tags: dict) -> Path:
        root = self.group(tags)
        head = (
            struct.pack(">I", self.version)
            + struct.pack(self.word, len(root))
            + struct.pack(">I", self.order == "<")
        )
        path.write_bytes(head + root + b"\0" * 8)
        return path

    def group(self, tags: dict) -> bytes:
        return (
            b"\0\0" + struct.pack(self.word, len(tags)) + b"".join(self.entry(k, v) for k, v in tags.items())
        )

    def entry(self, name: str, value) -> bytes:
        kind, body = (20, self.group(value)) if isinstance(value, dict) else (21, b"%%%%" + self.data(value))
        raw = b"" if name.startswith("#") else name.encode("latin-1")
        head = bytes([kind]) + struct.pack(">H", len(raw)) + raw
        return head + (struct.pack(">Q", len(body)) if self.version == 4 else b"") + body

    def data(self, value) -> bytes:
        info, payload = self.encode(value)
        return struct.pack(self.word, len(info)) + b"".join(struct.pack(self.word, w) for w in info) + payload

    def encode(self, value) -> tuple[list[int], bytes]:
        if isinstance(value, Raw):
            return value.info, value.payload
        if isinstance(value, bool):
            return [8], bytes([value])
        if isinstance(value, int):
            return [3], struct.pack(self.order + "i", value)
        if isinstance(value, float):
            return [7], struct.pack(self.order + "d", value)
        if isinstance(value, str):
            return [20, 4, len(value)], value.encode("utf-16-le" if self.order == "<" else "utf-16-be")
        if isinstance(value, tuple):
            codes = [7 if isinstance(v, float) else 3 for v in value]
            payload = b"".join(
                struct.pack(self.order + ("d" if c == 7 else "i"), v)
                for c, v in zip(codes, value, strict=False)
            )
            return [15, 0, len(value), *[w for c in codes for w in (0, c)]], payload
        array = np.asarray(value).reshape(-1)
        if array.dtype.kind == "c":  # an array of (real, imaginary) structs, as DM writes complex images
            part = array.real.dtype
            payload = array.view(part).astype(part.newbyteorder(self.order)).tobytes()
            return [20, 15, 0, 2, 0, CODES[part.str[1:]], 0, CODES[part.str[1:]], array.size], payload
        code = CODES[array.dtype.str[1:] if array.dtype != bool else "b1"]
        return [20, code, array.size], array.astype(array.dtype.newbyteorder(self.order)).tobytes()


def image(data: np.ndarray, data_type: int, *, name="img", dm_dims=None, cal=None, tags=None) -> dict:
    """An ImageList entry; `cal` is a list of (origin, scale, units) per DM dimension."""
    dims = dm_dims or list(reversed(data.shape))
    cal = cal or [(0.0, 1.0, "")] * len(dims)
    return {
        "ImageData": {
            "Calibrations": {
                "Brightness": {"Origin": 0.0, "Scale": 1.0, "Units": "counts"},
                "Dimension": {
                    f"#{i}": {"Origin": o, "Scale": s, "Units": u} for i, (o, s, u) in enumerate(cal)
                },
            },
            "Data": data,
            "DataType": data_type,
            "Dimensions": {f"#{i}": int(n) for i, n in enumerate(dims)},
            "PixelDepth": data.dtype.itemsize,
        },
        "ImageTags": tags or {},
        "Name": name,
    }


def dm_file(path: Path, *images: dict, version=4, little=True, extra=None) -> Path:
    tags = {"ImageList": {f"#{i}": im for i, im in enumerate(images)}, **(extra or {})}
    return DMWriter(version, little).write(path, tags)


TYPES = [
    (1, "i2"),
    (2, "f4"),
    (3, "c8"),
    (6, "u1"),
    (7, "i4"),
    (9, "i1"),
    (10, "u2"),
    (11, "u4"),
    (12, "f8"),
    (13, "c16"),
    (14, "?"),
]


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("little", [True, False], ids=["little", "big"])
@pytest.mark.parametrize(("data_type", "code"), TYPES)
def test_every_data_type_and_byte_order(tmp_path, version, little, data_type, code):
    rng = np.random.default_rng(data_type)
    truth = (rng.normal(size=(3, 5)) * 100).astype(code)
    if truth.dtype.kind == "c":
        truth = truth + 1j * (rng.normal(size=(3, 5)) * 100).astype(truth.real.dtype)
    path = dm_file(tmp_path / f"t.dm{version}", image(truth, data_type), version=version, little=little)
    da = pycrox.open(path)
    assert da.dtype == truth.dtype
    assert da.dims == ("y", "x")
    np.testing.assert_array_equal(da.values, truth)
    assert xr.open_dataset(path, engine=DMBackendEntrypoint)["img"].dtype == truth.dtype


def test_packed_complex128_row_slices(tmp_path):
    half = (np.arange(4 * 5) + 1j * np.arange(4 * 5)[::-1]).reshape(4, 5)  # width 8 -> 5 stored columns
    path = dm_file(tmp_path / "fft.dm4", image(half, 28, dm_dims=[8, 4]))
    da = pycrox.open(path)
    assert da.sizes == {"y": 4, "x": 8}
    assert da.dtype == np.complex128
    full = np.concatenate([half[:, ::-1], np.conj(half[:, 1:4])], axis=1)
    np.testing.assert_array_equal(da.values, full)
    np.testing.assert_array_equal(da.isel(y=2, x=slice(1, 7, 2)).values, full[2, 1:7:2])


def test_four_d_stem_names_scan_and_diffraction_axes(tmp_path):
    truth = np.arange(2 * 3 * 4 * 5, dtype="u2").reshape(2, 3, 4, 5)
    cal = [(2.0, 0.1, "1/nm"), (2.0, 0.1, "1/nm"), (0.0, 0.5, "nm"), (0.0, 0.5, "nm")]
    da = pycrox.open(dm_file(tmp_path / "4d.dm4", image(truth, 10, cal=cal)))
    assert da.dims == ("y", "x", "ky", "kx")
    assert da.attrs["data_type"] == "IMAGE_4D"
    np.testing.assert_allclose(da.kx.values, (np.arange(5) - 2.0) * 0.1)
    np.testing.assert_array_equal(da.isel(y=1, x=2).values, truth[1, 2])


def test_rgb_type_8_and_channel_order(tmp_path):
    pixels = np.array([[[10, 20, 30, 0], [40, 50, 60, 0]]], dtype="u1")  # B, G, R, unused
    path = dm_file(tmp_path / "rgb.dm3", image(pixels.view("<i4")[..., 0], 8), version=3)
    da = pycrox.open(path)
    np.testing.assert_array_equal(da.sel(rgb="R").values, [[30, 60]])
    np.testing.assert_array_equal(da.sel(rgb="B").values, [[10, 40]])


def test_spectrum_image_from_tags(tmp_path):
    truth = np.arange(6 * 2 * 3, dtype="f4").reshape(6, 2, 3)
    cal = [(0.0, 2.0, "nm"), (0.0, 2.0, "nm"), (-100.0, 0.5, "eV")]
    tags = {
        "Meta Data": {"Format": "Spectrum image", "Signal": "EELS"},
        "Microscope Info": {"Voltage": 300000.0, "Illumination Mode": "STEM"},
    }
    da = pycrox.open(dm_file(tmp_path / "si.dm4", image(truth, 2, cal=cal, tags=tags)))
    assert da.dims == ("energy_loss", "y", "x")
    assert da.energy_loss.values[0] == pytest.approx(50.0)
    assert (da.attrs["modality"], da.attrs["metadata"]["beam_energy"]["value"]) == ("STEM EELS", 300.0)


@pytest.mark.reference
def test_synthetic_files_agree_with_rosettasciio(tmp_path):
    reader = pytest.importorskip("rsciio.digitalmicrograph").file_reader
    rng = np.random.default_rng(0)
    cases = [
        image(rng.integers(-500, 500, (4, 3, 2, 5)).astype("i2"), 1),
        image(rng.normal(size=(7, 6)).astype("f8"), 12),
        image((rng.normal(size=(3, 4)) + 1j).astype("c8"), 3),
    ]
    for i, case in enumerate(cases):
        path = dm_file(tmp_path / f"r{i}.dm3", case, version=3)
        np.testing.assert_array_equal(pycrox.open(path).values, reader(str(path))[0]["data"])


# ----------------------------------------------------------------------------------- bad input


def _good_file(tmp_path: Path, version=4) -> Path:
    return dm_file(
        tmp_path / f"good.dm{version}",
        image(np.arange(12, dtype="f4").reshape(3, 4), 2),
        version=version,
        extra={"Notes": {"text": "hello", "pair": (1, 2.5)}},
    )


def test_wrong_magic(tmp_path):
    path = tmp_path / "bad.dm4"
    path.write_bytes(b"\x00\x00\x00\x07" + _good_file(tmp_path).read_bytes()[4:])
    with pytest.raises(FormatError, match=r"bad\.dm4.*version word is 7"):
        pycrox.open_tree(path, engine="dm")
    assert not dm.guess_can_open(path)


@pytest.mark.parametrize("version", [3, 4])
def test_every_truncation_is_a_format_error(tmp_path, version):
    data = _good_file(tmp_path, version).read_bytes()
    path = tmp_path / f"cut.dm{version}"
    word, header = (">I", 12) if version == 3 else (">Q", 16)
    for cut in range(len(data) - 8):
        truncated = data[:cut]
        # as cut, and with the header's root length made to fit, so that the tag parser meets the end itself
        fitted = (
            (truncated[:4] + struct.pack(word, cut - header) + truncated[header - 4 :])
            if cut >= header
            else b""
        )
        for content in (truncated, fitted):
            path.write_bytes(content)
            with pytest.raises(FormatError) as info:
                dm.read_tree(path).load()
            assert info.value.source == str(path)
    path.write_bytes(data[:-8])  # only the trailing zeros missing: every tag is there
    np.testing.assert_array_equal(dm.read_tree(path)["img"]["img"].values, np.arange(12).reshape(3, 4))


def test_truncated_corpus_file(dm_dir, tmp_path):
    data = (dm_dir / "EELS_SI.dm4").read_bytes()
    path = tmp_path / "EELS_SI.dm4"
    for cut in (10, 1000, len(data) // 2, len(data) - 100):
        path.write_bytes(data[:cut])
        with pytest.raises(FormatError, match=r"EELS_SI\.dm4"):
            pycrox.open(path)


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (Raw([99], b"\0" * 8), r"/Notes/bad \(offset \d+\): unknown DM tag type 99"),
        (Raw([20, 6, 2**40]), "runs past the end of the file"),
        (Raw([20, 42, 3], b"\0" * 12), "unknown DM array element type 42"),
        (Raw([15, 0, 5, 0, 3]), "struct claims 5 fields"),
        (Raw([15, 0, 1, 0, 77], b"\0" * 4), "struct field of unknown DM tag type 77"),
        (Raw([20, 18, 2**40, 2]), "array elements claim"),
    ],
)
def test_bad_tags(tmp_path, value, match):
    path = dm_file(tmp_path / "tags.dm4", image(np.zeros((2, 2), "f4"), 2), extra={"Notes": {"bad": value}})
    with pytest.raises(FormatError, match=match) as info:
        pycrox.open(path)
    assert info.value.source == str(path)


def test_lying_type_description_length(tmp_path):
    data = bytearray(_good_file(tmp_path, 3).read_bytes())
    first = data.index(b"%%%%")
    data[first + 4 : first + 8] = struct.pack(">I", 2**31)
    (tmp_path / "lie.dm3").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="type description of 2147483648 words"):
        pycrox.open(tmp_path / "lie.dm3")


def test_lying_tag_count_and_root_length(tmp_path):
    data = bytearray(_good_file(tmp_path).read_bytes())
    data[18:26] = struct.pack(">Q", 2**40)  # number of root tags
    (tmp_path / "count.dm4").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="claims 1099511627776 tags"):
        pycrox.open(tmp_path / "count.dm4")
    data = bytearray(_good_file(tmp_path).read_bytes())
    data[4:12] = struct.pack(">Q", 2**50)
    (tmp_path / "root.dm4").write_bytes(bytes(data))
    assert not dm.guess_can_open(tmp_path / "root.dm4")
    with pytest.raises(FormatError, match="header says the tag tree has"):
        pycrox.open(tmp_path / "root.dm4", engine="dm")


def test_dimensions_larger_than_the_data(tmp_path):
    path = dm_file(tmp_path / "dims.dm4", image(np.zeros(6, "f4"), 2, dm_dims=[300000, 200000]))
    with pytest.raises(FormatError, match=r"ImageData/Data holds 24 bytes but Dimensions \[300000, 200000\]"):
        pycrox.open(path)


def test_unsupported_image_type_and_missing_images(tmp_path):
    with pytest.raises(FormatError, match=r"DataType 4 \(obsolete\) is not supported"):
        pycrox.open(dm_file(tmp_path / "t4.dm4", image(np.zeros(4, "f4"), 4)))
    path = DMWriter().write(tmp_path / "empty.dm4", {"Other": 1})
    with pytest.raises(FormatError, match="no ImageList"):
        pycrox.open(path)
    with pytest.raises(FormatError, match="Dimensions is"):
        pycrox.open(
            dm_file(
                tmp_path / "nodims.dm4",
                {
                    **image(np.zeros(4, "f4"), 2),
                    "ImageData": {**image(np.zeros(4, "f4"), 2)["ImageData"], "Dimensions": {"#0": -3}},
                },
            )
        )


def test_deep_nesting_is_bounded(tmp_path):
    nested: dict = {"leaf": 1}
    for _ in range(200):
        nested = {"g": nested}
    path = dm_file(tmp_path / "deep.dm4", image(np.zeros((2, 2), "f4"), 2), extra={"Deep": nested})
    with pytest.raises(FormatError, match="nested deeper than 64"):
        pycrox.open(path)


def test_bad_delimiter_and_tag_kind(tmp_path):
    data = _good_file(tmp_path).read_bytes()
    (tmp_path / "delim.dm4").write_bytes(data.replace(b"%%%%", b"%%&%", 1))
    with pytest.raises(FormatError, match="data tag starts with"):
        pycrox.open(tmp_path / "delim.dm4")
    data = bytearray(data)
    data[26] = 7  # kind byte of the first root tag
    (tmp_path / "kind.dm4").write_bytes(bytes(data))
    with pytest.raises(FormatError, match="tag kind byte is 7"):
        pycrox.open(tmp_path / "kind.dm4")
