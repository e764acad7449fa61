"""Nanonis files: ``.sxm`` scans, ``.dat`` spectra and ``.3ds`` grid spectroscopy.

The kind is told by the first bytes (``:NANONIS_VERSION:`` for scans, ``Grid dim=`` for grids,
``Experiment<TAB>`` for spectra). Scans give one lazy ``(y, x)`` signal per channel and direction
(``Z forward``, ``Z backward`` ...), spectra one ``(<sweep>,)`` signal per column, grids one lazy
``(y, x, <sweep>)`` signal per channel with the per-point parameters as ``(y, x)`` coordinates.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from pycrox.errors import FormatError
from pycrox.readers._common.companion import base_name
from pycrox.readers.nanonis import _dat, _grid, _sxm
from pycrox.sources import open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_DAT_MAGIC = b"Experiment\t"


def _kind(head: bytes) -> str | None:
    if head.startswith(_sxm.MAGIC):
        return "sxm"
    if head.startswith(_grid.MAGIC):
        return "3ds"
    if head.startswith(_DAT_MAGIC):
        return "dat"
    return None


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts like a Nanonis scan, spectrum or grid; never raises."""
    try:
        source = open_source(filename_or_obj, storage_options)
        return _kind(read_head(source, 32)) is not None
    except Exception:  # noqa: BLE001 - a guess never raises
        return False


def read_tree(
    filename_or_obj: Any, *, storage_options: dict | None = None, read_together: bool | None = None
) -> xr.DataTree:
    """Read a Nanonis file as a DataTree with one node per signal.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.sxm``, ``.dat`` or ``.3ds`` file.
    storage_options : dict, optional
        fsspec options for URLs.
    read_together : bool or None, optional
        3DS grids only: which other channels a read of a whole channel reads in the same pass over
        the file and keeps ("parks") until each is read once, the tree is closed or its node is
        dropped. None (default): the other channels not read yet, up to 1 GiB of them; True: all of
        them, unbounded; False: none (a channel read reads that channel only).

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``/``kind``; one child node per signal, lazy for scans and grids.
        For grids, closing the tree or any node (``close()``, ``with``) drops the parked channels.

    Raises
    ------
    FormatError
        On a file that is none of the three kinds, a header without its end marker, or data shorter
        than the header says.
    """
    source = open_source(filename_or_obj, storage_options)
    kind = _kind(read_head(source, 32))
    if kind is None:
        raise FormatError(
            source.name,
            "starts neither with ':NANONIS_VERSION:', 'Grid dim=' nor 'Experiment'; no Nanonis file",
            where="offset 0",
        )
    closer = None
    if kind == "3ds":
        signals, _, closer = _grid.read_signals(source, read_together=read_together)
    else:
        signals, _ = {"sxm": _sxm, "dat": _dat}[kind].read_signals(source)
    tree: dict[str, xr.Dataset] = {
        "/": xr.Dataset(attrs={"source": "Nanonis", "file": base_name(source), "kind": kind})
    }
    for name, da in signals.items():
        tree[f"/{name}"] = da.to_dataset(name=name)
    out = xr.DataTree.from_dict(tree)
    if closer is not None:
        for node in out.subtree:  # open_dataset(group=...) keeps one node's closer
            node.set_close(closer)
    return out
