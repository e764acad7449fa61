"""Writes never destroy: directory targets, symbolic links, killed replacements, stale temporaries."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import pycrox
from pycrox.cli import main


def _signal(offset=0.0):
    return pycrox.from_array(np.arange(12.0).reshape(3, 4) + offset, dims=("y", "x"), name="image")


SINGLE_FILE = {"nsid": pycrox.to_nsid, "usid": pycrox.to_usid, "netcdf": pycrox.to_netcdf}


@pytest.fixture
def results_folder(tmp_path):
    folder = tmp_path / "results"
    (folder / "2024").mkdir(parents=True)
    (folder / "2024" / "notes.txt").write_text("a year of notes")
    return folder


@pytest.mark.parametrize("fmt", SINGLE_FILE)
def test_single_file_writer_refuses_a_directory_target(fmt, results_folder):
    with pytest.raises(pycrox.WriteError, match="is a directory"):
        SINGLE_FILE[fmt](_signal(), results_folder, mode="w")
    assert (results_folder / "2024" / "notes.txt").read_text() == "a year of notes"


def test_zarr_replaces_only_a_zarr_store(results_folder):
    with pytest.raises(pycrox.WriteError, match="not a Zarr store"):
        pycrox.to_zarr(_signal(), results_folder, mode="w")
    assert (results_folder / "2024" / "notes.txt").exists()


@pytest.mark.parametrize("to", ["nsid", "usid", "netcdf", "zarr"])
def test_convert_overwrite_keeps_a_folder_of_notes(to, results_folder, tmp_path):
    src = tmp_path / "scan.h5"
    pycrox.to_nsid(_signal(), src)
    assert main(["convert", str(src), str(results_folder), "--to", to, "--overwrite", "--quiet"]) == 1
    assert (results_folder / "2024" / "notes.txt").read_text() == "a year of notes"


def test_replacing_through_a_symlink_writes_the_file_it_points_to(tmp_path):
    real = tmp_path / "data" / "real.h5"
    real.parent.mkdir()
    pycrox.to_nsid(_signal(), real)
    link = tmp_path / "link.h5"
    link.symlink_to(real)
    pycrox.to_nsid(_signal(100.0), link, mode="w")
    assert link.is_symlink()
    np.testing.assert_array_equal(pycrox.open(real).values, _signal(100.0).values)


def test_zarr_replace_rolled_back_after_a_kill_between_the_renames(tmp_path):
    store = tmp_path / "s.zarr"
    pycrox.to_zarr(_signal(), store)
    aside = tmp_path / ".s.zarr.old-deadbeef"
    os.rename(store, aside)  # what a writer killed after setting the old store aside leaves
    back = pycrox.open(store)  # the next open puts it back
    np.testing.assert_array_equal(back.values, _signal().values)
    assert not aside.exists()


def test_zarr_replace_finished_after_a_kill_before_deleting_the_old_store(tmp_path):
    store = tmp_path / "s.zarr"
    pycrox.to_zarr(_signal(), store)
    aside = tmp_path / ".s.zarr.old-deadbeef"
    shutil.copytree(store, aside)  # the new store was already in place when the writer died
    pycrox.to_zarr(_signal(1.0), store, mode="w")
    assert not aside.exists()
    np.testing.assert_array_equal(pycrox.open(store).values, _signal(1.0).values)


def test_stale_temporaries_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    stale = tmp_path / f".x.h5.{dead.stdout.strip()}-0badf00d.tmp"
    stale.write_bytes(b"\0" * 1024)
    live = tmp_path / f".x.h5.{os.getpid()}-0badf00d.tmp"
    live.write_bytes(b"\0")
    pycrox.to_nsid(_signal(), tmp_path / "x.h5")
    assert not stale.exists()
    assert live.exists()


def test_racing_zarr_replacements_leave_one_whole_store(tmp_path):
    store = tmp_path / "race.zarr"
    pycrox.to_zarr(_signal(), store)
    code = (
        "import sys, numpy as np, pycrox\n"
        "da = pycrox.from_array(np.full((64, 64), float(sys.argv[2])), dims=('y', 'x'), name='image')\n"
        "for _ in range(3):\n"
        "    pycrox.to_zarr(da, sys.argv[1], mode='w')\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(store), str(v)], stderr=subprocess.PIPE)
        for v in (1, 2, 3, 4)
    ]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    values = pycrox.open(store).values
    assert np.unique(values).size == 1
    assert float(values[0, 0]) in (1.0, 2.0, 3.0, 4.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["race.zarr"]
