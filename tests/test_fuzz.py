"""Fuzz every reader in the registry with mutated corpus files (part of `make test`).

The formats and their corpus folders come from `pycrox.formats`; each format's test judges at
least its ``min_mutants`` mutated files (more rounds of mutations with new seeds when its corpus is
small). Mutations: truncation at several points, random byte flips, a zeroed block, and a
header field set to a huge value. Each mutated file is opened with `pycrox.open_tree` and every
signal of at most 64 MiB is read. Acceptable outcomes: success, or a `pycrox.PycroxError` that
names the file. Anything else raised from pycrox's own code fails the test. Files go through a
worker subprocess with a timeout, so a crash or hang inside libhdf5 is caught and counted.

``PYCROX_FUZZ_MULTIPLIER`` (1 by default; ``make soak`` sets it) multiplies every format's minimum
number of mutated files and the time budget: the long run.
"""

import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from pycrox import formats
from tests.conftest import REPO

PER_FILE_TIMEOUT = 20.0
#: how many times the default number of mutated files (and time budget) to judge
MULTIPLIER = max(1, int(os.environ.get("PYCROX_FUZZ_MULTIPLIER", "1")))
# a safety net per format; the test fails if a format's minimum is not reached by then
BUDGET_SECONDS = 600.0 * MULTIPLIER
MAX_BYTES = (
    12 * 2**20
)  # mutate the smaller files only (every corpus and gap sample today): keeps the run bounded
FUZZED = [f for f in formats.FORMATS if f.corpus]


def _mutations(data: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    n = len(data)
    flipped = bytearray(data)
    for _ in range(max(1, n // 2000)):
        i = rng.randrange(n)
        flipped[i] ^= 1 << rng.randrange(8)
    zeroed = bytearray(data)
    start = rng.randrange(max(1, n - 256))
    zeroed[start : start + 256] = bytes(len(zeroed[start : start + 256]))
    huge = bytearray(data)
    pos = rng.randrange(min(n - 4, 512)) if n > 8 else 0
    huge[pos : pos + 4] = b"\xff\xff\xff\x7f"
    return [
        ("trunc10", data[: n // 10]),
        ("trunc60", data[: int(n * 0.6)]),
        ("trunc_end", data[:-7]),
        ("flips", bytes(flipped)),
        ("zeroed", bytes(zeroed)),
        ("huge_field", bytes(huge)),
    ]


def _corpus_files(vendor: Path, entry: formats.Format) -> list[Path]:
    return [
        path
        for folder in entry.corpus
        for path in sorted((vendor / folder).glob("*"))
        if path.is_file() and path.stat().st_size <= MAX_BYTES
    ]


def _mutated_files(sources: list[Path], minimum: int, root: Path) -> list[Path]:
    """At least `minimum` mutated copies of `sources`: rounds of six mutations each, new seeds every round."""
    mutated: list[Path] = []
    for round_ in range(1 + minimum // max(1, 6 * len(sources))):
        rng = random.Random(20261125 + round_)
        for src in sources:
            for label, data in _mutations(src.read_bytes(), rng):
                target = root / f"{src.stem}.{label}{round_}{src.suffix}"
                target.write_bytes(data)
                mutated.append(target)
    return mutated


def _run_worker(paths: list[Path], budget: float = BUDGET_SECONDS) -> dict[str, dict]:
    """Feed paths to a worker; after a crash or hang, record it and restart after that file."""
    results: dict[str, dict] = {}
    remaining = [str(p) for p in paths]
    deadline = time.monotonic() + budget
    while remaining and time.monotonic() < deadline:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "fuzz_worker.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        proc.stdin.write("\n".join(remaining) + "\n")
        proc.stdin.close()
        current = None
        while len(results) < len(paths) and time.monotonic() < deadline:
            line = _readline(proc, PER_FILE_TIMEOUT if current else 120)
            if line is None:
                break
            record = json.loads(line)
            if record["status"] == "start":
                current = record["file"]
            else:
                results[record["file"]] = record
                current = None
        proc.kill()
        proc.wait()
        if current is not None and time.monotonic() < deadline:
            results[current] = {"status": "crash_or_hang", "returncode": proc.returncode}
        remaining = [p for p in remaining if p not in results]
        if current is None and remaining:  # the worker died between files: do not loop forever
            results.update(
                {p: {"status": "crash_or_hang", "returncode": proc.returncode} for p in remaining[:1]}
            )
            remaining = remaining[1:]
    return results


def _readline(proc: subprocess.Popen, timeout: float) -> str | None:
    import selectors

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    if not sel.select(timeout):
        return None
    line = proc.stdout.readline()
    return line or None


@pytest.mark.slow
@pytest.mark.parametrize("entry", FUZZED, ids=lambda e: e.name)
def test_reader_survives_mutated_corpus_files(entry, shared_data, tmp_path):
    sources = _corpus_files(shared_data / "vendor", entry)
    if not sources:
        pytest.skip(f"no corpus files of {entry.name} in {shared_data / 'vendor'} (folders {entry.corpus})")
    minimum = entry.min_mutants * MULTIPLIER
    mutated = _mutated_files(sources, minimum, tmp_path)
    results = _run_worker(mutated)
    summary = Counter(r["status"] for r in results.values())
    summary["not_reached"] = len(mutated) - len(results)
    print(f"\nfuzz {entry.name}: {len(mutated)} mutated files: {dict(summary)}")
    crashes = {k: v for k, v in results.items() if v["status"] == "crash_or_hang"}
    for path, record in crashes.items():
        print(f"  crash/hang (counted, inside a C library): {Path(path).name} rc={record.get('returncode')}")
    bad = {
        Path(k).name: f"{v['error']}: {v['message']} at {v.get('origin')}"
        for k, v in results.items()
        if v["status"] == "other_error"
    }
    assert not bad, f"{len(bad)} non-pycrox errors:\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(bad.items())[:40]
    )
    judged = len(results) - len(crashes)
    assert judged >= minimum, f"{entry.name}: only {judged} of {len(mutated)} mutated files judged"
    named = [v for v in results.values() if v["status"] == "pycrox_error"]
    assert all("/" in v["message"] or "\\" in v["message"] for v in named)
