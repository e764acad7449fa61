"""Data types follow the data: validate() reports a stale ``data_type``, analysis results recompute it,
writers keep whatever is stored, and quantify/dequantify gives back a valid object."""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model, units_xr
from pycrox.analysis import atoms as atoms_module
from pycrox.analysis import (
    background,
    clustering,
    decomposition,
    filters,
    fourier,
    registration,
    windows,
)
from pycrox.testing import assert_lossless


def _cube() -> xr.DataArray:
    rng = np.random.default_rng(0)
    nm = {"values": np.arange(8.0), "units": "nm"}
    return pycrox.from_array(
        rng.random((8, 8, 16)),
        dims=("y", "x", "energy_loss"),
        name="cube",
        coords={"y": nm, "x": nm, "energy_loss": {"values": np.arange(16.0), "units": "eV"}},
    )


def _image() -> xr.DataArray:
    nm = {"values": np.arange(16.0), "units": "nm"}
    return pycrox.from_array(
        np.random.default_rng(1).random((16, 16)), name="image", coords={"y": nm, "x": nm}
    )


# --- validate() and the rule -------------------------------------------------------------------


def test_validate_reports_a_type_the_dims_contradict():
    summed = _cube().sum("energy_loss", keep_attrs=True)
    assert summed.attrs["data_type"] == "SPECTRAL_IMAGE"  # xarray keeps what it is given
    problems = model.validate(summed)
    expected = (
        "data_type 'SPECTRAL_IMAGE' contradicts the dims ['y' (SPATIAL), 'x' (SPATIAL)], which suggest "
        "'IMAGE'; set attrs['data_type'] (pycrox.model.refresh_data_type does it)"
    )
    assert problems == [expected]
    assert model.validate(model.refresh_data_type(summed)) == []
    assert model.refresh_data_type(summed).attrs["data_type"] == "IMAGE"
    assert summed.attrs["data_type"] == "SPECTRAL_IMAGE"  # input untouched


@pytest.mark.parametrize(
    ("data_type", "dimension_types", "fits"),
    [
        ("SPECTRAL_IMAGE", ["SPATIAL", "SPATIAL"], False),
        ("IMAGE", ["SPATIAL", "SPATIAL", "SPATIAL", "SPATIAL"], False),
        ("IMAGE", ["SPATIAL", "SPECTRAL"], False),  # sidpy's image viewer raises TypeError on it
        ("SPECTRUM", ["SPATIAL"], False),
        ("IMAGE", ["UNKNOWN", "UNKNOWN"], True),  # an UNKNOWN dim may stand for any type
        ("SPECTRAL_IMAGE", ["SPATIAL", "SPATIAL", "UNKNOWN"], True),
        ("UNKNOWN", ["SPATIAL", "SPATIAL", "SPECTRAL"], True),  # UNKNOWN contradicts nothing
        ("LINE_PLOT", ["SPECTRAL"], True),  # fits, though a guess says SPECTRUM
        ("SPECTRUM", ["SPATIAL", "SPECTRAL"], True),  # sidpy: a family of spectra
        ("IMAGE", ["SPATIAL", "SPATIAL", "CHANNEL"], True),  # a colour image
        ("IMAGE_STACK", ["SPATIAL", "SPATIAL", "SPATIAL"], True),  # a volume
        ("IMAGE_STACK", ["TEMPORAL", "RECIPROCAL", "RECIPROCAL"], True),  # diffraction patterns
        ("IMAGE", ["RECIPROCAL", "RECIPROCAL"], True),  # an FFT
        ("IMAGE_MAP", ["SPATIAL", "SPATIAL", "UNKNOWN"], True),
        ("IMAGE_4D", ["SPATIAL", "SPATIAL"], False),
    ],
)
def test_a_stored_type_fits_when_its_rule_can_hold(data_type, dimension_types, fits):
    dims = [f"d{i}" for i in range(len(dimension_types))]
    coords = {
        d: {"values": np.arange(2), "dimension_type": t} for d, t in zip(dims, dimension_types, strict=True)
    }
    da = pycrox.from_array(np.zeros((2,) * len(dims)), dims=dims, coords=coords, data_type=data_type)
    assert (model.data_type_problem(da) is None) is fits
    assert (model.validate(da) == []) is fits


@pytest.mark.parametrize(
    ("types", "expected"),
    [
        (["RECIPROCAL", "RECIPROCAL"], "IMAGE"),
        (["SPATIAL", "RECIPROCAL"], "IMAGE"),
        (["SPATIAL", "SPATIAL", "SPATIAL", "SPATIAL"], "IMAGE_4D"),
        (["SPATIAL", "SPATIAL", "UNKNOWN"], "IMAGE_STACK"),
        (["SPATIAL", "SPATIAL", "CHANNEL"], "IMAGE_STACK"),
        (["UNKNOWN", "UNKNOWN"], "UNKNOWN"),
    ],
)
def test_guess_follows_the_same_table(types, expected):
    assert model.guess_data_type(types) == expected
    assert model.guess_data_type(types) == "UNKNOWN" or model._fits(expected, types)


