"""Fuzz worker: open each file named on stdin with pycrox, print one JSON line per file.

Run by tests/test_fuzz.py in a subprocess, so that a crash or hang inside a C library (libhdf5)
ends only this process; the parent counts it and restarts the worker after that file.

Limits (the `resource` module): the address space is capped (``PYCROX_FUZZ_MEMORY_GIB``, 4 GiB by
default), so a file that makes a reader allocate what it claims fails with a `MemoryError` instead
of swapping the machine; and each file gets ``PYCROX_FUZZ_CPU_SECONDS`` (60) seconds of CPU time,
after which the kernel ends the worker (SIGXCPU), so a reader that spins fails that file only.
"""

import json
import os
import resource
import sys
import traceback

import numpy as np


def _touch_everything(path: str) -> None:
    import pycrox

    tree = pycrox.open_tree(path)
    for node in tree.subtree:
        for var in node.to_dataset(inherit=False).data_vars.values():
            if var.size <= 64 * 2**20:  # read what a lying header cannot make huge
                np.asarray(var.values)


def limit_memory(nbytes: int) -> None:
    """Cap this process's address space at `nbytes` (allocations beyond raise `MemoryError`)."""
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        nbytes = min(nbytes, hard)
    resource.setrlimit(resource.RLIMIT_AS, (nbytes, hard))


def limit_cpu(seconds: float) -> None:
    """Let this process use `seconds` more CPU time; beyond that the kernel ends it (SIGXCPU)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime + seconds) + 1
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def main() -> None:
    limit_memory(int(float(os.environ.get("PYCROX_FUZZ_MEMORY_GIB", "4")) * 2**30))
    cpu_seconds = float(os.environ.get("PYCROX_FUZZ_CPU_SECONDS", "60"))
    import pycrox

    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
        limit_cpu(cpu_seconds)
        print(json.dumps({"file": path, "status": "start"}), flush=True)
        try:
            _touch_everything(path)
            outcome = {"status": "ok"}
        except pycrox.PycroxError as exc:
            outcome = {"status": "pycrox_error", "error": type(exc).__name__, "message": str(exc)[:300]}
        except Exception as exc:  # noqa: BLE001  (what we are looking for)
            tb = traceback.extract_tb(exc.__traceback__)
            origin = next((f"{f.filename}:{f.lineno}" for f in reversed(tb) if "pycrox" in f.filename), "")
            outcome = {
                "status": "other_error",
                "error": type(exc).__name__,
                "message": str(exc)[:300],
                "origin": origin,
            }
        print(json.dumps({"file": path, **outcome}), flush=True)


if __name__ == "__main__":
    main()
