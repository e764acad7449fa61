"""The tag tree of Gatan DigitalMicrograph DM3/DM4 files, parsed into nested dicts.

Layout (all header, count and type words big-endian; tag values in the byte order the header
names):

* header: version (u32: 3 or 4), length of the root tag group (u32 in DM3, u64 in DM4), byte
  order of the values (u32: 1 = little-endian), then the root group;
* a group: ``sorted`` byte, ``open`` byte, number of tags (u32 / u64);
* a tag: kind byte (20 = group, 21 = data), u16 name length, name; DM4 then gives the u64 byte
  length of the tag's content; a data tag holds ``%%%%``, the length of its type description
  (u32 / u64) and the description itself: one simple type code (2 i16, 3 i32, 4 u16, 5 u32,
  6 f32, 7 f64, 8 bool, 9 i8, 10 u8, 11 i64, 12 u64), or 15 (struct: name length, field count,
  (name length, type) per field), 18 (string: byte length) or 20 (array: element description,
  then element count). Arrays of u16 are UTF-16 text.

`read_tags` reads the whole tree but leaves image data (``ImageData/Data``) and other large
arrays in the file as `DataBlock` leaves. Every count is checked against the bytes left in the
file before it is used, and the nesting depth is bounded, so a damaged file gives a
`FormatError` naming the file, the tag path and the byte offset instead of a hang or a giant
allocation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.sources import Source

__all__ = ["DataBlock", "TagFile", "jsonable", "read_tags"]

#: simple DM tag value types -> numpy type (byte order added from the file header)
SIMPLE_TYPES = {
    2: "i2",
    3: "i4",
    4: "u2",
    5: "u4",
    6: "f4",
    7: "f8",
    8: "?",
    9: "i1",
    10: "u1",
    11: "i8",
    12: "u8",
}
GROUP, DATA = 20, 21
STRUCT, STRING, ARRAY = 15, 18, 20
MAX_DEPTH = 64  # nesting of tag groups
MAX_INFO = 1 << 16  # words in one type description
INLINE_BYTES = 1 << 20  # arrays larger than this stay in the file (a DataBlock leaf)
READ_BLOCK = 1 << 18  # fsspec block size while parsing tags from URLs
#: tag paths whose arrays are always left in the file
_BLOCK_SUFFIX = ("ImageData", "Data")


@dataclass(frozen=True)
class DataBlock:
    """An array tag whose values stay in the file: image data and other large arrays.

    Attributes
    ----------
    offset : int
        Byte offset of the first element.
    count : int
        Number of elements.
    dtype : numpy.dtype
        Element type with the file's byte order (a structured type for arrays of structs).
    """

    offset: int
    count: int
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        """Size of the block in bytes."""
        return self.count * self.dtype.itemsize

    def describe(self) -> dict[str, Any]:
        """JSON-like description for ``original_metadata``."""
        return {"offset": self.offset, "count": self.count, "dtype": self.dtype.str, "bytes": self.nbytes}


@dataclass
class TagFile:
    """A parsed DM file: format version, byte order and the tag tree."""

    version: int
    little_endian: bool
    tags: dict[str, Any]


def read_tags(source: Source) -> TagFile:
    """Parse the tag tree of a DM3/DM4 file.

    Parameters
    ----------
    source : Source
        The file.

    Returns
    -------
    TagFile

    Raises
    ------
    FormatError
        If the file is not a DM3/DM4 file, is truncated or holds tags this parser cannot read.
    """
    with _handle(source) as fh:
        parser = _TagParser(fh, source.name, source.size())
        version, little = parser.header()
        tags = parser.group("", depth=0)
    return TagFile(version, little, tags)


def jsonable(value: Any) -> Any:
    """A copy of a tag (sub)tree with `DataBlock` leaves replaced by their descriptions."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, DataBlock):
        return value.describe()
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return value


@contextlib.contextmanager
def _handle(source: Source) -> Iterator[IO[bytes]]:
    # small blocks on object stores: the tags are small and scattered
    with source.reading(READ_BLOCK if source.url is not None else None) as fh:
        yield fh


