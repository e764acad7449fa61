"""Band excitation: SHO and loop fits of every pixel (pycrox.analysis.be) vs per-pixel scipy loops and BGlib.

1. SHO fit of ``size x size`` pixels x 64 complex64 frequency bins (default 128 x 128) with the
   ``complex_gaussian`` guess, against a per-pixel `scipy.optimize.least_squares` loop with the
   same model (real and imaginary residuals stacked) from the same starting values, timed on a
   subset and scaled per pixel. Median R² of both on the subset. With ``--bglib PYTHON`` (a venv
   where BGlib installs), BGlib's own per-pixel functions (``complex_gaussian`` guess and
   ``least_squares`` on ``_sho_error``, with BESHOfitter's default ``jac="cs"``, whose fit never moves, and
   with solver options that converge) are timed on the same subset.
2. Loop fit of ``size x size`` loops x 64 DC steps (guess ``"kmeans"``) against a per-pixel
   ``least_squares`` loop with BGlib's model and bounds from the same starts.
3. ``--big`` (or ``--big-only``): SHO fit of 1024 x 1024 x 64 complex64 (512 MiB), generated
   lazily, on a LocalCluster whose 2 workers have ``memory_limit="200MB"`` (with the
   ``WORKER_PRELOAD`` of `pycrox.analysis.be._kernels`); reports time, worker RSS (idle, peak,
   after) and whether a worker was restarted.

Interleaved medians of ``--repeats`` rounds (min-max) for the pycrox cases and the loops.

    .venv/bin/python benchmarks/bench_be.py [--size 128] [--subset 300] [--repeats 5]
        [--bglib /work/refenv-bglib/bin/python] [--big | --big-only] [--big-side 1024] [--big-limit 200MB]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import scipy.optimize
import xarray as xr
from _common import interleaved

from pycrox.analysis import be
from pycrox.analysis.be import _loop, _sho

FREQ = np.linspace(290e3, 310e3, 64)


def sho_map(size: int, seed: int = 0) -> xr.DataArray:
    """``size x size`` complex64 SHO responses, 1 % noise, resonance 296-304 kHz, Q 100-300."""
    rng = np.random.default_rng(seed)
    shape = (size, size)
    p = [
        rng.uniform(0.5, 1.5, shape) * 1e-3,
        rng.uniform(296e3, 304e3, shape),
        rng.uniform(100, 300, shape),
        rng.uniform(-np.pi, np.pi, shape),
    ]
    z = _sho.response(FREQ, *(q[..., None] for q in p))
    scale = (p[0] * p[2])[..., None] * 0.01 / np.sqrt(2)
    z = z + scale * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    coords = {"Frequency": ("Frequency", FREQ, {"units": "Hz", "dimension_type": "SPECTRAL"})}
    return xr.DataArray(
        z.astype(np.complex64), dims=("y", "x", "Frequency"), coords=coords, attrs={"units": "V"}
    )


def scipy_sho(z: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per-pixel least_squares with the same stacked residuals; returns R² per pixel."""
    r2 = np.empty(len(z))
    for i, (row, p0) in enumerate(zip(z, starts, strict=True)):

        def residual(p: np.ndarray, row: np.ndarray = row) -> np.ndarray:
            h = _sho.response(FREQ, *p) - row
            return np.concatenate([h.real, h.imag])

        r = residual(scipy.optimize.least_squares(residual, p0, x_scale="jac").x)
        r2[i] = 1 - (r @ r) / np.sum(np.abs(row - row.mean()) ** 2)
    return r2


def triangle(n: int = 64, vmax: float = 10.0) -> np.ndarray:
    k = np.arange(n) / n
    return vmax * np.where(k < 0.25, 4 * k, np.where(k < 0.75, 2 - 4 * k, 4 * k - 4))


def loop_map(size: int, seed: int = 2) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    count = size * size
    params = np.column_stack(
        [
            rng.uniform(-1.2, -0.8, count),
            rng.uniform(1.5, 2.5, count),
            rng.uniform(-4, -2, count),
            rng.uniform(2, 4, count),
            rng.uniform(-0.01, 0.01, count),
            *(rng.uniform(1, 2, count) for _ in range(4)),
        ]
    )
    v = triangle()
    roll = _loop.shift(v.size)
    loops = np.roll(
        _loop.evaluate(np.roll(v, roll), *(params[:, j : j + 1] for j in range(9))), -roll, axis=1
    )
    loops = loops + 0.01 * rng.standard_normal(loops.shape)
    coords = {"DC_Offset": ("DC_Offset", v, {"units": "V", "dimension_type": "SPECTRAL"})}
    return xr.DataArray(loops.reshape(size, size, v.size), dims=("y", "x", "DC_Offset"), coords=coords)


