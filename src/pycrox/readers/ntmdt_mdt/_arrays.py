"""Lazy arrays over MDT data: calibrated blocks, and curves gathered from many places."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["Calibrated", "Gathered", "Segment"]


class Calibrated(BackendArray):
    """A raw block as ``bias + scale * raw`` (float64), rows flipped for images, read whole."""

    def __init__(self, raw: RawArray, bias: float, scale: float, flip_rows: bool) -> None:
        self.raw, self.bias, self.scale, self.flip_rows = raw, bias, scale, flip_rows
        self.shape, self.dtype = raw.shape, np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        block = self.raw._read((slice(None),) * len(self.shape))
        if self.flip_rows:
            block = block[::-1]
        return np.ascontiguousarray((self.bias + self.scale * block.astype(np.float64))[key])


class Segment(NamedTuple):
    """One curve of a gathered array: where it is and how it becomes values."""

    row: int  #: flat index over all dims but the last
    position: int  #: absolute byte offset of its first value
    dtype: str  #: numpy dtype of the stored values
    length: int  #: number of values
    reverse: bool  #: stored last-first relative to the axis
    bias: float
    scale: float


class Gathered(BackendArray):
    """Curves stored in separate places, gathered into one float64 array (NaN where none is stored).

    The last dim is the curve axis; each `Segment` fills one row (the other dims flattened) from
    its start, ``bias + scale * raw``, reversed when the curve was stored against the axis.
    """

    def __init__(self, source: Source, shape: tuple[int, ...], segments: Sequence[Segment]) -> None:
        self.source, self.shape, self.segments = source, tuple(shape), list(segments)
        self.dtype = np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        out = np.full(self.shape, np.nan)
        rows = out.reshape(-1, self.shape[-1])
        with self.source.reading() as fh:
            for seg in self.segments:
                dtype = np.dtype(seg.dtype)
                fh.seek(seg.position)
                raw = fh.read(seg.length * dtype.itemsize)
                if len(raw) < seg.length * dtype.itemsize:
                    raise FormatError(
                        self.source.name,
                        f"file ends inside a curve of {seg.length} values",
                        where=f"offset {seg.position}",
                    )
                values = seg.bias + seg.scale * np.frombuffer(raw, dtype).astype(np.float64)
                rows[seg.row, : seg.length] = values[::-1] if seg.reverse else values
        return out[key]
