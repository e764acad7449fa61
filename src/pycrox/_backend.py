"""One xarray backend shape for every pycrox reader: a reader gives a DataTree, xarray asks for a node.

A format's reader module (``<package>.reader``, see `pycrox.formats`) provides

* ``guess_can_open(filename_or_obj, storage_options=None) -> bool`` (cheap, never raises), and
* ``read_tree(filename_or_obj, *, storage_options=None, **options) -> xarray.DataTree`` (lazy).

`TreeBackendEntrypoint` turns such a module into an xarray engine: ``open_dataset`` returns one
signal node (``group=`` picks it), ``open_datatree`` the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import xarray as xr
from xarray.backends import BackendEntrypoint

from pycrox import formats, model
from pycrox.errors import PycroxError

__all__ = ["TreeBackendEntrypoint", "signal_dataset"]


def signal_dataset(tree: xr.DataTree, group: str | None, source: str) -> xr.Dataset:
    """The Dataset of the signal node `group` names (or of the only signal)."""
    path = model.signal_path(tree, group, source)
    return (tree if path == "/" else tree[path]).to_dataset()


class TreeBackendEntrypoint(BackendEntrypoint):
    """xarray engine over a pycrox reader (set `format_name`, a name in `pycrox.formats`, in a subclass).

    The reader options the registry lists for the format are keyword arguments of
    ``open_dataset`` / ``open_datatree`` (``xr.open_dataset(path, engine="bruker_eds",
    binning=2)``); any other raises a `TypeError` naming the valid ones.
    """

    format_name: ClassVar[str] = ""
    open_dataset_parameters: ClassVar[tuple[str, ...]] = (
        "filename_or_obj",
        "drop_variables",
        "group",
        "storage_options",
    )
    supports_groups = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        entry = formats.by_name(cls.format_name)
        if "description" not in cls.__dict__:
            cls.description = f"{entry.title}, as pycrox objects"
        if "url" not in cls.__dict__:
            cls.url = f"https://pycrox.readthedocs.io/en/latest/formats/{entry.name}.html"
        cls.open_dataset_parameters = (*TreeBackendEntrypoint.open_dataset_parameters, *entry.options)

    def _read_tree(
        self, filename_or_obj: Any, storage_options: dict | None, options: dict[str, Any]
    ) -> xr.DataTree:
        formats.check_options(self.format_name, options)
        tree = formats.reader(self.format_name).read_tree(
            filename_or_obj, storage_options=storage_options, **options
        )
        return model.comparable_attrs(tree, copy=False)

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Whether the reader recognises the file; False instead of raising."""
        try:
            return bool(formats.reader(self.format_name).guess_can_open(filename_or_obj))
        except (PycroxError, OSError, TypeError, ValueError):
            return False

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        group: str | None = None,
        storage_options: dict | None = None,
        **options: Any,
    ) -> xr.Dataset:
        """One signal of the file as a Dataset (``group=`` names its node)."""
        tree = self._read_tree(filename_or_obj, storage_options, options)
        ds = signal_dataset(tree, group, str(filename_or_obj)).drop_vars(list(drop_variables or []))
        ds.set_close(tree.close)  # closing the dataset closes what the reader's tree holds
        return ds

    def open_datatree(  # type: ignore[override]
        self,
        filename_or_obj: Any,
        *,
        drop_variables: Iterable[str] | None = None,
        group: str | None = None,
        storage_options: dict | None = None,
        **options: Any,
    ) -> xr.DataTree:
        """The whole file as a DataTree (``group=`` roots it at that node; `drop_variables` leaves them out)."""
        tree = self._read_tree(filename_or_obj, storage_options, options)
        if group not in (None, "", "/"):
            tree = tree[str(group)]  # type: ignore[assignment]
            tree.orphan()
        if drop_variables:
            drop = list(drop_variables)
            tree = tree.map_over_datasets(lambda ds: ds.drop_vars(drop, errors="ignore"))
        return tree

    def open_groups_as_dict(  # type: ignore[override]
        self, filename_or_obj: Any, *, storage_options: dict | None = None, **kwargs: Any
    ) -> dict[str, xr.Dataset]:
        """Every node of the file as ``{path: Dataset}``."""
        tree = self.open_datatree(filename_or_obj, storage_options=storage_options, **kwargs)
        return {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
