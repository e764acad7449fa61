"""The fixed per-file cost cuts keep results equal: ready coordinates, one HDF5 probe, in-place attrs.

`model.from_array` takes another signal's ``.coords`` as they are, `pycrox._hdf5.probe` keeps one
open file on a `Source` for every HDF5 guesser (closed by `io.detect_format`), and
`comparable_attrs(copy=False)` fixes reader output in place: each must give what the slow path
gives.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import xarray as xr

from pycrox import _hdf5, io, model
from pycrox._attrs import MetadataDict, comparable_attrs
from pycrox.errors import DimensionError, FormatError
from pycrox.sources import open_source


def _grid() -> dict:
    return {
        "x": {"values": np.linspace(0, 1, 5), "units": "nm"},
        "y": {"values": np.arange(4, dtype=np.float32), "units": "nm", "quantity": "Height"},
    }


def test_ready_coordinates_give_what_the_specs_give():
    first = model.from_array(np.zeros((4, 5)), ("y", "x"), coords=_grid(), name="a")
    data = np.ones((4, 5))
    fast = model.from_array(data, ("y", "x"), coords=first.coords, name="b", units="V")
    slow = model.from_array(data, ("y", "x"), coords=_grid(), name="b", units="V")
    coords = first.coords
    assert model._ready_coordinates(coords, ("y", "x"), (4, 5)) is coords
    xr.testing.assert_identical(fast, slow)
    for dim in ("x", "y"):
        assert fast.indexes[dim].dtype == slow.indexes[dim].dtype
        assert type(fast[dim].variable) is type(slow[dim].variable)
    fast["x"].attrs["units"] = "changed"  # no attrs dict is shared with the first signal
    assert first["x"].attrs["units"] == "nm"


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.assign_coords(x=c["x"].assign_attrs(extra=1)),  # an attr from_array would drop
        lambda c: c.assign_coords(x=c["x"].assign_attrs(quantity="Other")),  # long_name no longer follows
        lambda c: c.assign_coords(t=("y", np.arange(4.0))),  # a coordinate that is no dim
    ],
)
def test_coordinates_from_array_would_change_take_the_slow_path(change):
    first = model.from_array(np.zeros((4, 5)), ("y", "x"), coords=_grid(), name="a")
    coords = change(first.coords.to_dataset()).coords
    assert model._ready_coordinates(coords, ("y", "x"), (4, 5)) is None
    out = model.from_array(np.zeros((4, 5)), ("y", "x"), coords=coords)
    assert "extra" not in out["x"].attrs
    assert model.validate(out) == []


def test_wrong_length_ready_coordinates_are_refused():
    first = model.from_array(np.zeros((4, 5)), ("y", "x"), coords=_grid())
    assert model._ready_coordinates(first.coords, ("y", "x"), (4, 6)) is None
    with pytest.raises(DimensionError, match="coordinate 'x' has shape"):
        model.from_array(np.zeros((4, 6)), ("y", "x"), coords=first.coords)


def test_one_probe_file_per_source_closed_by_detection(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as h5:
        h5["data"] = np.arange(3)
    src = open_source(path)
    assert _hdf5.probe(src, None, lambda root: "data" in root)
    kept = src._h5
    assert kept is not None
    assert kept.id.valid
    assert not _hdf5.probe(src, None, lambda root: "other" in root)
    assert src._h5 is kept  # the second guesser used the same open file
    _hdf5.release_probe(src)
    assert src._h5 is None
    assert not kept.id.valid
    with pytest.raises(FormatError, match="no pycrox reader recognises"):
        io.detect_format(src)
    assert src._h5 is None  # detection closed what the HDF5 guessers opened
    assert _hdf5.probe(str(path), None, lambda root: "data" in root)  # a path: opened and closed here


def test_comparable_attrs_in_place_reaches_every_depth():
    da = model.from_array(np.zeros((2, 2)), metadata={"a": {"b": [1, {"c": np.arange(2)}]}})
    da.attrs["metadata"]["late"] = {"d": {"e": 1}}  # plain dicts put in after from_array
    da.attrs["plain"] = {"p": [{"q": 1}], "t": ({"u": 2},)}
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs={"k": {"z": 1}}), "/v": da.to_dataset(name="v")})
    out = comparable_attrs(tree, copy=False)

    def dicts(value):
        if isinstance(value, dict):
            yield value
            for item in value.values():
                yield from dicts(item)
        elif isinstance(value, list | tuple):
            for item in value:
                yield from dicts(item)

    found = [d for node in out.subtree for v in node.attrs.values() for d in dicts(v)]
    found += [
        d
        for node in out.subtree
        for var in node.variables.values()
        for v in var.attrs.values()
        for d in dicts(v)
    ]
    assert len(found) == 11
    assert all(type(d) is MetadataDict for d in found)
    assert out["v"]["v"].attrs["metadata"] == {"a": {"b": [1, {"c": np.arange(2)}]}, "late": {"d": {"e": 1}}}


@pytest.mark.parametrize(
    "names",
    [("main_data_name", "data_type"), ("Position_Indices", "Spectroscopic_Indices"), ("units",), ("absent",)],
)
def test_low_level_walk_answers_as_visititems(tmp_path, names):
    path = tmp_path / "nested.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["units"] = "on the root group, not a dataset"
        inner = h5.create_group("a/b/c")
        inner.attrs["main_data_name"] = "a group carries it: no match"
        inner.attrs["data_type"] = "IMAGE"
        inner["plain"] = np.arange(4)
        inner["main"] = np.zeros((2, 2))
        inner["main"].attrs["main_data_name"] = "x"
        inner["main"].attrs["data_type"] = "IMAGE"
        h5["a/half"] = np.arange(2)
        h5["a/half"].attrs["Position_Indices"] = 1
        h5["a/units"] = np.arange(3)
        h5["a/units"].attrs["units"] = "nm"
    with h5py.File(path, "r") as h5:
        slow = h5.visititems(
            lambda _, obj: (
                True if isinstance(obj, h5py.Dataset) and all(n in obj.attrs for n in names) else None
            )
        )
        for root in (h5, h5["a"]):
            assert _hdf5.has_dataset_with_attrs(root, names) is bool(slow)
    with h5py.File(path, "r") as h5:
        assert _hdf5.has_dataset_with_attrs(h5["a/b/c"], ("main_data_name",))
