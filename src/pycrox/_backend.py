"""One xarray backend shape for every pycrox reader: a reader gives a DataTree, xarray asks for a node.

A reader module (``pycrox.readers.<format>`` or ``pycrox.adapters.<format>.reader``) provides

* ``guess_can_open(filename_or_obj, storage_options=None) -> bool`` (cheap, never raises), and
* ``read_tree(filename_or_obj, *, storage_options=None) -> xarray.DataTree`` (lazy).

`TreeBackendEntrypoint` turns such a module into an xarray engine: ``open_dataset`` returns one
signal node (``group=`` picks it), ``open_datatree`` the whole tree.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, ClassVar

import xarray as xr
from xarray.backends import BackendEntrypoint

from pycrox import model
from pycrox.errors import PycroxError

__all__ = ["TreeBackendEntrypoint", "signal_dataset"]


def signal_dataset(tree: xr.DataTree, group: str | None, source: str) -> xr.Dataset:
    """The Dataset of the signal node `group` names (or of the only signal)."""
    path = model.signal_path(tree, group, source)
    return (tree if path == "/" else tree[path]).to_dataset()


class TreeBackendEntrypoint(BackendEntrypoint):
    """xarray engine over a pycrox reader module (set `reader_module` in a subclass)."""

    reader_module: ClassVar[str] = ""
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "group", "storage_options")
    supports_groups = True

    def _reader(self) -> Any:
        return importlib.import_module(self.reader_module)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Whether the reader recognises the file; False instead of raising."""
        try:
            return bool(self._reader().guess_can_open(filename_or_obj))
        except (PycroxError, OSError, TypeError, ValueError):
            return False

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        group: str | None = None,
        storage_options: dict | None = None,
    ) -> xr.Dataset:
        """One signal of the file as a Dataset (``group=`` names its node)."""
        tree = self._reader().read_tree(filename_or_obj, storage_options=storage_options)
        ds = signal_dataset(tree, group, str(filename_or_obj))
        return ds.drop_vars(list(drop_variables or []))

    def open_datatree(  # type: ignore[override]
        self, filename_or_obj: Any, *, storage_options: dict | None = None, **kwargs: Any
    ) -> xr.DataTree:
        """The whole file as a DataTree."""
        return self._reader().read_tree(filename_or_obj, storage_options=storage_options)

    def open_groups_as_dict(  # type: ignore[override]
        self, filename_or_obj: Any, *, storage_options: dict | None = None, **kwargs: Any
    ) -> dict[str, xr.Dataset]:
        """Every node of the file as ``{path: Dataset}``."""
        tree = self.open_datatree(filename_or_obj, storage_options=storage_options)
        return {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
