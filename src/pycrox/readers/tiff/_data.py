"""Lazy pixel data of a TIFF page series.

Uncompressed pages stored as one block, or as equally spaced blocks (one per page), are read
through `pycrox._binary.lazy_raw` (only the bytes a slice needs). Anything else (compressed,
tiled, planar, bit-packed pages) is decoded page by page on access by `TiffPagesArray`, with
tifffile; pages whose codec needs the optional ``imagecodecs`` package fall back to Pillow
when it is installed.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import numpy as np
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox._binary import LockedArray, RawArray, check_extent
from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["TiffPagesArray", "series_data"]

#: deflate's best case is about 1032:1; a decoded page larger than this times its stored bytes is a lie
_MAX_COMPRESSION_RATIO = 1100


def series_data(source: Source, tif: Any, series_index: int) -> Any:
    """Data of ``tif.series[series_index]`` for an `xarray.Variable`, lazily indexed, native byte order.

    Raises
    ------
    FormatError
        When the pages claim bytes beyond the end of the file or an impossible decoded size.
    """
    series = tif.series[series_index]
    keyframe = series.keyframe
    dtype = np.dtype(series.dtype).newbyteorder(tif.byteorder)
    if getattr(series, "dataoffset", None) is not None and _is_raw(keyframe, dtype):
        # tifffile found the whole series in one block (ImageJ hyperstacks may store one IFD only)
        raw = RawArray(source, int(series.dataoffset), dtype, tuple(int(n) for n in series.shape))
        return indexing.LazilyIndexedArray(_native(raw))
    pages = [p for p in series.pages if p is not None]
    page_shape = tuple(keyframe.shape)
    lead = _lead_shape(source, tuple(series.shape), page_shape, len(pages))
    _check_pages(source, pages, keyframe)
    blocks = [_page_block(p, keyframe, dtype) for p in pages] if _is_raw(keyframe, dtype) else [None]
    if blocks and all(b is not None for b in blocks):
        stacked = _raw_array(source, blocks, dtype, lead, page_shape)
        if stacked is not None:
            return indexing.LazilyIndexedArray(_native(stacked))
    array = TiffPagesArray(source, series_index, lead, page_shape, dtype.newbyteorder("="))
    return indexing.LazilyIndexedArray(array)


def _lead_shape(source: Source, shape: tuple, page_shape: tuple, npages: int) -> tuple[int, ...]:
    n = len(shape) - len(page_shape)
    lead = shape[:n] if n >= 0 and shape[n:] == page_shape else None
    if lead is None or math.prod(lead) != npages:
        raise FormatError(
            source.name,
            f"a page series of shape {shape} does not hold {npages} pages of shape {page_shape}",
            where="IFD chain",
        )
    return tuple(int(n) for n in lead)


def _check_pages(source: Source, pages: list, keyframe: Any) -> None:
    """Stored bytes inside the file; decoded size plausible for the stored bytes."""
    size = source.size()
    page_bytes = math.prod(keyframe.shape) * np.dtype(keyframe.dtype).itemsize
    for page in pages:
        offsets, counts = page.dataoffsets, page.databytecounts
        if not offsets:
            continue
        end = max(o + c for o, c in zip(offsets, counts, strict=False))
        if end > size:
            check_extent(source, int(min(offsets)), int(end - min(offsets)), f"page {page.index}")
        stored = int(sum(counts))
        limit = stored if keyframe.compression == 1 else stored * _MAX_COMPRESSION_RATIO + 2**20
        if keyframe.compression == 1 and keyframe.bitspersample < 8:
            limit = stored * 8 // max(keyframe.bitspersample, 1) + 2**20
        if page_bytes > limit:
            raise FormatError(
                source.name,
                f"page {page.index} claims {page_bytes} bytes of pixels from "
                f"{stored} stored bytes; the file may be truncated or damaged",
                where=f"offset {min(offsets)}",
            )


def _is_raw(keyframe: Any, dtype: np.dtype) -> bool:
    """Uncompressed, striped, chunky, whole-byte samples: pixels are plain C-order bytes."""
    return (
        keyframe.compression == 1
        and not keyframe.is_tiled
        and keyframe.fillorder == 1
        and (keyframe.planarconfig == 1 or keyframe.samplesperpixel == 1)
        and keyframe.bitspersample == dtype.itemsize * 8
        and dtype.kind in "biuf"
    )


def _page_block(page: Any, keyframe: Any, dtype: np.dtype) -> tuple[int, int] | None:
    """``(offset, nbytes)`` when a page's strips follow each other without gaps, else None."""
    height = keyframe.imagelength
    row_bytes = keyframe.imagewidth * keyframe.samplesperpixel * dtype.itemsize
    rows = min(keyframe.rowsperstrip or height, height)
    offsets = page.dataoffsets
    if not offsets:
        return None
    expected = offsets[0] + np.arange(len(offsets), dtype=np.int64) * rows * row_bytes
    if len(offsets) != math.ceil(height / rows) or not np.array_equal(np.asarray(offsets), expected):
        return None
    return int(offsets[0]), int(height * row_bytes)


