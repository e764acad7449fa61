"""Rows of a stacked array in blocks, on threads: how the vectorised kernels bound their working memory.

Imports nothing beyond the standard library, so numpy-only kernels that dask workers unpickle
(`pycrox.analysis.be._kernels`) stay light.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

__all__ = ["blocks", "each_block"]


def blocks(rows: int, size: int) -> list[slice]:
    """Row slices ``[i, i + size)`` covering ``range(rows)`` (the last one shorter)."""
    return [slice(i, min(i + size, rows)) for i in range(0, rows, size)]


def each_block(rows: int, run: Callable[[slice], None], threads: int, size: int) -> None:
    """Call ``run(rows_slice)`` for every block of `size` rows, on a thread pool when `threads` > 1.

    numpy releases the GIL in the kernels' heavy calls, so blocks run in parallel; ``run`` writes
    its block's results into preallocated outputs.
    """
    parts = blocks(rows, size)
    if threads > 1 and len(parts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(run, parts))
    else:
        for part in parts:
            run(part)
