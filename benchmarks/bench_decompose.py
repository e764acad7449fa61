"""Truncated SVD of a spectral image: pycrox.analysis.decomposition.decompose vs scikit-learn, dask and numpy.

Spectral image ``size x size x channels`` float32 (default 256 x 256 x 1024 = 256 MiB, the
matrix X is 65536 x 1024) mixing 8 phases plus noise, ``k`` components (default 16). Cases run
interleaved (A B C ... A B C ...); the table gives the median and min-max of the repeats, the
peak memory on top of the input ("+MiB": process peak RSS during the call minus RSS before it),
the ratio to scikit-learn's randomized_svd within this run, and the largest relative error of
the singular values against a float64 ``numpy.linalg.svd`` (top 8 / all k). The full float64
SVD is the reference and runs once.

    .venv/bin/python benchmarks/bench_decompose.py [--size 256] [--channels 1024] [--k 16] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable

import dask.array as dsa
import numpy as np
import scipy.linalg
import sklearn
from _common import measure, reset_peak, rss_mib  # noqa: F401  (run as a script from benchmarks/)
from sklearn.utils.extmath import randomized_svd

import pycrox
from pycrox.analysis.decomposition import decompose

REFERENCE = "sklearn randomized_svd (reference)"


def make_matrix(rows: int, channels: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    energy = np.linspace(0, 1, channels)
    spectra = np.stack([np.exp(-(((energy - c) / 0.05) ** 2)) + 0.3 for c in np.linspace(0.1, 0.9, 8)])
    abundance = rng.random((rows, 8)) * 0.2
    abundance[np.arange(rows), rng.integers(0, 8, rows)] += 1
    noise = rng.standard_normal((rows, channels), dtype=np.float32)
    return (abundance @ spectra).astype(np.float32) + np.float32(0.05) * noise


def gram_eigh(matrix: np.ndarray, k: int) -> np.ndarray:
    values = scipy.linalg.eigh(
        matrix.T @ matrix, subset_by_index=(matrix.shape[1] - k, matrix.shape[1] - 1), eigvals_only=True
    )
    return np.sqrt(np.clip(values[::-1], 0, None))


def build_cases(matrix: np.ndarray, size: int, k: int) -> dict[str, Callable[[], np.ndarray]]:
    da = pycrox.from_array(matrix.reshape(size, -1, matrix.shape[1]), dims=("y", "x", "energy"))
    lazy = da.chunk({"y": 32})
    lazy_matrix = dsa.from_array(matrix, chunks=(8192, -1))

    def pycrox_dask() -> np.ndarray:
        result = decompose(lazy, k)
        result.loadings.compute()
        return result.singular_values.values

    return {
        "pycrox decompose svd (components + loadings)": lambda: decompose(da, k).singular_values.values,
        "pycrox decompose svd, dask 32-row chunks, loadings computed": pycrox_dask,
        REFERENCE: lambda: randomized_svd(matrix, k, random_state=0)[1],
        "dask svd_compressed (default n_power_iter=0)": lambda: dsa.linalg.svd_compressed(
            lazy_matrix, k, seed=0
        )[1].compute(),
        "dask svd_compressed, n_power_iter=2": lambda: dsa.linalg.svd_compressed(
            lazy_matrix, k, n_power_iter=2, seed=0
        )[1].compute(),
        "float32 Gram X^T X + eigh, values only (limit)": lambda: gram_eigh(matrix, k),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=1024)
    parser.add_argument("--k", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    matrix = make_matrix(args.size * args.size, args.channels)
    cases = build_cases(matrix, args.size, args.k)
    times: dict[str, list[float]] = {name: [] for name in cases}
    memory: dict[str, list[float]] = {name: [] for name in cases}
    values: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, case in cases.items():
            seconds, extra, result = measure(case)
            times[name].append(seconds)
            memory[name].append(extra)
            values.setdefault(name, np.asarray(result))
    name = "numpy.linalg.svd float64, all components (exact), once"
    seconds, extra, exact = measure(lambda: np.linalg.svd(matrix.astype(np.float64), compute_uv=False))
    times[name], memory[name], values[name] = [seconds], [extra], exact
    report(args, matrix, times, memory, values, exact[: args.k])


def report(
    args: argparse.Namespace, matrix: np.ndarray, times: dict, memory: dict, values: dict, exact: np.ndarray
) -> None:
    reference = statistics.median(times[REFERENCE])
    print(
        f"SVD to {args.k} components of {matrix.shape[0]} x {matrix.shape[1]} float32 "
        f"({matrix.nbytes / 2**20:.0f} MiB), {args.repeats} interleaved repeats; numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )
    print(
        "| method | median s | min-max | +MiB | x sklearn rSVD | s error top-8 / all |\n|---|---|---|---|---|---|"
    )
    for name, runs in times.items():
        median = statistics.median(runs)
        error = np.abs(values[name][: args.k] - exact) / exact
        print(
            f"| {name} | {median:.3f} | {min(runs):.3f}-{max(runs):.3f} | "
            f"{statistics.median(memory[name]):.0f} | {median / reference:.2f} | "
            f"{error[:8].max():.1e} / {error.max():.1e} |"
        )


if __name__ == "__main__":
    main()
