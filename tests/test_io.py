import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings

import pycrox
from pycrox.testing import assert_lossless, raise_if_dask_computes, strategies


def _sample(name="eels"):
    return pycrox.from_array(
        np.arange(24, dtype="float32").reshape(2, 3, 4),
        dims=("y", "x", "energy_loss"),
        coords={
            "x": {"values": [0.0, 0.5, 1.0], "units": "nm"},
            "energy_loss": {"values": [1.0, 2.0, 4.0, 8.0], "units": "eV"},
        },
        name=name,
        title="Ω-map ✓",
        units="counts",
        metadata={
            "beam_energy": {"value": 200.0, "units": "keV"},
            "flags": [True, None, 1, 2.5, "s"],
            "z": 1 + 2j,
            "raw": b"\x00\x01",
            "arr": np.arange(6).reshape(2, 3),
            "nan": float("nan"),
        },
    )


@pytest.mark.parametrize("write", [pycrox.to_zarr, pycrox.to_netcdf])
def test_dataarray_round_trip_with_awkward_attrs(write, tmp_path):
    da = _sample()
    write(da, tmp_path / "a.store")
    assert_lossless(pycrox.open(tmp_path / "a.store").load(), da)


@pytest.mark.parametrize("write", [pycrox.to_zarr, pycrox.to_netcdf])
def test_dataset_and_tree_round_trip(write, tmp_path):
    ds = xr.Dataset({"a": _sample("a"), "b": _sample("b") * 2}, attrs={"note": {"k": [1, 2]}})
    ds["b"].attrs = dict(_sample("b").attrs)
    write(ds, tmp_path / "ds.store")
    assert_lossless(pycrox.open(tmp_path / "ds.store").load(), ds)

    tree = xr.DataTree.from_dict(
        {"/m/c0/eels": _sample("eels").to_dataset(), "/m/c1/other": _sample("other").isel(y=0).to_dataset()}
    )
    tree["m"].attrs = {"operator": "me", "n": 3}
    write(tree, tmp_path / "t.store")
    back = pycrox.open_tree(tmp_path / "t.store")
    assert_lossless(back.load(), tree)
    assert_lossless(
        pycrox.open(tmp_path / "t.store", group="/m/c1/other").load(), tree["m/c1/other"]["other"]
    )


def test_plain_xarray_sees_json_native_attrs(tmp_path):
    da = _sample()
    pycrox.to_zarr(da, tmp_path / "p.zarr")
    plain = xr.open_zarr(tmp_path / "p.zarr")["eels"]
    assert plain.attrs["title"] == "Ω-map ✓"
    assert plain.attrs["metadata"]["beam_energy"] == {"value": 200.0, "units": "keV"}
    assert plain.x.attrs["units"] == "nm"


def test_open_is_lazy_and_chunks_give_dask(tmp_path):
    da = pycrox.from_array(dsa.ones((64, 64, 32), chunks=(16, 16, 32), dtype="float32"))
    with raise_if_dask_computes(max_computes=1):
        pycrox.to_zarr(da, tmp_path / "lazy.zarr")
    opened = pycrox.open(tmp_path / "lazy.zarr")
    assert not isinstance(opened.variable._data, np.ndarray)
    chunked = pycrox.open(tmp_path / "lazy.zarr", chunks={})
    assert isinstance(chunked.data, dsa.Array)
    with raise_if_dask_computes():
        subset = chunked.isel(x=slice(0, 4)).mean("energy")
    assert float(subset.mean()) == 1.0


def test_open_missing_path_names_it(tmp_path):
    missing = tmp_path / "nope.dm4"
    with pytest.raises(pycrox.NotFoundError, match=r"nope\.dm4"):
        pycrox.open(missing)
    with pytest.raises(FileNotFoundError):
        pycrox.open_tree(missing)


def test_open_unknown_file_says_what_was_tried(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x01\x02 this is no microscopy file" * 10)
    with pytest.raises(
        pycrox.FormatError, match=r"junk\.bin: no pycrox reader recognises this file \(tried zarr"
    ):
        pycrox.open(junk)


def test_writes_never_clobber_without_mode_w(tmp_path):
    da = _sample()
    for write, name in [(pycrox.to_zarr, "x.zarr"), (pycrox.to_netcdf, "x.nc")]:
        write(da, tmp_path / name)
        with pytest.raises(pycrox.WriteError, match="exists; pass mode='w'"):
            write(da * 2, tmp_path / name)
        write(da * 2, tmp_path / name, mode="w")
        np.testing.assert_array_equal(pycrox.open(tmp_path / name).values, da.values * 2)


def test_failed_write_leaves_nothing_behind(tmp_path):
    da = _sample()
    da.attrs["metadata"] = {"bad": object()}
    with pytest.raises(TypeError, match="cannot store an attribute value"):
        pycrox.to_zarr(da, tmp_path / "f.zarr")
    assert list(tmp_path.iterdir()) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays(max_dims=4))
def test_accessor_to_zarr_round_trip(da, tmp_path_factory):
    path = tmp_path_factory.mktemp("acc") / "a.zarr"
    da.pycro.to_zarr(path)
    assert_lossless(pycrox.open(path).load(), da)