def scipy_loops(v: np.ndarray, loops: np.ndarray, starts: np.ndarray) -> np.ndarray:
    roll = _loop.shift(v.size)
    x = np.roll(v, roll)
    lower, upper = _loop.bounds(v)
    r2 = np.empty(len(loops))
    for i, (row, p0) in enumerate(zip(np.roll(loops, roll, axis=1), starts, strict=True)):

        def residual(p: np.ndarray, row: np.ndarray = row) -> np.ndarray:
            return _loop.evaluate(x, *(q[None, None] for q in p))[0] - row

        r = residual(
            scipy.optimize.least_squares(residual, np.clip(p0, lower, upper), bounds=(lower, upper)).x
        )
        r2[i] = 1 - (r @ r) / np.sum((row - row.mean()) ** 2)
    return r2


BGLIB_SCRIPT = """
import json, sys, time, numpy as np
from scipy.optimize import least_squares
from BGlib.be.analysis.be_sho_fitter import complex_gaussian, _sho_error
data = np.load(sys.argv[1]); z, f = data["z"], data["f"]
out = {}
# BGlib's default (its fit never moves: zero complex-step Jacobian), then options that converge
# (as tests/reference/bglib_make.py)
options = {
    "default": {"jac": "cs"},
    "converging": {"jac": "3-point", "x_scale": "jac", "ftol": 1e-12, "xtol": 1e-12, "gtol": 1e-12, "max_nfev": 2000},
}
for name, solver in options.items():
    t = time.perf_counter(); r2 = []
    for row in z:
        guess = complex_gaussian(row, f, num_points=5)[:4]
        fit = least_squares(_sho_error, guess, args=[row, f], **solver)
        r2.append(1 - fit.fun[0])
    out[name] = {"seconds": time.perf_counter() - t, "r2": float(np.median(r2))}
print(json.dumps(out))
"""


