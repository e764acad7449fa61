"""EMSA/MSA reader: manifest corpus through every door, keywords and units, bad input."""

from __future__ import annotations

import io
import re
from pathlib import Path

import fsspec
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers.msa import MSABackendEntrypoint
from pycrox.readers.msa import reader as msa
from tests.readers._vendor_corpus import DOORS, assert_valid_tree, check, manifest_files

HEADER = """#FORMAT      : EMSA/MAS Spectral Data File
#VERSION     : 1.0
#TITLE       : First part
#TITLE       : second part
#DATE        : 07-MAR-2024
#TIME        : 09:15:30
#OWNER       : somebody
#NPOINTS     : 7
#NCOLUMNS    : 3
#XUNITS      : keV
#YUNITS      : counts
#DATATYPE    : Y
#XPERCHAN    : 0.01
#OFFSET      : -0.2
#SIGNALTYPE  : EDS
#XLABEL      : Energy
#XLABEL      : Energy again
#BEAMKV   -kV: 15.0
#ELEVANGLE-dg: 35.0
#AZIMANGLE-dg: 45
#LIVETIME  -s: 12.5
#REALTIME  -s: 14.0
#INTEGTIME-ms: 250
#TAUWIND  -cm: 2.0 E-06
#OPERMODE    : DIFF
#MAGCAM      : 120
##MYKEY-1    : user value
#SPECTRUM    : data
1, 2, 3
4, 5, 6
7
#ENDOFDATA   :
"""


@pytest.fixture(scope="module")
def msa_dir(shared_data: Path) -> Path:
    return shared_data / "vendor" / "msa"


def _write(tmp_path: Path, text: str, name: str = "s.msa") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="latin-1")
    return path


# --------------------------------------------------------------------------- the real corpus


#: where pycrox departs from the manifest on purpose (docs/formats/msa.md): the axis of DATATYPE XY
#: data is the stored x column (non-uniform in example1.msa), not OFFSET + XPERCHAN * i
DEVIATIONS = {"msa/example1.msa": r"axis 'energy_loss' scale 3\.0185 != 3\.1 eV"}


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("msa/"))
def test_manifest_entry_matches(rel, door, shared_data):
    failures = check(rel, door, MSABackendEntrypoint)
    if rel in DEVIATIONS:
        assert len(failures) == 1, failures
        assert re.search(DEVIATIONS[rel], failures[0]), failures
    else:
        assert failures == []


@pytest.mark.parametrize("rel", manifest_files("msa/"))
def test_tree_is_a_valid_pycrox_tree(rel, shared_data):
    assert_valid_tree(shared_data / "vendor" / rel)


@pytest.mark.reference
@pytest.mark.parametrize("name", ["example1.msa", "example2.msa"])
def test_equal_rosettasciio(msa_dir, name):
    reference = pytest.importorskip("rsciio.msa").file_reader(str(msa_dir / name))[0]
    ours = pycrox.open(msa_dir / name)
    np.testing.assert_array_equal(ours.values, reference["data"])
    axis = reference["axes"][0]
    uniform = axis["offset"] + axis["scale"] * np.arange(axis["size"])
    if "x_column" in ours.attrs["original_metadata"]:  # XY data: the stored x (rosettasciio: uniform)
        np.testing.assert_array_equal(ours[ours.dims[0]].values, ours.attrs["original_metadata"]["x_column"])
        assert ours[ours.dims[0]].values[0] == axis["offset"]
        assert 1.0 < np.abs(ours[ours.dims[0]].values - uniform).max() < 2.0  # up to 1.63 eV apart
    else:
        np.testing.assert_allclose(ours[ours.dims[0]].values, uniform)
    beam = reference["metadata"]["Acquisition_instrument"]["TEM"]["beam_energy"]
    assert ours.attrs["metadata"]["beam_energy"] == {"value": beam, "units": "keV"}
    assert ours.attrs["title"] == reference["metadata"]["General"]["title"].strip()


def test_xy_data_keep_the_x_column(msa_dir):
    da = pycrox.open(msa_dir / "example1.msa")
    assert da.dims == ("energy_loss",)  # SIGNALTYPE ELS
    assert da.sizes["energy_loss"] == 21  # NPOINTS says 20; the data hold 21 pairs
    original = da.attrs["original_metadata"]
    assert original["x_column"][:2].tolist() == [520.13, 523.22]
    np.testing.assert_array_equal(da.energy_loss.values, original["x_column"])  # non-uniform as stored
    steps = np.diff(da.energy_loss.values)
    assert steps.min() < 2.4
    assert steps.max() > 3.0
    assert original["XLABEL"] == ["Energy Loss", "Energy"]
    assert original["BEAMKV-kV"] == "120.0"  # verbatim


# --------------------------------------------------------------------------- keywords, units, layouts


def test_keywords_units_and_columns(tmp_path):
    da = pycrox.open(_write(tmp_path, HEADER))
    np.testing.assert_array_equal(da.values, np.arange(1.0, 8.0))
    assert da.dims == ("energy",)
    assert da.energy.attrs["units"] == "keV"
    np.testing.assert_allclose(da.energy.values, -0.2 + 0.01 * np.arange(7))
    assert da.attrs["title"] == "First part second part"
    assert da.attrs["units"] == "counts"
    meta = da.attrs["metadata"]
    assert set(meta) <= set(model.METADATA_KEYS)
    assert meta["beam_energy"] == {"value": 15.0, "units": "keV"}
    assert meta["elevation_angle"] == {"value": 35.0, "units": "deg"}
    assert meta["exposure_time"] == pytest.approx({"value": 0.25, "units": "s"})
    assert meta["camera_length"] == {"value": 120.0, "units": "mm"}  # MAGCAM in diffraction mode
    assert (meta["date"], meta["time"], meta["signal"]) == ("2024-03-07", "09:15:30", "EDS")
    assert da.attrs["original_metadata"]["MYKEY-1"] == "user value"
    assert da.attrs["original_metadata"]["TAUWIND-cm"] == "2.0 E-06"


