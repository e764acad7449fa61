import json

import numpy as np
import pint
import pytest

import pycrox
from pycrox import units
from tests.conftest import SHARED_DATA


@pytest.mark.parametrize(
    ("text", "quantity", "expected"),
    [
        ("A", "Length", "angstrom"),
        ("A", "distance", "angstrom"),
        ("A", "Current", "ampere"),
        ("a.u.", None, "dimensionless"),
        ("a. u.", None, "dimensionless"),
        ("arb", None, "dimensionless"),
        ("generic", None, "dimensionless"),
        ("", None, "dimensionless"),
        ("um", None, "micrometer"),
        ("µm", None, "micrometer"),
        ("Å", None, "angstrom"),
        ("1 / nm", None, "1 / nanometer"),
        ("1/nm", None, "1 / nanometer"),
        ("counts", None, "count"),
        ("pixel", None, "pixel_unit"),
        ("keV", None, "kiloelectron_volt"),
        ("deg", None, "degree"),
    ],
)
def test_parse_understands_microscopy_spellings(text, quantity, expected):
    assert units.parse(text, quantity) == units.ureg.parse_units(expected)


def test_angstrom_and_ampere_differ_in_dimensionality():
    assert units.parse("A", "Length").dimensionality != units.parse("A", "Current").dimensionality


def test_unknown_unit_raises_named_error():
    with pytest.raises(pycrox.UnitError, match="unknown unit 'blorps'"):
        units.parse("blorps")


def test_format_writes_compact_unambiguous_spellings():
    assert units.format("1 / nm") == "1/nm"
    assert units.format("A", quantity="Length") == "Å"
    assert units.format("um") == "µm"
    assert units.format("a.u.") == ""


def test_define_adds_a_unit():
    units.define("blarg_unit = 3 * nanometer = blarg")
    assert units.ureg.Quantity(1, units.parse("blarg")).to("nm").m == pytest.approx(3)


def _manifest_units(path):
    found = set()

    def walk(obj, key=None):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k in ("units", "units_canonical") and isinstance(v, str):
                    found.add(v)
                walk(v, k)
        elif isinstance(obj, list):
            for v in obj:
                walk(v)

    walk(json.loads(path.read_text()))
    return found


def test_every_unit_spelling_in_the_corpus_manifests_parses(shared_data):
    spellings = set()
    for manifest in shared_data.rglob("manifest.json"):
        spellings |= _manifest_units(manifest)
    spellings = {s for s in spellings if not s.startswith(("str(", "bytes(")) and s != "compound"}
    assert len(spellings) > 20
    for text in sorted(spellings):
        assert isinstance(units.parse(text, "Length"), pint.Unit), text


def test_to_units_converts_coordinates_and_data():
    da = pycrox.from_array(
        np.ones(3),
        dims=["energy"],
        coords={"energy": {"values": [1.0, 2.0, 3.0], "units": "keV"}},
        units="nA",
        quantity="Current",
    )
    out = da.pycro.to_units(energy="eV", data="pA")
    np.testing.assert_allclose(out.energy.values, [1000.0, 2000.0, 3000.0])
    np.testing.assert_allclose(out.values, 1000.0)
    assert out.attrs["units"] == "pA"
    assert da.energy.attrs["units"] == "keV"  # input untouched


def test_to_units_refuses_incompatible_units():
    da = pycrox.from_array(np.ones(2), dims=["x"], coords={"x": {"values": [0.0, 1.0], "units": "nm"}})
    with pytest.raises(pycrox.UnitError, match="cannot convert 'nm' to 'eV'"):
        da.pycro.to_units(x="eV")


def test_quantify_dequantify_round_trip():
    da = pycrox.from_array(
        np.arange(4.0).reshape(2, 2), coords={"x": {"values": [0.0, 1.0], "units": "nm"}}, units="counts"
    )
    q = da.pycro.quantify()
    assert q.pint.units == units.parse("counts")
    assert q.x.pint.units == units.parse("nm") if hasattr(q.x, "pint") else True
    back = q.pycro.dequantify()
    assert back.attrs["units"] == "counts"
    np.testing.assert_array_equal(back.values, da.values)


def test_quantify_names_the_variable_with_an_unknown_unit():
    da = pycrox.from_array(np.ones(2), dims=["x"], coords={"x": {"values": [0.0, 1.0], "units": "furlongz"}})
    with pytest.raises(pycrox.UnitError, match=r"coordinate 'x'.*furlongz"):
        da.pycro.quantify()


def test_shared_data_constant_points_beside_repo():
    assert SHARED_DATA.name == "data"
