"""Reading scanning-probe files: pycrox against the reference readers and raw numpy.

Part 1, a large grid: writes, in a scratch folder, a synthetic Nanonis 3DS grid spectroscopy file
(about 1 GiB: 256 x N points, 10 parameters, 4 channels of 1024-point sweeps, big-endian float32,
as the 3DS format lays it out) and, with the file in the page cache (hot cache), times as medians
of interleaved runs:

* opening without reading (``pycrox.open_tree``; target < 0.2 s),
* opening and reading every channel in turn (``.values`` of each node of ``pycrox.open_tree``,
  native byte order) with the default options (the first whole-channel read fills the other
  channels in the same pass and parks them), with ``read_together=True`` (the same, unbounded) and
  with ``read_together=False`` (one pass per channel), against ``numpy.fromfile`` of the whole
  data block (target: pycrox, default options, at >= 0.8x numpy's speed), and SciFiReaders'
  ``Nanonis3dsReader`` (once, at a reduced size: it reads the grid point by point),
* reading one channel, one sweep value of one channel and one grid point (parts read only what
  they cover),

and, each in a fresh process, the peak resident memory above the baseline while reading
everything (target: pycrox <= 1.1x the data).

Part 2, the corpus: open + read of every file of ``../shared/data/vendor/{igor_ibw,nanonis,
bruker_afm}`` with pycrox, SciFiReaders and igor2 (interleaved medians, ratios reference/pycrox),
and nanonispy 1.1.0 — which needs numpy < 1.24 (np.float) — timed by a child process in a separate virtual
environment (``--nanonispy-python``; skipped when absent), whose medians are not interleaved with
the others.

Run ``python benchmarks/bench_spm_read.py [--runs 5] [--grid-gib 1.0] [--dir PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import mmap
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import MIB, interleaved, peak_rss  # run as a script from benchmarks/

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO.parent / "shared" / "data" / "vendor"
NANONISPY_PYTHON = Path("/work/refenv-nanonispy/bin/python")
POINTS, CHANNELS, PARAMS, NY = 1024, 4, 10, 256


# ----------------------------------------------------------------------------------- the synthetic grid


def build_grid(path: Path, gib: float, *, ny: int = NY) -> int:
    """Write a 3DS grid of about `gib` GiB; return the byte offset of its data."""
    record = PARAMS + CHANNELS * POINTS
    nx = max(1, round(gib * 2**30 / (record * 4 * ny)))
    channels = ";".join(["Current (A)", "LockinX (V)", "LockinY (V)", "Bias_m (V)"][:CHANNELS])
    header = (
        f'Grid dim="{nx} x {ny}"\r\nGrid settings=0;0;1E-8;1E-8;0\r\nSweep Signal="Bias (V)"\r\n'
        f'Fixed parameters="Sweep Start;Sweep End"\r\nExperiment parameters="X (m);Y (m);Z (m);Z offset (m);'
        f'Settling time (s);Integration time (s);Z-Ctrl hold;Final Z (m)"\r\n# Parameters (4 byte)={PARAMS}\r\n'
        f'Experiment size (bytes)={CHANNELS * POINTS * 4}\r\nPoints={POINTS}\r\nChannels="{channels}"\r\n'
        f'Experiment=Grid Spectroscopy\r\nDate="01.02.2024 10:00:00"\r\nUser=\r\n:HEADER_END:\r\n'
    ).encode("latin-1")
    rng = np.random.default_rng(0)
    with open(path, "wb") as fh:
        fh.write(header)
        for _ in range(ny):
            row = rng.standard_normal((nx, record), dtype=np.float32)
            row[:, 0], row[:, 1] = -1.0, 1.0
            fh.write(row.astype(">f4").tobytes())
    return len(header)


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 * MIB):
            pass


def _pycrox_read(path: Path, **options: Any) -> list[np.ndarray]:
    import pycrox
    from pycrox import model

    tree = pycrox.open_tree(path, **options)
    return [np.asarray(da.values) for da in model.signal_nodes(tree).values()]


def _pycrox_one_channel(path: Path, **options: Any) -> np.ndarray:
    import pycrox

    return pycrox.open(path, group="LockinX", **options).values


def _pycrox_part(path: Path, **index: Any) -> np.ndarray:
    import pycrox

    return pycrox.open(path, group="LockinX").isel(index).values


def _scifi(kind: str, path: Path) -> list[np.ndarray]:
    import SciFiReaders

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = getattr(SciFiReaders, kind)(str(path)).read()
    items = out.values() if isinstance(out, dict) else out if isinstance(out, list) else [out]
    return [np.asarray(d) for d in items]


def grid_part(folder: Path, gib: float, runs: int) -> dict[str, Any]:
    path = folder / "grid.3ds"
    offset = build_grid(path, gib)
    small = folder / "grid_small.3ds"
    build_grid(small, 1 / 64, ny=32)
    _warm(path)
    import pycrox

    data_bytes = path.stat().st_size - offset
    cases: dict[str, Callable[[], Any]] = {
        "pycrox open": lambda: pycrox.open_tree(path),
        "pycrox open+read": lambda: _pycrox_read(path),
        "pycrox open+read, read_together=True": lambda: _pycrox_read(path, read_together=True),
        "pycrox open+read, read_together=False": lambda: _pycrox_read(path, read_together=False),
        "pycrox open+read one channel": lambda: _pycrox_one_channel(path),
        "pycrox one channel, read_together=False": lambda: _pycrox_one_channel(path, read_together=False),
        "pycrox one sweep value of one channel": lambda: _pycrox_part(path, bias=POINTS // 2),
        "pycrox one grid point of one channel": lambda: _pycrox_part(path, y=NY // 2, x=7),
        "numpy.fromfile (>f4)": lambda: np.fromfile(path, ">f4", offset=offset),
    }
    cpu: dict[str, list[float]] = {}
    times = interleaved({name: _cpu_timed(name, case, cpu) for name, case in cases.items()}, runs)
    for name, samples in cpu.items():  # the first call of each case is interleaved's untimed warm-up
        times[name]["cpu_median_s"] = statistics.median(samples[1:] or samples)
    small_cases = {
        "pycrox open+read (1/64 size)": lambda: _pycrox_read(small),
        "SciFiReaders Nanonis3dsReader (1/64 size)": lambda: _scifi("Nanonis3dsReader", small),
    }
    times |= interleaved(small_cases, runs, once=["SciFiReaders Nanonis3dsReader (1/64 size)"])
    memory = {name: _child_rss(name, path, offset) for name in _RSS_CASES}
    channel_bytes = CHANNELS * POINTS * 4 * (data_bytes // ((PARAMS + CHANNELS * POINTS) * 4))
    return {
        "file_bytes": path.stat().st_size,
        "channel_bytes": channel_bytes,
        "times": times,
        "memory": memory,
    }


def _cpu_timed(name: str, case: Callable[[], Any], into: dict[str, list[float]]) -> Callable[[], Any]:
    """`case`, also recording its process CPU time (less disturbed than wall time by other load)."""

    def run() -> Any:
        start = time.process_time()
        result = case()
        into.setdefault(name, []).append(time.process_time() - start)
        return result

    return run


_RSS_CASES: dict[str, Callable[[Path, int], Callable[[], Any]]] = {
    "pycrox (default options)": lambda path, offset: lambda: _pycrox_read(path),
    "pycrox read_together=True": lambda path, offset: lambda: _pycrox_read(path, read_together=True),
    "pycrox read_together=False": lambda path, offset: lambda: _pycrox_read(path, read_together=False),
    "numpy": lambda path, offset: lambda: np.fromfile(path, ">f4", offset=offset),
}


def _child_rss(name: str, path: Path, offset: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--rss-child", name, "--grid", str(path), "--offset", str(offset)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    return json.loads(lines[-1]) if proc.returncode == 0 and lines else {"error": proc.stderr[-300:]}


def rss_child(name: str, path: Path, offset: int) -> None:
    """In a fresh process: peak RSS above the baseline while one reader reads (printed as JSON).

    The baseline is taken after a first read of a tiny grid, so that the modules pycrox imports on
    first use count as baseline, not as the read's memory.
    """
    with tempfile.TemporaryDirectory() as scratch:
        build_grid(Path(scratch) / "tiny.3ds", 2**-14, ny=2)
        _pycrox_read(Path(scratch) / "tiny.3ds")

    case = _RSS_CASES[name](path, offset)
    result: dict[str, Any] = {}

    def run() -> Any:
        arrays = case()
        result["result_bytes"] = int(
            sum(np.asarray(a).nbytes for a in (arrays if isinstance(arrays, list) else [arrays]))
        )
        return arrays

    result |= peak_rss(run)
    print(json.dumps(result))


# ----------------------------------------------------------------------------------- the corpus


def read_all(arrays: list[Any]) -> list[np.ndarray]:
    """Every array in memory: memory-mapped ones (at any depth of ``.base``) are copied, lazy ones computed.

    Applied to the output of every reader of the corpus part, so that no case is timed without
    reading its bytes (a ``numpy.memmap`` passes ``numpy.asarray`` unread).
    """
    out = []
    for array in arrays:
        values = np.asarray(array)
        base: Any = values
        while base is not None and not isinstance(base, mmap.mmap | np.memmap):
            base = getattr(base, "base", None)
        out.append(values if base is None else np.array(values, copy=True))
    return out


def corpus_cases(path: Path) -> dict[str, Callable[[], Any]]:
    suffix = path.suffix.lower()
    cases: dict[str, Callable[[], Any]] = {"pycrox": lambda: read_all(_pycrox_read(path))}
    scifi = {
        ".ibw": "IgorIBWReader",
        ".sxm": "NanonisSXMReader",
        ".dat": "NanonisDatReader",
        ".3ds": "Nanonis3dsReader",
    }.get(suffix, "BrukerAFMReader")
    cases["SciFiReaders"] = lambda: read_all(_scifi(scifi, path))
    if suffix == ".ibw":
        cases["igor2"] = lambda: read_all([_igor2(path)])
    return cases


def _igor2(path: Path) -> np.ndarray:
    from igor2 import binarywave

    return np.asarray(binarywave.load(str(path))["wave"]["wData"])


def corpus_part(runs: int, nanonispy_python: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for folder in ("igor_ibw", "nanonis", "bruker_afm"):
        for path in sorted((VENDOR / folder).glob("*")):
            _warm(path)
            results[f"{folder}/{path.name}"] = interleaved(corpus_cases(path), runs)
    nanonis = sorted(p for p in (VENDOR / "nanonis").glob("*"))
    if nanonispy_python.is_file():
        proc = subprocess.run(
            [str(nanonispy_python), "-c", _NANONISPY_CHILD, str(runs), *map(str, nanonis)],
            capture_output=True,
            text=True,
            check=False,
        )
        lines = proc.stdout.strip().splitlines()
        found = json.loads(lines[-1]) if proc.returncode == 0 and lines else {}
        for name, timing in found.items():
            results[f"nanonis/{name}"]["nanonispy (numpy<2 venv)"] = timing
    return results


_NANONISPY_CHILD = r"""
import json, statistics, sys, time, warnings
from pathlib import Path
import numpy as np
import nanonispy.read as nap
warnings.simplefilter("ignore")
runs, out = int(sys.argv[1]), {}
kinds = {".sxm": nap.Scan, ".dat": nap.Spec, ".3ds": nap.Grid}
for name in sys.argv[2:]:
    path = Path(name)
    def case():
        signals = kinds[path.suffix.lower()](str(path)).signals
        return [np.asarray(v) for v in signals.values() if not isinstance(v, dict)]
    try:
        case()
        samples = []
        for _ in range(runs):
            start = time.perf_counter(); case(); samples.append(time.perf_counter() - start)
        out[path.name] = {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples),
                          "runs": runs}
    except Exception as exc:
        out[path.name] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
