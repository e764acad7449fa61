"""Where data come from and go to: paths, URLs and file objects, one way for every reader.

`open_source` turns a local path, ``pathlib`` path, fsspec URL (``s3://``, ``memory://``,
``simplecache::s3://...``) plus ``storage_options``, or an open binary file object into a
`Source`: something with a name for messages, a way to open a binary file handle, and, for
local files, a real path (so readers can memory-map). `atomic_target` gives writers a temporary
name beside the target that replaces it only on success.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import io
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import fsspec

from pycrox.errors import ArgumentError, FormatError, NotFoundError, WriteError

#: fsspec block size for remote files: headers and chunks in few, small requests
REMOTE_BLOCK_SIZE = 256 * 2**10

__all__ = [
    "Source",
    "atomic_target",
    "is_local",
    "open_source",
    "read_head",
    "recover",
    "redact",
    "tuned_options",
]


@dataclass
class Source:
    """One readable thing.

    Attributes
    ----------
    name : str
        Path, URL or file-object name, for messages.
    path : str or None
        A local filesystem path, when there is one (memory-mapping is then possible).
    url : str or None
        The fsspec URL for remote sources.
    fileobj : file object or None
        An already-open binary file object given by the caller.
    storage_options : dict
        Passed to fsspec.
    """

    name: str
    path: str | None = None
    url: str | None = None
    fileobj: Any = None
    storage_options: dict = field(default_factory=dict)
    _head: bytes | None = field(default=None, repr=False, compare=False)
    _shared: Any = field(default=None, repr=False, compare=False)
    _dir: bool | None = field(default=None, repr=False, compare=False)
    _h5: Any = field(default=None, repr=False, compare=False)  # see pycrox._hdf5.probe

    @property
    def suffix(self) -> str:
        """Lower-case extension of the name (``".dm4"``), or ``""``."""
        return os.path.splitext(self.file_name)[1].lower()

    @property
    def file_name(self) -> str:
        """The file name without folder (``"a_1.ser"``); ``""`` for an unnamed file object."""
        text = self.path if self.path is not None else self.name.split("::")[-1]
        if self.fileobj is not None and text.startswith("<"):  # an unnamed file object's repr
            return ""
        return os.fspath(text).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]

    @property
    def stored_name(self) -> str:
        """The name to store in attrs and provenance: `name`, `file_name` or ``""`` (`pycrox.set_options`)."""
        from pycrox.options import stored_name

        return stored_name(self.name, self.file_name)

    @property
    def stem(self) -> str:
        """`file_name` without its extension (``"a_1"``)."""
        return os.path.splitext(self.file_name)[0]

    @property
    def target(self) -> Any:
        """What a library that opens files itself (xarray, h5py, tifffile) takes: path, URL or file object."""
        return self.path or self.url or self.fileobj

    def read_at(self, offset: int, nbytes: int) -> bytes:
        """`nbytes` bytes from `offset` (fewer at the end of the file)."""
        with self.reading() as fh:
            fh.seek(offset)
            return fh.read(nbytes)

    def open(self, block_size: int | None = None) -> IO[bytes]:
        """A binary file handle positioned at 0 (a new handle each call, except for file objects)."""
        if self.fileobj is not None:
            self.fileobj.seek(0)
            return self.fileobj
        if self.path is not None:
            return open(self.path, "rb")
        fs, path = fsspec.core.url_to_fs(self.url, **self.storage_options)
        # s3fs reads 50 MiB per block by default: far too much for headers and single chunks
        return fs.open(path, "rb", block_size=block_size or REMOTE_BLOCK_SIZE)

    @contextlib.contextmanager
    def reading(self, block_size: int | None = None) -> Iterator[IO[bytes]]:
        """`open` as a context manager: the handle is closed afterwards, unless it is the caller's."""
        fh = self.open(block_size)
        try:
            yield fh
        finally:
            if self.fileobj is None:
                fh.close()

    def shared_handle(self, block_size: int = REMOTE_BLOCK_SIZE) -> IO[bytes]:
        """One binary handle for a remote file, kept with an LRU block cache for every later reader.

        Format detection opens a file once per candidate reader and the chosen reader opens it
        again; sharing one handle whose blocks stay cached makes all of that cost the requests of
        one open. Local paths and caller's file objects are returned as `open` returns them.
        """
        if self.url is None:
            return self.open()
        if self._shared is None or self._shared.closed:
            fs, path = fsspec.core.url_to_fs(self.url, **self.storage_options)
            self._shared = fs.open(path, "rb", block_size=block_size, cache_type="blockcache")
        self._shared.seek(0)
        return self._shared

    def size(self) -> int:
        """Size in bytes."""
        if self.path is not None:
            return os.path.getsize(self.path)
        if self.fileobj is not None:
            pos = self.fileobj.tell()
            end = self.fileobj.seek(0, io.SEEK_END)
            self.fileobj.seek(pos)
            return end
        fs, path = fsspec.core.url_to_fs(self.url, **self.storage_options)
        return int(fs.size(path))

    def is_dir(self) -> bool:
        """Whether the source is a directory (a Zarr store, say); asked once per source."""
        if self.path is not None and self._dir is None:
            self._dir = os.path.isdir(self.path)
        if self.url is not None and self._dir is None:
            fs, path = fsspec.core.url_to_fs(self.url, **self.storage_options)
            self._dir = bool(fs.isdir(path))
        return bool(self._dir)