def test_file_object_and_url(tmp_path):
    path = _write(tmp_path, HEADER)
    from_object = pycrox.open(io.BytesIO(path.read_bytes()), engine="msa")
    np.testing.assert_array_equal(from_object.values, np.arange(1.0, 8.0))
    fsspec.filesystem("memory").pipe("/msa-url/s.msa", path.read_bytes())
    xr.testing.assert_identical(pycrox.open("memory://msa-url/s.msa"), pycrox.open(path))
    ds = xr.open_dataset("memory://msa-url/s.msa", engine=MSABackendEntrypoint)
    xr.testing.assert_identical(ds["s"], pycrox.open(path))


# --------------------------------------------------------------------------- bad input


def test_missing_data_section(tmp_path):
    path = _write(tmp_path, HEADER.split("#SPECTRUM")[0], "nodata.msa")
    with pytest.raises(FormatError, match=r"nodata\.msa: no '#SPECTRUM' line"):
        pycrox.open(path)


def test_value_that_is_not_a_number(tmp_path):
    path = _write(tmp_path, HEADER.replace("4, 5, 6", "4, five, 6"), "word.msa")
    with pytest.raises(FormatError, match=r"word\.msa:line 30: data value 'five' is not a number"):
        pycrox.open(path)


def test_xy_with_an_unpaired_value(tmp_path):
    path = _write(tmp_path, HEADER.replace("#DATATYPE    : Y", "#DATATYPE    : XY"), "odd.msa")
    with pytest.raises(FormatError, match="needs x, y pairs but the data hold 7 values"):
        pycrox.open(path)


def test_empty_data(tmp_path):
    path = _write(tmp_path, HEADER.replace("1, 2, 3\n4, 5, 6\n7\n", ""), "empty.msa")
    with pytest.raises(FormatError, match="holds no values"):
        pycrox.open(path)


def test_guess(tmp_path, shared_data):
    assert msa.guess_can_open(_write(tmp_path, HEADER, "any.txt"))
    assert not msa.guess_can_open(_write(tmp_path, "#TITLE : no format line\n", "x.msa"))
    vendor = shared_data / "vendor"
    others = [*vendor.glob("tia/*"), *vendor.glob("mrc/*"), *vendor.glob("quantumdetector/*")]
    assert [p.name for p in others if msa.guess_can_open(p)] == []


# --------------------------------------------------------------------------- issue #12: ELS XY data


@pytest.fixture(scope="module")
def gap_file(shared_data: Path) -> Path:
    path = shared_data / "vendor-gaps" / "msa" / "rsciio_ISO_22029_2022_compliance_XY_NCOLUMNS2.msa"
    if not path.is_file():
        pytest.skip(f"vendor-gaps sample not found at {path}")
    return path


def _x_column(path: Path) -> np.ndarray:
    text = path.read_text(encoding="latin-1").split("#SPECTRUM")[1].split("\n", 1)[1].split("#ENDOFDATA")[0]
    return np.array(text.replace(",", " ").split(), dtype=float)[0::2]


def _doors(path: Path) -> dict[str, xr.DataArray]:
    tree = pycrox.open_tree(path)
    (group,) = model.signal_nodes(tree)
    return {
        "open_tree": model.signal_nodes(tree)[group],
        "open": pycrox.open(path, group=group),
        "open_dataset": xr.open_dataset(path, engine=MSABackendEntrypoint, group=group)[group.strip("/")],
    }


@pytest.mark.reference
def test_els_xy_with_two_pairs_per_line_is_energy_loss_as_stored(gap_file):
    reference = pytest.importorskip("rsciio.msa").file_reader(str(gap_file))[0]
    stored_x = _x_column(gap_file)
    for door, da in _doors(gap_file).items():
        assert da.dims == ("energy_loss",), door
        assert da.energy_loss.attrs["units"] == "eV", door  # XUNITS 'Energy Loss (eV)'
        np.testing.assert_array_equal(da.energy_loss.values, stored_x)
        np.testing.assert_array_equal(da.values, reference["data"])
        assert da.attrs["metadata"]["signal"] == "EELS"
        assert da.attrs["metadata"]["beam_energy"] == {"value": 120.0, "units": "keV"}
    # rosettasciio builds a uniform axis from OFFSET/XPERCHAN and keeps the label as the unit
    axis = reference["axes"][0]
    assert (axis["offset"], axis["scale"], axis["units"]) == (520.13, 3.1, "Energy Loss (eV)")
    assert not np.allclose(stored_x, axis["offset"] + axis["scale"] * np.arange(axis["size"]), atol=0.1)


def test_bracketed_axis_units_and_stored_x(tmp_path):
    text = HEADER.replace("#XUNITS      : keV", "#XUNITS      : Energy [keV]").replace(
        "#DATATYPE    : Y", "#DATATYPE    : XY"
    )
    text = text.replace("1, 2, 3\n4, 5, 6\n7\n", "0.5, 10, 0.7, 11\n1.5, 12\n")
    da = pycrox.open(_write(tmp_path, text, "bracket.msa"))
    assert da.dims == ("energy",)
    assert da.energy.attrs["units"] == "keV"
    np.testing.assert_array_equal(da.energy.values, [0.5, 0.7, 1.5])  # not -0.2 + 0.01 * i
    np.testing.assert_array_equal(da.values, [10.0, 11.0, 12.0])
