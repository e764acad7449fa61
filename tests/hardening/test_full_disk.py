"""A full filesystem: writers raise `WriteError` naming the target and leave no temporary behind."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox.errors import WriteError

WRITERS = {"nsid": pycrox.to_nsid, "netcdf": pycrox.to_netcdf, "zarr": pycrox.to_zarr}
SUFFIX = {"nsid": ".h5", "netcdf": ".nc", "zarr": ".zarr"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (needs root; skipped where mounting is not permitted)."""
    folder = tmp_path / "small"
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
        check=False,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.parametrize("fmt", sorted(WRITERS))
def test_full_disk_raises_write_error_and_leaves_nothing(fmt: str, small_disk: Path) -> None:
    data = np.random.default_rng(0).random((1024, 1024))  # 8 MiB of incompressible float64
    da = pycrox.from_array(data, dims=("y", "x"), name="image", units="counts")
    target = small_disk / f"image{SUFFIX[fmt]}"
    with pytest.raises(WriteError, match=re.escape(str(target))):
        WRITERS[fmt](da, target)
    assert sorted(p.name for p in small_disk.iterdir()) == []  # no target, no temporary


def test_write_that_fits_still_works(small_disk: Path) -> None:
    da = pycrox.from_array(np.arange(1000.0), dims=("x",), name="line", units="counts")
    for fmt in ("netcdf", "zarr"):
        target = small_disk / f"line{SUFFIX[fmt]}"
        WRITERS[fmt](da, target)
        np.testing.assert_array_equal(pycrox.open(target).values, da.values)
