"""xarray's own API on pycrox objects: compare, merge, concatenate, copy, pickle, round trips.

Nested numpy arrays in ``metadata`` / ``original_metadata`` used to make ``identical``,
``equals`` and ``assert_identical`` raise "The truth value of an array ... is ambiguous";
nested dicts are `pycrox.model.MetadataDict` now (``specs/data-model.md``, "Attribute values").
"""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.analysis import filters
from pycrox.errors import FormatError
from pycrox.testing import assert_lossless
from tests.readers._vendor_corpus import MANIFEST, manifest_files

COMBINE_ATTRS = ("drop", "identical", "no_conflicts", "drop_conflicts", "override")


def _metadata() -> dict:
    return {
        "detector": "HAADF",
        "gains": np.array([1.5, np.nan]),
        "nested": {"table": np.arange(6, dtype=np.int16).reshape(2, 3), "names": ["a", "b"]},
        "items": [{"weights": np.ones(2)}, 3],
        "scale": {"value": 0.5, "units": "nm"},
    }


def _signal(name: str = "img", **metadata: object) -> xr.DataArray:
    return pycrox.from_array(
        np.arange(12.0).reshape(3, 4),
        name=name,
        metadata={**_metadata(), **metadata},
        original_metadata={"Tags": {"calibration": np.array([0.1, 0.2]), "frames": [np.arange(3)]}},
    )


# --- MetadataDict: the comparison itself --------------------------------------------------------


def test_metadata_dict_compares_nested_arrays_by_dtype_shape_and_values():
    a = model.comparable_attrs(_signal()).attrs["metadata"]
    assert a == copy.deepcopy(a)
    assert (a != copy.deepcopy(a)) is False  # dict.__ne__ would raise: MetadataDict defines both
    changed = copy.deepcopy(a)
    changed["nested"]["table"] = changed["nested"]["table"].astype(np.int32)  # same values, other dtype
    assert a != changed
    changed["nested"]["table"] = np.arange(6, dtype=np.int16)  # same values, other shape
    assert a != changed
    assert model.MetadataDict(v=np.arange(3)) != {"v": [0, 1, 2]}  # an array is no list
    assert model.MetadataDict(v=[1, (2.0, float("nan"))]) == {"v": (1, [2.0, float("nan")])}  # sequences, NaN


def test_metadata_dict_is_a_plain_dict_for_copy_pickle_and_json():
    value = model.MetadataDict(a=model.MetadataDict(b=np.arange(3)), c=[model.MetadataDict(d=1)])
    for clone in (copy.deepcopy(value), pickle.loads(pickle.dumps(value)), value.copy(), value | {}):
        assert type(clone) is model.MetadataDict
        assert clone == value
    assert type(copy.deepcopy(value)["a"]) is model.MetadataDict
    assert json.loads(json.dumps({"a": model.MetadataDict(b=1)})) == {"a": {"b": 1}}
    assert isinstance(value, dict)


def test_comparable_attrs_reaches_every_attrs_and_leaves_the_input_alone():
    plain = {"m": {"k": np.arange(2)}}
    ds = xr.Dataset({"a": ("x", [1, 2], plain)}, coords={"x": ("x", [0, 1], plain)}, attrs=plain)
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=plain), "/child": ds})
    out = model.comparable_attrs(tree)
    for attrs in (out.attrs, out["child"].attrs, out["child"]["a"].attrs, out["child"]["x"].attrs):
        assert type(attrs["m"]) is model.MetadataDict
    assert type(tree["child"]["a"].attrs["m"]) is dict  # input unchanged
    assert out.identical(model.comparable_attrs(copy.deepcopy(tree)))


# --- xarray's API on a model object -------------------------------------------------------------


def test_identical_equals_and_assert_identical_work_with_nested_arrays():
    da = _signal()
    other = copy.deepcopy(da)
    assert da.identical(other)
    assert da.equals(other)
    xr.testing.assert_identical(da, other)
    xr.testing.assert_identical(da.to_dataset(), other.to_dataset())
    changed = copy.deepcopy(da)
    changed.attrs["metadata"]["nested"]["table"][0, 0] = 99
    assert not da.identical(changed)
    assert da.equals(changed)  # equals ignores attrs


