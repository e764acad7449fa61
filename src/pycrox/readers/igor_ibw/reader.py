"""Igor Pro binary waves (``.ibw``, versions 2, 3 and 5, either byte order).

Plain waves (any number of dimensions, zero-point waves included) become one signal named after
the wave. Waves whose last dimension carries element labels — the way Asylum Research stores the
channels of an image (``HeightRetrace``, ``PhaseRetrace`` ... along the layers) or of a force curve
(``Raw``, ``Defl``, ``ZSnsr`` along the columns) — become one signal per label, each reading only
its own contiguous block. Igor stores arrays column-major (rows = the first dimension vary
fastest), so the C-order dims are the wave's dimensions reversed: ``(y, x)`` for an image. Each
dimension's coordinate is the wave scaling ``offset + delta * index`` in the wave's own units; the
wave note's ``key:value`` lines are parsed into ``original_metadata["note"]``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._binary import RawArray, check_extent
from pycrox.readers._common import values
from pycrox.readers._common.companion import base_name, read_bytes
from pycrox.readers._common.native import lazy_native
from pycrox.readers.igor_ibw import _header
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_SPATIAL = ("x", "y", "z")
_LENGTH_UNITS = ("m", "nm", "µm", "pm", "Å", "mm", "cm")


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is an Igor binary wave (version and header checksum); never raises."""
    try:
        source = open_source(filename_or_obj, storage_options)
        head = read_head(source, _header.HEAD_BYTES)
        _header.parse(head, source)
    except Exception:  # noqa: BLE001 - a guess never raises
        return False
    return True


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an Igor binary wave as a lazy DataTree: one node per channel (or one for the wave).

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.ibw`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``; one child node per signal.

    Raises
    ------
    FormatError
        On an unknown version, a bad header checksum, a text wave or a file shorter than its headers
        say.
    """
    source = open_source(filename_or_obj, storage_options)
    head = read_head(source, _header.HEAD_BYTES)
    wave = _header.parse(head, source)
    extras = _sections(source, wave)
    signals = _signals(source, wave, extras)
    tree: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={"source": "Igor Pro", "file": base_name(source)})}
    for name, da in signals.items():
        tree[f"/{name}"] = da.to_dataset(name=name)
    return xr.DataTree.from_dict(tree)


def _sections(source: Source, wave: dict[str, Any]) -> dict[str, bytes]:
    """The bytes of every section after the data (note, formula, units, labels)."""
    dtype = np.dtype(wave["dtype"])
    points = math.prod(wave["shape"])
    check_extent(source, wave["data_offset"], points * dtype.itemsize, f"the wave data ({points} points)")
    out = {}
    for name, (offset, size) in _header.section_offsets(wave).items():
        if size > 0:
            out[name] = read_bytes(source, offset, size, f"the wave's {name.replace('_', ' ')} section")
    return out


def _dims(wave: dict[str, Any], units: list[str]) -> list[str]:
    """Dimension names in Igor order (rows, columns, layers, chunks)."""
    names: list[str] = []
    spatial = iter(_SPATIAL)
    for axis, unit in enumerate(units):
        if unit == "s":
            name = "time"
        elif unit in _LENGTH_UNITS or (not unit and axis < 2):
            name = next(spatial, f"axis_{axis}")
        elif not unit and axis == 2:
            name = "frame"
        else:
            name = f"axis_{axis}"
        names.append(name if name not in names else f"{name}_{axis}")
    return names


def _signals(source: Source, wave: dict[str, Any], extras: dict[str, bytes]) -> dict[str, xr.DataArray]:
    ndim = len(wave["shape"])
    units = [_unit(extras.get(f"dim_eunits_{i}"), wave["dim_units"][i]) for i in range(ndim)]
    dims = _dims(wave, units)
    labels = [_header.labels(extras.get(f"dim_labels_{i}", b"")) for i in range(ndim)]
    note_text = extras.get("note", b"").decode("latin-1")
    note = _header.note_entries(note_text)
    original = {
        "header": {k: v for k, v in wave.items() if k not in ("sections", "section_order")},
        "sections": dict(wave["sections"]),
        "note": note,
        "note_text": note_text,
        "formula": extras.get("formula", b"").split(b"\x00", 1)[0].decode("latin-1"),
        "dimension_labels": labels,
    }
    common: dict[str, Any] = {
        "units": values.unit_spelling(_unit(extras.get("data_eunits"), wave["data_units"])),
        "source": "Igor Pro",
        "metadata": _metadata(note),
        "original_metadata": original,
    }
    coords: dict[Hashable, Any] = {
        dims[i]: _coordinate(dims[i], wave["shape"][i], wave["offset"][i], wave["scale"][i], units[i])
        for i in range(ndim)
    }
    c_dims = dims[::-1]  # column-major: the first Igor dimension varies fastest
    channel_axis = ndim - 1
    channels = labels[channel_axis][1:] if ndim > 1 else []
    dtype = np.dtype(wave["dtype"])
    if ndim > 1 and any(channels):
        block_shape = tuple(wave["shape"][:channel_axis][::-1])
        block = math.prod(block_shape) * dtype.itemsize
        out: dict[str, xr.DataArray] = {}
        grid: Any = {d: coords[d] for d in c_dims[1:]}
        for index in range(wave["shape"][channel_axis]):
            label = channels[index] if index < len(channels) and channels[index] else f"channel_{index}"
            name = _unique(label.replace("/", "_"), out)
            data = lazy_native(RawArray(source, wave["data_offset"] + index * block, dtype, block_shape))
            out[name] = model.from_array(
                data,
                c_dims[1:],
                coords=grid,
                name=name,
                title=label,
                quantity=label,
                **common,
            )
            grid = out[name].coords  # every channel has the same grid: its indexes are built once
        return out
    shape = tuple(wave["shape"][::-1])
    name = wave["name"].replace("/", "_") or "wave"
    data = lazy_native(RawArray(source, wave["data_offset"], dtype, shape))
    return {name: model.from_array(data, c_dims, coords=coords, name=name, title=wave["name"], **common)}


def _unique(name: str, taken: dict[str, Any]) -> str:
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    return candidate


def _unit(extended: bytes | None, short: str) -> str:
    return extended.split(b"\x00", 1)[0].decode("latin-1") if extended else short


def _coordinate(dim: str, size: int, offset: float, scale: float, unit: str) -> dict[str, Any]:
    quantity = "Time" if dim == "time" else ("Length" if dim in _SPATIAL and unit else "")
    spelled = values.unit_spelling(unit, quantity or None)
    return {
        "values": offset + scale * np.arange(size, dtype=np.float64),
        "units": spelled,
        "quantity": quantity,
        "dimension_type": "TEMPORAL" if dim == "time" else ("SPATIAL" if dim in _SPATIAL else "UNKNOWN"),
    }


def _metadata(note: dict[str, Any]) -> dict[str, Any]:
    """Normalised metadata from the Asylum Research note keys."""
    meta: dict[str, Any] = {
        "scan_rate": values.quantity(note.get("ScanRate"), "Hz"),
        "setpoint": values.number(note.get("Setpoint")),
        "spring_constant": values.quantity(note.get("SpringConstant"), "N/m"),
        "date": values.iso_date(note.get("Date")),
        "time": values.iso_time(note.get("Time")),
        "operator": note.get("UserName") or None,
    }
    return values.drop_empty(meta)