def is_local(obj: Any) -> bool:
    """Whether `obj` names a local path (no protocol other than ``file://``)."""
    if isinstance(obj, os.PathLike):
        return True
    if not isinstance(obj, str):
        return False
    return "://" not in obj or (obj.startswith("file://") and "::" not in obj)


def open_source(obj: Any, storage_options: dict | None = None, *, must_exist: bool = True) -> Source:
    """Normalise a path, URL or file object into a `Source`.

    Parameters
    ----------
    obj : str, os.PathLike, Source or binary file object
        What the user passed.
    storage_options : dict, optional
        fsspec options for URLs.
    must_exist : bool, default True
        Raise `NotFoundError` when the path or URL does not exist.

    Returns
    -------
    Source

    Raises
    ------
    NotFoundError
        If `must_exist` and there is nothing at `obj`.
    """
    if isinstance(obj, Source):
        return obj
    options = dict(storage_options or {})
    if is_local(obj):
        text = os.fspath(obj)
        path = text.removeprefix("file://")
        path = os.path.expanduser(path)
        if must_exist and not os.path.exists(path):
            recover(Path(path))  # a store a killed writer had set aside comes back
        if must_exist and not os.path.exists(path):
            raise NotFoundError(text)
        if os.path.exists(path) and not (os.path.isfile(path) or os.path.isdir(path)):
            raise FormatError(
                text,
                "is neither a regular file nor a directory (a FIFO, socket or device); "
                "pycrox reads only files and stores",
            )
        return Source(name=text, path=path, storage_options=options)
    if isinstance(obj, str):
        if must_exist:
            try:
                fs, path = fsspec.core.url_to_fs(obj, **options)
            except (ValueError, ImportError) as exc:  # an unknown protocol, or its package is missing
                raise ArgumentError(f"{redact(obj)}: cannot open this URL: {redact(str(exc))}") from exc
            try:
                exists = fs.exists(path)
            except Exception as exc:  # credentials, endpoint: say which URL
                raise NotFoundError(redact(obj), f"cannot be reached: {redact(str(exc))}") from exc
            if not exists:
                raise NotFoundError(redact(obj))
        return Source(name=redact(obj), url=obj, storage_options=options)
    if hasattr(obj, "read") and hasattr(obj, "seek"):
        name = getattr(obj, "path", None) or getattr(obj, "name", None) or repr(obj)
        return Source(name=str(name), fileobj=obj, storage_options=options)
    raise TypeError(f"cannot read from {type(obj).__name__}: pass a path, URL or binary file object")


def redact(url: str) -> str:
    """`url` without user name, password, query string and fragment: what may be stored or shown.

    Examples
    --------
    >>> redact("https://user:pw@host:8080/data/f.dm4?X-Amz-Signature=abc#x")
    'https://host:8080/data/f.dm4'
    >>> redact("simplecache::s3://bucket/f.h5")
    'simplecache::s3://bucket/f.h5'
    """
    parts = []
    for part in url.split("::"):
        if "://" in part:
            scheme, rest = part.split("://", 1)
            rest = rest.split("#", 1)[0].split("?", 1)[0]
            host, _, path = rest.partition("/")
            host = host.rsplit("@", 1)[-1]
            part = f"{scheme}://{host}" + (f"/{path}" if _ or path else "")
        parts.append(part)
    return "::".join(parts)


