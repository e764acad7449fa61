"""AidAim SFS ("single file system") containers, the packaging of Bruker ``.bcf`` files.

An SFS file is a sequence of fixed-size chunks after a 0x118-byte preamble. Each chunk has a
32-byte header (the first 4 bytes: the index of the next chunk of a chained table) and
``chunksize - 32`` bytes of payload at ``0x138 + index * chunksize``. A table of 512-byte
entries describes the files and folders (name, size, parent, first chunk of the file's chunk
pointer table); a file's payload is the concatenation of its chunks. Files of zlib-compressed
containers start with an ``AACS`` header and hold a sequence of deflated blocks.
"""

from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["SFS_MAGIC", "SFSContainer", "SFSEntry"]

SFS_MAGIC = b"AAMVHFSS"
_ENTRY = struct.Struct("<iQQQQIi176s?3s256s32s")  # 512 bytes per file-table entry
_PAYLOAD_START, _CHUNK_LINK = 0x138, 0x118
_AACS = struct.Struct("<4sIII")  # "AACS", uncompressed block size, ?, number of blocks
_MAX_ENTRIES = 100_000


@dataclass
class SFSEntry:
    """One file or folder of the container."""

    name: str
    path: str
    size: int
    is_dir: bool
    parent: int
    table_chunk: int
    created: float
    modified: float


class SFSContainer:
    """The file table of an SFS container; `read` returns a file's (decompressed) bytes.

    Parameters
    ----------
    source : Source
        The container file.

    Raises
    ------
    FormatError
        When the signature, chunk size or file table are not those of an SFS container, or point
        outside the file.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self.file_size = source.size()
        with _Reader(source) as fh:
            head = fh.read_at(0, 0x14C)
            if len(head) < 0x14C or not head.startswith(SFS_MAGIC):
                raise FormatError(
                    source.name,
                    f"not an SFS (Bruker BCF) container: signature {head[:8]!r}, expected {SFS_MAGIC!r}",
                    where="offset 0",
                )
            version, self.chunksize = struct.unpack_from("<fI", head, 0x124)
            tree_chunk, n_entries, _ = struct.unpack_from("<III", head, 0x140)
            if not 0x40 < self.chunksize <= 2**26 or n_entries > _MAX_ENTRIES:
                raise FormatError(
                    source.name,
                    f"implausible SFS chunk size {self.chunksize} or {n_entries} file-table entries",
                    where="offset 0x124",
                )
            self.version = round(float(version), 2)
            self.payload = self.chunksize - 32
            raw = self._chained(fh, tree_chunk, n_entries * _ENTRY.size)
        self.entries = _entries(raw, n_entries)
        self.files = {e.path: e for e in self.entries if not e.is_dir}
        self.compressed = self._is_compressed()

    # ---------------------------------------------------------------- chunk plumbing
    def _chunk_offset(self, index: int, what: str) -> int:
        offset = _PAYLOAD_START + int(index) * self.chunksize
        if index < 0 or offset >= self.file_size:
            raise FormatError(
                self.source.name,
                f"{what} points to chunk {index} beyond the end of the file ({self.file_size} bytes)",
                where=f"offset {offset}",
            )
        return offset

    def _chained(self, fh: Any, first: int, nbytes: int) -> bytes:
        """`nbytes` of payload from chunk `first` on, following the next-chunk links."""
        if nbytes > self.file_size:
            raise FormatError(
                self.source.name,
                f"a chunk table claims {nbytes} bytes but the container has {self.file_size}",
                where=f"chunk {first}",
            )
        parts, index, remaining = [], first, nbytes
        for _ in range(math.ceil(nbytes / self.payload) or 1):
            offset = self._chunk_offset(index, "a chunk table")
            link = fh.read_at(offset - (_PAYLOAD_START - _CHUNK_LINK), 4)
            parts.append(fh.read_at(offset, min(self.payload, remaining)))
            remaining -= len(parts[-1])
            if remaining <= 0 or len(link) < 4:
                break
            index = struct.unpack("<I", link)[0]
        data = b"".join(parts)
        if len(data) < nbytes:
            raise FormatError(
                self.source.name,
                f"a chunk table ends after {len(data)} of {nbytes} bytes; the file may be truncated",
                where=f"chunk {first}",
            )
        return data

    def _pointers(self, fh: Any, entry: SFSEntry) -> np.ndarray:
        if entry.size > self.file_size:
            raise FormatError(
                self.source.name,
                f"{entry.path} claims {entry.size} bytes but the container has {self.file_size}",
                where=f"file table entry {entry.path!r}",
            )
        n = math.ceil(entry.size / self.payload)
        table = self._chained(fh, entry.table_chunk, 4 * n)
        pointers = np.frombuffer(table[: 4 * n], dtype="<u4").astype(np.int64)
        offsets = _PAYLOAD_START + pointers * self.chunksize
        if n and offsets.max() >= self.file_size:
            raise FormatError(
                self.source.name,
                f"{entry.path} points to chunk {int(pointers.max())} beyond the end of the file",
                where=f"file table entry {entry.path!r}",
            )
        return offsets

    def _is_compressed(self) -> bool:
        first = next((e for e in self.files.values() if e.size >= 4), None)
        if first is None:
            return False
        with _Reader(self.source) as fh:
            return fh.read_at(int(self._pointers(fh, first)[0]), 4) == b"AACS"

    # ---------------------------------------------------------------- files
    def read_raw(self, path: str) -> bytes:
        """The stored bytes of a file (still compressed in zlib containers)."""
        entry = self.entry(path)
        with _Reader(self.source) as fh:
            offsets = self._pointers(fh, entry)
            parts = [fh.read_at(int(o), self.payload) for o in offsets]
        data = b"".join(parts)[: entry.size]
        if len(data) < entry.size:
            raise FormatError(
                self.source.name,
                f"{path} has {len(data)} of {entry.size} bytes; the file may be truncated",
                where=f"file table entry {path!r}",
            )
        return data

    def read(self, path: str, *, limit: int | None = None) -> bytes:
        """A file's bytes, decompressed; `limit` bounds the decompressed size (lying headers)."""
        raw = self.read_raw(path)
        return self._inflate(raw, path, limit) if self.compressed else raw

    def _inflate(self, raw: bytes, path: str, limit: int | None) -> bytes:
        if len(raw) < _AACS.size or raw[:4] != b"AACS":
            raise FormatError(self.source.name, f"{path} lacks its AACS compression header", where=path)
        n_blocks = _AACS.unpack_from(raw)[3]
        out, offset = [], 0x80
        budget = limit if limit is not None else 1100 * len(raw) + 2**20
        total = 0
        for i in range(n_blocks):
            if offset + 16 > len(raw):
                raise FormatError(
                    self.source.name,
                    f"{path}: compressed block {i} of {n_blocks} starts past the end ({offset} > {len(raw)})",
                    where=f"{path} offset {offset}",
                )
            size = struct.unpack_from("<I", raw, offset)[0]
            block = raw[offset + 16 : offset + 16 + size]
            offset += 16 + size
            try:
                out.append(zlib.decompressobj().decompress(block, max(budget - total, 1)))
            except zlib.error as exc:
                raise FormatError(
                    self.source.name,
                    f"{path}: block {i} is not zlib data ({exc})",
                    where=f"{path} offset {offset - size}",
                ) from exc
            total += len(out[-1])
            if total >= budget:
                raise FormatError(
                    self.source.name,
                    f"{path} inflates beyond {budget} bytes; refusing a lying header",
                    where=path,
                )
        return b"".join(out)

    def entry(self, path: str) -> SFSEntry:
        """The entry of a file.

        Raises
        ------
        FormatError
            When the container has no such file.
        """
        if path not in self.files:
            raise FormatError(
                self.source.name,
                f"the container has no file {path!r} (files: {sorted(self.files)[:8]})",
                where="file table",
            )
        return self.files[path]


