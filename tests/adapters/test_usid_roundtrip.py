"""Round trips: pycrox -> USID -> pycrox is lossless, USID (pyUSID) -> pycrox -> USID is identical.

The second direction is judged by the shared interop checker (``../shared/tools/interop_check.py``),
run with the real pyUSID, SciFiReaders and rosettasciio in one subprocess of the project's python.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pycrox
from pycrox.testing import assert_lossless, strategies
from tests.adapters.test_usid_fixtures import pyusid
from tests.adapters.test_usid_read import CORPUS

POSITION_TYPES = ("SPATIAL", "POINT_CLOUD")

_DRIVER = """
import contextlib, io, json, runpy, sys
checker = runpy.run_path(sys.argv[1], run_name="interop_check")
results = {}
for name, ours, reference, manifest in json.loads(sys.argv[2]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = checker["main"](["usid", ours, "--expect", manifest, "--entry", name, "--strict-types",
                                "--ref", reference])
    results[name] = [code, out.getvalue()]
print(json.dumps(results))
"""


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays())
def test_model_arrays_round_trip_losslessly(da, tmp_path_factory):
    path = tmp_path_factory.mktemp("usid") / "obj.h5"
    pycrox.to_usid(da, path)
    with pycrox.open(path) as back:
        assert_lossless(back.load(), da)


def _split(da):
    pos = [d for d in da.dims if da[d].attrs["dimension_type"] in POSITION_TYPES]
    return pos, [d for d in da.dims if d not in pos]


@pytest.mark.reference
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays(min_dims=1, max_dims=5), data=st.data())
def test_pyusid_sees_the_same_n_dim_form_dims_values_and_units(da, data, tmp_path_factory):
    usid = pyusid()
    pos, spec = _split(da)
    for group in (pos, spec):  # pyUSID 0.0.12 mistakes a group with more dims than steps for its transpose
        assume(len(group) < 2 or len(group) < int(np.prod([da.sizes[d] for d in group])))
    path = tmp_path_factory.mktemp("usid") / "obj.h5"
    pycrox.to_usid(da, path)
    with h5py.File(path, "r") as h5, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (main,) = usid.hdf_utils.get_all_main(h5)
        assert usid.hdf_utils.check_if_main(main)
        dset = usid.USIDataset(main, sort_dims=False)
        labels = [label for label in dset.n_dim_labels if label in da.dims]
        assert labels == pos + spec
        expected = da.transpose(*pos, *spec).values
        np.testing.assert_array_equal(dset.get_n_dim_form().reshape(expected.shape), expected)
        for dim, getter in [(d, dset.get_pos_values) for d in pos] + [
            (d, dset.get_spec_values) for d in spec
        ]:
            values = getter(dim)
            np.testing.assert_array_equal(values, da[dim].values.astype(values.dtype))
        units = dict(
            zip(
                dset.pos_dim_labels + dset.spec_dim_labels,
                [u.strip() for u in dset.pos_dim_descriptors + dset.spec_dim_descriptors],
                strict=True,
            )
        )
        for dim in pos + spec:
            assert units[dim] == f"{dim} ({da[dim].attrs['units']})".strip()


def test_zero_d_and_one_d_arrays_get_dummy_dims_that_read_back_away(tmp_path):
    scalar = pycrox.from_array(np.float32(2.5), name="value")
    pycrox.to_usid(scalar, tmp_path / "s.h5")
    with h5py.File(tmp_path / "s.h5") as h5:
        assert h5["/Measurement_000/Channel_000/value"].shape == (1, 1)
    assert_lossless(pycrox.open(tmp_path / "s.h5").load(), scalar)


@pytest.mark.reference
def test_pyusid_files_rewritten_pass_the_interop_checker(shared_data, shared_tools, tmp_path):
    corpus = shared_data / "usid"
    jobs = []
    for name in CORPUS:
        target = tmp_path / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # none expected; the checker is the judge
            pycrox.to_usid(pycrox.open_tree(corpus / name), target)
        jobs.append([name, str(target), str(corpus / name), str(corpus / "manifest.json")])
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(shared_tools / "interop_check.py"), json.dumps(jobs)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads(proc.stdout.strip().splitlines()[-1])
    failures = {
        name: [line for line in out.splitlines() if line.startswith("FAIL")]
        for name, (code, out) in results.items()
        if code != 0
    }
    assert failures == {}
    assert set(results) == set(CORPUS)
    assert all(out.strip().splitlines()[-1].endswith(" 0 failed") for _, out in results.values())


@pytest.mark.parametrize("rel", ["131017Spectroscopy002.h5", "SingFreqPFM_0003.h5", "chip.h5"])
def test_legacy_files_rewrite_to_the_same_layout(shared_data, tmp_path, rel):
    source = shared_data / "vendor" / "usid" / rel
    pycrox.to_usid(pycrox.open_tree(source), tmp_path / rel)
    with h5py.File(source) as old, h5py.File(tmp_path / rel) as new:
        names: list[str] = []
        old.visit(names.append)
        new_names: list[str] = []
        new.visit(new_names.append)
        assert sorted(names) == sorted(new_names)
        for name in names:
            if isinstance(old[name], h5py.Dataset):
                np.testing.assert_array_equal(new[name][()], old[name][()])
                assert new[name].dtype == old[name].dtype
                assert sorted(new[name].attrs) == sorted(old[name].attrs)
    tree = pycrox.open_tree(tmp_path / rel)
    assert_lossless(tree.load(), pycrox.open_tree(source).load())


def test_rewritten_corpus_reads_back_identically(shared_data, tmp_path):
    for name in CORPUS:
        source = shared_data / "usid" / name
        pycrox.to_usid(pycrox.open_tree(source), tmp_path / name)
        assert_lossless(pycrox.open_tree(tmp_path / name).load(), pycrox.open_tree(source).load())


def test_scattered_positions_under_another_dim_name_read_back(tmp_path):
    # regression: the reader renamed the scattered dim with xr.Variable.rename, which does not exist
    n = 5
    da = pycrox.from_array(
        np.arange(n * 4, dtype="float32").reshape(n, 4),
        dims=("spot", "energy"),
        name="spectra",
        coords={
            "spot": {
                "values": np.arange(n),
                "units": "",
                "quantity": "Position",
                "dimension_type": "POINT_CLOUD",
            },
            "energy": {"values": np.linspace(1.0, 4.0, 4), "units": "eV"},
        },
    )
    da = da.assign_coords(
        x=("spot", np.array([0.0, 1.5, 3.0, 0.5, 2.0]), {"units": "nm", "quantity": "Length"}),
        y=("spot", np.array([0.0, 0.0, 1.0, 2.0, 2.5]), {"units": "nm", "quantity": "Length"}),
    )
    path = tmp_path / "scattered.h5"
    pycrox.to_usid(da, path)
    back = pycrox.open(path).load()
    assert back.dims == ("spot", "energy")
    np.testing.assert_array_equal(back["x"].values, da["x"].values)
    pycrox.testing.assert_lossless(back, da)