def tuned_options(url: str, storage_options: dict | None) -> dict:
    """Fsspec options tuned for chunked reads from object stores (the user's options win).

    s3fs fetches a whole object in parallel parts only after a HEAD request for its size; for
    Zarr chunks that doubles the requests, so single-part GETs are the default here (chunks are
    still fetched concurrently by Zarr).
    """
    options = dict(storage_options or {})
    if url.startswith(("s3://", "s3a://")):
        options.setdefault("max_concurrency", 1)
    return options


def read_head(source: Source, n: int = 512) -> bytes:
    """The first `n` bytes of a file source (``b""`` for directories or unreadable sources).

    The first 4 KiB are read once and kept on the `Source`, so that format detection, which asks
    every reader in turn, costs one read (one request on an object store).
    """
    cached = source._head
    if cached is not None and (len(cached) >= n or len(cached) < _HEAD_BYTES):
        return cached[:n]
    try:
        if source.is_dir():
            return b""
        if source.fileobj is not None:
            pos = source.fileobj.tell()
            source.fileobj.seek(0)
            head = source.fileobj.read(n)
            source.fileobj.seek(pos)
            return head
        size = max(n, _HEAD_BYTES)
        with source.open(block_size=size) as fh:
            head = fh.read(size)
    except (OSError, ValueError):
        return b""
    source._head = head  # detection asks every reader in turn: one read (one request) for all of them
    return head[:n]


_HEAD_BYTES = 4096