def _entries(raw: bytes, n: int) -> list[SFSEntry]:
    rows = [_ENTRY.unpack_from(raw, i * _ENTRY.size) for i in range(n)]
    names = [r[10].split(b"\x00", 1)[0].decode("utf-8", "replace") for r in rows]
    parents = [r[6] for r in rows]

    def path(i: int, depth: int = 0) -> str:
        p = parents[i]
        return names[i] if p < 0 or p >= n or depth > 64 else f"{path(p, depth + 1)}/{names[i]}"

    return [
        SFSEntry(
            name=names[i],
            path=path(i),
            size=int(r[1]),
            is_dir=bool(r[8]),
            parent=int(r[6]),
            table_chunk=int(r[0]),
            created=_filetime(r[2]),
            modified=_filetime(r[3]),
        )
        for i, r in enumerate(rows)
    ]


def _filetime(value: int) -> float:
    """Windows FILETIME (100 ns since 1601) as a Unix timestamp."""
    return value / 1e7 - 11644473600.0 if value else 0.0


class _Reader:
    """Positioned reads from a source (one handle for a block of reads)."""

    def __init__(self, source: Source) -> None:
        self.source = source

    def __enter__(self) -> Self:
        self.fh = open(self.source.path, "rb") if self.source.path is not None else self.source.open()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.source.fileobj is None:
            self.fh.close()

    def read_at(self, offset: int, nbytes: int) -> bytes:
        self.fh.seek(offset)
        return self.fh.read(nbytes)
