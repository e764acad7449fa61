"""The numpy block kernels that dask tasks run for the SHO guess and fit, importing numpy only.

A dask worker unpickling a task imports the module of its function. These kernels live apart
from `pycrox.analysis.be.sho` (which needs xarray and pint to check inputs and label results)
so that a worker running them imports `pycrox` (light: its heavy parts load on first use), this
module, `pycrox.analysis.be._sho` and `pycrox.analysis._lm`: numpy, nothing else. That keeps
the worker's memory for the data (see ``benchmarks/bench_be.py --big``: 200 MB workers).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from pycrox.analysis import _blocks
from pycrox.analysis.be import _sho
from pycrox.errors import FitWarning

__all__ = [
    "BLOCK_PIXELS",
    "GUESSES",
    "WORKER_PRELOAD",
    "blocks",
    "each_block",
    "sho_fit_kernel",
    "sho_guess_kernel",
    "warn_unconverged",
]

#: pixels fitted together in one numpy call (bounds the working memory of a dask task:
#: about 28 kB per pixel for the SHO fit, so ~15 MB at 512, as fast as larger blocks)
BLOCK_PIXELS = 512

GUESSES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "complex_gaussian": _sho.guess_complex_gaussian,
    "direct": _sho.guess_direct,
}


def blocks(rows: int, size: int = BLOCK_PIXELS) -> list[slice]:
    """Row slices of at most `size` (default `BLOCK_PIXELS`)."""
    return _blocks.blocks(rows, size)


def each_block(rows: int, run: Callable[[slice], None], threads: int, size: int = BLOCK_PIXELS) -> None:
    """Call ``run(rows_slice)`` for every block, on a thread pool when `threads` > 1 (numpy releases the GIL)."""
    _blocks.each_block(rows, run, threads, size)


def warn_unconverged(func: str, failed: int, total: int, advice: str) -> None:
    """One `FitWarning` summarising the pixels that gave NaN (nothing when none did)."""
    if failed:
        warnings.warn(
            f"{func}: {failed} of {total} pixels gave no result (NaN input, or the fit did not converge); "
            f"their parameters are NaN and converged is False. {advice}",
            FitWarning,
            stacklevel=3,
        )


def sho_guess_kernel(values: np.ndarray, *, freq: np.ndarray, method: str) -> np.ndarray:
    """`sho_guess` on a block ``(..., n)`` complex: ``(..., 5)`` (4 parameters and r2); NaN rows give NaN."""
    shape, n = values.shape[:-1], values.shape[-1]
    z = values.reshape(-1, n)
    out = np.full((z.shape[0], 5), np.nan)
    for rows in blocks(z.shape[0]):
        block = z[rows].astype(np.complex128)
        finite = np.isfinite(block).all(axis=1)
        if not finite.any():
            continue
        params = GUESSES[method](freq, block[finite])
        with np.errstate(all="ignore"):
            model = _sho.response(freq, *(params[:, j : j + 1] for j in range(4)))
            residual = np.abs(block[finite] - model) ** 2
            total = np.abs(block[finite] - block[finite].mean(axis=1, keepdims=True)) ** 2
            r2 = 1 - residual.sum(axis=1) / total.sum(axis=1)
        out[np.flatnonzero(finite) + rows.start] = np.column_stack([params, r2])
    return out.reshape(*shape, 5)


def sho_fit_kernel(
    values: np.ndarray,
    start: np.ndarray | None = None,
    *,
    freq: np.ndarray,
    method: str | None,
    max_iter: int,
    threads: int = 1,
    block_pixels: int = BLOCK_PIXELS,
) -> np.ndarray:
    """`sho_fit` on a block ``(..., n)`` complex: ``(..., _sho.WIDTH)``, one `FitWarning` for failures.

    Rows are converted to complex128 `block_pixels` at a time, so the working memory stays
    bounded whatever the size of `values`.
    """
    shape, n = values.shape[:-1], values.shape[-1]
    z = values.reshape(-1, n)
    starts = None if start is None else np.broadcast_to(start, (*shape, 4)).reshape(-1, 4)
    out = np.empty((z.shape[0], _sho.WIDTH))

    def run(rows: slice) -> None:
        block = z[rows].astype(np.complex128)
        if starts is None:
            p0 = np.full((block.shape[0], 4), np.nan)
            finite = np.isfinite(block).all(axis=1)
            if finite.any():
                p0[finite] = GUESSES[str(method)](freq, block[finite])
        else:
            p0 = np.asarray(starts[rows], np.float64)
        out[rows] = _sho.fit_block(freq, block, p0, max_iter)

    each_block(z.shape[0], run, threads, block_pixels)
    failed = int(np.count_nonzero(out[:, -1] == 0))
    warn_unconverged(
        "sho_fit", failed, z.shape[0], "Check the frequency band covers the resonance, or pass guess='direct'"
    )
    return out.reshape(*shape, _sho.WIDTH)


#: text of a dask worker preload (``LocalCluster(..., preload=[WORKER_PRELOAD])`` or
#: ``dask worker --preload``) for workers with little memory: it keeps out the optional array
#: libraries that dask.array (``sparse``, which loads numba and llvmlite) and pandas
#: (``pyarrow``) import eagerly when installed; the SHO kernels need neither. About 90 MiB
#: less per worker in an environment that has them.
WORKER_PRELOAD = """
import sys

for name in ("sparse", "numba", "pyarrow"):
    sys.modules.setdefault(name, None)
"""
