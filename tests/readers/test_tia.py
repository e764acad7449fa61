"""FEI TIA reader: manifest corpus through every door, laziness, synthetic series, bad input."""

from __future__ import annotations

import struct
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.tia import TIABackendEntrypoint
from pycrox.readers.tia import reader as tia
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import DOORS, CountingFile, assert_valid_tree, check, manifest_files


@pytest.fixture(scope="module")
def tia_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "tia"


# --------------------------------------------------------------------------- the real corpus


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("tia/"))
def test_manifest_entry_matches(rel, door, shared_data):
    assert check(rel, door, TIABackendEntrypoint) == []


@pytest.mark.parametrize("rel", manifest_files("tia/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


def test_ser_alone_equals_the_emi_signal(tia_dir):
    via_emi = pycrox.open(tia_dir / "64x64_TEM_images_acquire.emi")
    alone = pycrox.open(tia_dir / "64x64_TEM_images_acquire_1.ser")  # finds the .emi beside it
    xr.testing.assert_identical(alone, via_emi)
    assert alone.attrs["metadata"]["detector"] == "WA-Orius"


def test_emi_opens_every_ser_as_a_node(tia_dir):
    tree = pycrox.open_tree(tia_dir / "16x16_STEM_BF_DF_acquire.emi")
    assert sorted(model.signal_nodes(tree)) == ["/16x16_STEM_BF_DF_acquire_1", "/16x16_STEM_BF_DF_acquire_2"]
    assert model.validate(tree) == []


def test_ser_without_emi_reads_reciprocal_units_from_magnitude(tia_dir):
    ser = CountingFile.of(tia_dir / "64x64_diffraction_acquire_1.ser")  # a file object has no .emi beside it
    da = pycrox.open_tree(ser, engine="tia")["64x64_diffraction_acquire_1"].to_dataset()[
        "64x64_diffraction_acquire_1"
    ]
    assert da.dims == ("ky", "kx")
    assert da.kx.attrs["units"] == "1/nm"
    np.testing.assert_allclose(da.kx[1] - da.kx[0], 0.101572, rtol=1e-5)
    assert da.attrs["metadata"] == {}


def test_metadata_are_normalised(tia_dir):
    da = pycrox.open(tia_dir / "128x128x5-diffraction_preview.emi")
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert meta["camera_length"] == {"value": 1100.0, "units": "mm"}
    assert meta["exposure_time"] == {"value": 0.0125, "units": "s"}
    assert (meta["date"], meta["time"]) == ("2016-02-22", "18:18:34")
    assert da.attrs["original_metadata"]["ObjectInfo"]["ExperimentalDescription"]["Camera length_m"] == 1.1
    assert da.dims == ("frame", "ky", "kx")


@pytest.mark.reference
def test_data_equal_rosettasciio(tia_dir):
    rsciio_tia = pytest.importorskip("rsciio.tia")
    for name in ("16x16-spectrum_image_5x5x4000-not_square.emi", "128x128x5-diffraction_preview.emi"):
        reference = rsciio_tia.file_reader(str(tia_dir / name))[0]
        ours = pycrox.open(tia_dir / name)
        np.testing.assert_array_equal(ours.values, reference["data"])


# --------------------------------------------------------------------------- laziness


def test_open_reads_no_data(tia_dir):
    ser = CountingFile.of(tia_dir / "16_STOimage_1.ser")  # 2 MB of data
    tree = tia.read_tree(ser)
    (da,) = model.signal_nodes(tree).values()
    assert ser.bytes_read() < 70_000
    ser.reset()
    assert da[10:12, :4].values.shape == (2, 4)
    assert ser.bytes_read() == 2 * 1024 * 2  # two image rows of uint16


def test_one_spectrum_of_a_map_reads_one_element(tia_dir):
    ser = CountingFile.of(tia_dir / "16x16-spectrum_image_5x5x4000-not_square_1.ser")
    (da,) = model.signal_nodes(tia.read_tree(ser)).values()
    ser.reset()
    spectrum = da.isel(y=3, x=2).values
    assert ser.bytes_read() == 4000 * 4
    assert spectrum.shape == (4000,)


def test_data_stay_lazy(tia_dir):
    da = pycrox.open(tia_dir / "16x16-spectrum_image-5x5x1024.emi")
    assert not isinstance(da.variable._data, np.ndarray)


def test_fsspec_url_finds_the_companions(tia_dir):
    fs = fsspec.filesystem("memory")
    for name in (
        "16x16_STEM_BF_DF_acquire.emi",
        "16x16_STEM_BF_DF_acquire_1.ser",
        "16x16_STEM_BF_DF_acquire_2.ser",
    ):
        fs.pipe(f"/tia-url/{name}", (tia_dir / name).read_bytes())
    remote = pycrox.open_tree("memory://tia-url/16x16_STEM_BF_DF_acquire.emi")
    local = pycrox.open_tree(tia_dir / "16x16_STEM_BF_DF_acquire.emi")
    for path in model.signal_nodes(local):
        xr.testing.assert_identical(remote[path].to_dataset().load(), local[path].to_dataset().load())


# --------------------------------------------------------------------------- synthetic series


def write_ser(
    path: Path,
    elements: np.ndarray,
    dims: list[tuple[int, float, float, int, str, str]],
    *,
    total: int | None = None,
    gap: int = 0,
    extra_gap_at: int | None = None,
) -> Path:
    """A TIA 0x0210 series of spectra (1-D elements) or images (2-D) at chosen spacing."""
    image = elements.ndim == 3
    total = total or len(elements)
    header = struct.pack(
        "<HHHIIII", 0x4949, 0x0197, 0x0210, 0x4122 if image else 0x4120, 0x4152, total, len(elements)
    )
    dim_bytes = b"".join(
        struct.pack("<iddii", n, off, delta, elem, len(desc))
        + desc.encode()
        + struct.pack("<i", len(units))
        + units.encode()
        for n, off, delta, elem, desc, units in dims
    )
    start = len(header) + 8 + len(dim_bytes)
    code = {np.dtype("<u2"): 2, np.dtype("<i4"): 6, np.dtype("<f4"): 7}[elements.dtype]
    body, offsets = b"", []
    for i, element in enumerate(elements):
        body += b"\0" * (gap + (13 if i == extra_gap_at else 0))
        offsets.append(start + len(body))
        if image:
            ny, nx = element.shape
            body += struct.pack("<ddiddihii", 0.0, 1e-9, 0, 0.0, 1e-9, 0, code, nx, ny)
        else:
            body += struct.pack("<ddihi", 100.0, 0.5, 0, code, element.shape[0])
        body += element.tobytes()
    array_offset = start + len(body)
    offsets += [0] * (total - len(elements))
    table = struct.pack(f"<{total}I", *offsets) + struct.pack(f"<{total}I", *[0] * total)
    path.write_bytes(header + struct.pack("<II", array_offset, len(dims)) + dim_bytes + body + table)
    return path


def test_series_of_images_is_frames(tmp_path):
    frames = np.arange(3 * 4 * 5, dtype="<u2").reshape(3, 4, 5)
    path = write_ser(tmp_path / "stack_1.ser", frames, [(3, 0.0, 1.0, 0, "Number", "")], gap=8)
    da = pycrox.open(path)
    assert da.dims == ("frame", "y", "x")
    np.testing.assert_array_equal(da.values, frames[:, ::-1, :])  # rows are stored bottom-up
    np.testing.assert_allclose(da.x.values, np.arange(5.0))  # 1e-9 m -> 1 nm per pixel


def test_unevenly_spaced_elements_are_read_one_by_one(tmp_path):
    spectra = np.arange(6 * 7, dtype="<i4").reshape(6, 7)
    path = write_ser(tmp_path / "uneven_1.ser", spectra, [(6, 0.0, 1.0, 0, "Number", "")], extra_gap_at=4)
    da = pycrox.open(path)
    np.testing.assert_array_equal(da.values, spectra)
    np.testing.assert_array_equal(da[3:6:2, 1].values, spectra[3:6:2, 1])
    np.testing.assert_allclose(da.energy.values, 100.0 + 0.5 * np.arange(7))


def test_interrupted_map_fills_missing_spectra(tmp_path):
    spectra = np.arange(5 * 3, dtype="<f4").reshape(5, 3)  # 5 of 2x3 positions acquired
    dims = [(3, 0.0, 2e-9, 0, "Position", "meters"), (2, 0.0, 2e-9, 0, "Position", "meters")]
    da = pycrox.open(write_ser(tmp_path / "map_1.ser", spectra, dims, total=6))
    assert da.dims == ("y", "x", "energy")
    np.testing.assert_array_equal(da.values.reshape(6, 3)[:5], spectra)
    assert np.isnan(da.values[1, 2]).all()
    np.testing.assert_allclose(da.x.values, [0.0, 2.0, 4.0])


# --------------------------------------------------------------------------- bad input


def _spoiled(tmp_path: Path, tia_dir: Path, name: str, offset: int, data: bytes) -> Path:
    raw = bytearray((tia_dir / name).read_bytes())
    raw[offset : offset + len(data)] = data
    out = tmp_path / name
    out.write_bytes(bytes(raw))
    return out


def test_truncated_ser_names_the_file(tmp_path, tia_dir):
    raw = (tia_dir / "64x64_TEM_images_acquire_1.ser").read_bytes()
    path = tmp_path / "cut_1.ser"
    path.write_bytes(raw[:9000])
    with pytest.raises(FormatError, match=r"cut_1\.ser.*offset .*truncated"):
        pycrox.open(path)


def test_wrong_magic_is_refused(tmp_path, tia_dir):
    path = _spoiled(tmp_path, tia_dir, "64x64_TEM_images_acquire_1.ser", 0, b"MM")
    assert not tia.guess_can_open(path)
    with pytest.raises(FormatError, match=r"64x64_TEM_images_acquire_1\.ser:offset 0: not a TIA"):
        tia.read_tree(path)


def test_lying_element_size_raises_before_allocating(tmp_path, tia_dir):
    # ArraySizeX of the first image element (offset 76 + 42) set to 2**30
    path = _spoiled(tmp_path, tia_dir, "64x64_TEM_images_acquire_1.ser", 76 + 42, struct.pack("<i", 2**30))
    with pytest.raises(FormatError, match=r"claims bytes .* but the file has 16518"):
        pycrox.open(path)


def test_lying_offset_array_position(tmp_path, tia_dir):
    path = _spoiled(tmp_path, tia_dir, "16_STOimage_1.ser", 22, struct.pack("<I", 10**9))
    with pytest.raises(FormatError, match=r"16_STOimage_1\.ser:offset 1000000000: the data offset array"):
        pycrox.open(path)


def test_lying_description_length(tmp_path, tia_dir):
    path = _spoiled(tmp_path, tia_dir, "16_STOimage_1.ser", 30 + 24, struct.pack("<i", 10**8))
    with pytest.raises(FormatError, match="description claims 100000000 bytes"):
        pycrox.open(path)


def test_emi_without_ser(tmp_path, tia_dir):
    path = tmp_path / "lonely.emi"
    path.write_bytes((tia_dir / "64x64_TEM_images_acquire.emi").read_bytes())
    assert tia.guess_can_open(path)
    with pytest.raises(FormatError, match=r"lonely\.emi: no <stem>_<n>\.ser"):
        pycrox.open(path)


def test_guess_never_raises_and_claims_no_other_file(tmp_path, shared_data):
    assert not tia.guess_can_open(tmp_path / "missing.ser")
    assert not tia.guess_can_open(12345)
    for other in ("mrc/temp.mrc", "msa/example1.msa", "quantumdetector/001_4x2_6bit.mib", "dm/08_carbon.dm3"):
        assert not tia.guess_can_open(shared_data / "vendor" / other)


# --------------------------------------------------------------------------- issue #12


@pytest.fixture(scope="module")
def zeroed_emi(shared_data: Path) -> Path:
    path = shared_data / "vendor-gaps" / "tia" / "mdf_12_TIA_HAADF.emi"
    if not path.is_file():
        pytest.skip(f"vendor-gaps sample not found at {path}")
    return path


ZEROED = r"mdf_12_TIA_HAADF\.emi: the binary header of this \.emi is zeroed"


def _doors(path: Path) -> dict[str, xr.DataArray]:
    with pytest.warns(UserWarning, match=ZEROED):
        tree = pycrox.open_tree(path)
    ((group, da),) = model.signal_nodes(tree).items()
    with pytest.warns(UserWarning, match=ZEROED):
        opened = pycrox.open(path, group=group)
    with pytest.warns(UserWarning, match=ZEROED):
        engine = xr.open_dataset(path, engine=TIABackendEntrypoint, group=group)[group.strip("/")]
    return {"open_tree": da, "open": opened, "open_dataset": engine}


@pytest.mark.reference
def test_emi_with_zeroed_binary_header_equals_rosettasciio(zeroed_emi):
    rsciio_tia = pytest.importorskip("rsciio.tia")
    (reference,) = rsciio_tia.file_reader(str(zeroed_emi))
    assert tia.guess_can_open(zeroed_emi)
    assert pycrox.detect_format(zeroed_emi) == "tia"
    with pytest.warns(UserWarning, match=ZEROED):
        from_ser = pycrox.open(zeroed_emi.with_name("mdf_12_TIA_HAADF_1.ser"))
    for door, da in _doors(zeroed_emi).items():
        assert da.dims == ("y", "x"), door
        np.testing.assert_array_equal(da.values, reference["data"])
        for dim, axis in zip(("y", "x"), reference["axes"], strict=True):
            assert axis["units"] == da[dim].attrs["units"] == "nm"
            np.testing.assert_allclose(float(da[dim][1] - da[dim][0]), axis["scale"], rtol=1e-9)
        assert da.attrs["metadata"] == from_ser.attrs["metadata"]
        assert da.attrs["metadata"]["beam_energy"] == {"value": 300.0, "units": "keV"}
        assert da.attrs["metadata"]["magnification"] == 14000.0
        assert da.attrs["original_metadata"]["emi_binary_header"] == "zeroed"
        xr.testing.assert_identical(da.load(), from_ser.load())


def test_zeroed_emi_without_xml_is_refused(tmp_path, tia_dir):
    ser = tmp_path / "blank_1.ser"
    ser.write_bytes((tia_dir / "16_STOimage_1.ser").read_bytes())
    emi = tmp_path / "blank.emi"
    emi.write_bytes(b"\0" * 4096)
    assert not tia.guess_can_open(emi)
    with pytest.raises(
        FormatError, match=r"blank\.emi:offset 0: the \.emi's binary header is zeroed and it holds no"
    ):
        tia.read_tree(emi)


def test_zeroed_emi_xml_is_read_with_a_warning(tmp_path, tia_dir):
    raw = bytearray((tia_dir / "64x64_TEM_images_acquire.emi").read_bytes())
    start = raw.find(b"<ObjectInfo>")
    raw[:start] = b"\0" * start  # what the MDF publisher did to its sample
    (tmp_path / "zeroed.emi").write_bytes(bytes(raw))
    (tmp_path / "zeroed_1.ser").write_bytes((tia_dir / "64x64_TEM_images_acquire_1.ser").read_bytes())
    assert tia.guess_can_open(tmp_path / "zeroed.emi")
    with pytest.warns(UserWarning, match=r"zeroed\.emi: the binary header of this \.emi is zeroed"):
        da = pycrox.open(tmp_path / "zeroed.emi")
    original = pycrox.open(tia_dir / "64x64_TEM_images_acquire.emi")
    np.testing.assert_array_equal(da.values, original.values)
    assert da.attrs["metadata"] == original.attrs["metadata"]


def test_one_valid_element_of_several_is_the_element(tmp_path):
    image = np.arange(4 * 5, dtype="<u2").reshape(1, 4, 5)
    path = write_ser(tmp_path / "stopped_1.ser", image, [(6, 0.0, 1.0, 0, "Number", "")], total=6)
    da = pycrox.open(path)
    assert da.dims == ("y", "x")  # not (frame: 1, y, x): the rule of docs/formats/tia.md
    assert da.attrs["data_type"] == "IMAGE"
    np.testing.assert_array_equal(da.values, image[0, ::-1])
    header = da.attrs["original_metadata"]["ser_header"]
    assert (header["TotalNumberElements"], header["ValidNumberElements"]) == (6, 1)
    spectrum = np.arange(7, dtype="<f4").reshape(1, 7)
    dims = [(3, 0.0, 2e-9, 0, "Position", "meters"), (2, 0.0, 2e-9, 0, "Position", "meters")]
    da = pycrox.open(write_ser(tmp_path / "map_1.ser", spectrum, dims, total=6))
    assert da.dims == ("energy",)
    np.testing.assert_array_equal(da.values, spectrum[0])


@pytest.mark.parametrize("store", ["nsid", "usid", "zarr"])
@pytest.mark.filterwarnings("ignore:.*binary header of this .emi is zeroed:UserWarning")
def test_zeroed_emi_conversion_is_lossless(zeroed_emi, store, tmp_path):
    da = pycrox.open(zeroed_emi).load()
    target = tmp_path / f"s.{'zarr' if store == 'zarr' else 'h5'}"
    getattr(pycrox, f"to_{store}")(da, target)
    with pycrox.open(target) as back:
        assert_lossless(back.load(), da)
