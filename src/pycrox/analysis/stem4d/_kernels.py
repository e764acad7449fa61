"""numpy kernels of the 4-D STEM functions: detector contractions as matrix products, slab by slab.

The products run with one BLAS thread: dask runs one kernel per chunk on each of its threads
already, and OpenBLAS threads on top of them slow a (2 x 8 MiB) product down up to 50 times on a
busy machine. The limit is counted over concurrent kernels and lifted when the last one ends.

A single weight column (a virtual detector) is one matrix-vector product, which streams. Several
columns (the centre of mass: ``[1, k_row, k_col]``) go over slabs of patterns that fit a core's
L2 cache, one matrix-vector product per column and slab, so the data are read from memory once.

`over_detector` maps a kernel over dask blocks without the copy ``apply_ufunc(dask="parallelized")``
makes of every block (its gufunc path concatenates the blocks along the core dims even when
there is only one, an extra pass over the data that cost as much as reading it from HDF5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import dask
import dask.array
import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["com_kernel", "contract", "over_detector", "work_dtype"]

#: bytes of data per slab of a multi-column product or a dtype conversion (about a core's L2 cache)
_SLAB_BYTES = 512 << 10
#: bytes of result chunks merged after the kernel (results are small: one number per pattern and output)
_RESULT_BYTES = 8 << 20


class _OneBlasThread:
    """Context: BLAS uses one thread while any kernel runs; the original limits come back after the last."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._limiter: Any = None
        self._controller: ThreadpoolController | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                self._controller = self._controller or ThreadpoolController()
                self._limiter = self._controller.limit(limits=1, user_api="blas")
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0 and self._limiter is not None:
                self._limiter.restore_original_limits()
                self._limiter = None


_ONE_BLAS_THREAD = _OneBlasThread()


