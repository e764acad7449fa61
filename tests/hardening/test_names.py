"""Names a path cannot hold ('/', '.', '..'): every writer refuses them with a WriteError, never a bad file."""

import h5py
import numpy as np
import pytest

import pycrox
from pycrox.cli import main

WRITERS = {"nsid": pycrox.to_nsid, "usid": pycrox.to_usid, "netcdf": pycrox.to_netcdf, "zarr": pycrox.to_zarr}
BAD = [("..", ("y", "x")), (".", ("y", "x")), ("a/b", ("y", "x")), ("image", ("a/b", "x"))]


@pytest.mark.parametrize("fmt", WRITERS)
@pytest.mark.parametrize(("name", "dims"), BAD, ids=["dotdot", "dot", "slash-name", "slash-dim"])
def test_writers_refuse_names_a_path_cannot_hold(fmt, name, dims, tmp_path):
    da = pycrox.from_array(np.arange(6.0).reshape(2, 3), dims=dims, name=name)
    target = tmp_path / f"out.{fmt}"
    with pytest.raises(pycrox.WriteError, match=r"'(a/b|\.|\.\.)'") as info:
        WRITERS[fmt](da, target)
    assert "rename" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # refused before anything was written


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_dataset_with_a_bad_variable_name_is_refused(fmt, tmp_path):
    ds = pycrox.from_array(np.arange(6.0).reshape(2, 3), dims=("y", "x"), name="image").to_dataset()
    ds[".."] = ds["image"] * 2
    with pytest.raises(pycrox.WriteError, match=r"variable name '\.\.'"):
        WRITERS[fmt](ds, tmp_path / "out")


@pytest.mark.parametrize("to", ["nsid", "usid", "netcdf", "zarr"])
def test_convert_of_a_foreign_file_with_odd_names_gives_a_file_or_one_line(to, tmp_path, capsys):
    src = tmp_path / "foreign.h5"
    with h5py.File(src, "w") as h5:  # a file another tool wrote, with dimension labels that are paths
        dset = h5.create_dataset("data", data=np.arange(12.0).reshape(3, 4))
        dset.dims[0].label = "a/b"
        dset.dims[1].label = ".."
    dst = tmp_path / f"out.{to}"
    code = main(["convert", str(src), str(dst), "--to", to, "--quiet"])
    err = capsys.readouterr().err.strip()
    if code == 0:
        assert pycrox.open_tree(dst) is not None  # a readable result
    else:
        assert code == 1
        assert len(err.splitlines()) == 1, err
        assert not dst.exists()


@pytest.mark.parametrize("fmt", WRITERS)
def test_a_tree_with_a_group_named_dotdot_is_refused(fmt, tmp_path):
    import xarray as xr

    da = pycrox.from_array(np.arange(6.0).reshape(2, 3), dims=("y", "x"), name="image")
    tree = xr.DataTree.from_dict({"/..": da.to_dataset()})  # xarray accepts it; no file format can
    with pytest.raises(pycrox.WriteError, match=r"group name '\.\.'"):
        WRITERS[fmt](tree, tmp_path / "out")


@pytest.mark.parametrize("title", ["..", "."])
def test_a_dm_image_titled_like_a_path_reads_and_converts(title, tmp_path):
    from tests.readers.test_dm import dm_file, image

    truth = np.arange(12.0).reshape(3, 4)
    src = dm_file(tmp_path / "odd.dm4", image(truth, 12, name=title))  # DM data type 12: float64
    tree = pycrox.open_tree(src)
    assert [node.name for node in tree.children.values()] == ["image0"]
    dst = tmp_path / "out.zarr"
    assert main(["convert", str(src), str(dst), "--quiet"]) == 0
    np.testing.assert_array_equal(pycrox.open(dst).values, truth)
