"""Run the shared vendor checker (``../shared/tools/vendor_check.py``) on our readers' output.

The checker and the manifest live outside the repository; tests that use them skip when they
are absent. Every manifest entry is checked through three doors: ``pycrox.open_tree``,
``pycrox.open(path, group=...)`` for each signal, and ``xr.open_dataset(path, engine=Backend,
group=...)`` for each signal. Also here: `CountingFile`, an in-memory file that records its reads
(to test laziness), and `assert_valid_tree`.
"""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import xarray as xr

import pycrox
from pycrox import model

REPO = Path(__file__).resolve().parents[2]
MANIFEST = (REPO.parent / "shared" / "data" / "vendor" / "manifest.json").resolve()
CHECKER = (REPO.parent / "shared" / "tools" / "vendor_check.py").resolve()
DOORS = ("open_tree", "open", "open_dataset")


def manifest_files(prefix: str) -> list[str]:
    """Manifest keys under `prefix` (``"tia/"``), or a placeholder that the fixture skips."""
    if not MANIFEST.is_file():
        return ["<corpus absent>"]
    return sorted(k for k in json.loads(MANIFEST.read_text())["files"] if k.startswith(prefix))


def load_checker() -> tuple[ModuleType, dict[str, Any]]:
    """The checker module (with the manifest's metadata aliases loaded) and the manifest."""
    if not CHECKER.is_file() or not MANIFEST.is_file():
        pytest.skip(f"vendor checker or manifest not found beside the repository ({CHECKER.parent})")
    spec = importlib.util.spec_from_file_location("pycrox_vendor_check", CHECKER)
    checker = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checker)
    manifest = json.loads(MANIFEST.read_text())
    checker.ALIASES.update(manifest.get("metadata_aliases", {}))
    return checker, manifest


def reader_for(door: str, engine: type) -> Any:
    """A ``path -> xarray object(s)`` function for one door."""

    def groups(path: str) -> list[str]:
        return sorted(model.signal_nodes(pycrox.open_tree(path)))

    if door == "open_tree":
        return pycrox.open_tree
    if door == "open":
        return lambda path: [pycrox.open(path, group=g) for g in groups(path)]
    return lambda path: [xr.open_dataset(path, engine=engine, group=g) for g in groups(path)]


def check(rel: str, door: str, engine: type) -> list[str]:
    """The checker's failures for manifest entry `rel` read through `door` (empty when it passes)."""
    checker, manifest = load_checker()
    data_dir = MANIFEST.parent
    args = SimpleNamespace(verbose=False, held_out=False)
    result = checker.check_file(rel, manifest["files"][rel], reader_for(door, engine), data_dir, None, args)
    return result.fails


class CountingFile(io.BytesIO):
    """An in-memory binary file that records every read as ``(offset, bytes)``."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name
        self.reads: list[tuple[int, int]] = []

    @classmethod
    def of(cls, path: Path, name: str | None = None) -> CountingFile:
        """The bytes of `path` in a counting file (named like it unless `name` is given)."""
        return cls(Path(path).read_bytes(), name or Path(path).name)

    def read(self, size: int | None = -1) -> bytes:
        start = self.tell()
        out = super().read(size)
        self.reads.append((start, len(out)))
        return out

    def readinto(self, buffer: Any) -> int:
        start = self.tell()
        count = super().readinto(buffer)
        self.reads.append((start, count))
        return count

    def bytes_read(self) -> int:
        """Bytes read since the last `reset`."""
        return sum(n for _, n in self.reads)

    def reset(self) -> None:
        """Forget the reads so far."""
        self.reads.clear()


def assert_valid_tree(path: Path) -> None:
    """`path` opens as a valid pycrox tree: model attrs, parsable units, normalised metadata keys."""
    from pycrox import units

    tree = pycrox.open_tree(path)
    assert model.validate(tree) == []
    for da in model.signal_nodes(tree).values():
        for dim in da.dims:
            units.parse(da[dim].attrs["units"], da[dim].attrs["quantity"])
        units.parse(da.attrs["units"])
        for key, value in da.attrs["metadata"].items():
            expected_units = model.METADATA_KEYS[key]
            if isinstance(value, dict):
                assert value["units"] == expected_units, key
                assert isinstance(value["value"], float), key
