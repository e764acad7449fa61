"""Band-excitation results in BGlib's layout: compound ``Guess``/``Fit`` datasets in its results groups.

Writing a result of `pycrox.analysis.be` (recognised by its newest provenance step) with
``pycrox.to_usid(result, path, mode="a", source=...)`` gives BGlib's tool name to the results
group (``<source>-SHO_Fit_NNN`` or ``<source>-Loop_Fit_NNN``) and BGlib's compound fields and
dataset names (``Guess``/``Fit`` as ``sho32`` or ``loop_fit32``; loop metrics as
``Loop_Metrics`` and ``Fit_Loop_Parameters``). Variables BGlib has no field for
(``<name>_error``, ``converged``) follow BGlib's fields in the same compound dataset. ``source``
may also be an existing results group: the dataset is added to it, so ``Guess`` and ``Fit`` sit
together as BGlib writes them. Reading a compound dataset that pycrox wrote this way gives
pycrox's names back; BGlib's own files keep BGlib's field names (the `pycrox.analysis.be`
functions accept both). The table is in ``specs/usid-mapping.md``.
"""

from __future__ import annotations

from typing import Any

import h5py
import xarray as xr

from pycrox import model, provenance
from pycrox.adapters.usid import mapping
from pycrox.analysis.be import _names

__all__ = ["TOOLS", "existing_group", "from_file", "signals", "to_file", "tool_name"]

#: provenance step -> (BGlib tool of the results group, [(dataset name, field table), ...])
TOOLS: dict[str, tuple[str, list[tuple[str, dict[str, str]]]]] = {
    "sho_guess": ("SHO_Fit", [("Guess", _names.SHO)]),
    "sho_fit": ("SHO_Fit", [("Fit", _names.SHO)]),
    "loop_guess": ("Loop_Fit", [("Guess", _names.LOOP_FIT)]),
    "loop_fit": ("Loop_Fit", [("Fit", _names.LOOP_FIT)]),
    "loop_metrics": (
        "Loop_Fit",
        [("Loop_Metrics", _names.LOOP_METRICS), ("Fit_Loop_Parameters", _names.SWITCHING)],
    ),
}
#: Dataset attr recording the BGlib -> pycrox renaming (stored in the file's pycrox_model)
MARK = "pycrox_be_names"


def _step(obj: Any) -> str | None:
    if not isinstance(obj, xr.Dataset):
        return None
    step = provenance.last_step(obj)
    return step[0] if step and step[0] in TOOLS else None


def tool_name(obj: Any) -> str | None:
    """BGlib's tool name for the results group of a BE result (None for anything else)."""
    step = _step(obj)
    return TOOLS[step][0] if step else None


def signals(obj: Any) -> list[tuple[str, xr.Dataset]] | None:
    """``[(dataset name, compound Dataset with BGlib's field names)]`` for a BE result, else None."""
    step = _step(obj)
    if step is None:
        return None
    tables = TOOLS[step][1]
    claimed = {name for _, table in tables for name in table}
    out = []
    for index, (dataset, table) in enumerate(tables):
        names = {ours: bglib for ours, bglib in table.items() if ours in obj.data_vars}
        extras = [] if index else [str(k) for k in obj.data_vars if k not in claimed]
        fields = {bglib: obj[ours] for ours, bglib in names.items()}
        fields.update({name: obj[name] for name in extras})
        back = {bglib: ours for ours, bglib in names.items() if bglib != ours}
        attrs = {**obj.attrs, model.COMPOUND_ATTR: True, MARK: back}
        out.append((dataset, xr.Dataset(fields, attrs=attrs)))
    return out


def from_file(ds: xr.Dataset) -> xr.Dataset:
    """A compound dataset pycrox wrote from a BE result, with pycrox's names back (others unchanged).

    The renaming moves into the layout attr (``pycrox_usid["be_names"]``), so writing the Dataset
    again (`to_file`) restores BGlib's field names.
    """
    back = ds.attrs.get(MARK)
    if not isinstance(back, dict):
        return ds
    renamed = ds.rename({k: v for k, v in back.items() if k in ds.data_vars})
    layout = ds.attrs.get(mapping.LAYOUT_ATTR)
    attrs = {k: v for k, v in ds.attrs.items() if k != MARK}
    attrs[mapping.LAYOUT_ATTR] = {**(layout if isinstance(layout, dict) else {}), "be_names": back}
    renamed.attrs = attrs
    return renamed


def to_file(obj: Any) -> Any:
    """The inverse of `from_file` for a compound Dataset about to be written (anything else unchanged)."""
    layout = obj.attrs.get(mapping.LAYOUT_ATTR) if isinstance(obj, xr.Dataset) else None
    back = layout.get("be_names") if isinstance(layout, dict) else None
    if not isinstance(back, dict):
        return obj
    renamed = obj.rename({ours: bglib for bglib, ours in back.items() if ours in obj.data_vars})
    rest = {k: v for k, v in layout.items() if k != "be_names"}  # type: ignore[union-attr]
    attrs = {k: v for k, v in obj.attrs.items() if k != mapping.LAYOUT_ATTR}
    renamed.attrs = {**attrs, MARK: back, **({mapping.LAYOUT_ATTR: rest} if rest else {})}
    return renamed


def existing_group(h5: h5py.File, where: str) -> tuple[h5py.Group, str] | None:
    """``(group, path of its source)`` when `where` is an existing results group, else None."""
    group = h5.get(where)
    if not isinstance(group, h5py.Group) or "source_000" not in group.attrs:
        return None
    source = h5[group.attrs["source_000"]]
    return group, source.name
