"""NSID interop matrix with the real libraries: what pycrox writes, SciFiReaders / sidpy / pyNSID read as
they read pyNSID's own files (through the shared interop checker), and the reverse."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings

import pycrox
from pycrox import model, provenance
from pycrox.testing import strategies

pytestmark = pytest.mark.reference
sidpy = pytest.importorskip("sidpy")
pyNSID = pytest.importorskip("pyNSID")
SciFiReaders = pytest.importorskip("SciFiReaders")

CORPUS = [
    "nsid_4d_stem.h5",
    "nsid_complex.h5",
    "nsid_image_2d.h5",
    "nsid_image_stack_3d.h5",
    "nsid_int16_units.h5",
    "nsid_multi_channel.h5",
    "nsid_results.h5",
    "nsid_rich_metadata.h5",
    "nsid_spectral_image_3d.h5",
    "nsid_spectrum_1d.h5",
]


@pytest.fixture(scope="module")
def interop(shared_tools: Path):
    with warnings.catch_warnings():  # the checker silences warnings globally when imported
        spec = importlib.util.spec_from_file_location("nsid_interop_check", shared_tools / "interop_check.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def run_check(interop, path: Path, expect: Path, **kwargs) -> tuple[bool, str]:
    """The checker's verdict and its output lines that failed."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output), warnings.catch_warnings():
        ok = interop.run_check("nsid", str(path), str(expect), **kwargs)
    failures = [line for line in output.getvalue().splitlines() if line.startswith("FAIL")]
    return ok, "\n".join(failures)


def describe(interop, path: Path, target: Path) -> dict:
    import json

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        description = interop.describe_nsid(str(path))
    target.write_text(json.dumps(description))
    return description


def real_read(path: Path) -> dict:
    """``SciFiReaders.NSIDReader(path).read()`` on a writable copy (the reader opens files r+), by HDF5 path."""
    copy = path.with_name(path.stem + "_copy.h5")
    shutil.copy(path, copy)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = SciFiReaders.NSIDReader(str(copy))
        datasets = reader.read()
        arrays = {d.h5_dataset.name: (np.asarray(d), d) for d in datasets.values()}
        reader.close()
    return arrays


@pytest.mark.parametrize("name", CORPUS)
def test_rewritten_corpus_file_reads_like_the_original(name, shared_data, interop, tmp_path):
    pycrox.to_nsid(pycrox.open_tree(shared_data / "nsid" / name), tmp_path / name)
    ok, failures = run_check(
        interop, tmp_path / name, shared_data / "nsid" / "manifest.json", entry=name, strict_types=True
    )
    assert ok, failures


def test_rewritten_pytemlib_file_reads_like_the_original(shared_data, interop, tmp_path):
    original = shared_data / "vendor" / "nsid" / "EELS_STO.hf5"
    describe(interop, original, tmp_path / "expect.json")
    pycrox.to_nsid(pycrox.open_tree(original), tmp_path / "EELS_STO.hf5")
    ok, failures = run_check(interop, tmp_path / "EELS_STO.hf5", tmp_path / "expect.json", strict_types=True)
    assert ok, failures


