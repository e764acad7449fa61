"""Signals as (pixels x features) matrices, reduced block by block (numpy or dask, out of core).

Decomposition and clustering treat every pixel (all dims but ``dim``) as a row and the values
along ``dim`` as the columns of one matrix. The array is never reshaped as a whole: row
blocks (numpy) or dask chunks are flattened one at a time, reduced to small results (a Gram
matrix, cluster sums) and summed, so dask inputs larger than memory stream through.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import dask
import dask.array
import numpy as np
import xarray as xr

from pycrox import model, units
from pycrox.analysis._dims import core_chunks_ok
from pycrox.errors import UnitError

__all__ = ["Matrix", "derived_attrs", "squared_units"]

#: rows of a numpy block: about 16 MiB of float32 at 1024 features
_BLOCK_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Matrix:
    """A DataArray seen as rows (pixels, the "other" dims) x columns (the `dims` it works on).

    Attributes
    ----------
    source : xarray.DataArray
        The signal transposed to ``(*others, *dims)``; dask-backed ones have whole core dims.
    others, dims : tuple of hashable
        Row dims and column dims.
    """

    source: xr.DataArray
    others: tuple[Hashable, ...]
    dims: tuple[Hashable, ...]

    @classmethod
    def from_dataarray(cls, da: xr.DataArray, dims: Sequence[Hashable], func: str) -> Matrix:
        """Transpose `da` to ``(*others, *dims)`` (lazily) and make the core dims one chunk."""
        if np.iscomplexobj(np.empty(0, da.dtype)):
            raise TypeError(f"{func}: complex data are not supported; use abs(da), da.real or da.imag")
        others = tuple(d for d in da.dims if d not in dims)
        source = core_chunks_ok(da.transpose(*others, *dims), dims, func)
        return cls(source, others, tuple(dims))

    @property
    def n_rows(self) -> int:
        """Number of pixels (product of the other dims' sizes)."""
        return int(np.prod([self.source.sizes[d] for d in self.others], dtype=np.int64))

    @property
    def n_columns(self) -> int:
        """Number of features (product of the core dims' sizes)."""
        return int(np.prod([self.source.sizes[d] for d in self.dims], dtype=np.int64))

    @property
    def is_lazy(self) -> bool:
        """Whether the data are a dask array."""
        return self.source.chunks is not None

    @property
    def work_dtype(self) -> np.dtype:
        """float32 for float16/float32 data, float64 otherwise."""
        return np.dtype(np.float32) if self.source.dtype in (np.float16, np.float32) else np.dtype(np.float64)

    def numpy_rows(self) -> np.ndarray:
        """The whole matrix as a numpy ``(rows, columns)`` array in `work_dtype` (numpy input only)."""
        values = np.asarray(self.source.values)
        return values.reshape(self.n_rows, self.n_columns).astype(self.work_dtype, copy=False)

    def reduce(self, function: Callable[..., np.ndarray], shape: tuple[int, ...], *args: Any) -> np.ndarray:
        """Sum ``function(block_rows, *args)`` (float64 arrays of `shape`) over all row blocks.

        numpy data are cut into row blocks of about 16 MiB; dask data are reduced chunk by
        chunk with a tree sum, so only a few chunks are in memory at once.
        """
        if not self.is_lazy:
            rows = self.numpy_rows()
            total = np.zeros(shape)
            for block in _row_blocks(rows):
                total += function(block, *args)
            return total
        return self._lazy_blocks(function, shape, *args).sum(axis=tuple(range(len(self.others)))).compute()

    def _lazy_blocks(self, function: Callable[..., np.ndarray], shape: tuple[int, ...], *args: Any) -> Any:
        data, n_other = self.source.data, len(self.others)
        columns, dtype = self.n_columns, self.work_dtype

        def per_block(block: np.ndarray) -> np.ndarray:
            rows = block.reshape(-1, columns).astype(dtype, copy=False)
            return function(rows, *args).reshape((1,) * n_other + shape)

        chunks = tuple((1,) * len(c) for c in data.chunks[:n_other]) + tuple((s,) for s in shape)
        return _map_core(data, per_block, n_other, len(self.dims), chunks, np.float64)

    def map_rows(self, function: Callable[..., np.ndarray], width: int, dtype: Any, *args: Any) -> Any:
        """``function(rows, *args) -> (rows, width)`` per pixel block, as ``(*others, width)``.

        numpy in, numpy out (computed now, in row blocks); dask in, dask out (lazy).
        """
        shape = tuple(self.source.sizes[d] for d in self.others)
        if not self.is_lazy:
            rows = self.numpy_rows()
            out = np.concatenate([function(b, *args) for b in _row_blocks(rows)] or [np.empty((0, width))])
            return out.astype(dtype, copy=False).reshape((*shape, width))
        data, n_other = self.source.data, len(self.others)
        columns, work = self.n_columns, self.work_dtype

        def per_block(block: np.ndarray) -> np.ndarray:
            rows = block.reshape(-1, columns).astype(work, copy=False)
            return function(rows, *args).astype(dtype, copy=False).reshape((*block.shape[:n_other], width))

        chunks = (*data.chunks[:n_other], (width,))
        return _map_core(data, per_block, n_other, len(self.dims), chunks, dtype)

    def sample_rows(self, count: int, seed: int) -> np.ndarray:
        """About `count` rows drawn at random without replacement (all rows if fewer), in float64."""
        total = self.n_rows
        if not self.is_lazy:
            rows = self.numpy_rows()
            if count >= total:
                return rows.astype(np.float64)
            pick = np.sort(np.random.default_rng(seed).choice(total, count, replace=False))
            return rows[pick].astype(np.float64)
        blocks = self.source.data.to_delayed().ravel()
        sizes = [int(np.prod(shape[: len(self.others)])) for shape in _block_shapes(self.source.data)]
        share = min(1.0, count / max(total, 1))
        rng = np.random.default_rng(seed)
        picks = [rng.random(size) < share for size in sizes]
        parts = dask.compute(*[_take(b, p, self.n_columns) for b, p in zip(blocks, picks, strict=True)])
        return np.concatenate(parts).astype(np.float64)

    def first_rows(self, count: int) -> np.ndarray:
        """Up to `count` rows from the start of the data (one dask chunk at most), in float64."""
        if not self.is_lazy:
            return self.numpy_rows()[:count].astype(np.float64)
        first = self.source.data.blocks[(0,) * self.source.ndim].compute()
        return first.reshape(-1, self.n_columns)[:count].astype(np.float64)

    def rows_dataarray(self, values: Any, name: str, coord: xr.DataArray) -> xr.DataArray:
        """Wrap ``(*others, k)`` values as a DataArray with the row coords and a new last dim."""
        dim = coord.dims[0]
        coords = {k: v for k, v in self.source.coords.items() if set(v.dims) <= set(self.others)}
        return xr.DataArray(values, dims=(*self.others, dim), coords={**coords, dim: coord}, name=name)

    def columns_dataarray(
        self, values: np.ndarray, name: str, coord: xr.DataArray | None = None
    ) -> xr.DataArray:
        """Wrap ``(k, columns)`` values with a new first dim `coord` (or ``(columns,)`` values without)."""
        core = {k: v for k, v in self.source.coords.items() if set(v.dims) <= set(self.dims)}
        sizes = tuple(self.source.sizes[d] for d in self.dims)
        if coord is None:
            return xr.DataArray(values.reshape(sizes), dims=self.dims, coords=core, name=name)
        dim = coord.dims[0]
        shape = (values.shape[0], *sizes)
        return xr.DataArray(
            values.reshape(shape), dims=(dim, *self.dims), coords={**core, dim: coord}, name=name
        )


def _row_blocks(rows: np.ndarray) -> list[np.ndarray]:
    step = max(1, _BLOCK_BYTES // max(1, rows.shape[1] * rows.itemsize))
    return [rows[i : i + step] for i in range(0, rows.shape[0], step)]


def _map_core(data: Any, per_block: Callable, n_other: int, n_core: int, chunks: tuple, dtype: Any) -> Any:
    """map_blocks that replaces the trailing `n_core` axes by ``len(chunks) - n_other`` new ones."""
    n_new = len(chunks) - n_other
    core_axes = list(range(n_other, n_other + n_core))
    new_axes = list(range(n_other, n_other + n_new))
    if n_core == n_new == 1:
        return data.map_blocks(per_block, chunks=chunks, dtype=dtype)
    return data.map_blocks(per_block, drop_axis=core_axes, new_axis=new_axes, chunks=chunks, dtype=dtype)


def _block_shapes(data: Any) -> list[tuple[int, ...]]:
    grids = np.meshgrid(*[np.arange(len(c)) for c in data.chunks], indexing="ij")
    index = [g.ravel() for g in grids]
    return [tuple(data.chunks[a][index[a][i]] for a in range(data.ndim)) for i in range(index[0].size)]


@dask.delayed(pure=True)
def _take(block: np.ndarray, pick: np.ndarray, columns: int) -> np.ndarray:
    return block.reshape(-1, columns)[pick]


def derived_attrs(da: xr.DataArray, result: xr.DataArray, *, title: str, units: str, quantity: str) -> dict:
    """Model attrs for a result computed from `da`: its metadata, new title/units/quantity/data_type."""
    dim_types = [
        str(result.coords[d].attrs.get("dimension_type", "UNKNOWN")) if d in result.coords else "UNKNOWN"
        for d in result.dims
    ]
    base = {key: da.attrs.get(key, default) for key, default in model.ARRAY_ATTRS.items()}
    return {
        **base,
        "title": title,
        "units": units,
        "quantity": quantity,
        "data_type": model.guess_data_type(dim_types),
    }


def squared_units(text: str, quantity: str = "") -> str:
    """``"counts"`` -> ``"count²"``-like spelling of the square of a unit (``""`` if unknown)."""
    if not text:
        return ""
    try:
        return units.format(units.parse(text, quantity) ** 2)
    except UnitError:
        return ""


def index_coordinate(name: str, size: int, quantity: str) -> xr.DataArray:
    """``0 .. size-1`` coordinate of a result dim such as ``component`` or ``cluster``."""
    return model.coordinate(name, np.arange(size), quantity=quantity, dimension_type="CHANNEL")