def _raw_array(
    source: Source, blocks: list, dtype: np.dtype, lead: tuple, page_shape: tuple
) -> RawArray | None:
    """One block, or equally spaced blocks along a single stack axis; None otherwise."""
    first, nbytes = blocks[0]
    if len(blocks) == 1:
        return RawArray(source, first, dtype, (*lead, *page_shape))
    starts = np.asarray([b[0] for b in blocks], dtype=np.int64)
    stride = int(starts[1] - starts[0])
    if stride < nbytes or not np.array_equal(np.diff(starts), np.full(len(starts) - 1, stride)):
        return None
    if stride == nbytes:
        return RawArray(source, first, dtype, (*lead, *page_shape))
    if len(lead) != 1:
        return None
    return RawArray(source, first, dtype, (*lead, *page_shape), record_stride=stride)


def _native(raw: RawArray) -> BackendArray:
    return raw if raw.dtype.isnative or raw.dtype.itemsize == 1 else _NativeOrder(raw)


class _NativeOrder(BackendArray):
    """A `RawArray` of foreign byte order, returned in native order."""

    def __init__(self, raw: RawArray) -> None:
        self.raw, self.shape, self.dtype = raw, raw.shape, raw.dtype.newbyteorder("=")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return np.asarray(self.raw[key]).astype(self.dtype)


class TiffPagesArray(LockedArray):
    """Pages of one tifffile series, decoded when indexed (only the pages a key selects).

    Parameters
    ----------
    source : Source
        The file.
    series_index : int
        Index in ``TiffFile.series``.
    lead : tuple of int
        Shape of the stack axes (pages in C order).
    page_shape : tuple of int
        Shape of one decoded page.
    dtype : numpy dtype
        Native-order dtype of the pixels.
    """

    def __init__(self, source: Source, series_index: int, lead: tuple, page_shape: tuple, dtype: Any) -> None:
        super().__init__()
        self.source, self.series_index = source, series_index
        self.lead, self.page_shape = tuple(lead), tuple(page_shape)
        self.shape, self.dtype = (*self.lead, *self.page_shape), np.dtype(dtype)

    def _read(self, key: tuple) -> np.ndarray:
        n = len(self.lead)
        numbers = np.arange(math.prod(self.lead), dtype=np.int64).reshape(self.lead)[key[:n]]
        wanted = np.unique(numbers)
        decoded = (
            self._decode(wanted.tolist()) if wanted.size else np.empty((0, *self.page_shape), self.dtype)
        )
        pages = decoded[np.searchsorted(wanted, numbers)]
        return pages[(Ellipsis, *key[n:])] if n else pages.reshape(self.page_shape)[key]

    def _decode(self, numbers: list[int]) -> np.ndarray:
        import tifffile

        with self._lock, _open(self.source) as handle, tifffile.TiffFile(handle) as tif:
            try:
                data = tif.asarray(key=numbers, series=self.series_index)
            except ValueError as exc:
                if "imagecodecs" not in str(exc):
                    raise FormatError(self.source.name, f"cannot decode pages {numbers}: {exc}") from exc
                series = tif.series[self.series_index]
                pages = [series.pages[i] for i in numbers]
                if any(p is None for p in pages):
                    raise FormatError(self.source.name, f"pages {numbers} are not all in the file") from exc
                data = _pillow_pages(self.source, [p.index for p in pages if p is not None], exc)
        data = np.asarray(data).reshape(len(numbers), *self.page_shape)
        return data.astype(self.dtype, copy=False)


class _open:
    """Binary handle of a source as a context manager (a caller's file object is left open)."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def __enter__(self) -> Any:
        self.handle = self.source.path if self.source.path is not None else self.source.open()
        return self.handle

    def __exit__(self, *exc: object) -> None:
        if self.source.path is None and self.source.fileobj is None and not isinstance(self.handle, str):
            self.handle.close()


def _pillow_pages(source: Source, indices: list[int], cause: Exception) -> np.ndarray:
    """Decode whole pages with Pillow (its libtiff/libjpeg) when tifffile lacks ``imagecodecs``."""
    try:
        from PIL import Image
    except ImportError:
        raise FormatError(
            source.name,
            f"{cause}; install 'imagecodecs' (or Pillow) to decode these pages",
            where=f"pages {indices}",
        ) from cause
    out = []
    with _open(source) as handle, contextlib.ExitStack() as stack:
        stream = stack.enter_context(open(handle, "rb")) if isinstance(handle, str) else handle
        try:
            image = stack.enter_context(Image.open(stream))
            for index in indices:
                image.seek(index)
                out.append(np.asarray(image))
        except (OSError, EOFError, ValueError) as exc:
            raise FormatError(
                source.name, f"Pillow cannot decode page: {exc}", where=f"pages {indices}"
            ) from exc
    return np.stack(out)
