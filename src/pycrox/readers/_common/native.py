"""Raw binary blocks as the user wants them: native byte order, optionally scaled.

`NativeArray` wraps a `pycrox._binary.RawArray` (a block of the file read on demand) and hands
out its values in native byte order (big-endian Igor, Nanonis and Mac files stay lazy but come
out like any other array, so every store can write them), optionally scaled to physical units
(``raw * scale + offset`` in float64, the calibration of SPM count data).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import RawArray

__all__ = ["NativeArray", "lazy_native"]


class NativeArray(BackendArray):
    """A `RawArray` read in native byte order, scaled when asked.

    Parameters
    ----------
    raw : RawArray
        The block in the file.
    scale, offset : float, optional
        When `scale` is given the values are ``raw * scale + offset`` in float64.
    """

    def __init__(self, raw: RawArray, *, scale: float | None = None, offset: float = 0.0) -> None:
        self.raw = raw
        self.scale, self.offset = scale, float(offset)
        self.shape = raw.shape
        self.dtype = np.dtype(np.float64) if scale is not None else raw.dtype.newbyteorder("=")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        values = self.raw._read(key)
        if self.scale is not None:
            return values.astype(np.float64) * self.scale + self.offset
        return values.astype(self.dtype, copy=False)


def lazy_native(raw: RawArray, **kwargs: Any) -> indexing.LazilyIndexedArray:
    """Data for an `xarray.Variable`: a lazily indexed `NativeArray` over `raw`."""
    return indexing.LazilyIndexedArray(NativeArray(raw, **kwargs))