def work_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for float16/float32 data, else float64 (integer counts are summed exactly)."""
    return np.dtype(np.float32) if np.dtype(dtype) in (np.float16, np.float32) else np.dtype(np.float64)


def contract(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``values[..., r, c]`` times ``weights[r * c]`` or ``weights[r * c, m]`` summed over the detector.

    Parameters
    ----------
    values : numpy.ndarray
        Patterns on the last two axes.
    weights : numpy.ndarray
        1-D (one weight per detector pixel, row-major) or 2-D (one column per result).

    Returns
    -------
    numpy.ndarray
        ``values.shape[:-2]`` (1-D weights) or ``values.shape[:-2] + (m,)``, of the weights' dtype.

    Notes
    -----
    Only matrix-vector products: 1-D weights on data of their dtype are one product over the
    whole block (it streams). Otherwise the block goes by slabs of about `_SLAB_BYTES`, each
    converted into one reused buffer when the dtypes differ, with one product per weight column
    while the slab is in cache. A matrix-matrix product (``slab @ weights``) would be shorter but
    OpenBLAS's single-threaded sgemm of these shapes takes 10 times longer in a dask worker
    process (whose ``MALLOC_TRIM_THRESHOLD_`` makes every call page its buffers in anew).
    """
    lead = values.shape[:-2]
    flat = values.reshape(-1, weights.shape[0])
    with _ONE_BLAS_THREAD:
        if flat.dtype == weights.dtype and weights.ndim == 1:
            return (flat @ weights).reshape(lead)
        columns = weights.reshape(weights.shape[0], -1).T.copy()  # (m, pixels), each row contiguous
        out = np.empty((columns.shape[0], flat.shape[0]), dtype=weights.dtype)
        itemsize = max(flat.dtype.itemsize, weights.dtype.itemsize)
        rows = max(1, min(flat.shape[0], _SLAB_BYTES // max(1, weights.shape[0] * itemsize)))
        convert = (
            np.empty((rows, weights.shape[0]), dtype=weights.dtype) if flat.dtype != weights.dtype else None
        )
        for start in range(0, flat.shape[0], rows):
            slab = flat[start : start + rows]
            if convert is not None:
                slab = convert[: len(slab)]
                np.copyto(slab, flat[start : start + rows], casting="unsafe")
            for index, column in enumerate(columns):
                np.matmul(slab, column, out=out[index, start : start + rows])
    return out.T.reshape(*lead, *weights.shape[1:])


def com_kernel(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Centre of mass ``(..., 2)`` = (row, column) moments over the total, NaN where the total is 0."""
    moments = contract(values, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return moments[..., 1:] / moments[..., :1]


def over_detector(
    values: Any,
    *,
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray],
    weights: np.ndarray,
    size: int | None = None,
    squeeze: bool = True,
) -> Any:
    """``kernel(values, weights)`` on numpy data, or block by block on dask data (an `apply_ufunc` body).

    Parameters
    ----------
    values : numpy.ndarray or dask.array.Array
        Patterns on the last two axes (the detector; made one dask chunk here if split).
    kernel : callable
        ``kernel(block, weights)``: ``(..., r, c)`` to ``(...)`` when `size` is None, else to
        ``(..., size)``; its output dtype is the weights' dtype.
    weights : numpy.ndarray
        Passed to `kernel`; on dask a single graph key (sent once to each worker, not per task).
    size : int, optional
        Length of the kernel's output axis, None for a scalar per pattern.
    squeeze : bool, optional
        False: keep the result as ``(..., 1, size or 1)``, in place of the detector axes, for the
        caller to index in one step with whatever else it selects.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        ``values.shape[:-2]`` (+ ``(size,)``), or ``values.shape[:-2] + (1, size or 1)`` when not
        `squeeze`; lazy when `values` is.

    Notes
    -----
    On dask the kernel is a `dask.array.map_blocks` that keeps the detector axes (as lengths 1
    and ``size``), so dask fuses it with the task that reads the block: one task per chunk, and
    the block is never copied. Dropping the axes inside the mapped layer (``map_blocks(drop_axis=)``,
    ``blockwise`` or ``apply_ufunc(dask="parallelized")``) makes dask concatenate every block with
    itself (a copy of all the data) or run the kernel as a second task per chunk. Indexing the
    small result afterwards costs one tiny task per chunk (so callers index once, see `squeeze`).
    """
    width = 1 if size is None else size
    if not isinstance(values, dask.array.Array):
        out = kernel(values, weights)
        return out if squeeze else out.reshape(*values.shape[:-2], 1, width)
    if any(len(c) > 1 for c in values.chunks[-2:]):
        values = values.rechunk({values.ndim - 2: -1, values.ndim - 1: -1})
    blocks = values.map_blocks(
        _keeping_axes,
        kernel=kernel,
        weights=dask.delayed(weights),
        width=width,
        chunks=(*values.chunks[:-2], (1,), (width,)),
        meta=np.empty((0,) * values.ndim, dtype=weights.dtype),
    )
    blocks = blocks.rechunk({0: _merged(blocks.chunks[0], blocks.nbytes // max(1, blocks.shape[0]))})
    if not squeeze:
        return blocks
    return blocks[..., 0, 0] if size is None else blocks[..., 0, :]


def _merged(sizes: tuple[int, ...], row_bytes: int) -> tuple[int, ...]:
    """Chunks along the first axis that merge neighbours up to `_RESULT_BYTES` of the (small) results.

    Every result chunk costs scheduler time for each step after the kernel (indexing, gathering),
    as much as a kernel on a 2-core machine; merged chunks make those steps a handful of tasks.
    """
    merged: list[int] = []
    for size in sizes:
        if merged and (merged[-1] + size) * row_bytes <= _RESULT_BYTES:
            merged[-1] += size
        else:
            merged.append(size)
    return tuple(merged)


def _keeping_axes(
    block: np.ndarray,
    *,
    kernel: Callable[[np.ndarray, np.ndarray], np.ndarray],
    weights: np.ndarray,
    width: int,
) -> np.ndarray:
    """`kernel` on one block, its result shaped ``(..., 1, width)`` in place of the detector axes."""
    return kernel(block, weights).reshape(*block.shape[:-2], 1, width)