def test_refresh_keeps_a_type_that_fits_and_walks_datasets():
    spectrum = pycrox.from_array(np.zeros(4), dims=["energy"], data_type="LINE_PLOT")
    assert model.refresh_data_type(spectrum).attrs["data_type"] == "LINE_PLOT"
    unknown = pycrox.from_array(np.zeros(4), dims=["energy"], data_type="UNKNOWN")
    assert model.refresh_data_type(unknown).attrs["data_type"] == "SPECTRUM"
    summed = _cube().sum("energy_loss", keep_attrs=True)
    ds = xr.Dataset(
        {"map": summed, "spectrum": _cube().mean(("y", "x"), keep_attrs=True)}, attrs={"data_type": "X"}
    )
    out = model.refresh_data_type(ds)
    assert (out["map"].attrs["data_type"], out["spectrum"].attrs["data_type"]) == ("IMAGE", "SPECTRUM")
    assert out.attrs["data_type"] == "X"  # several variables: the Dataset's own attr is left alone


# --- analysis outputs --------------------------------------------------------------------------


def _outputs() -> dict[str, xr.DataArray | xr.Dataset]:
    cube, image = _cube(), _image()
    stack = pycrox.from_array(
        np.stack([image.values] * 3), dims=("frame", "y", "x"), coords={"y": image.y, "x": image.x}
    )
    return {
        "fft_image": fourier.fft(image),
        "fft_spectral_dim": fourier.fft(cube, "energy_loss"),
        "fft_image_dims": fourier.fft(cube, ("y", "x")),
        "power_spectrum": fourier.power_spectrum(image),
        "ifft": fourier.ifft(fourier.fft(image)),
        "gaussian_filter": filters.gaussian_filter(cube, 1.0, ("y", "x")),
        "median_filter": filters.median_filter(image, 3),
        "fourier_filter": filters.fourier_filter(image, low=0.1),
        "remove_background": background.remove_background(cube, "energy_loss"),
        "level_plane": background.level_plane(image),
        "level_lines": background.level_lines(image),
        "register": registration.register(stack, "frame"),
        "windows": windows.windows(image, 4, 4),
        "reassemble": windows.reassemble(windows.windows(image, 4, 4)),
        "find_atoms": atoms_module.find_atoms(image),
        "decompose": decomposition.decompose(cube, 3, "energy_loss"),
        "denoise": decomposition.denoise(cube, 3, "energy_loss"),
        "cluster": clustering.cluster(cube, 3, "energy_loss"),
    }


def test_every_flat_analysis_output_has_a_type_that_follows_its_dims():
    outputs = _outputs()
    for name, out in outputs.items():
        variables = out.data_vars.values() if isinstance(out, xr.Dataset) else [out]
        for var in variables:
            assert model.data_type_problem(var) is None, f"{name}: {model.data_type_problem(var)}"
            assert model.validate(var) == [], name
    # the two whose stale type used to survive
    assert outputs["windows"].attrs["data_type"] == "IMAGE_4D"  # was IMAGE on 4 dims
    assert outputs["fft_spectral_dim"].attrs["data_type"] == "IMAGE_STACK"  # was SPECTRAL_IMAGE
    assert outputs["fft_image"].attrs["data_type"] == "IMAGE"  # a type that fits is kept


# --- writers keep what is stored ---------------------------------------------------------------


def _stale() -> xr.DataArray:
    return _cube().sum("energy_loss", keep_attrs=True).rename("stale")


@pytest.mark.parametrize(
    ("suffix", "write"),
    [
        (".zarr", pycrox.to_zarr),
        (".nc", pycrox.to_netcdf),
        (".h5", pycrox.to_nsid),
        (".usid.h5", pycrox.to_usid),
    ],
)
def test_writers_neither_refuse_nor_change_a_contradicting_type(suffix, write, tmp_path):
    da = _stale()
    write(da, tmp_path / f"stale{suffix}")
    with pycrox.open(tmp_path / f"stale{suffix}") as back:
        back = back.load()
    assert back.attrs["data_type"] == "SPECTRAL_IMAGE"
    assert_lossless(back, da)
    assert any("contradicts the dims" in p for p in model.validate(back))


@pytest.mark.reference
def test_a_refreshed_type_opens_in_sidpy_viewers_where_the_stale_one_fails(tmp_path):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("matplotlib").use("Agg")
    pytest.importorskip("sidpy")
    hdf_utils = pytest.importorskip("pyNSID.io.hdf_utils")

    def plot(da: xr.DataArray) -> None:
        pycrox.to_nsid(da, tmp_path / f"{da.attrs['data_type']}.h5")
        with (
            h5py.File(tmp_path / f"{da.attrs['data_type']}.h5", "r") as f,
            warnings.catch_warnings(),
            contextlib.redirect_stdout(io.StringIO()),
        ):
            warnings.simplefilter("ignore")
            hdf_utils.read_h5py_dataset(hdf_utils.get_all_main(f)[0]).plot()

    with pytest.raises(TypeError, match="at least three dimensions"):
        plot(_stale())
    plot(model.refresh_data_type(_stale()))


# --- quantify / dequantify ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [None, "signal"])
@pytest.mark.parametrize("units", ["", "a.u.", "counts", "nA"])
def test_quantify_then_dequantify_gives_back_a_valid_object(name, units):
    da = pycrox.from_array(
        np.arange(6.0).reshape(2, 3),
        name=name,
        units=units,
        coords={"x": {"values": [0.0, 1.0, 2.0], "units": "nm"}},
    )
    quantified = units_xr.quantify(da)
    assert str(quantified.pint.units) == str(
        pycrox.units.parse(units)
    )  # the data are a quantity, named or not
    back = units_xr.dequantify(quantified)
    assert model.validate(back) == []
    assert back.x.attrs["units"] == "nm"
    assert back.y.attrs["units"] == ""
    assert pycrox.units.parse(back.attrs["units"]) == pycrox.units.parse(units)
    np.testing.assert_array_equal(back.values, da.values)
