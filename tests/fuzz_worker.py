"""Fuzz worker: open each file named on stdin with pycrox, print one JSON line per file.

Run by tests/test_fuzz.py in a subprocess, so that a crash or hang inside a C library (libhdf5)
ends only this process; the parent counts it and restarts the worker after that file.
"""

import json
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


def main() -> None:
    import pycrox

    for line in sys.stdin:
        path = line.strip()
        if not path:
            continue
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