class _TagParser:
    """Reads the tag tree from an open binary handle, tracking the byte position."""

    def __init__(self, fh: IO[bytes], name: str, size: int) -> None:
        self.fh, self.name, self.size = fh, name, size
        self.pos = 0
        self.version = 3
        self.order = "<"

    # ------------------------------------------------------------------ low level
    def fail(self, problem: str, path: str, offset: int | None = None) -> FormatError:
        where = f"{path or '/'} (offset {self.pos if offset is None else offset})"
        return FormatError(self.name, problem, where=where)

    def read(self, n: int, path: str, what: str) -> bytes:
        if n > self.size - self.pos:
            raise self.fail(
                f"{what} needs {n} bytes but the file ends after {self.size - self.pos}; it may be truncated",
                path,
            )
        data = self.fh.read(n)
        if len(data) != n:
            raise self.fail(f"file ends inside {what}; it may be truncated", path)
        self.pos += n
        return data

    def skip(self, n: int, path: str, what: str) -> None:
        if n > self.size - self.pos:
            raise self.fail(
                f"{what} claims {n} bytes but only {self.size - self.pos} are left in the file; "
                "it may be truncated",
                path,
            )
        self.pos += n
        self.fh.seek(self.pos)

    def word(self, path: str, what: str) -> int:
        width = 8 if self.version == 4 else 4
        return int.from_bytes(self.read(width, path, what), "big")

    # ------------------------------------------------------------------ structure
    def header(self) -> tuple[int, bool]:
        version = int.from_bytes(self.read(4, "", "the header"), "big")
        if version not in (3, 4):
            raise self.fail(f"version word is {version}; a DM3/DM4 file starts with 3 or 4", "", 0)
        self.version = version
        root_length = self.word("", "the header")
        byte_order = int.from_bytes(self.read(4, "", "the header"), "big")
        if byte_order not in (0, 1):
            raise self.fail(
                f"byte-order word is {byte_order}; expected 0 (big-endian) or 1 (little-endian)", ""
            )
        if root_length > self.size - self.pos:
            raise self.fail(
                f"header says the tag tree has {root_length} bytes but only {self.size - self.pos} "
                "follow; the file is truncated",
                "",
                4,
            )
        self.order = "<" if byte_order == 1 else ">"
        return version, byte_order == 1

    def group(self, path: str, depth: int) -> dict[str, Any]:
        if depth > MAX_DEPTH:
            raise self.fail(f"tag groups nested deeper than {MAX_DEPTH} levels", path)
        self.read(2, path, "a tag group header")  # sorted, open flags
        count = self.word(path, "a tag group header")
        if count > (self.size - self.pos) // 4:
            raise self.fail(
                f"tag group claims {count} tags, more than the {self.size - self.pos} bytes left can hold",
                path,
            )
        out: dict[str, Any] = {}
        unnamed = {GROUP: 0, DATA: 0}
        for _ in range(count):
            kind, name = self.tag_header(path)
            if not name:
                name = f"{'TagGroup' if kind == GROUP else 'Data'}{unnamed[kind]}"
                unnamed[kind] += 1
            key = _unique_key(name, out)
            child = f"{path}/{key}"
            if self.version == 4:
                self.tag_length(child)
            out[key] = self.group(child, depth + 1) if kind == GROUP else self.data(child)
        return out

    def tag_header(self, path: str) -> tuple[int, str]:
        start = self.pos
        kind = self.read(1, path, "a tag header")[0]
        if kind not in (GROUP, DATA):
            raise self.fail(f"tag kind byte is {kind}; expected 20 (group) or 21 (data)", path, start)
        name_length = int.from_bytes(self.read(2, path, "a tag header"), "big")
        return kind, _decode_name(self.read(name_length, path, "a tag name"))

    def tag_length(self, path: str) -> None:
        length = self.word(path, "a tag header")
        if length > self.size - self.pos:
            raise self.fail(
                f"tag claims {length} bytes but only {self.size - self.pos} are left in the file; "
                "it may be truncated",
                path,
            )

    # ------------------------------------------------------------------ data tags
    def data(self, path: str) -> Any:
        delimiter = self.read(4, path, "a data tag")
        if delimiter != b"%%%%":
            raise self.fail(f"data tag starts with {delimiter!r}; expected b'%%%%'", path, self.pos - 4)
        width = 8 if self.version == 4 else 4
        n_info = self.word(path, "a data tag")
        if not 1 <= n_info <= min(MAX_INFO, (self.size - self.pos) // width):
            raise self.fail(f"data tag claims a type description of {n_info} words", path)
        info = np.frombuffer(self.read(n_info * width, path, "a type description"), f">u{width}").tolist()
        return self.value(info, path)

    def value(self, info: list[int], path: str) -> Any:
        code = info[0]
        if code in SIMPLE_TYPES and len(info) == 1:
            dtype = self.dtype(SIMPLE_TYPES[code])
            return np.frombuffer(self.read(dtype.itemsize, path, "a tag value"), dtype)[0].item()
        if code == STRING and len(info) == 2:
            if info[1] > INLINE_BYTES:
                return self.records(np.dtype("u1"), info[1], path, bytes)
            return _decode_text(self.read(info[1], path, "a string tag"))
        if code == STRUCT:
            dtype, end = self.struct_type(info, 1, path)
            if end != len(info):
                raise self.fail(f"struct type description {info} has {len(info) - end} extra words", path)
            record = np.frombuffer(self.read(dtype.itemsize, path, "a struct tag"), dtype)[0]
            return list(record.tolist())
        if code == ARRAY and len(info) >= 3:
            return self.array(info, path)
        raise self.fail(f"unknown DM tag type {code} (type description {info[:8]})", path)

    def array(self, info: list[int], path: str) -> Any:
        element = info[1]
        if element in SIMPLE_TYPES and len(info) == 3:
            return self.simple_array(element, info[2], path)
        if element == STRUCT:
            dtype, end = self.struct_type(info, 2, path)
            if end + 1 != len(info):
                raise self.fail(f"array-of-struct type description {info[:16]} has the wrong length", path)
            return self.records(dtype, info[end], path, lambda block: [list(r) for r in block.tolist()])
        if element in (STRING, ARRAY) and len(info) >= 4 and info[-2] > self.size - self.pos:
            raise self.fail(f"array elements claim {info[-2]} bytes each, more than the file holds", path)
        if element == STRING and len(info) == 4:
            dtype = np.dtype(f"S{info[2]}") if info[2] else np.dtype("S1")
            return self.records(dtype, info[3], path, lambda block: [_decode_text(s) for s in block.tolist()])
        if element == ARRAY and len(info) == 5 and info[2] in SIMPLE_TYPES:
            dtype = np.dtype((self.dtype(SIMPLE_TYPES[info[2]]), (info[3],)))
            return self.records(
                dtype, info[4], path, lambda block: block.astype(block.dtype.base.newbyteorder("="))
            )
        raise self.fail(f"unknown DM array element type {element} (type description {info[:8]})", path)

    def simple_array(self, element: int, count: int, path: str) -> Any:
        dtype = self.dtype(SIMPLE_TYPES[element])
        if element == 4 and not path.endswith("/".join(_BLOCK_SUFFIX)):
            return self.records(dtype, count, path, lambda block: _decode_utf16(block, self.order))
        return self.records(dtype, count, path, lambda block: block.astype(block.dtype.newbyteorder("=")))

    def records(self, dtype: np.dtype, count: int, path: str, convert: Any) -> Any:
        nbytes = count * dtype.itemsize
        if nbytes > self.size - self.pos:
            raise self.fail(
                f"array of {count} x {dtype.itemsize} bytes runs past the end of the file "
                f"({self.size - self.pos} bytes left); it may be truncated",
                path,
            )
        if path.endswith("/".join(_BLOCK_SUFFIX)) or nbytes > INLINE_BYTES:
            block = DataBlock(self.pos, count, dtype)
            self.skip(nbytes, path, "an array")
            return block
        return convert(np.frombuffer(self.read(nbytes, path, "an array"), dtype, count))

    def struct_type(self, info: list[int], start: int, path: str) -> tuple[np.dtype, int]:
        if len(info) < start + 2:
            raise self.fail(f"struct type description {info[:16]} is too short", path)
        n_fields = info[start + 1]
        end = start + 2 + 2 * n_fields
        if n_fields == 0 or end > len(info):
            raise self.fail(
                f"struct claims {n_fields} fields but its type description has {len(info)} words", path
            )
        codes = info[start + 3 : end : 2]
        unknown = [c for c in codes if c not in SIMPLE_TYPES]
        if unknown:
            raise self.fail(f"struct field of unknown DM tag type {unknown[0]}", path)
        fields = [(f"f{i}", self.dtype(SIMPLE_TYPES[c])) for i, c in enumerate(codes)]
        return np.dtype(fields) if fields else np.dtype([]), end

    def dtype(self, code: str) -> np.dtype:
        return np.dtype(code if code in ("?", "i1", "u1") else self.order + code)


def _unique_key(name: str, existing: dict[str, Any]) -> str:
    if name not in existing:
        return name
    n = 1
    while f"{name} ({n})" in existing:
        n += 1
    return f"{name} ({n})"


def _decode_name(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _decode_text(raw: bytes) -> str:
    return _decode_name(raw.rstrip(b"\x00"))


def _decode_utf16(block: np.ndarray, order: str) -> str:
    return block.tobytes().decode("utf-16-le" if order == "<" else "utf-16-be", errors="replace")
