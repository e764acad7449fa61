"""The reader conformance suite: every format in the registry, every file of its corpus, the same checks.

A new format gets these by its registry entry alone (see docs/adding-a-format.md): its guess claims
its own corpus files and no other, a lazy open reads no data, a lazily opened object pickles, the two
doors (``pycrox.open`` and the xarray engine) agree, and garbage under its extension is an error that
names the file. Stores (Zarr, netCDF, reference sets) have no corpus of their own: pycrox writes one.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import formats, model
from tests.conftest import SHARED_DATA

VENDOR = SHARED_DATA / "vendor"
ENGINES = [f for f in formats.FORMATS if f.backend]


def _manifest() -> dict:
    path = VENDOR / "manifest.json"
    return json.loads(path.read_text())["files"] if path.is_file() else {}


MANIFEST = _manifest()


def _corpus(entry: formats.Format) -> list[Path]:
    """The main files of the format's corpus folders (manifest entries; companions are not main files)."""
    return [VENDOR / rel for rel in sorted(MANIFEST) if rel.split("/")[0] in entry.corpus]


def _companions(path: Path) -> list[Path]:
    return [VENDOR / rel for rel in MANIFEST.get(str(path.relative_to(VENDOR)), {}).get("companions", [])]


def _cases(entries: list[formats.Format]) -> list:
    cases = [pytest.param(e, p, id=f"{e.name}:{p.name}") for e in entries for p in _corpus(e)]
    return cases or [pytest.param(None, None, id="corpus-absent")]


def _claimed(entry: formats.Format, path: Path) -> bool:
    return bool(formats.reader(entry.name).guess_can_open(pycrox.sources.open_source(path)))


def _skip_without_corpus(entry: formats.Format | None) -> formats.Format:
    if entry is None:
        pytest.skip(f"real-file corpus not found at {VENDOR} (a fresh clone has no ../shared)")
    return entry


def _signals(path: Path) -> list[str]:
    return sorted(model.signal_nodes(pycrox.open_tree(path)))


@pytest.mark.parametrize(("entry", "path"), _cases(ENGINES))
def test_guess_claims_only_its_own_files(entry, path):
    entry = _skip_without_corpus(entry)
    assert _claimed(entry, path), f"{entry.name} does not recognise its corpus file {path.name}"
    assert pycrox.detect_format(path) == entry.name
    for file in [path, *_companions(path)]:
        others = [f.name for f in formats.FORMATS if f.name != entry.name and _claimed(f, file)]
        assert others == [], f"{file.name} ({entry.name}) is also claimed by {others}"


@pytest.mark.parametrize(("entry", "path"), _cases([e for e in ENGINES if e.lazy]))
def test_lazy_open_reads_no_data(entry, path):
    entry = _skip_without_corpus(entry)
    if path.suffix.lower() in entry.eager:
        pytest.skip(f"{entry.name} {path.suffix} files embed their data in a text header")
    tree = pycrox.open_tree(path, engine=entry.name)
    variables = [var for node in tree.subtree for var in node.dataset.data_vars.values()]
    largest = max(variables, key=lambda var: var.size)
    assert not largest.variable._in_memory, f"{path.name}: {largest.name!r} was read at open"


@pytest.mark.parametrize(("entry", "path"), _cases(ENGINES))
def test_lazily_opened_signal_pickles(entry, path):
    entry = _skip_without_corpus(entry)
    signal = pycrox.open(path, group=_signals(path)[0], engine=entry.name)
    back = pickle.loads(pickle.dumps(signal))
    np.testing.assert_array_equal(np.asarray(back.values), np.asarray(signal.values))
    assert back.dims == signal.dims


@pytest.mark.parametrize(("entry", "path"), _cases(ENGINES))
def test_both_doors_agree(entry, path):
    entry = _skip_without_corpus(entry)
    group = _signals(path)[0]
    ours = pycrox.open(path, group=group, engine=entry.name)
    theirs = xr.open_dataset(path, engine=entry.name, group=group)
    if isinstance(ours, xr.DataArray):
        theirs = theirs[ours.name]
    # the provenance step records when each door read the file: same steps, times may differ
    assert _steps(ours) == _steps(theirs)
    xr.testing.assert_identical(_timeless(ours.load()), _timeless(theirs.load()))


def _steps(obj: xr.DataArray | xr.Dataset) -> list[str]:
    return sorted(obj.attrs.get("provenance", {}).get("pycrox", {}))


def _timeless(obj: xr.DataArray | xr.Dataset) -> xr.DataArray | xr.Dataset:
    return obj.assign_attrs(provenance={})


@pytest.mark.parametrize("entry", ENGINES, ids=lambda e: e.name)
def test_garbage_under_the_format_is_an_error_naming_the_file(entry, tmp_path):
    suffix = entry.extensions[0] if entry.extensions else ".bin"
    path = tmp_path / f"garbage_{entry.name}{suffix}"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(pycrox.PycroxError, match=path.name):
        xr.open_dataset(path, engine=entry.name)
    with pytest.raises(pycrox.PycroxError, match=path.name):
        pycrox.open_tree(path, engine=entry.name)


@pytest.mark.parametrize("entry", ENGINES, ids=lambda e: e.name)
def test_unknown_reader_option_is_a_type_error_naming_the_valid_ones(entry, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"\0" * 16)
    valid = ", ".join(sorted(entry.options)) or "no reader options"
    with pytest.raises(TypeError, match=f"unknown reader option.*{valid}"):
        pycrox.open_tree(path, engine=entry.name, no_such_option=1)
    with pytest.raises(TypeError, match=f"unknown reader option.*{valid}"):
        xr.open_dataset(path, engine=entry.name, no_such_option=1)


STORE_WRITERS = {"zarr": ("s.zarr", pycrox.to_zarr), "netcdf": ("s.nc", pycrox.to_netcdf)}


@pytest.fixture(scope="module")
def store_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    signal = pycrox.from_array(np.arange(24.0).reshape(2, 3, 4), dims=("y", "x", "energy_loss"))
    paths = {}
    for name, (file_name, write) in STORE_WRITERS.items():
        write(signal, root / file_name)
        paths[name] = root / file_name
    pycrox.to_nsid(signal, root / "s.h5")
    pycrox.references(root / "s.h5", root / "s.refs.json")
    paths["references"] = root / "s.refs.json"
    return signal, paths


@pytest.mark.parametrize("name", formats.names("store"))
def test_store_is_detected_lazy_and_pickles(name, store_files):
    signal, paths = store_files
    path = paths[name]
    assert pycrox.detect_format(path) == name
    others = [f.name for f in formats.FORMATS if f.name != name and _claimed(f, path)]
    assert others == []
    back = pycrox.open(path, engine=name)
    assert not back.variable._in_memory
    xr.testing.assert_identical(pickle.loads(pickle.dumps(back)).load(), back.load())
    np.testing.assert_array_equal(back.values, signal.values)
