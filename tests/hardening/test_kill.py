"""kill -9 at random moments: a target is absent, wholly old or wholly new, and the next write works.

Each writer runs in a forked process (the test process has pycrox imported already, so a trial
costs a fork, not an interpreter start) that is killed with SIGKILL at a random moment of its
write; the moments are seeded and spread over the write's measured duration.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox.cli import main
from pycrox.errors import NotFoundError, StoreChangedError

pytestmark = pytest.mark.slow

TRIALS = max(1, int(os.environ.get("PYCROX_KILL_TRIALS", "6")))  # kills per case; `make soak` sets more
SHAPE = (256, 1024)  # 2 MiB of float64


def _signal(value: float) -> object:
    data = np.full(SHAPE, value)
    return pycrox.from_array(data, dims=("y", "x"), name="image", units="counts")


WRITERS = {
    "nsid": pycrox.to_nsid,
    "usid": pycrox.to_usid,
    "netcdf": pycrox.to_netcdf,
    "zarr": pycrox.to_zarr,
}
SUFFIX = {"nsid": ".h5", "usid": ".h5", "netcdf": ".nc", "zarr": ".zarr"}


def _write(fmt: str, path: Path, value: float, mode: str) -> None:
    if fmt == "convert":
        source = path.parent.parent / f"source-{value:g}.h5"
        args = ["convert", str(source), str(path), "--to", "nsid", "--quiet"]
        code = main([*args, "--overwrite"] if mode == "w" else args)
        if code:
            raise RuntimeError(f"convert exited {code}")
        return
    WRITERS[fmt](_signal(value), path, mode=mode)


def _fork(job) -> int:
    pid = os.fork()
    if pid == 0:  # the child: write, then leave without running the parent's cleanup
        status = 0
        try:
            job()
        except BaseException:  # noqa: BLE001 - any failure is the child's exit status
            status = 1
        os._exit(status)
    return pid


def _run(job) -> float:
    start = time.perf_counter()
    pid = _fork(job)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return time.perf_counter() - start


def _kill_at(job, delay: float) -> None:
    pid = _fork(job)
    time.sleep(delay)
    os.kill(pid, signal.SIGKILL)  # may come after the child finished: then it is a clean run
    os.waitpid(pid, 0)


def _state(path: Path) -> float | None:
    """None when absent; else the one value the whole image holds (fails on anything else)."""
    if not path.exists():
        return None
    values = np.asarray(pycrox.open(path).values)
    assert values.shape == SHAPE
    unique = np.unique(values)
    assert unique.size == 1, f"{path.name}: a mixture of {unique[:5]}"
    return float(unique[0])


def _only(folder: Path, name: str) -> None:
    assert sorted(p.name for p in folder.iterdir()) == [name]


CASES = [(fmt, mode) for fmt in (*WRITERS, "convert") for mode in ("w-", "w")]


@pytest.mark.parametrize(("fmt", "mode"), CASES, ids=[f"{f}-{m}" for f, m in CASES])
def test_killed_writer_leaves_old_or_new_or_nothing(fmt, mode, tmp_path):
    rng = random.Random(f"{fmt}-{mode}")
    out = tmp_path / "out"
    out.mkdir()
    if fmt == "convert":
        for value in (1.0, 2.0, 3.0):
            pycrox.to_nsid(_signal(value), tmp_path / f"source-{value:g}.h5")
    target = out / f"target{'.h5' if fmt == 'convert' else SUFFIX[fmt]}"
    _write(fmt, out / f"warm{target.suffix}", 1.0, "w-")  # imports happen here, not in each child
    duration = _run(lambda: _write(fmt, out / f"calibrate{target.suffix}", 1.0, "w-"))
    for p in out.iterdir():
        pycrox.sources._remove(p)
    seen = set()
    for _ in range(TRIALS):
        old = 1.0 if mode == "w" else None
        if old is not None:
            _write(fmt, target, old, "w-")
        _kill_at(lambda: _write(fmt, target, 2.0, mode), rng.uniform(0.0, 1.2 * duration))
        state = _state(target)  # opening also recovers what the killed writer left
        assert state in (old, 2.0)
        seen.add(state)
        print(f"{fmt} {mode}: after the kill {state}")  # shown with -s: which outcomes the kills hit
        _write(fmt, target, 3.0, "w")  # the next write of the same path succeeds...
        assert _state(target) == 3.0
        _only(out, target.name)  # ...and leaves no temporaries
        pycrox.sources._remove(target)
    assert seen  # at least one trial ran


def test_killed_append_keeps_the_file_and_adds_all_or_nothing(tmp_path):
    rng = random.Random("nsid-a")
    target = tmp_path / "scan.h5"
    base = _signal(1.0)
    extra = _signal(2.0).rename("extra")

    def append():
        pycrox.to_nsid(extra, target, mode="a", group="/Measurement_001/Channel_000")

    def fresh():
        pycrox.sources._remove(target)
        pycrox.to_nsid(base, target)

    fresh()
    duration = _run(append)
    seen = set()
    for _ in range(TRIALS):
        fresh()
        _kill_at(append, rng.uniform(0.0, 1.2 * duration))
        tree = pycrox.open_tree(target)  # the file opens, whatever moment the kill hit
        leaves = {
            node.path: np.unique(np.asarray(da.values))
            for node in tree.subtree
            for da in node.data_vars.values()
            if da.shape == SHAPE
        }
        assert [u.tolist() for u in leaves.values()] in ([[1.0]], [[1.0], [2.0]]), leaves
        seen.add(len(leaves))
        append_again = len(leaves) == 1
        if append_again:
            append()  # the next append succeeds
        assert len(list(tmp_path.iterdir())) == 1, sorted(p.name for p in tmp_path.iterdir())
    assert seen


def test_readers_racing_a_replacing_zarr_writer_get_data_or_a_clear_error(tmp_path):
    """What specs/writes.md promises a reader racing a replacement: one whole version or a clear error.

    Each read opens the store lazily and then reads its chunks, so a replacement can land between the
    two: such a read raises `StoreChangedError` (or `NotFoundError` in the instant between the two
    renames), never a mixture of versions and never zero-filled chunks. After the writer is done every
    read is the whole new store.
    """
    store = tmp_path / "live.zarr"
    pycrox.to_zarr(_signal(1.0), store)
    replacements = 12

    def writer():
        for i in range(replacements):
            pycrox.to_zarr(_signal(float(2 + i)), store, mode="w")

    pid = _fork(writer)
    reads = gaps = stale = 0
    mixed = []
    try:
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            try:
                opened = pycrox.open(store)
            except (NotFoundError, FileNotFoundError):
                gaps += 1
                continue
            except StoreChangedError:  # replaced at every one of the open's attempts (a loaded machine)
                stale += 1
                continue
            try:
                values = np.asarray(opened.values)
            except StoreChangedError:
                stale += 1
                continue
            if np.unique(values).size != 1 or values[0, 0] == 0:
                mixed.append(np.unique(values)[:5])
            reads += 1
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
    print(f"{reads} reads during {replacements} replacements: {gaps} gaps, {stale} stale, {len(mixed)} mixed")
    assert reads > 0
    assert not mixed, mixed
    assert _state(store) == float(1 + replacements)
    _only(tmp_path, "live.zarr")


@pytest.mark.parametrize("chunks", [None, {}], ids=["lazy", "dask"])
def test_a_zarr_store_replaced_after_a_lazy_open_is_never_read_as_a_mixture(tmp_path, chunks):
    """The object opened before a replacement refuses to read the new store's chunks (or the gap)."""
    store = tmp_path / "s.zarr"
    pycrox.to_zarr(_signal(1.0), store)
    before = pycrox.open(store, chunks=chunks)
    pycrox.to_zarr(_signal(2.0), store, mode="w")
    with pytest.raises(StoreChangedError, match="replaced after it was opened; open it again"):
        np.asarray(before.values)
    assert float(pycrox.open(store).values[0, 0]) == 2.0  # a new open reads the new store

    gone = pycrox.open(store, chunks=chunks)
    os.rename(store, tmp_path / "aside.zarr")  # the instant between a replacement's two renames
    with pytest.raises(StoreChangedError, match="was removed"):
        np.asarray(gone.values)