@contextlib.contextmanager
def atomic_target(
    target: Any,
    mode: str = "w-",
    storage_options: dict | None = None,
    *,
    store: str | None = None,
    nbytes: int | None = None,
) -> Iterator[str]:
    """Yield a temporary local path; on success it becomes `target`, on failure it disappears.

    Local targets: the temporary file sits beside the target and is moved onto it with
    `os.replace`; a symbolic link is written through (the file it points to is replaced). A
    directory store (``store="zarr"``) replaces an old store by renaming it aside, moving the new
    one in, then deleting the old one; `recover` finishes or rolls back what a killed writer left
    (see ``specs/writes.md``). Temporaries left by dead writers of the same target are removed.
    URLs (``s3://...``): the file is written locally, uploaded under a temporary key beside the
    target and then moved onto the target key.

    Parameters
    ----------
    target : str or os.PathLike
        Final path or fsspec URL.
    mode : {"w-", "w"}
        ``"w-"`` refuses an existing target, ``"w"`` replaces it.
    storage_options : dict, optional
        fsspec options for URLs.
    store : str, optional
        The kind of directory store written (``"zarr"``); None for a single file.
    nbytes : int, optional
        The writer's estimate of the bytes it will write; a local target whose filesystem has
        less free space (plus a margin) is refused before anything is written.

    Raises
    ------
    WriteError
        If the target exists and `mode` is ``"w-"``; if a single file would replace a directory,
        or a store would replace something that is not a store of its kind; if the filesystem
        has too little free space for `nbytes`, or runs out of space (or quota) while writing.
    """
    if mode not in ("w", "w-"):
        raise ArgumentError(f"{target}: mode must be 'w' or 'w-', got {mode!r}")
    if not is_local(target):
        with _remote_target(str(target), mode, storage_options or {}) as remote_tmp:
            yield remote_tmp
        return
    final = Path(os.fspath(target)).expanduser()
    if final.is_symlink():
        final = final.resolve()
    if not final.parent.is_dir():
        raise NotFoundError(final, f"cannot be written: its folder {final.parent} does not exist")
    recover(final)
    _check_replaceable(final, mode, store)
    _remove_stale_temporaries(final)
    _check_free_space(final, nbytes)
    tmp = final.with_name(f".{final.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield str(tmp)
        _move_into_place(tmp, final, replace=mode == "w")
    except BaseException as exc:
        _remove(tmp)
        if _out_of_space(exc):
            _remove_later(tmp)
            raise WriteError(
                f"{final}: the filesystem ran out of space (or quota) while writing; nothing was "
                "written. Free some space or write elsewhere"
            ) from exc
        raise


#: free space kept beyond a writer's estimate: format overhead (headers, metadata, B-trees)
SPACE_MARGIN = 2**20


def _check_free_space(final: Path, nbytes: int | None) -> None:
    """Refuse early a write that cannot fit: libhdf5 may crash on a full disk rather than fail."""
    if nbytes is None:
        return
    try:
        free = shutil.disk_usage(final.parent).free
    except OSError:
        return  # a missing folder fails in the writer with its own message
    need = int(nbytes * 1.05) + SPACE_MARGIN
    if free < need:
        raise WriteError(
            f"{final}: needs about {need / 2**20:.1f} MiB but its filesystem has {free / 2**20:.1f} MiB "
            "free; free some space or write elsewhere"
        )


def _out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc` (or an exception it came from) is a full disk or an exceeded quota."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, OSError) and "No space left on device" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def _remove_later(tmp: Path, attempts: int = 20) -> None:
    """Remove `tmp` again while a writer's background threads (zarr's) may still be creating files in it."""
    for _ in range(attempts):
        if not (tmp.exists() or tmp.is_symlink()):
            return
        time.sleep(0.05)
        _remove(tmp)


def _check_replaceable(final: Path, mode: str, store: str | None) -> None:
    if not final.exists():
        return
    if mode == "w-":
        raise WriteError(f"{final}: exists; pass mode='w' to overwrite it")
    if store is None and final.is_dir():
        raise WriteError(
            f"{final}: is a directory; pycrox writes a single file only over a file, never over a "
            "directory (choose a file name inside it)"
        )
    if store == "zarr" and not (
        final.is_dir() and any((final / n).exists() for n in ("zarr.json", ".zgroup", ".zarray"))
    ):
        raise WriteError(
            f"{final}: exists and is not a Zarr store; pycrox replaces only a Zarr store with one"
        )


def recover(final: Path) -> None:
    """Finish or roll back a directory replacement that a killed writer left at `final`.

    A store renamed aside (``.<name>.old-<id>``) is put back when `final` is missing (roll back),
    and deleted when `final` is there (the new store was already in place: finish).
    """
    for old in final.parent.glob(f".{glob.escape(final.name)}.old-*") if final.parent.is_dir() else ():
        if final.exists() or final.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.rename(old, final)


def _remove_stale_temporaries(final: Path) -> None:
    """Delete temporaries of `final` whose writing process no longer runs (a kill -9, a crash)."""
    for tmp in final.parent.glob(f".{glob.escape(final.name)}.*.tmp"):
        pid = tmp.name[len(final.name) + 2 :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            _remove(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _swap_directory(tmp: Path, final: Path, attempts: int = 8) -> None:
    """Put the directory `tmp` at `final`: the old one aside, the new one in, the old one deleted.

    A reader sees the old store, for a moment no store, or the new store; never a half one. When
    writers race, the last one to move in wins; none fails half-way.
    """
    for _ in range(attempts):
        aside = final.with_name(f".{final.name}.old-{uuid.uuid4().hex[:8]}")
        old: Path | None = aside
        try:
            os.rename(final, aside)
        except FileNotFoundError:
            old = None  # another writer has it aside right now, or there was none
        try:
            os.rename(tmp, final)
        except OSError as exc:
            if old is not None:
                with contextlib.suppress(OSError):
                    os.rename(old, final)
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            continue  # another writer moved its store in meanwhile: set that one aside too
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise WriteError(f"{final}: other writers kept replacing it; tried {attempts} times")


def _move_into_place(tmp: Path, final: Path, *, replace: bool) -> None:
    """Move `tmp` onto `final`; without `replace`, atomically refuse a target that appeared meanwhile."""
    if replace:
        if tmp.is_dir():
            _swap_directory(tmp, final)
            return
        os.replace(tmp, final)
        return
    try:
        if tmp.is_dir():
            if final.exists():
                raise FileExistsError(final)
            os.rename(tmp, final)  # fails on an existing non-empty directory
        else:
            os.link(tmp, final)  # fails if final exists, even when another process just made it
            tmp.unlink()
    except (FileExistsError, IsADirectoryError, NotADirectoryError) as exc:
        raise WriteError(f"{final}: exists; pass mode='w' to overwrite it") from exc
    except OSError as exc:
        if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise WriteError(f"{final}: exists; pass mode='w' to overwrite it") from exc
        raise


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def _remote_target(url: str, mode: str, storage_options: dict) -> Iterator[str]:
    fs, key = fsspec.core.url_to_fs(url, **storage_options)
    if mode == "w-" and fs.exists(key):
        raise WriteError(f"{url}: exists; pass mode='w' to overwrite it")
    with tempfile.TemporaryDirectory(prefix="pycrox-") as folder:
        local = Path(folder) / Path(key).name
        yield str(local)
        temporary_key = f"{key}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            fs.put(str(local), temporary_key, recursive=local.is_dir())
            fs.mv(temporary_key, key, recursive=local.is_dir())
        except BaseException:
            with contextlib.suppress(Exception):
                fs.rm(temporary_key, recursive=True)
            raise
