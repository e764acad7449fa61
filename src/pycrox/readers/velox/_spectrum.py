"""Velox EDS spectrum streams decoded into spectrum-image cubes, on demand.

A stream (``/Data/SpectrumStream/<uuid>/Data``, ``(n, 1)`` uint16) lists the X-rays of a raster
scan in acquisition order: a value below 65535 is the energy channel of one count in the current
pixel, 65535 moves on to the next pixel (row after row, then frame after frame). Each detector
writes its own stream. `StreamCube` is an xarray `BackendArray` whose values are the counts of
every stream summed over detectors and frames, ``(y, x, energy)``.

Nothing is decoded when the cube is built. Each read decodes the streams again, block by block
(`BLOCK` values at a time), and accumulates only the requested pixels and channels, so memory
stays at the size of the result; reading the cube in many small pieces therefore re-reads the
streams each time (load it once, or in large pieces).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.backends.locks import HDF5_LOCK
from xarray.core import indexing

from pycrox.errors import FormatError

__all__ = ["MARKER", "StreamCube", "cube_dtype", "decode_block"]

#: stream value that moves on to the next pixel
MARKER = 65535
#: stream values decoded at once (2 MiB of uint16; about 100 MiB of temporaries)
BLOCK = 1 << 20


def cube_dtype(encoding: str, stream_lengths: Sequence[int]) -> np.dtype:
    """The dtype of a summed cube: the stream encoding when no voxel can overflow it, else wider.

    A voxel holds at most as many counts as all streams have values, so the stored encoding
    (``uint16`` in every known file) is kept when the streams are shorter than its maximum, and
    ``uint32`` (or ``uint64``) is used otherwise.
    """
    try:
        dtype = np.dtype(encoding)
    except TypeError:
        dtype = np.dtype(np.uint16)
    if dtype.kind != "u":
        dtype = np.dtype(np.uint16)
    bound = int(sum(stream_lengths))
    for candidate in (dtype, np.dtype(np.uint32), np.dtype(np.uint64)):
        if candidate.itemsize >= dtype.itemsize and bound <= np.iinfo(candidate).max:
            return candidate
    return np.dtype(np.uint64)


def decode_block(values: np.ndarray, pixels_before: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Pixel index and channel of every count in one block of a stream.

    Parameters
    ----------
    values : numpy.ndarray
        Consecutive stream values.
    pixels_before : int
        Markers seen before this block (the pixel index at its start).

    Returns
    -------
    (pixels, channels, markers)
        Global pixel index (``frame * ny * nx + y * nx + x``) and channel of each count, and the
        number of markers in the block.
    """
    is_marker = values == MARKER
    pixel = np.cumsum(is_marker, dtype=np.int64)
    pixel += pixels_before
    counts = ~is_marker
    return pixel[counts], values[counts].astype(np.int64), int(pixel.size and pixel[-1] - pixels_before)


class StreamCube(BackendArray):
    """Counts of one or more spectrum streams summed over frames, as a ``(y, x, energy)`` array.

    Parameters
    ----------
    manager : xarray file manager
        From `pycrox._hdf5.open_file_manager`.
    stream_paths : sequence of str
        HDF5 paths of the streams' ``Data`` datasets (one per detector).
    shape : (ny, nx, channels)
        Scan size and number of energy channels.
    dtype : numpy dtype
        Unsigned integer type of the result (see `cube_dtype`).
    frames : int, optional
        Count only the first `frames` frames (all when None).
    source : str
        File name for messages.
    """

    def __init__(
        self,
        manager: Any,
        stream_paths: Sequence[str],
        shape: tuple[int, int, int],
        dtype: Any,
        frames: int | None,
        source: str,
    ) -> None:
        self._manager, self._paths = manager, tuple(stream_paths)
        self.shape, self.dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        self._frames, self._source = frames, source

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        try:
            return self._decode(key)
        except (OSError, RuntimeError, KeyError) as exc:  # h5py on a damaged stream
            raise FormatError(
                self._source, f"cannot read the spectrum stream ({exc})", where=self._paths[0]
            ) from exc

    def _decode(self, key: tuple) -> np.ndarray:
        picks = [np.arange(n)[k] for k, n in zip(key, self.shape, strict=True)]
        scalar_axes = tuple(i for i, p in enumerate(picks) if np.ndim(p) == 0)
        uniques, inverses = zip(
            *(np.unique(np.atleast_1d(p), return_inverse=True) for p in picks), strict=True
        )
        out = np.zeros(tuple(u.size for u in uniques), dtype=self.dtype)
        if out.size:
            lookups = [_lookup(u, n) for u, n in zip(uniques, self.shape, strict=True)]
            for path in self._paths:
                self._accumulate(path, lookups, out)
        if any(
            inv.size != u.size or np.any(inv != np.arange(u.size))
            for u, inv in zip(uniques, inverses, strict=True)
        ):
            out = out[np.ix_(*inverses)]
        return out.squeeze(axis=scalar_axes) if scalar_axes else out

    def _accumulate(self, path: str, lookups: list[np.ndarray], out: np.ndarray) -> None:
        ny, nx, channels = self.shape
        frame_size = ny * nx
        limit = self._frames * frame_size if self._frames else None
        seen = 0
        for start, values in self._blocks(path):
            pixels, chans, markers = decode_block(values, seen)
            seen += markers
            if chans.size and int(chans.max()) >= channels:
                bad = int(chans.max())
                raise FormatError(
                    self._source,
                    f"stream value {bad} is neither a channel below {channels} nor the pixel marker {MARKER}",
                    where=f"{path}[{start}:]",
                )
            if limit is not None:
                keep = pixels < limit
                pixels, chans = pixels[keep], chans[keep]
            within = pixels % frame_size
            iy, ix, ie = lookups[0][within // nx], lookups[1][within % nx], lookups[2][chans]
            valid = (iy >= 0) & (ix >= 0) & (ie >= 0)
            flat = (iy[valid] * out.shape[1] + ix[valid]) * out.shape[2] + ie[valid]
            where, counts = np.unique(flat, return_counts=True)
            out.reshape(-1)[where] += counts.astype(self.dtype)
            if limit is not None and seen >= limit:
                break

    def _blocks(self, path: str) -> Any:
        with HDF5_LOCK:
            length = self._manager.acquire()[path].shape[0]
        for start in range(0, length, BLOCK):
            with HDF5_LOCK:
                dset = self._manager.acquire()[path]
                block = dset[start : start + BLOCK, 0] if dset.ndim == 2 else dset[start : start + BLOCK]
            yield start, np.asarray(block)


def _lookup(selected: np.ndarray, size: int) -> np.ndarray:
    """``table[i]`` is the output position of index `i`, or -1 when `i` is not selected."""
    table = np.full(size, -1, dtype=np.int64)
    table[selected] = np.arange(selected.size)
    return table
