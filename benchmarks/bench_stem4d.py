"""4-D STEM virtual ADF and centre of mass: streamed from Zarr and NSID, and in memory, against the limits.

Streamed: a float32 4-D dataset twice the memory given to a dask LocalCluster's workers (default
2 workers x 1 GiB, so 4 GiB), written with ``pycrox.to_zarr`` and ``pycrox.to_nsid`` chunked by
scan rows, then, on that cluster, as medians of interleaved runs: just reading the bytes,
``virtual_image`` (annular dark field) and ``center_of_mass``, each computed to the end. Target:
<= 1.4x the read.

"Just reading the bytes" is the same for both formats: the dask graph of ``pycrox.open(path,
chunks={})`` (the very graph the analysis functions start from) with a ``map_blocks`` that keeps
one number of every chunk, so every chunk is read from the file (HDF5 or Zarr, decompressed) into
a numpy array on a worker, and nothing else is done with it; those numbers are merged into one
chunk before they are gathered, as the analysis functions merge their small results. The ratio is thus the cost of the
analysis over the read path it cannot avoid, measured on the same cluster, scheduler and chunks.
The files are freshly written, so the bytes mostly come from the page cache when RAM allows.

In memory: the same functions on a numpy-backed array (default 256 MiB) against the equivalent
``numpy.einsum`` (``ijkl,kl->ij`` for the ADF, ``ijkl,klm->ijm`` with ``m = [1, k_row, k_col]`` for
the CoM). Target: <= 1.25x. py4DSTEM (0.14, numpy < 2) is timed on the same array in a subprocess
of its own environment (``--py4dstem-python``, default /work/refenv-py4dstem/bin/python), when it
exists: ``DataCube.get_virtual_image(mode="annulus")`` and ``DPC.preprocess`` (its vectorised CoM
and descan plane fit, rotation forced to 0).

    .venv/bin/python benchmarks/bench_stem4d.py [--worker-mib 1024] [--workers 2] [--det 128]
        [--memory-mib 256] [--runs 5] [--json OUT]

``--workers 1 --worker-mib 512 --memory-mib 128 --runs 3`` is a quick run (a worker process needs
~350 MiB for itself, so smaller limits pause it).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dask
import dask.array
import numpy as np

try:
    from benchmarks._common import MIB, interleaved
except ImportError:  # run as a script
    from _common import MIB, interleaved

import pycrox
from pycrox.analysis.stem4d import center_of_mass, virtual_image

INNER, OUTER = 8.0, 30.0  # mrad; the detector spans -32..32 mrad at det=128 (0.5 mrad pixels)


def build(rows: int, cols: int, det: int, *, lazy: bool, chunk_rows: int) -> Any:
    """A calibrated float32 4-D DataArray, random counts (dask-generated when `lazy`)."""
    shape = (rows, cols, det, det)
    if lazy:
        data = dask.array.random.default_rng(0).random(
            shape, chunks=(chunk_rows, cols, det, det), dtype=np.float32
        )
    else:
        data = np.random.default_rng(0).random(shape, dtype=np.float32)
    k = (np.arange(det) - det // 2) * 0.5
    coords = {
        "ky": {"values": k, "units": "mrad"},
        "kx": {"values": k, "units": "mrad"},
        "y": {"values": np.arange(rows) * 0.1, "units": "nm"},
        "x": {"values": np.arange(cols) * 0.1, "units": "nm"},
    }
    return pycrox.from_array(data, dims=("y", "x", "ky", "kx"), coords=coords, name="stem", units="counts")


def _touch(block: np.ndarray) -> np.ndarray:
    return np.full((1, 1, 1, 1), block.flat[0])


def read_only(path: Path) -> Callable[[], Any]:
    def run() -> Any:
        data = pycrox.open(path, chunks={}).data
        touched = data.map_blocks(_touch, chunks=(1, 1, 1, 1), dtype=data.dtype)
        return touched.rechunk(-1).compute()  # one small result, gathered like the analysis results

    return run


def streamed(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from dask.distributed import Client, LocalCluster

    total = 2 * args.workers * args.worker_mib * MIB
    det_bytes = args.det * args.det * 4
    cols = max(1, int(np.sqrt(total / det_bytes)))
    rows = max(1, total // (det_bytes * cols))
    chunk_rows = max(1, (16 * MIB) // (cols * det_bytes))
    data = build(rows, cols, args.det, lazy=True, chunk_rows=chunk_rows)
    paths = {"Zarr": workdir / "stem.zarr", "NSID": workdir / "stem.h5"}
    pycrox.to_zarr(data, paths["Zarr"], chunks={"y": chunk_rows})
    pycrox.to_nsid(data, paths["NSID"], chunks={"y": chunk_rows, "x": cols, "ky": args.det, "kx": args.det})
    cases: dict[str, Callable[[], Any]] = {}
    for fmt, path in paths.items():
        cases[f"{fmt}: read the bytes"] = read_only(path)
        cases[f"{fmt}: virtual ADF"] = lambda p=path: virtual_image(
            pycrox.open(p, chunks={}), INNER, OUTER
        ).compute()
        cases[f"{fmt}: centre of mass"] = lambda p=path: center_of_mass(pycrox.open(p, chunks={})).compute()
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        memory_limit=args.worker_mib * MIB,
        processes=True,
        dashboard_address=None,
    )
    print(f"streamed: {data.nbytes / MIB:.0f} MiB written; timing on the cluster", file=sys.stderr)
    with cluster, Client(cluster):
        times = interleaved(cases, args.runs)
    sizes = {
        fmt: sum(f.stat().st_size for f in p.rglob("*")) if p.is_dir() else p.stat().st_size
        for fmt, p in paths.items()
    }
    return {"shape": [rows, cols, args.det, args.det], "data_mib": data.nbytes / MIB, "chunk_rows": chunk_rows,
            "worker_mib": args.worker_mib, "workers": args.workers, "file_mib": {k: v / MIB for k, v in sizes.items()},
            "times": times}  # fmt: skip


def in_memory(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    det_bytes = args.det * args.det * 4
    cols = max(1, int(np.sqrt(args.memory_mib * MIB / det_bytes)))
    rows = max(1, args.memory_mib * MIB // (det_bytes * cols))
    da = build(rows, cols, args.det, lazy=False, chunk_rows=rows)
    values = da.values
    k_row, k_col = np.meshgrid(da.ky.values, da.kx.values, indexing="ij")
    radius = np.hypot(k_row, k_col)
    mask = ((radius >= INNER) & (radius < OUTER)).astype(np.float32)
    moments = np.stack([np.ones_like(k_row), k_row, k_col], axis=-1).astype(np.float32)

    def einsum_com() -> np.ndarray:
        m = np.einsum("ijkl,klm->ijm", values, moments)
        return m[..., 1:] / m[..., :1]

    cases = {
        "numpy.einsum ADF": lambda: np.einsum("ijkl,kl->ij", values, mask),
        "pycrox virtual ADF": lambda: virtual_image(da, INNER, OUTER).values,
        "numpy.einsum CoM": einsum_com,
        "pycrox centre of mass": lambda: center_of_mass(da).compute(),
    }
    times = interleaved(cases, args.runs)
    check = np.abs(virtual_image(da, INNER, OUTER).values - np.einsum("ijkl,kl->ij", values, mask)).max()
    reference = py4dstem_times(args, values, workdir)
    return {"shape": list(values.shape), "data_mib": values.nbytes / MIB, "times": times,
            "max_abs_difference_adf": float(check), "py4dstem": reference}  # fmt: skip


_CHILD = textwrap.dedent(
    """
    import json, statistics, sys, time, warnings
    warnings.filterwarnings("ignore")
    import numpy as np, py4DSTEM
    from py4DSTEM.process.phase import DPC
    values = np.load(sys.argv[1])
    runs, det, inner, outer = int(sys.argv[2]), values.shape[-1], float(sys.argv[3]), float(sys.argv[4])
    dc = py4DSTEM.DataCube(values)
    centre = det // 2
    geometry = ((centre, centre), (inner / 0.5, outer / 0.5))
    def adf():
        return dc.get_virtual_image(mode="annulus", geometry=geometry, verbose=False, name="adf").data
    def com():
        dpc = DPC(datacube=dc, energy=300e3, verbose=False)
        return dpc.preprocess(plot_center_of_mass=False, plot_rotation=False, force_com_rotation=0.0,
                              force_com_transpose=False)
    out = {"version": py4DSTEM.__version__, "numpy": np.__version__}
    for name, case in (("py4DSTEM get_virtual_image annulus", adf), ("py4DSTEM DPC.preprocess (CoM, plane fit)", com)):
        case()
        samples = []
        for _ in range(runs):
            start = time.perf_counter(); case(); samples.append(time.perf_counter() - start)
        out[name] = {"median_s": statistics.median(samples), "min_s": min(samples), "max_s": max(samples)}
    print(json.dumps(out))
    """
)


def py4dstem_times(args: argparse.Namespace, values: np.ndarray, workdir: Path) -> dict[str, Any]:
    python = Path(args.py4dstem_python)
    if not python.exists():
        return {"skipped": f"no py4DSTEM environment at {python}"}
    path = workdir / "stem.npy"
    np.save(path, values)
    proc = subprocess.run(
        [str(python), "-c", _CHILD, str(path), str(args.runs), str(INNER), str(OUTER)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    path.unlink()
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return {"error": (proc.stderr or proc.stdout)[-500:]}
    return json.loads(lines[-1])


def report(result: dict[str, Any]) -> None:
    stream, memory = result["streamed"], result["in_memory"]
    print(f"streamed: {stream['shape']} float32 = {stream['data_mib']:.0f} MiB, chunks of {stream['chunk_rows']} scan "
          f"rows, {stream['workers']} workers x {stream['worker_mib']} MiB; files {stream['file_mib']}")  # fmt: skip
    _table(stream["times"], {name: name.split(":")[0] + ": read the bytes" for name in stream["times"]}, 1.4)
    print(f"\nin memory: {memory['shape']} float32 = {memory['data_mib']:.0f} MiB "
          f"(ADF max |pycrox - einsum| = {memory['max_abs_difference_adf']:.2e})")  # fmt: skip
    base = {"pycrox virtual ADF": "numpy.einsum ADF", "pycrox centre of mass": "numpy.einsum CoM"}
    times = dict(memory["times"])
    py4d = memory["py4dstem"]
    for name, value in py4d.items():
        if isinstance(value, dict):
            times[name] = value
            base[name] = "numpy.einsum ADF" if "virtual" in name else "numpy.einsum CoM"
    _table(times, base, 1.25)
    if "skipped" in py4d or "error" in py4d:
        print(f"py4DSTEM: {py4d.get('skipped') or py4d.get('error')}")
    else:
        print(
            f"py4DSTEM {py4d['version']} (numpy {py4d['numpy']}), median of {memory.get('runs', '')} runs in its own process"
        )


def _table(times: dict[str, Any], base: dict[str, str], target: float) -> None:
    print(f"{'case':44s} {'median s':>9s} {'min-max s':>15s} {'ratio (min-max)':>20s}")
    for name, t in times.items():
        if "error" in t:
            print(f"{name:44s} error: {t['error']}")
            continue
        ref = times.get(base.get(name, ""), {})
        ratio = ""
        if "median_s" in ref and ref is not t:
            ratio = f"{t['median_s'] / ref['median_s']:.2f} ({t['min_s'] / ref['max_s']:.2f}-{t['max_s'] / ref['min_s']:.2f})"
            ratio += "  ok" if t["median_s"] / ref["median_s"] <= target and "py4DSTEM" not in name else ""
        print(f"{name:44s} {t['median_s']:9.3f} {t['min_s']:7.3f}-{t['max_s']:<7.3f} {ratio:>20s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker-mib", type=int, default=1024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--det", type=int, default=128)
    parser.add_argument("--memory-mib", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--py4dstem-python", default="/work/refenv-py4dstem/bin/python")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench_stem4d_"))
    try:
        result = {"streamed": streamed(args, workdir), "in_memory": in_memory(args, workdir)}
        result["in_memory"]["runs"] = args.runs
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    sys.exit(main())