@pytest.mark.parametrize("combine_attrs", COMBINE_ATTRS)
def test_merge_and_concat_take_every_combine_attrs_option(combine_attrs):
    da = _signal()
    datasets = [da.to_dataset(promote_attrs=True), copy.deepcopy(da).to_dataset(promote_attrs=True)]
    merged = xr.merge(datasets, combine_attrs=combine_attrs, compat="no_conflicts", join="outer")
    joined = xr.concat([da, copy.deepcopy(da)], dim="frame", combine_attrs=combine_attrs)
    expected = {} if combine_attrs == "drop" else da.attrs
    for attrs in (merged.attrs, merged["img"].attrs, joined.attrs):
        assert model.MetadataDict(attrs) == expected


def test_drop_conflicts_keeps_equal_metadata_and_drops_different():
    da, other = _signal(), _signal(gains=np.array([1.5, 2.0]))
    same = xr.merge(
        [da, copy.deepcopy(da)], combine_attrs="drop_conflicts", compat="no_conflicts", join="outer"
    )
    assert same["img"].attrs["metadata"] == da.attrs["metadata"]
    differ = xr.merge([da, other], combine_attrs="drop_conflicts", compat="no_conflicts", join="outer")
    assert "metadata" not in differ["img"].attrs
    assert differ["img"].attrs["original_metadata"] == da.attrs["original_metadata"]
    with pytest.raises(xr.MergeError):
        xr.merge([da, other], combine_attrs="no_conflicts", compat="no_conflicts", join="outer")


def test_analysis_results_and_copies_stay_comparable():
    da = _signal()
    result = filters.gaussian_filter(da, 1.0)
    xr.testing.assert_identical(result, copy.deepcopy(result))
    assert result.attrs["metadata"] == da.attrs["metadata"]
    assert type(result.attrs["provenance"]) is model.MetadataDict
    xr.testing.assert_identical(da.copy(deep=True), pickle.loads(pickle.dumps(da)))


WRITERS = {
    ".zarr": pycrox.to_zarr,
    ".nc": pycrox.to_netcdf,
    ".nsid.h5": pycrox.to_nsid,
    ".usid.h5": pycrox.to_usid,
}


@pytest.mark.parametrize("suffix", WRITERS)
def test_round_trip_is_identical_and_comparable(suffix, tmp_path):
    da = _signal()
    WRITERS[suffix](da, tmp_path / f"obj{suffix}")
    with pycrox.open(tmp_path / f"obj{suffix}") as back:
        back = back.load()
    assert_lossless(back, da)
    assert back.identical(da)
    xr.testing.assert_identical(back, da)
    merged = xr.merge([back, da], combine_attrs="drop_conflicts", compat="no_conflicts", join="outer")
    assert merged["img"].attrs["metadata"] == da.attrs["metadata"]


# --- every file of the vendor corpus that pycrox reads ------------------------------------------


def _open_tree(path: Path) -> xr.DataTree:
    return pycrox.open_tree(path)


@pytest.mark.parametrize("rel", manifest_files(""))
def test_xarray_api_on_every_registered_corpus_file(rel, shared_data):
    if not MANIFEST.is_file():
        pytest.skip(f"vendor manifest not found at {MANIFEST}")
    path = MANIFEST.parent / rel
    try:
        pycrox.detect_format(path)
    except FormatError:
        pytest.skip(f"{rel}: its format is not registered in pycrox")
    tree = _open_tree(path)
    other = copy.deepcopy(tree)
    assert tree.identical(other)
    assert tree.equals(other)
    xr.testing.assert_identical(tree, other)
    for signal in model.signal_nodes(tree).values():
        ds = signal.to_dataset(promote_attrs=True) if isinstance(signal, xr.DataArray) else signal
        ds = ds.isel({dim: slice(0, 2) for dim in ds.dims})  # attrs are the point: read little data
        merged = xr.merge(
            [ds, copy.deepcopy(ds)], combine_attrs="drop_conflicts", compat="override", join="override"
        )
        assert merged.attrs.keys() == ds.attrs.keys()  # nothing dropped: every attr compares equal
        for name in ds.data_vars:
            assert merged[name].attrs.keys() == ds[name].attrs.keys()
        for combine_attrs in COMBINE_ATTRS:
            joined = xr.concat([ds, copy.deepcopy(ds)], dim="repeat", combine_attrs=combine_attrs)
            assert model.MetadataDict(joined.attrs) == ({} if combine_attrs == "drop" else ds.attrs)
