"""File plumbing of the Nion reader: zip members of ``.ndata`` files and Nion's ``.h5`` layout."""

from __future__ import annotations

import json
import struct
import zipfile
from typing import Any

import numpy as np
from xarray.core import indexing

from pycrox._binary import LockedArray, check_extent
from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = [
    "deflated_npy",
    "h5_parts",
    "is_nion_h5",
    "member_data_offset",
    "read_range",
    "zip_has_members",
    "zip_member",
    "zip_member_bytes",
]

_MEMBERS = ("metadata.json", "data.npy")
_LOCAL_HEADER = struct.Struct("<4s5H3I2H")  # signature ... name length, extra length


def read_range(source: Source, offset: int, nbytes: int) -> bytes:
    """`nbytes` bytes at `offset` (fewer at the end of the file)."""
    with source.reading() as fh:
        fh.seek(offset)
        return fh.read(nbytes)


def _zip_infos(source: Source) -> dict[str, zipfile.ZipInfo]:
    with source.reading() as fh:
        try:
            return {info.filename: info for info in zipfile.ZipFile(fh).infolist()}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FormatError(
                source.name, f"not a readable zip archive ({exc})", where="end of central directory"
            ) from exc


def zip_has_members(source: Source) -> bool:
    """Whether a zip holds ``metadata.json`` and ``data.npy`` (a Nion data item)."""
    try:
        names = _zip_infos(source)
    except FormatError:
        return False
    return all(m in names for m in _MEMBERS)


def zip_member(source: Source, name: str) -> zipfile.ZipInfo:
    """The zip entry `name`, checked to lie inside the file.

    Raises
    ------
    FormatError
        When the archive lacks the member or the member claims bytes beyond the end of the file.
    """
    infos = _zip_infos(source)
    if name not in infos:
        raise FormatError(
            source.name,
            f"the archive has no {name!r} (members: {sorted(infos)[:8]}); "
            "a Nion data item holds metadata.json and data.npy",
            where="central directory",
        )
    info = infos[name]
    check_extent(source, info.header_offset, _LOCAL_HEADER.size + info.compress_size, f"zip member {name!r}")
    return info


def zip_member_bytes(source: Source, name: str, *, limit: int) -> bytes:
    """The uncompressed bytes of a small member (at most `limit`)."""
    info = zip_member(source, name)
    if info.file_size > limit:
        raise FormatError(
            source.name,
            f"{name} claims {info.file_size} bytes; more than {limit} is not plausible",
            where=f"offset {info.header_offset}",
        )
    with source.reading() as fh:
        try:
            return zipfile.ZipFile(fh).read(name)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise FormatError(
                source.name, f"cannot extract {name}: {exc}", where=f"offset {info.header_offset}"
            ) from exc


def member_data_offset(source: Source, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored member's data: after its local header, name and extra field."""
    head = read_range(source, info.header_offset, _LOCAL_HEADER.size)
    if len(head) < _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise FormatError(
            source.name,
            f"no local zip header for {info.filename!r} (found {head[:4]!r})",
            where=f"offset {info.header_offset}",
        )
    fields = _LOCAL_HEADER.unpack(head)
    return info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1]


def deflated_npy(source: Source, info: zipfile.ZipInfo) -> indexing.LazilyIndexedArray:
    """A compressed ``data.npy`` member: header parsed now, pixels decompressed on first access."""
    from pycrox.readers.nion.reader import parse_npy_header

    with source.reading() as fh, zipfile.ZipFile(fh).open(info) as member:
        head = member.read(2**16)
    dtype, shape, fortran, header_size = parse_npy_header(head, source.name)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > _MAX_DEFLATE_RATIO * max(
        info.compress_size, 1
    ):
        raise FormatError(
            source.name,
            f"compressed data.npy declares {info.file_size} bytes from {info.compress_size} compressed bytes, more "
            f"than deflate can expand ({_MAX_DEFLATE_RATIO}:1); the file is damaged or crafted",
            where=f"offset {info.header_offset}",
        )
    if fortran or header_size + nbytes != info.file_size:
        raise FormatError(
            source.name,
            f"compressed data.npy declares {shape} {dtype} "
            f"(fortran_order={fortran}) but holds {info.file_size - header_size} bytes",
            where=f"offset {info.header_offset}",
        )
    return indexing.LazilyIndexedArray(_DeflatedArray(source, info.filename, header_size, dtype, shape))


