"""Reading scanning-probe files, part B: Gwyddion, Digital Surf, WSxM, NT-MDT and Anasys AXZ.

Open + read of every corpus file of ``../shared/data/vendor/{gwyddion,digitalsurf,wsxm,ntmdt_mdt,
anasys_axz}`` (hot cache) with pycrox (``open_tree`` then the values of every signal) against
each reference reader the manifest names that installs beside numpy 2: SciFiReaders (Gwyddion,
WSxM, MDT, AXZ), gwyfile (GWY: ``load`` + ``get_datafields``) and rosettasciio (Digital Surf).
Every case is timed as the median (and min-max) of interleaved rounds (A B C A B C ...); the
ratio is reference median / pycrox median (> 1: pycrox is faster). A reference that fails on a
file is reported with its error. The AXZ reader's last-file cache is cleared before every call.

Run ``python benchmarks/bench_spm_read_b.py [--runs 5] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import mmap
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import interleaved  # run as a script from benchmarks/

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO.parent / "shared" / "data" / "vendor"
FOLDERS = ("gwyddion", "digitalsurf", "wsxm", "ntmdt_mdt", "anasys_axz")


def read_all(array: Any) -> np.ndarray:
    """`array` in memory: memory-mapped arrays (at any depth of ``.base``) are copied, lazy ones computed.

    Every reader's output goes through it, so that no case is timed without reading its bytes.
    """
    values = np.asarray(array)
    base: Any = values
    while base is not None and not isinstance(base, mmap.mmap | np.memmap):
        base = getattr(base, "base", None)
    return values if base is None else np.array(values, copy=True)


def _pycrox(path: Path) -> list[np.ndarray]:
    import pycrox
    from pycrox import model

    return [read_all(da.values) for da in model.signal_nodes(pycrox.open_tree(path)).values()]


def _scifi(kind: str, path: Path) -> list[np.ndarray]:
    import SciFiReaders

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(SciFiReaders, kind)(str(path)).read()
    items = out.values() if isinstance(out, dict) else out if isinstance(out, list) else [out]
    return [read_all(d) for d in items if hasattr(d, "shape")]


def _gwyfile(path: Path) -> list[np.ndarray]:
    import gwyfile

    channels = gwyfile.util.get_datafields(gwyfile.load(str(path)))
    return [read_all(field.data) for field in channels.values()]


def _rsciio(path: Path) -> list[np.ndarray]:
    from rsciio.digitalsurf import file_reader

    return [read_all(d["data"]) for d in file_reader(str(path))]


def _forget_parsed_axz() -> None:
    """Drop the AXZ reader's last-file cache, so that every timed pycrox read parses the file."""
    from pycrox.readers.anasys_axz import reader

    reader._CACHE.clear()


def cases_for(folder: str, path: Path) -> dict[str, Callable[[], Any]]:
    cases: dict[str, Callable[[], Any]] = {"pycrox": lambda: _pycrox(path)}
    if folder == "gwyddion":
        cases["SciFiReaders"] = lambda: _scifi("GwyddionReader", path)
        if path.suffix == ".gwy":
            cases["gwyfile"] = lambda: _gwyfile(path)
    elif folder == "digitalsurf":
        cases["rosettasciio"] = lambda: _rsciio(path)
    elif folder == "wsxm":
        kind = "WSxM1DReader" if path.suffix in (".curves", ".cur", ".stp") else "WSxM2DReader"
        cases["SciFiReaders"] = lambda: _scifi(kind, path)
    elif folder == "ntmdt_mdt":
        cases["SciFiReaders"] = lambda: _scifi("MDTReader", path)
    elif folder == "anasys_axz":
        cases["SciFiReaders"] = lambda: _scifi("AxzReader", path)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    for folder in FOLDERS:
        for path in sorted((VENDOR / folder).glob("*")):
            path.read_bytes()  # hot cache
            times = interleaved(cases_for(folder, path), args.runs, between=_forget_parsed_axz)
            results[f"{folder}/{path.name}"] = times
            ours = times["pycrox"]
            line = [f"{folder}/{path.name}: pycrox {ours['median_s'] * 1e3:.1f} ms"]
            for name, t in times.items():
                if name == "pycrox":
                    continue
                if "error" in t:
                    line.append(f"{name} error: {t['error'][:80]}")
                    continue
                ratio = t["median_s"] / ours["median_s"]
                spread = (t["min_s"] / ours["max_s"], t["max_s"] / ours["min_s"])
                t["ratio_vs_pycrox"] = ratio
                line.append(
                    f"{name} {t['median_s'] * 1e3:.1f} ms ({ratio:.1f}x, {spread[0]:.1f}-{spread[1]:.1f})"
                )
            print("; ".join(line), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
