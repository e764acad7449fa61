"""A series of equal records (frames, spectra) seen on its scan grid, read on demand.

TIA series and Merlin frames are stored as a flat sequence of records with a header before
each; a scan map is that sequence in C order over ``(y, x)``. `GridArray` presents the flat
records as ``(*grid, *record shape)`` without copying: a selection becomes runs of consecutive
records, each read in one request by the flat backend array.
"""

from __future__ import annotations

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import LazyArray

__all__ = ["GridArray"]


class GridArray(BackendArray):
    """Elements of a flat series laid out on the series grid (a scan map, say), read on demand.

    Parameters
    ----------
    flat : LazyArray
        The valid elements, shape ``(valid, *element shape)``.
    grid : tuple of int
        Series shape in C order (slowest first); its size may exceed ``valid`` when the
        acquisition stopped early: the missing elements read as 0 (NaN for floats).
    """

    def __init__(self, flat: LazyArray, grid: tuple[int, ...]) -> None:
        self.flat, self.grid = flat, tuple(grid)
        self.dtype = flat.dtype
        self.shape = (*self.grid, *flat.shape[1:])
        self._fill = np.nan if self.dtype.kind in "fc" else 0

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        n = len(self.grid)
        picks = [np.arange(size)[k] for size, k in zip(self.grid, key[:n], strict=True)]
        mesh = np.meshgrid(*[np.atleast_1d(p) for p in picks], indexing="ij")
        flat_index = np.ravel_multi_index(mesh, self.grid).reshape(-1)
        elements = self._read_flat(flat_index, tuple(key[n:]))
        out = elements.reshape(*mesh[0].shape, *elements.shape[1:]) if mesh else elements
        dropped = tuple(i for i, p in enumerate(picks) if np.ndim(p) == 0)
        return out.squeeze(axis=dropped) if dropped else out

    def _read_flat(self, index: np.ndarray, element_key: tuple) -> np.ndarray:
        valid = self.flat.shape[0]
        probe = np.empty(self.flat.shape[1:], dtype=bool)[element_key]
        if not len(index):
            return np.empty((0, *probe.shape), self.dtype)
        start, stop = int(index[0]), int(index[-1]) + 1
        if stop <= valid and stop - start == len(index) and np.all(np.diff(index) == 1):
            return self.flat[indexing.BasicIndexer((slice(start, stop), *element_key))]  # one run: no copy
        out = np.empty((len(index), *probe.shape), self.dtype)
        breaks = np.flatnonzero(np.diff(index) != 1) + 1
        for run in np.split(np.arange(len(index)), breaks):
            if not len(run):
                continue
            start, stop = int(index[run[0]]), int(index[run[-1]]) + 1
            have = max(0, min(stop, valid) - start)
            if have:
                block = self.flat[indexing.BasicIndexer((slice(start, start + have), *element_key))]
                out[run[0] : run[0] + have] = block
            out[run[0] + have : run[-1] + 1] = self._fill
        return out