#: deflate cannot expand data more than ~1032:1; a zip member declaring more is a bomb
_MAX_DEFLATE_RATIO = 1100


class _DeflatedArray(LockedArray):
    """A deflated ``.npy`` zip member, streamed: a read decompresses only up to the last row it needs."""

    def __init__(self, source: Source, member: str, header_size: int, dtype: np.dtype, shape: tuple) -> None:
        super().__init__()
        self.source, self.member, self.header_size = source, member, header_size
        self.dtype, self.shape = np.dtype(dtype), tuple(shape)

    def _read(self, key: tuple) -> np.ndarray:
        rows = self._rows_needed(key)
        row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize if self.shape else 0
        count = rows * row_bytes if self.shape else self.dtype.itemsize
        buffer = np.empty(count, dtype=np.uint8)
        with self._lock, self.source.reading() as fh, zipfile.ZipFile(fh).open(self.member) as member:
            member.read(self.header_size)
            view, filled = buffer.data, 0  # a memoryview of the bytes
            while filled < count:
                chunk = member.read(min(count - filled, 2**22))
                if not chunk:
                    raise FormatError(self.source.name, f"{self.member} ends after {filled} of {count} bytes")
                view[filled : filled + len(chunk)] = chunk
                filled += len(chunk)
        data = buffer.view(self.dtype).reshape((rows, *self.shape[1:]) if self.shape else ())
        return np.array(data[key])

    def _rows_needed(self, key: tuple) -> int:
        """How many leading rows (along the first axis) `key` touches."""
        if not self.shape:
            return 0
        first = key[0] if key else slice(None)
        if isinstance(first, int | np.integer):
            return int(first % self.shape[0]) + 1
        if isinstance(first, slice):
            start, stop, step = first.indices(self.shape[0])
            indices = range(start, stop, step)
            return (max(indices) + 1) if len(indices) else 0
        return self.shape[0]


def is_nion_h5(source: Source) -> bool:
    """HDF5 whose root holds a dataset ``data`` with a JSON ``properties`` attribute of a data item."""
    from pycrox._hdf5 import is_hdf5

    if not is_hdf5(source):
        return False
    import h5py

    try:
        with source.reading() as fh, h5py.File(fh, "r") as f:
            dset = f.get("data")
            if not isinstance(dset, h5py.Dataset) or "properties" not in dset.attrs or len(f.keys()) != 1:
                return False
            properties = json.loads(_text(dset.attrs["properties"]))
    except (OSError, ValueError, TypeError):
        return False
    return isinstance(properties, dict) and (
        "dimensional_calibrations" in properties or properties.get("type") == "data-item"
    )


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def h5_parts(source: Source) -> tuple[dict, Any, Any]:
    """``(properties, lazy data, close function)`` of a Nion ``.h5`` file."""
    from pycrox._hdf5 import HDF5_LOCK, lazy_variable_data, open_file_manager

    manager, _ = open_file_manager(source)
    try:
        with HDF5_LOCK:
            dset = manager.acquire().get("data")
            raw = dset.attrs.get("properties") if dset is not None else None
        properties = json.loads(_text(raw)) if raw is not None else None
        if not isinstance(properties, dict):
            raise FormatError(
                source.name,
                "no dataset 'data' with a JSON 'properties' attribute; not a Nion Swift HDF5 file",
                where="/data",
            )
        return properties, lazy_variable_data(manager, "/data"), manager.close
    except (ValueError, TypeError) as exc:
        manager.close()
        if isinstance(exc, FormatError):
            raise
        raise FormatError(source.name, f"bad 'properties' JSON: {exc}", where="/data") from exc
