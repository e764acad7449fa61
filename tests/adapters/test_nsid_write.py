"""NSID writer: lossless round trips, storage options, streaming, modes, appending results, layouts."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import dask.array as dsa
import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings

import pycrox
from pycrox import model, provenance
from pycrox.adapters.nsid import _data, mapping
from pycrox.errors import ModelError, NotFoundError, WriteError
from pycrox.testing import assert_lossless, raise_if_dask_computes, strategies


def image(name: str = "image", **attrs) -> xr.DataArray:
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    coords = {
        "y": {"values": [0.0, 0.5, 1.0], "units": "nm"},
        "x": {"values": np.arange(4) * 0.5, "units": "nm"},
    }
    return model.from_array(
        data, ("y", "x"), coords=coords, name=name, units="counts", quantity="intensity", **attrs
    )


def inventory(path: Path) -> dict[str, dict]:
    """Every object of a file with its attributes (dimension-scale bookkeeping left out)."""
    out: dict[str, dict] = {}
    with h5py.File(path, "r") as f:
        f.visititems(
            lambda name, obj: out.__setitem__(
                name, {k: repr(v) for k, v in obj.attrs.items() if k not in mapping.DIMSCALE_ATTRS}
            )
        )
    return out


# ------------------------------------------------------------------------- lossless round trips


@settings(max_examples=50, deadline=None)
@given(da=strategies.model_arrays())
def test_round_trip_is_lossless(da, tmp_path_factory):
    path = tmp_path_factory.mktemp("nsid") / "obj.h5"
    pycrox.to_nsid(da, path)
    back = pycrox.open(path)
    assert_lossless(back.load(), da)


@pytest.mark.parametrize("name", ["nsid_multi_channel.h5", "nsid_results.h5", "nsid_rich_metadata.h5"])
def test_corpus_tree_round_trip_is_lossless(name, shared_data, tmp_path):
    tree = pycrox.open_tree(shared_data / "nsid" / name).load()
    pycrox.to_nsid(tree, tmp_path / name)
    assert_lossless(pycrox.open_tree(tmp_path / name).load(), tree)
    with h5py.File(tmp_path / name, "r") as f:  # nothing needed the sidecar
        f.visititems(lambda _, obj: pytest.fail(obj.name) if mapping.SIDECAR_ATTR in obj.attrs else None)


def test_what_pynsid_cannot_hold_survives(tmp_path):
    da = image(
        title="",
        metadata={
            "none": None,
            "mixed": [1, "a", None],
            "tuple": (1, 2.5),
            "bytes": b"\x00ab",
            "empty": {},
            "slash/key": 3,
            "big": 2**70,
            "nested": [{"a": 1}, {"b": None}],
        },
    )
    da = da.assign_coords(
        x=da.x.astype(np.int32),
        label=("x", np.array(["a", "bb", "ccc", "ü"])),
        when=np.datetime64("2024-05-17T10:00", "ns"),
    )
    da.y.attrs.update(units="", long_name="row", extra={"deep": True})
    pycrox.to_nsid(da, tmp_path / "odd.h5")
    assert_lossless(pycrox.open(tmp_path / "odd.h5").load(), da)


def test_reserved_and_clashing_names_survive(tmp_path):
    data = np.zeros((2, 3))
    da = model.from_array(data, ("metadata", "sum"), name="sum_image", metadata={"k": 1})
    da.attrs.update(sum_image={"a": 1}, variance={"b": 2}, sum=3.5, main_data_name="stored name")
    pycrox.to_nsid(da, tmp_path / "clash.h5")
    assert_lossless(pycrox.open(tmp_path / "clash.h5").load(), da)
    with h5py.File(tmp_path / "clash.h5", "r") as f:
        main = f["/Measurement_000/Channel_000/sum_image/sum_image"]
        assert main.attrs["main_data_name"] == "stored name"
        assert main.attrs["title"] == "sum_image"
        assert [main.dims[i].label for i in range(2)] == ["metadata_1", "sum_1"]  # sidpy's own names avoided


def test_arrays_without_coordinates_or_attrs_survive(tmp_path):
    da = xr.DataArray(np.arange(6).reshape(2, 3), dims=("a", "b"), name="plain", attrs={"note": "x"})
    pycrox.to_nsid(da, tmp_path / "plain.h5")
    assert_lossless(pycrox.open(tmp_path / "plain.h5").load(), da)


def test_scalar_coordinates_after_selection_survive(tmp_path):
    da = image().isel(x=1)
    pycrox.to_nsid(da, tmp_path / "row.h5")
    back = pycrox.open(tmp_path / "row.h5").load()
    assert_lossless(back, da)
    assert float(back.x) == 0.5


# ------------------------------------------------------------------------- storage and streaming


def test_chunks_and_compression_options(tmp_path):
    pycrox.to_nsid(image(), tmp_path / "c.h5", chunks={"x": 2}, compression=4)
    with h5py.File(tmp_path / "c.h5", "r") as f:
        dset = f["/Measurement_000/Channel_000/image/image"]
        assert (dset.chunks, dset.compression, dset.compression_opts) == ((3, 2), "gzip", 4)
    pycrox.to_nsid(image(), tmp_path / "plain.h5")
    with h5py.File(tmp_path / "plain.h5", "r") as f:
        assert f["/Measurement_000/Channel_000/image/image"].chunks is None  # contiguous, as pyNSID


def test_rewrite_keeps_the_chunks_and_compression_read(shared_data, tmp_path):
    source = shared_data / "nsid" / "nsid_spectral_image_3d.h5"
    pycrox.to_nsid(pycrox.open_tree(source), tmp_path / "si.h5")
    with h5py.File(source, "r") as a, h5py.File(tmp_path / "si.h5", "r") as b:
        path = "/Measurement_000/Channel_000/Spectrum_Image/Spectrum_Image"
        assert (b[path].chunks, b[path].compression, b[path].compression_opts) == (
            a[path].chunks,
            a[path].compression,
            a[path].compression_opts,
        )
        np.testing.assert_array_equal(b[path][()], a[path][()])


def test_dask_data_are_written_block_by_block(tmp_path):
    data = dsa.random.default_rng(0).random((64, 1024), chunks=(2, 1024))  # 32 blocks of 16 KiB
    big = dsa.concatenate([data] * 64)  # 2048 blocks, 32 MiB
    da = model.from_array(big, ("y", "x"), name="big")
    batches = big.nbytes // _data.BATCH_BYTES
    with raise_if_dask_computes(max_computes=batches) as scheduler:
        pycrox.to_nsid(da, tmp_path / "big.h5")
    assert scheduler.total_computes == batches == 4  # a few MiB at a time, never the whole array
    with h5py.File(tmp_path / "big.h5", "r") as f:
        np.testing.assert_array_equal(f["/Measurement_000/Channel_000/big/big"][:64], data.compute())
        np.testing.assert_array_equal(f["/Measurement_000/Channel_000/big/big"][-64:], data.compute())


def test_non_numeric_data_are_refused_and_leave_no_file(tmp_path):
    da = xr.DataArray(np.array(["a", "b"]), dims="x", name="text")
    with pytest.raises(ModelError, match="hold numbers or bools"):
        pycrox.to_nsid(da, tmp_path / "text.h5")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------- targets and modes


def test_modes_refuse_or_replace_existing_files(tmp_path):
    path = tmp_path / "a.h5"
    pycrox.to_nsid(image(), path)
    with pytest.raises(WriteError, match="exists"):
        pycrox.to_nsid(image("other"), path)
    pycrox.to_nsid(image("other"), path, mode="w")
    assert sorted(model.signal_nodes(pycrox.open_tree(path))) == ["/Measurement_000/Channel_000/other/other"]
    with pytest.raises(ValueError, match="mode"):
        pycrox.to_nsid(image(), path, mode="r+")


def test_writes_to_fsspec_urls_file_objects_and_h5py_groups(tmp_path):
    da = image()
    pycrox.to_nsid(da, "memory://nsid-write/a.h5")
    assert_lossless(pycrox.open("memory://nsid-write/a.h5").load(), da)
    assert fsspec.filesystem("memory").ls("/nsid-write", detail=False) == ["/nsid-write/a.h5"]
    buffer = io.BytesIO()
    pycrox.to_nsid(da, buffer)
    assert_lossless(pycrox.open(buffer).load(), da)
    with h5py.File(tmp_path / "g.h5", "w") as f:
        pycrox.to_nsid(da, f)
        with pytest.raises(WriteError, match="exists"):
            pycrox.to_nsid(da, f)
    assert_lossless(pycrox.open(tmp_path / "g.h5").load(), da)


def test_dataset_becomes_one_channel_per_variable(tmp_path):
    ds = xr.Dataset({"a": image("a"), "b": image("b") * 2}, attrs={"sample": "STO"})
    pycrox.to_nsid(ds, tmp_path / "ds.h5")
    tree = pycrox.open_tree(tmp_path / "ds.h5")
    assert sorted(model.signal_nodes(tree)) == [
        "/Measurement_000/Channel_000/a/a",
        "/Measurement_000/Channel_001/b/b",
    ]
    assert tree["Measurement_000"].attrs == {"sample": "STO"}


def test_tree_signals_outside_nsid_layout_get_their_own_group(tmp_path):
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"about": "t"}), "/scan/image": image().to_dataset()})
    pycrox.to_nsid(tree, tmp_path / "t.h5")
    back = pycrox.open_tree(tmp_path / "t.h5")
    assert list(model.signal_nodes(back)) == ["/scan/image/image"]
    assert_lossless(back["/scan/image/image"]["image"].load(), image())
    assert back.attrs == {"about": "t"}


def test_trees_nsid_cannot_hold_are_refused(tmp_path):
    compound = xr.DataTree.from_dict(
        {"/fit": xr.Dataset({"a": image(), "b": image()}, attrs={"pycrox_compound": True})}
    )
    with pytest.raises(ModelError, match="no compound datasets"):
        pycrox.to_nsid(compound, tmp_path / "c.h5")
    nested = xr.DataTree.from_dict({"/image": image().to_dataset(), "/image/child": xr.Dataset()})
    with pytest.raises(ModelError, match="cannot have child nodes"):
        pycrox.to_nsid(nested, tmp_path / "n.h5")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------- appending results


def result_of(source: xr.DataArray) -> xr.DataArray:
    result = (source * 2).rename("Doubled").assign_attrs(title="Doubled")
    return provenance.record(result, "scale", source=source, factor=2, window={"mode": "edge"})


def test_append_puts_a_result_next_to_its_source(shared_data, tmp_path):
    path = tmp_path / "image.h5"
    shutil.copy(shared_data / "nsid" / "nsid_image_2d.h5", path)
    before = inventory(path)
    source = pycrox.open(path)  # still open lazily while appending
    result = result_of(source)
    pycrox.to_nsid(result, path, mode="a")
    after = inventory(path)
    assert {k: after[k] for k in before} == before  # nothing rewritten
    log = "Measurement_000/Channel_000/Log_scale_000"
    with h5py.File(path, "r") as f:
        assert int(f[log].attrs["factor"]) == 2
        assert f[log + "/window"].attrs["mode"] == "edge"
        assert sorted(f[log]) == ["Doubled", "window"]
    back = pycrox.open(path, group=f"/{log}/Doubled/Doubled").load()
    assert_lossless(back, result.load())
    pycrox.to_nsid(result, path, mode="a")
    assert "Measurement_000/Channel_000/Log_scale_001/Doubled/Doubled" in inventory(path)


def test_append_without_provenance_adds_a_channel(shared_data, tmp_path):
    path = tmp_path / "image.h5"
    shutil.copy(shared_data / "nsid" / "nsid_image_2d.h5", path)
    pycrox.to_nsid(image("extra"), path, mode="a")
    assert "/Measurement_000/Channel_001/extra/extra" in model.signal_nodes(pycrox.open_tree(path))


def test_failed_append_removes_what_it_added(shared_data, tmp_path):
    path = tmp_path / "image.h5"
    shutil.copy(shared_data / "nsid" / "nsid_image_2d.h5", path)
    before = inventory(path)
    source = pycrox.open(path).load()
    bad = xr.Dataset({"ok": result_of(source), "text": ("x", np.array(["a"] * 32))})
    bad = provenance.record(bad, "scale", source=source)
    with pytest.raises(ModelError, match="hold numbers or bools"):
        pycrox.to_nsid(bad, path, mode="a")
    assert inventory(path) == before


def test_append_needs_an_existing_file_and_a_known_source(shared_data, tmp_path):
    with pytest.raises(NotFoundError, match="no such file to append to"):
        pycrox.to_nsid(image(), tmp_path / "missing.h5", mode="a")
    path = tmp_path / "multi.h5"
    shutil.copy(shared_data / "nsid" / "nsid_multi_channel.h5", path)
    result = provenance.record(image("r"), "scale", source="not in the file")
    with pytest.raises(ModelError, match="pass group="):
        pycrox.to_nsid(result, path, mode="a")
    pycrox.to_nsid(result, path, mode="a", group="/Measurement_000/Channel_001/EELS_SI/EELS_SI")
    assert "/Measurement_000/Channel_001/Log_scale_000/r/r" in model.signal_nodes(pycrox.open_tree(path))


@pytest.mark.parametrize(
    "data",
    [
        dsa.from_array(np.array(3.5)),
        dsa.zeros((0, 3), chunks=(1, 3)),
        dsa.ones((5, 3), chunks=(2, 2), dtype=bool),
    ],
    ids=["0-d", "empty", "ragged-bool"],
)
def test_dask_edge_shapes_round_trip(data, tmp_path):
    da = model.from_array(data, [f"d{i}" for i in range(data.ndim)], name="v")
    pycrox.to_nsid(da, tmp_path / "v.h5")
    assert_lossless(pycrox.open(tmp_path / "v.h5").load(), da.load())