def bglib_sho(python: str, z: np.ndarray) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sub.npz"
        np.savez(path, z=z.astype(np.complex128), f=FREQ)
        script = Path(folder) / "run.py"
        script.write_text(BGLIB_SCRIPT)
        out = subprocess.run(
            [python, str(script), str(path)], capture_output=True, text=True, check=True, cwd=folder
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def _row(name: str, stats: dict, pixels: int, reference: float | None) -> str:
    median = stats["median_s"]
    ratio = f"{reference / median:7.1f}x" if reference else "      -"
    return f"{name:<58} {median:8.3f} s [{stats['min_s']:.3f}-{stats['max_s']:.3f}] {pixels / median:10.0f} px/s {ratio}"


def bench_sho(size: int, subset: int, repeats: int, bglib: str | None) -> None:
    da = sho_map(size)
    pixels = size * size
    z = da.values.reshape(-1, FREQ.size)[:subset].astype(np.complex128)
    starts = _sho.guess_complex_gaussian(FREQ, z)
    holder: dict[str, np.ndarray] = {}
    cases = {
        "pycrox sho_fit (complex_gaussian guess + fit), all pixels": lambda: be.sho_fit(da),
        "scipy least_squares loop, same model and starts, subset": lambda: holder.update(
            r2=scipy_sho(z, starts)
        ),
    }
    stats = interleaved(cases, repeats)
    ours = be.sho_fit(da)
    loop_total = stats[list(cases)[1]]["median_s"] * pixels / subset
    print(f"\nSHO fit, {size}x{size} pixels x {FREQ.size} complex64 bins ({repeats} interleaved rounds)")
    name = next(iter(cases))
    print(_row(name, stats[name], pixels, loop_total))
    s = stats[list(cases)[1]]
    scale = pixels / subset
    print(
        f"{'scipy least_squares loop (scaled from ' + str(subset) + ' px)':<58} {loop_total:8.3f} s "
        f"[{s['min_s'] * scale:.3f}-{s['max_s'] * scale:.3f}] {pixels / loop_total:10.0f} px/s     1.0x"
    )
    print(
        f"  speed-up {loop_total / stats[name]['median_s']:.1f}x "
        f"(min-max {s['min_s'] * scale / stats[name]['max_s']:.1f}-{s['max_s'] * scale / stats[name]['min_s']:.1f}x); "
        f"median R2 pycrox (subset) {np.median(ours.r2.values.reshape(-1)[:subset]):.6f}, "
        f"scipy {np.median(holder['r2']):.6f}; pycrox all pixels {float(ours.r2.median()):.6f}, "
        f"converged {float(ours.converged.mean()):.4f}"
    )
    if bglib:
        small = z[: max(20, subset // 5)]
        results = bglib_sho(bglib, small)
        for label, result in results.items():
            total = result["seconds"] * pixels / len(small)
            print(
                f"  BGlib per-pixel functions (complex_gaussian + least_squares on 1-R2, {label} options), "
                f"{len(small)} px: {total:.1f} s scaled to all pixels ({total / stats[name]['median_s']:.0f}x "
                f"pycrox), median R2 {result['r2']:.6f}"
            )


def bench_loops(size: int, subset: int, repeats: int) -> None:
    da = loop_map(size)
    pixels = size * size
    v = da.DC_Offset.values
    loops = da.values.reshape(-1, v.size)[:subset]
    starts = _loop.guess_block(v, loops)
    holder: dict[str, np.ndarray] = {}
    cases = {
        "pycrox loop_fit (kmeans guess + fit), all pixels": lambda: be.loop_fit(da),
        "pycrox loop_fit (direct guess + fit), all pixels": lambda: be.loop_fit(da, guess="direct"),
        "scipy least_squares loop, same model/bounds/starts, subset": lambda: holder.update(
            r2=scipy_loops(v, loops, starts)
        ),
    }
    stats = interleaved(cases, repeats)
    names = list(cases)
    s = stats[names[2]]
    scale = pixels / subset
    loop_total = s["median_s"] * scale
    print(f"\nLoop fit, {size}x{size} loops x {v.size} DC steps ({repeats} interleaved rounds)")
    for name in names[:2]:
        print(_row(name, stats[name], pixels, loop_total))
    print(
        f"{'scipy least_squares loop (scaled from ' + str(subset) + ' px)':<58} {loop_total:8.3f} s "
        f"[{s['min_s'] * scale:.3f}-{s['max_s'] * scale:.3f}] {pixels / loop_total:10.0f} px/s     1.0x"
    )
    ours = be.loop_fit(da)
    direct = be.loop_fit(da, guess="direct")
    print(
        f"  median R2 pycrox kmeans {float(ours.r2.median()):.6f}, direct (subset) "
        f"{np.median(direct.r2.values.reshape(-1)[:subset]):.6f}, scipy (subset) {np.median(holder['r2']):.6f}; "
        f"converged {float(ours.converged.mean()):.4f}"
    )


BIG_SCRIPT = r"""
import contextlib, json, os, sys, threading, time, warnings
from pathlib import Path

import numpy as np

FREQ = np.linspace(290e3, 310e3, 64)
SIDE, ROWS, LIMIT, LEAN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4] == "lean"


def block(block_info=None):
    from pycrox.analysis.be import _sho

    (y0, y1), (x0, x1), _ = block_info[None]["array-location"]
    rng = np.random.default_rng(y0 * SIDE + x0)
    shape = (y1 - y0, x1 - x0)
    p = [
        rng.uniform(0.5, 1.5, shape) * 1e-3,
        rng.uniform(296e3, 304e3, shape),
        rng.uniform(100, 300, shape),
        rng.uniform(-np.pi, np.pi, shape),
    ]
    z = _sho.response(FREQ, *(q[..., None] for q in p))
    z += (p[0] * p[2])[..., None] * 0.01 * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    return z.astype(np.complex64)


def rss():
    return int(Path("/proc/self/status").read_text().split("VmRSS:")[1].split()[0]) * 1024


def numpy_rss():
    import numpy

    return rss()


def watch(pids, stop, peaks):
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):
                peaks[pid] = max(peaks.get(pid, 0), int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) * 1024)
        time.sleep(0.05)


def main():
    import dask
    import dask.array as dsa
    import distributed
    import xarray as xr

    # the nanny still restarts a worker above 95 % of the limit; pausing at 80 % (152.6 MiB of
    # 190.7) would stall: a worker holding dask.array, pandas and xarray sits at ~140-150 MiB.
    # Arrays above 64 kB are mmapped, so freeing them returns the memory (no heap growth).
    dask.config.set(
        {
            "distributed.worker.memory.pause": False,
            "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": 65536,
        }
    )

    from pycrox.analysis import be
    from pycrox.analysis.be import _kernels

    data = dsa.map_blocks(block, chunks=((ROWS,) * (SIDE // ROWS), (SIDE,), (FREQ.size,)), dtype=np.complex64)
    coords = {"Frequency": ("Frequency", FREQ, {"units": "Hz", "dimension_type": "SPECTRAL"})}
    da = xr.DataArray(data, dims=("y", "x", "Frequency"), coords=coords, attrs={"units": "V"})
    extra = {"preload": [_kernels.WORKER_PRELOAD]} if LEAN else {}
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit=LIMIT, **extra
    ) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        idle = list(client.run(rss).values())
        with_numpy = list(client.run(numpy_rss).values())
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
        stop, peaks = threading.Event(), {}
        watcher = threading.Thread(target=watch, args=(list(pids.values()), stop, peaks), daemon=True)
        watcher.start()
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = be.sho_fit(da)
            summary = xr.Dataset(
                {"converged": result.converged.mean(), "r2_mean": result.r2.mean(), "r2_min": result.r2.min()}
            ).compute()
        seconds = time.perf_counter() - start
        stop.set()
        watcher.join()
        after = list(client.run(rss).values())
        restarted = client.run(os.getpid) != pids
    print(json.dumps({
        "seconds": seconds, "mib": data.nbytes / 2**20, "limits": limits, "idle": idle, "numpy": with_numpy,
        "after": after, "peak": list(peaks.values()), "restarted": restarted,
        **{k: float(v) for k, v in summary.items()},
    }))


main()
"""


def bench_big(side: int = 1024, chunk_rows: int = 2, limit: str = "200MB", lean: bool = True) -> None:
    """SHO fit of side x side x 64 complex64 on 2 workers with ``memory_limit=limit`` (default 200 MB).

    Runs in a fresh interpreter started with ``-c``: spawned workers re-import the ``__main__``
    of a script, and this one imports xarray, scipy and pycrox at the top; the ``-c`` script keeps
    them out. With `lean`, workers get `pycrox.analysis.be._kernels.WORKER_PRELOAD`.
    """
    out = subprocess.run(
        [sys.executable, "-c", BIG_SCRIPT, str(side), str(chunk_rows), limit, "lean" if lean else "plain"],
        capture_output=True,
        text=True,
        check=True,
    )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    mib = [round(v / 2**20, 1) for v in r["idle"]], [round(v / 2**20, 1) for v in r["numpy"]]
    print(
        f"\nSHO fit {side}x{side}x{FREQ.size} complex64 ({r['mib']:.0f} MiB, chunks of {chunk_rows * side} px) "
        f"on 2 workers x 1 thread, memory_limit={limit} ({r['limits'][0] / 2**20:.1f} MiB; nanny restarts at "
        f"95 %, pausing off, MALLOC_MMAP_THRESHOLD_=65536), preload {'WORKER_PRELOAD' if lean else 'none'}: {r['seconds']:.1f} s "
        f"({side * side / r['seconds']:.0f} px/s); converged {r['converged']:.4f}, R2 mean "
        f"{r['r2_mean']:.5f} min {r['r2_min']:.4f}; worker restarted: {r['restarted']}\n"
        f"  worker RSS MiB: idle {mib[0]}, with numpy {mib[1]}, peak "
        f"{[round(v / 2**20, 1) for v in r['peak']]}, after {[round(v / 2**20, 1) for v in r['after']]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--subset", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bglib", default=None, help="python of a venv where BGlib is installed")
    parser.add_argument("--big", action="store_true", help="also the 1024 x 1024 LocalCluster run")
    parser.add_argument("--big-side", type=int, default=1024)
    parser.add_argument("--big-limit", default="200MB", help="memory_limit of each worker")
    parser.add_argument("--big-only", action="store_true", help="only the LocalCluster run")
    args = parser.parse_args()
    if not args.big_only:
        bench_sho(args.size, args.subset, args.repeats, args.bglib)
        bench_loops(args.size, args.subset, args.repeats)
    if args.big or args.big_only:
        bench_big(args.big_side, limit=args.big_limit)


if __name__ == "__main__":
    main()