def test_fresh_write_matches_what_pynsid_writes(interop, tmp_path):
    import h5py

    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = sidpy.Dataset.from_array(data, title="image")
        reference.units, reference.quantity, reference.data_type = "counts", "intensity", "IMAGE"
        for axis, (name, step) in enumerate([("y", 0.5), ("x", 0.25)]):
            reference.set_dimension(
                axis, sidpy.Dimension(np.arange(data.shape[axis]) * step, name, "Length", "nm", "SPATIAL")
            )
        reference.metadata = {"microscope": {"voltage": 200.0, "name": "Nion"}, "tags": ["a", "β"]}
        with h5py.File(tmp_path / "pynsid.h5", "w") as f:
            pyNSID.hdf_io.write_nsid_dataset(
                reference, f.create_group("Measurement_000/Channel_000"), "image"
            )
    ours = model.from_array(
        data,
        ("y", "x"),
        name="image",
        units="counts",
        quantity="intensity",
        modality="generic",
        source="generic",
        coords={
            d: {"values": np.arange(n) * s, "units": "nm", "quantity": "Length"}
            for d, n, s in [("y", 3, 0.5), ("x", 4, 0.25)]
        },
        metadata={"microscope": {"voltage": 200.0, "name": "Nion"}, "tags": ["a", "β"]},
        provenance=dict(reference.provenance),
    )
    pycrox.to_nsid(ours, tmp_path / "pycrox.h5")
    describe(interop, tmp_path / "pynsid.h5", tmp_path / "expect.json")
    ok, failures = run_check(
        interop,
        tmp_path / "pycrox.h5",
        tmp_path / "expect.json",
        strict_types=True,
        skip=["extra_attrs", "types.extra_attrs"],
    )  # our sidecar: pyNSID_version is ours
    assert ok, failures


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays())
def test_real_reader_reads_what_we_write(da, tmp_path_factory):
    path = tmp_path_factory.mktemp("nsid") / "obj.h5"
    pycrox.to_nsid(da, path)
    ((values, dataset),) = real_read(path).values()
    with np.errstate(over="ignore"):  # complex128 beyond complex64's range: sidpy's reader overflows too
        expected = da.values.astype(np.complex64 if da.dtype.kind == "c" else np.float64)
    np.testing.assert_array_equal(values, expected)
    assert (dataset.units, dataset.quantity, dataset.data_type.name) == (
        da.attrs["units"],
        da.attrs["quantity"],
        da.attrs["data_type"],
    )
    assert (dataset.modality, dataset.source) == (da.attrs["modality"], da.attrs["source"])
    for axis, dim in enumerate(da.dims):
        np.testing.assert_array_equal(np.asarray(dataset._axes[axis].values), da[dim].values.astype(float))
        units = da[dim].attrs["units"].strip() or "generic"
        assert dataset._axes[axis].units == units
    for key in ("metadata", "original_metadata"):
        assert set(getattr(dataset, key)) <= set(da.attrs[key])


def test_appended_result_is_listed_by_the_real_reader(shared_data, interop, tmp_path):
    path = tmp_path / "image.h5"
    shutil.copy(shared_data / "nsid" / "nsid_image_2d.h5", path)
    source = pycrox.open(path)
    result = provenance.record(
        (source * 2).rename("Doubled"), "scale", source=source, factor=2, window={"mode": "edge"}
    )
    pycrox.to_nsid(result, path, mode="a")
    description = describe(interop, path, tmp_path / "after.json")
    log = "/Measurement_000/Channel_000/Log_scale_000"
    assert description["reader_read_all_ok"]
    assert f"{log}/Doubled/Doubled" in description["main_datasets"]
    assert [(g["path"], g["attrs"], g["children"]) for g in description["log_groups"]] == [
        (log, {"factor": 2}, ["Doubled", "window"])
    ]
    ok, failures = run_check(
        interop,
        path,
        shared_data / "nsid" / "manifest.json",
        entry="nsid_image_2d.h5",
        h5path="/Measurement_000/Channel_000/HAADF/HAADF",
        strict_types=True,
    )
    assert ok, failures
    arrays = real_read(path)
    np.testing.assert_allclose(
        arrays[f"{log}/Doubled/Doubled"][0], 2 * source.values.astype(float), rtol=1e-6
    )


def test_pynsid_write_results_reads_as_log_nodes(shared_data):
    tree = pycrox.open_tree(shared_data / "nsid" / "nsid_results.h5")
    log = tree["/Measurement_000/Channel_000/Log_Filter_000"]
    assert {k: v for k, v in log.attrs.items() if k in ("filter", "kernel_size", "sigma")} == {
        "filter": "mean",
        "kernel_size": 3,
        "sigma": 1.5,
    }
    assert isinstance(
        tree["/Measurement_000/Channel_000/Log_Filter_000/Filtered_Image/Filtered_Image"], xr.DataTree
    )
