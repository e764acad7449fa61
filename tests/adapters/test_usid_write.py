"""USID writer: layout choices, Datasets, compound data, scattered positions, results groups, modes."""

from __future__ import annotations

import shutil
import warnings

import dask.array as dsa
import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model, provenance
from pycrox.errors import ModelError, NotFoundError, WriteError
from pycrox.testing import assert_lossless
from tests.adapters.test_usid_fixtures import pyusid

MAIN = "/Measurement_000/Channel_000"


def _spectral_image(dtype: str = "float32") -> xr.DataArray:
    rng = np.random.default_rng(3)
    return pycrox.from_array(
        rng.random((4, 5, 6)).astype(dtype),
        dims=("y", "x", "energy"),
        name="si",
        quantity="Intensity",
        units="counts",
        coords={
            "y": {"values": np.arange(4) * 0.5, "units": "nm"},
            "x": {"values": np.arange(5) * 0.5, "units": "nm"},
            "energy": {"values": np.linspace(100.0, 200.0, 6), "units": "eV"},
        },
        metadata={"beam_energy": {"value": 200.0, "units": "keV"}},
        original_metadata={"operator": "A. B."},
    )


def _main(h5: h5py.File, path: str):
    usid = pyusid()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return usid.USIDataset(h5[path], sort_dims=False)


def test_spatial_dims_become_positions_and_the_file_is_main(tmp_path):
    da = _spectral_image()
    pycrox.to_usid(da, tmp_path / "si.h5")
    with h5py.File(tmp_path / "si.h5") as h5:
        dset = _main(h5, f"{MAIN}/si")
        assert (dset.pos_dim_labels, dset.spec_dim_labels) == (["y", "x"], ["energy"])
        np.testing.assert_array_equal(dset.get_n_dim_form(), da.values)
        assert dset.data_descriptor == "Intensity (counts)"
        assert h5[f"{MAIN}/si"].attrs["operator"] == "A. B."  # original_metadata: plain attributes
        assert h5[f"{MAIN}/Position_Indices"].dtype == np.uint32
    assert_lossless(pycrox.open(tmp_path / "si.h5").load(), da)


def test_position_dims_override_and_dims_order_are_kept(tmp_path):
    da = _spectral_image().transpose("energy", "x", "y")
    pycrox.to_usid(da, tmp_path / "o.h5", position_dims=["energy"])
    with h5py.File(tmp_path / "o.h5") as h5:
        dset = _main(h5, f"{MAIN}/si")
        assert (dset.pos_dim_labels, dset.spec_dim_labels) == (["energy"], ["x", "y"])
        np.testing.assert_array_equal(dset.get_n_dim_form(), da.values)
    back = pycrox.open(tmp_path / "o.h5")
    assert back.dims == ("energy", "x", "y")
    assert_lossless(back.load(), da)
    with pytest.raises(ModelError, match="position_dims"):
        pycrox.to_usid(da, tmp_path / "bad.h5", position_dims=["nope"])


def test_dataset_variables_share_their_ancillary_datasets(tmp_path):
    da = _spectral_image()
    ds = xr.Dataset(
        {"a": da.rename("a"), "b": (da * 2).rename("b").assign_attrs(da.attrs)}, attrs={"sample": "Si"}
    )
    pycrox.to_usid(ds, tmp_path / "ds.h5")
    with h5py.File(tmp_path / "ds.h5") as h5:
        refs = {
            name: {
                h5[h5[f"{MAIN}/{name}"].attrs[k]].name for k in ("Position_Indices", "Spectroscopic_Values")
            }
            for name in ("a", "b")
        }
        assert refs["a"] == refs["b"] == {f"{MAIN}/Position_Indices", f"{MAIN}/Spectroscopic_Values"}
        assert h5[MAIN].attrs["sample"] == "Si"
    tree = pycrox.open_tree(tmp_path / "ds.h5")
    assert_lossless(model.signal_nodes(tree)[f"{MAIN}/b"].load(), ds["b"])


