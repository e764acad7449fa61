"""Names every writer can store: what HDF5, netCDF and Zarr paths cannot hold is refused before writing.

A variable, coordinate or dimension name becomes a path element in every format pycrox writes
(an HDF5 dataset, a netCDF variable, a Zarr array). A ``/`` would split it into groups, and ``.``
or ``..`` name the group itself or its parent, so files written with them could not be reopened
as written. `check_names` refuses them with a `WriteError` naming the culprit, before any byte is
written (see ``specs/writes.md``); `check_write`, which every writer calls first, also checks what is
written and the mode.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import xarray as xr

from pycrox.errors import ArgumentError, WriteError

__all__ = ["check_names", "check_write", "name_problem"]


def name_problem(name: Any) -> str | None:
    """Why `name` cannot be stored as a variable or dimension name, or None when it can.

    Parameters
    ----------
    name : hashable
        A variable, coordinate or dimension name.

    Returns
    -------
    str or None
        A short reason (``"contains '/'"``), or None.

    Examples
    --------
    >>> name_problem("a/b")
    "contains '/', the group separator"
    >>> name_problem("image") is None
    True
    """
    if not isinstance(name, str):
        return None
    if name in (".", ".."):
        return "is a group's own name (or its parent's) in a path"
    if "/" in name:
        return "contains '/', the group separator"
    return None


def _names(obj: Any) -> Iterator[tuple[str, str, Any]]:
    """Yield (where, kind, name) for every variable, coordinate and dimension of `obj`."""
    if isinstance(obj, xr.DataTree):
        for node in obj.subtree:
            if node.parent is not None:
                yield node.parent.path, "group", node.name
            for _, kind, name in _names(node.to_dataset(inherit=False)):
                yield node.path, kind, name
        return
    if isinstance(obj, xr.DataArray):
        yield "/", "signal", obj.name
        obj = obj.coords.to_dataset() if obj.name is None else obj.to_dataset(name="_")
    for name in obj.data_vars if isinstance(obj, xr.Dataset) else ():
        if name != "_":
            yield "/", "variable", name
    for name in obj.coords:
        yield "/", "coordinate", name
    for name in obj.dims:
        yield "/", "dimension", name


def check_write(obj: Any, target: Any, fmt: str, mode: str, modes: tuple[str, ...] = ("w-", "w")) -> None:
    """Refuse, before anything is written, a write that cannot succeed as asked.

    Parameters
    ----------
    obj : object
        What is about to be written.
    target : str, os.PathLike or h5py.Group
        Where, for the messages.
    fmt : str
        The format written (``"NSID"``).
    mode : str
        The mode asked for.
    modes : tuple of str
        The modes the writer knows.

    Raises
    ------
    TypeError
        If `obj` is not an xarray DataArray, Dataset or DataTree.
    ArgumentError
        If `mode` is not one of `modes`.
    WriteError
        If a name in `obj` cannot be stored (see `check_names`).
    """
    if not isinstance(obj, xr.DataArray | xr.Dataset | xr.DataTree):
        raise TypeError(
            f"{target}: {fmt} writes an xarray DataArray, Dataset or DataTree, not {type(obj).__name__} "
            "(wrap a numpy array with pycrox.from_array first)"
        )
    if mode not in modes:
        raise ArgumentError(f"{target}: mode must be one of {', '.join(map(repr, modes))}, not {mode!r}")
    check_names(obj, fmt, target)


def check_names(obj: Any, fmt: str, target: Any = None) -> None:
    """Refuse an object whose names a file cannot hold as written.

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        What is about to be written.
    fmt : str
        The format written, for the message (``"NSID"``).
    target : str, os.PathLike or h5py.Group, optional
        Where it is written, for the message.

    Raises
    ------
    WriteError
        If a variable, coordinate or dimension name contains ``/`` or is ``.`` or ``..``.
    """
    prefix = "" if target is None else f"{target}: "
    for where, kind, name in _names(obj):
        problem = name_problem(name)
        if problem is not None:
            at = "" if where == "/" else f" in group {where}"
            raise WriteError(
                f"{prefix}{fmt} cannot store the {kind} name {name!r}{at}: it {problem}; rename it "
                "before writing (da.rename('new name'), or .rename({old: new}) for dimensions)"
            )
