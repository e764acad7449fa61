"""numpy kernels of the 4-D STEM functions: detector contractions as matrix products, row slab by slab.

The products run with one BLAS thread: dask runs one kernel per chunk on each of its threads
already, and OpenBLAS threads on top of them slow a (2 x 8 MiB) product down up to 50 times on a
busy machine. The limit is counted over concurrent kernels and lifted when the last one ends.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = ["com_kernel", "contract", "work_dtype"]

#: bytes of a converted slab when the data's dtype differs from the weights' (bounds the extra memory)
_SLAB_BYTES = 32 << 20


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
    """``values[..., r, c]`` times ``weights[r * c, m]`` summed over the detector: ``(..., m)``.

    A reshape to ``(scan, detector)`` and one BLAS matrix product per slab; data of another
    dtype than `weights` are converted a slab of at most ~32 MiB at a time.
    """
    lead = values.shape[:-2]
    flat = values.reshape(-1, weights.shape[0])
    with _ONE_BLAS_THREAD:
        if flat.dtype == weights.dtype:
            out = flat @ weights
        else:
            out = np.empty((flat.shape[0], *weights.shape[1:]), dtype=weights.dtype)
            rows = max(1, _SLAB_BYTES // max(1, weights.shape[0] * weights.dtype.itemsize))
            for start in range(0, flat.shape[0], rows):
                out[start : start + rows] = flat[start : start + rows].astype(weights.dtype) @ weights
    return out.reshape(*lead, *weights.shape[1:])


def com_kernel(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Centre of mass ``(..., 2)`` = (row, column) moments over the total, NaN where the total is 0."""
    moments = contract(values, weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        return moments[..., 1:] / moments[..., :1]
