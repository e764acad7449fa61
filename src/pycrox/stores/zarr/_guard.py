"""A local Zarr store that notices being replaced while it is read.

pycrox replaces a directory store by moving the new one into place (``sources._swap_directory``).
An object opened lazily before such a replacement keeps the old metadata; its later chunk reads
would go to the path, now the new store, and mix the two versions — or, in the instant between
the two renames, find no chunk and return zarr's fill value. `GuardedStore` prevents both: it
records the store's *generation* when it is created and compares it after every read, so a read
that may have touched another generation raises `StoreChangedError` instead of returning data.

The generation of a directory store is the identity (device, inode) of its folder and of its root
metadata file with that file's modification time and size: a replacement brings a new folder and
a new metadata file, written at another moment. Reading it costs two ``stat`` calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import LocalStore

from pycrox.errors import StoreChangedError

__all__ = ["GuardedStore", "generation"]

_METADATA = ("zarr.json", ".zgroup", ".zarray")


def generation(root: Path) -> tuple[int, ...] | None:
    """The generation of the directory store at `root`, or None when there is no store there."""
    try:
        folder = os.stat(root)
    except OSError:
        return None
    for name in _METADATA:
        try:
            meta = os.stat(root / name)
        except OSError:
            continue
        return (folder.st_dev, folder.st_ino, meta.st_ino, meta.st_mtime_ns, meta.st_size)
    return None


class GuardedStore(LocalStore):
    """A read-only `zarr.storage.LocalStore` whose reads fail once the store at its root was replaced.

    Parameters
    ----------
    root : str or Path
        The store's folder.
    expected : tuple of int, optional
        The generation the reads must come from; by default the one at `root` now.
    """

    def __init__(self, root: Path | str, *, expected: tuple[int, ...] | None = None, **_: Any) -> None:
        super().__init__(root, read_only=True)
        self.expected = generation(self.root) if expected is None else expected

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GuardedStore) and (self.root, self.expected) == (other.root, other.expected)

    def with_read_only(self, read_only: bool = False) -> GuardedStore:
        """The same store (it is always read-only)."""
        return type(self)(self.root, expected=self.expected)

    def check(self) -> None:
        """Raise `StoreChangedError` when the store at the root is not the generation opened."""
        now = generation(self.root)
        if now != self.expected or now is None:
            state = "was removed" if now is None else "was replaced"
            raise StoreChangedError(
                self.root,
                f"the Zarr store {state} after it was opened; open it again to read the current store",
            )

    async def get(
        self, key: str, prototype: BufferPrototype | None = None, byte_range: ByteRequest | None = None
    ) -> Buffer | None:
        """Read `key`, then make sure it came from the generation opened."""
        value = await super().get(key, prototype, byte_range)
        self.check()
        return value

    async def get_partial_values(
        self, prototype: BufferPrototype, key_ranges: Iterable[tuple[str, ByteRequest | None]]
    ) -> list[Buffer | None]:
        """Read byte ranges of keys, then make sure they came from the generation opened."""
        values = await super().get_partial_values(prototype, key_ranges)
        self.check()
        return values