def test_dataset_as_one_compound_dataset(tmp_path):
    da = _spectral_image()
    ds = xr.Dataset({"Amplitude [V]": da, "Phase [rad]": da.astype(np.float64)})
    pycrox.to_usid(ds, tmp_path / "c.h5", compound=True)
    with h5py.File(tmp_path / "c.h5") as h5:
        dset = _main(h5, f"{MAIN}/Raw_Data")  # a Dataset without title: pyUSID's usual name
        assert dset.dtype.names == ("Amplitude [V]", "Phase [rad]")
        assert dset.dtype["Phase [rad]"] == np.float64
        np.testing.assert_array_equal(dset.get_n_dim_form()["Amplitude [V]"], da.values)
    back = pycrox.open(tmp_path / "c.h5")
    assert back.attrs[model.COMPOUND_ATTR] is True
    assert_lossless(back["Phase [rad]"].load(), ds["Phase [rad]"])
    with pytest.raises(ModelError, match="compound"):
        pycrox.to_usid(xr.Dataset({"a": da, "b": da.isel(x=0)}), tmp_path / "bad.h5", compound=True)


def test_compound_signals_read_from_usid_stay_compound(shared_data, tmp_path):
    fit = pycrox.open(
        shared_data / "usid" / "usid_sho_compound_results.h5",
        group="/Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/Fit",
    ).load()
    pycrox.to_usid(fit, tmp_path / "fit.h5")
    with h5py.File(tmp_path / "fit.h5") as h5:
        assert h5["/Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/Fit"].dtype.names == tuple(fit.data_vars)
    assert_lossless(pycrox.open(tmp_path / "fit.h5").load(), fit)


def test_scattered_positions_are_written_as_incomplete_dims(tmp_path):
    rng = np.random.default_rng(5)
    base = pycrox.from_array(
        rng.random((9, 4)).astype(np.float32),
        dims=("position", "bias"),
        name="iv",
        coords={"bias": {"values": np.linspace(-1, 1, 4), "units": "V"}},
    )
    da = base.assign_coords(
        X=("position", rng.random(9), {"units": "µm"}), Y=("position", rng.random(9), {"units": "µm"})
    )
    pycrox.to_usid(da, tmp_path / "p.h5")
    with h5py.File(tmp_path / "p.h5") as h5:
        dset = _main(h5, f"{MAIN}/iv")
        assert list(h5[f"{MAIN}/Position_Indices"].attrs["type"]) == [1, 1]
        np.testing.assert_array_equal(dset.get_pos_values("X"), da["X"].values)
        assert [s.decode() for s in h5[f"{MAIN}/Position_Values"].attrs["units"]] == ["µm", "µm"]
    assert_lossless(pycrox.open(tmp_path / "p.h5").load(), da)


def test_dask_data_are_written_block_by_block(tmp_path):
    da = _spectral_image()
    lazy = da.copy(data=dsa.from_array(da.values, chunks=(2, 5, 3)))
    pycrox.to_usid(lazy, tmp_path / "d.h5")
    assert_lossless(pycrox.open(tmp_path / "d.h5").load(), da)


def test_storage_settings_of_a_read_file_are_kept(shared_data, tmp_path):
    source = shared_data / "usid" / "usid_spectral_map.h5"
    pycrox.to_usid(pycrox.open(source), tmp_path / "m.h5")
    with h5py.File(source) as old, h5py.File(tmp_path / "m.h5") as new:
        path = f"{MAIN}/Raw_Data"
        assert (new[path].chunks, new[path].compression) == (old[path].chunks, old[path].compression)


# --------------------------------------------------------------------------- results groups


def test_results_group_links_to_its_source_with_the_step_parameters(shared_data, tmp_path):
    usid = pyusid()
    path = tmp_path / "map.h5"
    shutil.copyfile(shared_data / "usid" / "usid_spectral_map.h5", path)
    source = pycrox.open(path)
    result = provenance.record(
        source.mean("Frequency"), "mean_spectrum", source=source, dim="Frequency", skip=None
    )
    pycrox.to_usid(result, path, mode="a", source=f"{MAIN}/Raw_Data")
    pycrox.to_usid(result, path, mode="a", source=source)  # a second run: the next index
    with h5py.File(path) as h5, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        group = h5[f"{MAIN}/Raw_Data-mean_spectrum_000"]
        assert f"{MAIN}/Raw_Data-mean_spectrum_001" in h5
        assert (group.attrs["tool"], group.attrs["dim"], group.attrs["num_source_dsets"]) == (
            "mean_spectrum",
            "Frequency",
            1,
        )
        assert usid.hdf_utils.get_source_dataset(group).name == f"{MAIN}/Raw_Data"
        main = group["Raw_Data"]
        assert usid.hdf_utils.check_if_main(main)
        assert h5[main.attrs["Position_Indices"]].name == f"{MAIN}/Position_Indices"  # shared with the source
        np.testing.assert_allclose(usid.USIDataset(main).get_n_dim_form()[..., 0], result.values)
        found = usid.hdf_utils.find_results_groups(h5[f"{MAIN}/Raw_Data"], "mean_spectrum")
        assert len(found) == 2
    tree = pycrox.open_tree(path)
    assert tree[f"{MAIN}/Raw_Data-mean_spectrum_000"].attrs["source_000"] == {"$ref": f"{MAIN}/Raw_Data"}
    back = tree[f"{MAIN}/Raw_Data-mean_spectrum_000/Raw_Data"].to_dataset()["Raw_Data"].load()
    layout = back.attrs.pop("pycrox_usid")  # where the shared ancillary datasets are, for rewriting
    assert layout["ancillary"]["Position_Values"]["path"] == f"{MAIN}/Position_Values"
    assert_lossless(back, result)


