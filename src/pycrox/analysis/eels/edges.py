"""Ionisation-edge onsets of the elements (K, L1, L2, L3, M4, M5), from the table shipped in pycrox.data."""

from __future__ import annotations

import functools
import json
from collections.abc import Hashable, Iterable
from importlib import resources
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis.eels._common import EELSError, energy_axis

__all__ = ["atomic_number", "edge_onset", "edges", "table"]

#: edges combined for quantification: the name used in ``composition`` -> the table's sub-shells
COMBINED = {
    "K": ("K",),
    "L1": ("L1",),
    "L23": ("L3", "L2"),
    "L3": ("L3",),
    "L2": ("L2",),
    "M45": ("M5", "M4"),
    "M5": ("M5",),
    "M4": ("M4",),
}


@functools.cache
def table() -> dict[str, Any]:
    """The edge table (``{"symbols": [...], "edges": {element: {shell: onset_eV}}, "description": ...}``)."""
    text = resources.files("pycrox.data").joinpath("eels_edges.json").read_text(encoding="utf-8")
    return json.loads(text)


def atomic_number(element: str) -> int:
    """Atomic number of an element symbol (``"Ti"`` -> 22).

    Raises
    ------
    EELSError
        If the symbol is not an element.
    """
    symbols = table()["symbols"]
    if element not in symbols:
        close = [s for s in symbols if s.lower() == str(element).lower()]
        hint = f"; did you mean {close[0]!r}?" if close else "; use a symbol such as 'Ti' or 'O'"
        raise EELSError(f"unknown element {element!r}{hint}")
    return symbols.index(element) + 1


def edge_onset(element: str, shell: str) -> float:
    """Onset [eV] of one edge: ``shell`` in K, L1, L2, L3, L23 (= L3), M4, M5, M45 (= M5).

    Raises
    ------
    EELSError
        Unknown element, or no such edge in the table (the message lists the edges there are).
    """
    atomic_number(element)
    known = table()["edges"].get(element, {})
    names = COMBINED.get(shell)
    if names is None or names[0] not in known:
        have = ", ".join(f"{k} ({v:g} eV)" for k, v in known.items()) or "none"
        raise EELSError(
            f"no {shell!r} edge of {element} in the pycrox edge table; its edges are: {have}. Give the onset "
            "yourself with onsets={'" + f"{element}" + "': energy_in_eV}"
        )
    return float(known[names[0]])


def edges(
    da: xr.DataArray | None, element: str | Iterable[str], *, dim: Hashable | None = None
) -> xr.DataArray:
    """Edge onsets of one or more elements, over a dim ``edge`` (``"Ti_L3"``, ``"O_K"``, ...).

    Parameters
    ----------
    da : xarray.DataArray or None
        A spectrum (image): adds a boolean coordinate ``in_range`` saying which onsets lie
        inside its energy axis. None: the table only.
    element : str or iterable of str
        Element symbols, e.g. ``"Ti"`` or ``["Sr", "Ti", "O"]``.
    dim : hashable, optional
        The energy dim of `da`; default its single SPECTRAL dim.

    Returns
    -------
    xarray.DataArray
        Onsets in eV, sorted by energy, over ``edge`` with coordinates ``element`` and ``shell``.

    Raises
    ------
    EELSError
        An unknown element, or one without edges in the table.

    Notes
    -----
    The onsets are the electron binding energies of the X-ray Data Booklet (LBNL, table 1-1), see
    ``pycrox/data/eels_edges.json``; the K onsets of B to F are those seen in EELS of solids.

    Examples
    --------
    >>> edges(None, "O").values.tolist(), edges(None, "Ti").edge.values.tolist()
    ([532.0], ['Ti_L3', 'Ti_L2', 'Ti_L1', 'Ti_K'])
    """
    elements = [element] if isinstance(element, str) else list(element)
    rows: list[tuple[str, str, float]] = []
    for el in elements:
        atomic_number(el)
        known = table()["edges"].get(el)
        if not known:
            raise EELSError(
                f"the pycrox edge table has no edges of {el} (it has {len(table()['edges'])} elements)"
            )
        rows.extend((el, shell, float(onset)) for shell, onset in known.items())
    rows.sort(key=lambda row: row[2])
    result = xr.DataArray(
        np.array([r[2] for r in rows]),
        dims=("edge",),
        coords={
            "edge": [f"{r[0]}_{r[1]}" for r in rows],
            "element": ("edge", [r[0] for r in rows]),
            "shell": ("edge", [r[1] for r in rows]),
        },
        name="onset",
        attrs={"units": "eV", "quantity": "energy", "long_name": "edge onset"},
    )
    if da is not None:
        _, energy = energy_axis(da, dim, "eels.edges")
        inside = (result.values >= energy[0]) & (result.values <= energy[-1])
        result = result.assign_coords(in_range=("edge", inside))
    return provenance.record(result, "eels.edges", source=da, element=elements)
