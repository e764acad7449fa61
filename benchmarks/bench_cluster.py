"""k-means of the pixels of a spectral image: pycrox.analysis.clustering.cluster vs scikit-learn.

Spectral image ``size x size x channels`` float32 (default 256 x 256 x 1024 = 256 MiB), each
pixel dominated by one of 8 phases plus noise, ``k`` clusters (default 8). Cases run
interleaved (A B C ... A B C ...); the table gives the median and min-max of the repeats,
spectra per second, the peak memory on top of the input ("+MiB": process peak RSS during the
call minus RSS before it), the ratio to scikit-learn's KMeans (k-means++, n_init=1) within this
run, and the adjusted Rand index of the labels against the true phases and against KMeans.

    .venv/bin/python benchmarks/bench_cluster.py [--size 256] [--channels 1024] [--k 8] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import numpy as np
import sklearn
from _common import measure, reset_peak, rss_mib  # noqa: F401  (run as a script from benchmarks/)
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score

import pycrox
from pycrox.analysis.clustering import cluster

REFERENCE = "sklearn KMeans, k-means++, n_init=1 (reference)"


def make_matrix(rows: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    energy = np.linspace(0, 1, channels)
    spectra = np.stack([np.exp(-(((energy - c) / 0.05) ** 2)) + 0.3 for c in np.linspace(0.1, 0.9, 8)])
    phases = rng.integers(0, 8, rows)
    abundance = rng.random((rows, 8)) * 0.2
    abundance[np.arange(rows), phases] += 1
    noise = rng.standard_normal((rows, channels), dtype=np.float32)
    return (abundance @ spectra).astype(np.float32) + np.float32(0.05) * noise, phases


def build_cases(matrix: np.ndarray, size: int, k: int) -> dict[str, Callable[[], np.ndarray]]:
    da = pycrox.from_array(matrix.reshape(size, -1, matrix.shape[1]), dims=("y", "x", "energy"))
    lazy = da.chunk({"y": 32})
    return {
        "pycrox cluster (sample seeding + BLAS Lloyd)": lambda: cluster(da, k).labels.values.ravel(),
        "pycrox cluster, dask 32-row chunks, labels computed": lambda: cluster(lazy, k).labels.values.ravel(),
        REFERENCE: lambda: KMeans(k, n_init=1, random_state=0).fit(matrix).labels_,
        "sklearn MiniBatchKMeans (batch 4096, n_init=3)": lambda: (
            MiniBatchKMeans(k, batch_size=4096, n_init=3, random_state=0).fit(matrix).labels_
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=1024)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    matrix, phases = make_matrix(args.size * args.size, args.channels)
    cases = build_cases(matrix, args.size, args.k)
    times: dict[str, list[float]] = {name: [] for name in cases}
    memory: dict[str, list[float]] = {name: [] for name in cases}
    labels: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, case in cases.items():
            seconds, extra, result = measure(case)
            times[name].append(seconds)
            memory[name].append(extra)
            labels.setdefault(name, result)
    report(args, matrix, times, memory, labels, phases)


def report(
    args: argparse.Namespace, matrix: np.ndarray, times: dict, memory: dict, labels: dict, phases: np.ndarray
) -> None:
    reference = statistics.median(times[REFERENCE])
    print(
        f"k-means, k = {args.k}, on {matrix.shape[0]} x {matrix.shape[1]} float32 "
        f"({matrix.nbytes / 2**20:.0f} MiB), {args.repeats} interleaved repeats; numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )
    print("| method | median s | min-max | spectra/s | +MiB | x KMeans | ARI truth / KMeans |")
    print("|---|---|---|---|---|---|---|")
    for name, runs in times.items():
        median = statistics.median(runs)
        truth = adjusted_rand_score(phases, labels[name])
        same = adjusted_rand_score(labels[REFERENCE], labels[name])
        print(
            f"| {name} | {median:.3f} | {min(runs):.3f}-{max(runs):.3f} | {matrix.shape[0] / median:,.0f} | "
            f"{statistics.median(memory[name]):.0f} | {median / reference:.2f} | {truth:.3f} / {same:.3f} |"
        )


if __name__ == "__main__":
    main()