def test_results_need_an_existing_file_and_main_dataset(shared_data, tmp_path):
    result = provenance.record(_spectral_image(), "noop")
    with pytest.raises(WriteError, match="existing local file"):
        pycrox.to_usid(result, tmp_path / "missing.h5", mode="a", source=f"{MAIN}/Raw_Data")
    path = tmp_path / "map.h5"
    shutil.copyfile(shared_data / "usid" / "usid_spectral_map.h5", path)
    with pytest.raises(NotFoundError, match="no USID main dataset"):
        pycrox.to_usid(result, path, mode="a", source=f"{MAIN}/Topography")
    with h5py.File(path) as h5:
        assert not any("noop" in name for name in h5[MAIN])  # nothing left behind


def test_append_without_source_adds_a_measurement(shared_data, tmp_path):
    path = tmp_path / "map.h5"
    shutil.copyfile(shared_data / "usid" / "usid_spectral_map.h5", path)
    pycrox.to_usid(_spectral_image(), path, mode="a")
    assert_lossless(pycrox.open(path, group="/Measurement_001/Channel_000/si").load(), _spectral_image())


# --------------------------------------------------------------------------- modes and atomic writes


def test_existing_file_is_not_clobbered_without_mode_w(tmp_path):
    path = tmp_path / "x.h5"
    path.write_bytes(b"keep me")
    with pytest.raises(WriteError, match="exists"):
        pycrox.to_usid(_spectral_image(), path)
    assert path.read_bytes() == b"keep me"
    pycrox.to_usid(_spectral_image(), path, mode="w")
    assert pycrox.open(path).dims == ("y", "x", "energy")


def test_a_failed_write_leaves_nothing(tmp_path):
    da = xr.DataArray(np.zeros((2, 3)), dims=(7, "x"), name="bad")  # a non-string dim cannot be a USID label
    with pytest.raises(ModelError, match="not a string"):
        pycrox.to_usid(da, tmp_path / "f.h5")
    assert list(tmp_path.iterdir()) == []


def test_bad_names_are_refused(tmp_path):
    with pytest.raises(pycrox.WriteError, match="cannot store the signal name 'a/b'"):
        pycrox.to_usid(_spectral_image().rename("a/b"), tmp_path / "n.h5")
    with pytest.raises(ValueError, match="mode"):
        pycrox.to_usid(_spectral_image(), tmp_path / "n.h5", mode="r+")


def test_write_to_a_url_and_refuse_to_clobber_it():
    url = "memory://usid-write/si.h5"
    memory = fsspec.filesystem("memory")
    if memory.exists("/usid-write"):
        memory.rm("/usid-write", recursive=True)
    pycrox.to_usid(_spectral_image(), url)
    assert_lossless(pycrox.open(url).load(), _spectral_image())
    with pytest.raises(WriteError, match="exists"):
        pycrox.to_usid(_spectral_image(), url)


def test_empty_dims_are_refused(tmp_path):
    with pytest.raises(ModelError, match="empty"):
        pycrox.to_usid(_spectral_image().isel(x=slice(0, 0)), tmp_path / "e.h5")


def test_whole_tree_through_the_datatree_door(shared_data, tmp_path):
    from pycrox.adapters.usid.backend import USIDBackendEntrypoint

    source = shared_data / "usid" / "usid_multi_channel.h5"
    tree = xr.open_datatree(source, engine=USIDBackendEntrypoint)
    pycrox.to_usid(tree, tmp_path / "m.h5")
    assert_lossless(xr.open_datatree(tmp_path / "m.h5", engine=USIDBackendEntrypoint).load(), tree.load())
