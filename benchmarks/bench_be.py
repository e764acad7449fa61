"""Band excitation: SHO and loop fits of every pixel (pycrox.analysis.be) vs per-pixel scipy loops and BGlib.

1. SHO fit of ``size x size`` pixels x 64 complex64 frequency bins (default 128 x 128) with the
   ``complex_gaussian`` guess, against a per-pixel `scipy.optimize.least_squares` loop with the
   same model (real and imaginary residuals stacked) from the same starting values, timed on a
   subset and scaled per pixel. Median R² of both on the subset. With ``--bglib PYTHON`` (a venv
   where BGlib installs), BGlib's own per-pixel functions (``complex_gaussian`` guess and
   ``least_squares`` on ``_sho_error``, as BESHOfitter runs them) are timed on the same subset.
2. Loop fit of ``size x size`` loops x 64 DC steps (guess ``"kmeans"``) against a per-pixel
   ``least_squares`` loop with BGlib's model and bounds from the same starts.
3. ``--big``: SHO fit of 1024 x 1024 x 64 complex64 (512 MiB), generated lazily, on a
   LocalCluster whose 2 workers have 200 MB each; reports time and that it completed.

Interleaved medians of ``--repeats`` rounds (min-max) for the pycrox cases and the loops.

    .venv/bin/python benchmarks/bench_be.py [--size 128] [--subset 300] [--repeats 5]
        [--bglib /work/refenv-bglib/bin/python] [--big]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import warnings
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
t = time.perf_counter(); r2 = []
for row in z:
    guess = complex_gaussian(row, f, num_points=5)[:4]
    fit = least_squares(_sho_error, guess, args=[row, f], jac="cs")
    r2.append(1 - fit.fun[0])
print(json.dumps({"seconds": time.perf_counter() - t, "r2": float(np.median(r2))}))
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
        result = bglib_sho(bglib, small)
        total = result["seconds"] * pixels / len(small)
        print(
            f"  BGlib per-pixel functions (complex_gaussian + least_squares on 1-R2), {len(small)} px: "
            f"{total:.1f} s scaled to all pixels ({total / stats[name]['median_s']:.0f}x pycrox), "
            f"median R2 {result['r2']:.6f}"
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


IDLE_SCRIPT = "import dask.array, distributed, pycrox.analysis.be, os; print(int(open('/proc/self/status').read().split('VmRSS:')[1].split()[0]) * 1024)"


def _idle_worker_bytes() -> int:
    """RSS of a fresh interpreter holding what a worker imports (dask.array, distributed, pycrox.analysis.be)."""
    out = subprocess.run([sys.executable, "-c", IDLE_SCRIPT], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def _peak_rss(pids: list[int], stop: threading.Event, peaks: dict[int, int]) -> None:
    while not stop.is_set():
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):
                text = Path(f"/proc/{pid}/status").read_text()
                peaks[pid] = max(peaks.get(pid, 0), int(text.split("VmRSS:")[1].split()[0]) * 1024)
        time.sleep(0.1)


def bench_big(side: int = 1024, chunk_rows: int = 8, budget: int = 200_000_000) -> None:
    """SHO fit of side x side x 64 complex64 on 2 workers, each limited to its idle RSS + `budget` bytes."""
    import dask.array as dsa
    import distributed

    def block(block_info: dict | None = None) -> np.ndarray:
        info = block_info[None]  # type: ignore[index]
        (y0, y1), (x0, x1), _ = info["array-location"]
        rng = np.random.default_rng(y0 * side + x0)
        shape = (y1 - y0, x1 - x0)
        p = [
            rng.uniform(0.5, 1.5, shape) * 1e-3,
            rng.uniform(296e3, 304e3, shape),
            rng.uniform(100, 300, shape),
            rng.uniform(-np.pi, np.pi, shape),
        ]
        z = _sho.response(FREQ, *(q[..., None] for q in p))
        noise = (
            (p[0] * p[2])[..., None]
            * 0.01
            * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
        )
        return (z + noise).astype(np.complex64)

    data = dsa.map_blocks(
        block, chunks=((chunk_rows,) * (side // chunk_rows), (side,), (FREQ.size,)), dtype=np.complex64
    )
    coords = {"Frequency": ("Frequency", FREQ, {"units": "Hz", "dimension_type": "SPECTRAL"})}
    da = xr.DataArray(data, dims=("y", "x", "Frequency"), coords=coords, attrs={"units": "V"})
    idle = _idle_worker_bytes()
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, memory_limit=idle + budget, dashboard_address=None, processes=True
    )
    stop, peaks = threading.Event(), {}
    with distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())
        watcher = threading.Thread(target=_peak_rss, args=(pids, stop, peaks), daemon=True)
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
    cluster.close()
    print(
        f"\nSHO fit {side}x{side}x{FREQ.size} complex64 ({data.nbytes / 2**20:.0f} MiB, chunks of "
        f"{chunk_rows * side} px) on 2 workers x 1 thread, memory_limit = idle RSS "
        f"{idle / 2**20:.0f} MiB + {budget / 1e6:.0f} MB: {seconds:.1f} s ({side * side / seconds:.0f} px/s); "
        f"converged {float(summary.converged):.4f}, R2 mean {float(summary.r2_mean):.5f} min "
        f"{float(summary.r2_min):.4f}; peak worker RSS above idle "
        f"{[round((m - idle) / 2**20) for m in peaks.values()]} MiB"
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
    args = parser.parse_args()
    bench_sho(args.size, args.subset, args.repeats, args.bglib)
    bench_loops(args.size, args.subset, args.repeats)
    if args.big:
        bench_big(args.big_side)


if __name__ == "__main__":
    main()