print(json.dumps(out))
"""


# ----------------------------------------------------------------------------------- report


def _ms(t: dict[str, Any]) -> str:
    if "error" in t:
        return f"error ({t['error'][:60]})"
    return f"{t['median_s'] * 1e3:9.2f} ms [{t['min_s'] * 1e3:.2f}-{t['max_s'] * 1e3:.2f}]"


def _ratio(ref: dict[str, Any], ours: dict[str, Any]) -> str:
    if "error" in ref or "error" in ours:
        return "-"
    return (
        f"{ref['median_s'] / ours['median_s']:7.1f}x "
        f"[{ref['min_s'] / ours['max_s']:.1f}-{ref['max_s'] / ours['min_s']:.1f}]"
    )


def report(grid: dict[str, Any] | None, corpus: dict[str, Any] | None) -> list[str]:
    lines = []
    if grid:
        t, gib = grid["times"], grid["file_bytes"] / 2**30
        lines.append(f"3DS grid, {gib:.2f} GiB (hot cache), medians [min-max]:")
        lines += [f"  {name:45s} {_ms(v)}" for name, v in t.items()]
        speed = t["numpy.fromfile (>f4)"]["median_s"] / t["pycrox open+read"]["median_s"]
        lines.append(f"  pycrox speed / numpy.fromfile speed: {speed:.2f}x (target >= 0.8x)")
        together = (
            t["numpy.fromfile (>f4)"]["median_s"] / t["pycrox open+read, read_together=True"]["median_s"]
        )
        lines.append(f"    min-max over runs: {_ratio(t['numpy.fromfile (>f4)'], t['pycrox open+read'])}")
        fastest = t["numpy.fromfile (>f4)"]["min_s"] / t["pycrox open+read"]["min_s"]
        lines.append(f"    fastest run against fastest run (least disturbed by load): {fastest:.2f}x")
        cpu = t["numpy.fromfile (>f4)"]["cpu_median_s"] / t["pycrox open+read"]["cpu_median_s"]
        lines.append(
            f"    median process CPU time: numpy {t['numpy.fromfile (>f4)']['cpu_median_s'] * 1e3:.0f} ms, "
            f"pycrox {t['pycrox open+read']['cpu_median_s'] * 1e3:.0f} ms: {cpu:.2f}x"
        )
        lines.append(f"  the same with read_together=True: {together:.2f}x")
        apart = t["numpy.fromfile (>f4)"]["median_s"] / t["pycrox open+read, read_together=False"]["median_s"]
        lines.append(f"  the same with read_together=False (one pass per channel): {apart:.2f}x")
        one = t["numpy.fromfile (>f4)"]["median_s"] / t["pycrox open+read one channel"]["median_s"]
        lines.append(
            f"  one channel of {CHANNELS} with pycrox vs the whole file with numpy: {one:.2f}x as fast"
        )
        lines.append(f"  pycrox open: {t['pycrox open']['median_s'] * 1e3:.1f} ms (target < 200 ms)")
        scifi = t["SciFiReaders Nanonis3dsReader (1/64 size)"]
        lines.append(
            f"  SciFiReaders / pycrox at 1/64 size: {_ratio(scifi, t['pycrox open+read (1/64 size)'])}"
        )
        for name, mem in grid["memory"].items():
            if "error" in mem:
                lines.append(f"  peak RSS {name}: error {mem['error'][:80]}")
                continue
            lines.append(
                f"  peak RSS above baseline, {name}: {mem['extra_bytes'] / MIB:.0f} MiB = "
                f"{mem['extra_bytes'] / mem['result_bytes']:.2f}x its result "
                f"({mem['result_bytes'] / MIB:.0f} MiB; target pycrox <= 1.1x)"
            )
    if corpus:
        lines.append("corpus files, open + read of every signal: median [min-max], reference/pycrox ratio")
        for rel, cases in corpus.items():
            lines.append(f"  {rel}")
            ours = cases["pycrox"]
            for name, t in cases.items():
                ratio = "" if name == "pycrox" else f"  ratio {_ratio(t, ours)}"
                lines.append(f"    {name:26s} {_ms(t)}{ratio}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--grid-gib", type=float, default=1.0)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--skip-grid", action="store_true")
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument("--nanonispy-python", type=Path, default=NANONISPY_PYTHON)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--grid", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--offset", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.grid, args.offset)
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_spm_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        grid = None if args.skip_grid else grid_part(folder, args.grid_gib, args.runs)
        corpus = (
            None if args.skip_corpus or not VENDOR.is_dir() else corpus_part(args.runs, args.nanonispy_python)
        )
        print("\n".join(report(grid, corpus)))
        print(f"(total {time.perf_counter() - start:.0f} s)")
        if args.json:
            args.json.write_text(json.dumps({"grid": grid, "corpus": corpus}, indent=1))
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
