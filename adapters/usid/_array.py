"""The N-D view of a 2-D USID main dataset, read on demand.

`NDimArray` maps outer indexing of the N-D form (position dims, then spectroscopic dims, each
group in file label order) to one hyperslab (or one row list) of the 2-D HDF5 dataset, then
reshapes and transposes the block in memory. A full read is one ``read_direct`` into a fresh
array, reshaped and transposed as views: no copy beyond the read itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import h5py
import numpy as np
from xarray.backends import BackendArray
from xarray.backends.locks import HDF5_LOCK
from xarray.core import indexing

from pycrox.errors import FormatError

__all__ = ["Geometry", "NDimArray", "missing_dtype"]

#: read a bounding block rather than a row list when it is at most this many times larger
_BLOCK_SLACK = 4


@dataclass(frozen=True)
class Geometry:
    """How the N-D form sits in the 2-D dataset.

    Attributes
    ----------
    position_sizes, spectroscopic_sizes : tuple of int
        Sizes in file label order.
    position_order, spectroscopic_order : tuple of int
        Label numbers ordered slowest -> fastest.
    valid_rows : numpy.ndarray of bool or None
        Which grid rows hold data (None: all of them, and the dataset has exactly that many rows).
    """

    position_sizes: tuple[int, ...]
    spectroscopic_sizes: tuple[int, ...]
    position_order: tuple[int, ...]
    spectroscopic_order: tuple[int, ...]
    valid_rows: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the N-D form."""
        return self.position_sizes + self.spectroscopic_sizes

    @property
    def permutation(self) -> tuple[int, ...]:
        """Axes of the C-order reshape that give the N-D form (file label order)."""
        n_pos = len(self.position_sizes)
        pos = [self.position_order.index(k) for k in range(n_pos)]
        spec = [n_pos + self.spectroscopic_order.index(k) for k in range(len(self.spectroscopic_sizes))]
        return tuple(pos + spec)


def missing_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype that can hold NaN for missing positions (floats and complex stay as they are)."""
    return dtype if dtype.kind in "fc" else np.result_type(dtype, np.float32)


class NDimArray(BackendArray):
    """The N-D form of a 2-D USID main dataset (or of one field of a compound one), lazily.

    Parameters
    ----------
    manager : xarray file manager
        From `pycrox._hdf5.open_file_manager`.
    dset : h5py.Dataset
        The open main dataset (read under ``HDF5_LOCK`` by the caller); only its path is kept.
    geometry : Geometry
        Sizes and orders from the ancillary datasets.
    source_name : str
        File name for error messages.
    field : str, optional
        Field of a compound dataset.
    """

    def __init__(
        self, manager: Any, dset: h5py.Dataset, geometry: Geometry, source_name: str, field: str | None = None
    ) -> None:
        # the caller holds HDF5_LOCK while it hands over the open dataset
        self._manager, self._h5path, self._geometry = manager, dset.name, geometry
        self._source_name, self._field = source_name, field
        self._rows = int(dset.shape[0])
        self._stored_dtype = np.dtype(dset.dtype if field is None else dset.dtype[field])
        self.dtype = (
            missing_dtype(self._stored_dtype) if geometry.valid_rows is not None else self._stored_dtype
        )
        self.shape = geometry.shape

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        geo = self._geometry
        n_pos = len(geo.position_sizes)
        picks = [_as_indices(k, size) for k, size in zip(key, self.shape, strict=True)]
        pos_picks = [picks[a] for a in geo.position_order]
        spec_picks = [picks[n_pos + a] for a in geo.spectroscopic_order]
        if all(isinstance(k, slice) and k == slice(None) for k in key):
            block = self._read_all()
        else:
            rows = _flat_index(pos_picks, [geo.position_sizes[a] for a in geo.position_order])
            cols = _flat_index(spec_picks, [geo.spectroscopic_sizes[a] for a in geo.spectroscopic_order])
            block = self._read_block(rows, cols)
        shaped = block.reshape([p.size for p in pos_picks] + [p.size for p in spec_picks])
        nd = shaped.transpose(geo.permutation)
        drop = tuple(0 if isinstance(k, int | np.integer) else slice(None) for k in key)
        return nd[drop] if any(isinstance(k, int | np.integer) for k in key) else nd

    def _dataset(self) -> h5py.Dataset:
        dset = self._manager.acquire()[self._h5path]
        return dset if self._field is None else dset.fields(self._field)

    def _read_all(self) -> np.ndarray:
        n_cols = int(np.prod(self._geometry.spectroscopic_sizes, dtype=np.int64))
        try:
            with HDF5_LOCK:
                if self._geometry.valid_rows is None:
                    out = np.empty((self._rows, n_cols), dtype=self._stored_dtype)
                    if out.size:
                        if self._field is None:
                            self._manager.acquire()[self._h5path].read_direct(out)
                        else:
                            out[...] = self._dataset()[...]
                    return out
                return self._fill(np.arange(self._geometry.valid_rows.size), slice(None), n_cols)
        except OSError as exc:
            raise FormatError(
                self._source_name, f"cannot read the main dataset ({exc})", where=self._h5path
            ) from exc

    def _read_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        try:
            with HDF5_LOCK:
                if self._geometry.valid_rows is not None:
                    return self._fill(rows, cols, cols.size)
                return self._select(rows, cols)
        except OSError as exc:
            raise FormatError(
                self._source_name, f"cannot read the main dataset ({exc})", where=self._h5path
            ) from exc

    def _fill(self, rows: np.ndarray, cols: Any, n_cols: int) -> np.ndarray:
        """Rows of the full grid, NaN where a position is missing (caller holds the lock)."""
        out = np.full((rows.size, n_cols), np.nan, dtype=self.dtype)
        valid_rows = self._geometry.valid_rows
        valid = (valid_rows[rows] if valid_rows is not None else np.ones(rows.size, bool)) & (
            rows < self._rows
        )
        if valid.any():
            cols_array = np.arange(n_cols) if isinstance(cols, slice) else cols
            out[valid] = self._select(rows[valid], cols_array)
        return out

    def _select(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """``data[rows][:, cols]`` for increasing index arrays (caller holds the lock)."""
        if rows.size == 0 or cols.size == 0:
            return np.empty((rows.size, cols.size), dtype=self._stored_dtype)
        dset = self._dataset()
        r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
        if (r1 - r0) <= _BLOCK_SLACK * rows.size:
            block = dset[r0:r1, c0:c1]
            row_pick = None if r1 - r0 == rows.size else rows - r0
        else:
            block = dset[rows.tolist(), c0:c1]
            row_pick = None
        if row_pick is not None:
            block = block[row_pick]
        return block if c1 - c0 == cols.size else block[:, cols - c0]


def _as_indices(key: Any, size: int) -> np.ndarray:
    if isinstance(key, slice):
        return np.arange(size)[key]
    return np.atleast_1d(np.asarray(key, dtype=np.int64))


def _flat_index(picks: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Row (column) numbers of the outer product of per-dim picks, dims slowest -> fastest."""
    if not picks:
        return np.zeros(1, dtype=np.int64)
    if any(p.size == 0 for p in picks):
        return np.zeros(0, dtype=np.int64)
    return np.ravel_multi_index(np.ix_(*picks), sizes).reshape(-1)
