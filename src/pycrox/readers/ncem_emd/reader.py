"""Berkeley (NCEM) EMD files, every generation: each EMD data group as a lazy pycrox signal.

EMD 0.2 is HDF5 with attributes ``version_major``/``version_minor`` on the root, or, in files
written by Prismatic and py4DSTEM < 0.12, on a top-level group with ``emd_group_type = 2``. Each
group with the attribute ``emd_group_type = 1`` holds the data (a dataset ``data``; Prismatic
names it ``realslice``, ``datacube`` or ``diffractionslice``) and one ``dimN`` vector per axis
(``dim1`` for axis 0; ``dim0`` for axis 0 in files that start at 0) with attributes ``name`` and
``units`` (``"n_m"``, ``"[n_m]"``, ``"[]"``: underscores separate prefix and unit). A vector as long
as its axis gives the coordinate values; two values give the first two of a uniform axis; a vector of
text gives labels (a ``channel`` dim). EMD 1.0 (emdfile, py4DSTEM >= 0.14) has typed groups:
the root's ``emd_group_type`` is ``"file"``, data groups are ``"array"`` (``data`` plus ``dim0``...),
and ``"metadatabundle"`` groups beside them hold the metadata (kept in ``original_metadata``).

The data keep the stored axis order. Dims are named from the vectors' names (``"X"`` -> ``x``,
``"Qx"`` -> ``kx``, ...); unnamed axes get positional names (``(y, x)``, ``(frame, y, x)``), reversed
for files written by HyperSpy (``signals`` groups with a ``record_by`` attribute), which store
the transpose of their arrays. The groups ``microscope``, ``sample``, ``user`` and ``comments``
are the root node's ``original_metadata`` and feed the normalised metadata of every signal.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends.locks import HDF5_LOCK

from pycrox import model, units
from pycrox._hdf5 import H5_ERRORS, attr_to_python, lazy_variable_data, open_file_manager, probe
from pycrox.errors import FormatError, PycroxError, UnitError
from pycrox.readers._common.values import number, quantity

__all__ = ["guess_can_open", "read_tree"]

#: what h5py raises on damaged files (besides our own errors)

#: vector names (lower case, without spaces and underscores) -> pycrox dim
_DIM_NAMES = {
    alias: dim
    for dim, aliases in {
        "x": "x rx", "y": "y ry", "z": "z rz", "kx": "kx qx", "ky": "ky qy", "time": "t time",
        "frame": "frame frames n", "energy": "e energy", "energy_loss": "energyloss eels",
        "tilt": "tilt angle theta alpha", "channel": "channel", "wavelength": "wavelength",
        "detector": "binouterangle detector",
    }.items()
    for alias in aliases.split()
}  # fmt: skip
#: metadata groups of the file (root level)
_METADATA_GROUPS = ("microscope", "sample", "user", "comments")
#: names of the data dataset in an EMD data group (Prismatic writes the three last ones)
_DATA_NAMES = ("data", "realslice", "datacube", "diffractionslice")


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is a Berkeley EMD file (root version attrs and an EMD data group)."""
    return probe(
        filename_or_obj,
        storage_options,
        lambda root: _version(root.file) is not None and bool(_emd_groups(root.file, first=True)),
    )


def _has_version(h5: h5py.Group) -> bool:
    return "version_major" in h5.attrs and "version_minor" in h5.attrs


def _version(h5: h5py.File) -> h5py.Group | None:
    """The group carrying the EMD version: the root, else a top-level ``emd_group_type = 2`` group."""
    if _has_version(h5):
        return h5
    for child in h5.values():
        if isinstance(child, h5py.Group) and _has_version(child) and _group_type(child) == 2:
            return child
    return None


def _group_type(group: h5py.Group) -> int | str | None:
    """``emd_group_type`` as an int (EMD 0.2) or lower-case text (EMD 1.0), None when absent."""
    kind = attr_to_python(group.attrs.get("emd_group_type"))
    if isinstance(kind, bytes | np.bytes_):
        kind = bytes(kind).decode("utf-8", errors="replace")
    if isinstance(kind, str):
        return kind.strip().lower()
    if isinstance(kind, int | float | np.integer | np.floating) and float(kind) == int(kind):
        return int(kind)
    return None


def _data_name(group: h5py.Group) -> str | None:
    """The name of the data dataset of an EMD data group, None when it is not one."""
    if _group_type(group) not in (1, "array"):
        return None
    return next((n for n in _DATA_NAMES if isinstance(group.get(n), h5py.Dataset)), None)


def _emd_groups(h5: h5py.Group, *, first: bool = False) -> list[str]:
    """Paths of the EMD data groups (type 1 or ``"array"`` with a data dataset), in file order.

    With `first`, the visit stops at the first one (enough to recognise the file).
    """
    found: list[str] = []

    def visit(name: str, obj: Any) -> bool | None:
        if isinstance(obj, h5py.Group) and _data_name(obj) is not None:
            found.append("/" + name)
            return True if first else None
        return None

    h5.visititems(visit)
    return found


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a Berkeley EMD file as a lazy DataTree; each EMD group is a node at its HDF5 path.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL, h5py.File or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``, ``file``, ``format_version`` and ``original_metadata``; group nodes
        carry their HDF5 attributes; signal nodes hold one variable named after the group.

    Raises
    ------
    FormatError
        If the file is not readable HDF5, has no EMD version or data group, or a ``dimN`` vector
        does not fit its axis.
    """
    manager, name = open_file_manager(filename_or_obj, storage_options)
    try:
        with HDF5_LOCK:
            h5 = manager.acquire()
            plans, root = _plan(h5, name)
        nodes = {
            path: xr.Dataset({plan["name"]: _signal(manager, plan, root, name)})
            for path, plan in plans.items()
        }
        nodes.update(_group_nodes(manager, plans))
    except BaseException as exc:
        if not isinstance(filename_or_obj, h5py.Group):
            manager.close()
        if isinstance(exc, H5_ERRORS) and not isinstance(exc, PycroxError):
            raise FormatError(name, f"damaged HDF5 structure ({type(exc).__name__}: {exc})") from exc
        raise
    attrs = {
        "source": "Berkeley EMD",
        "file": os.path.basename(name.split("::")[-1]) or name,
        "format_version": root["version"],
        "original_metadata": root["original_metadata"],
    }
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **nodes})
    tree.set_close(None if isinstance(filename_or_obj, h5py.Group) else manager.close)
    return tree


def _plan(h5: h5py.File, name: str) -> tuple[dict[str, dict], dict[str, Any]]:
    """Layout, axes and attributes of every EMD group (no data), and the file's metadata."""
    holder = _version(h5)
    if holder is None:
        raise FormatError(
            name,
            "no EMD version: expected attributes version_major and version_minor on the root "
            "or on a top-level group with emd_group_type = 2",
            where="/",
        )
    paths = _emd_groups(h5)
    if not paths:
        raise FormatError(
            name,
            "no EMD data group: expected a group with emd_group_type = 1 (or 'array') and a 'data' dataset",
        )
    version = f"{_text(holder.attrs['version_major'])}.{_text(holder.attrs['version_minor'])}"
    original: dict[str, Any] = {"version": version}
    if holder.name != "/":
        original["version_group"] = holder.name
    if _group_type(h5) == "file":
        original["file"] = _attrs(h5)
    for group in _METADATA_GROUPS:
        if isinstance(h5.get(group), h5py.Group):
            original[group] = _attrs(h5[group])
    plans = {path: _group_plan(h5[path], name) for path in paths}
    return plans, {"version": version, "original_metadata": original}


def _group_plan(group: h5py.Group, name: str) -> dict[str, Any]:
    data = group[_data_name(group) or "data"]
    if data.dtype.kind not in "biufc" and data.dtype.names is None:
        raise FormatError(name, f"data of type {data.dtype} is not numeric", where=data.name)
    base = 0 if "dim0" in group else 1
    attrs = _attrs(group)
    axes = [_axis(group, f"dim{i + base}", size, name) for i, size in enumerate(data.shape)]
    dims = _dim_names(axes, attrs, reverse=_written_transposed(group))
    extras = {
        k: attr_to_python(v[()])
        for k, v in group.items()
        if isinstance(v, h5py.Dataset)
        and k != data.name.rsplit("/", 1)[-1]
        and not re.fullmatch(r"dim\d+", k)
        and v.size <= 64
    }
    bundles = _metadata_bundles(group)
    if bundles:
        extras["metadata"] = bundles
    return {
        "name": group.name.rsplit("/", 1)[-1],
        "path": data.name,
        "axes": axes,
        "dims": dims,
        "attrs": attrs,
        "extras": extras,
        "chunks": data.chunks,
    }


def _written_transposed(group: h5py.Group) -> bool:
    """HyperSpy writes ``signals/<title>`` groups with a ``record_by`` attribute and transposed data."""
    parent = group.parent
    return "record_by" in group.attrs and parent is not None and parent.name.rsplit("/", 1)[-1] == "signals"


def _axis(group: h5py.Group, key: str, size: int, name: str) -> dict[str, Any]:
    """Name, units and values of one axis from its ``dimN`` vector (an index when it is absent)."""
    vector = group.get(key)
    if not isinstance(vector, h5py.Dataset):
        return {"key": key, "name": "", "raw_units": "", "units": "", "values": np.arange(size)}
    label, raw_units = _text(vector.attrs.get("name", "")), _text(vector.attrs.get("units", ""))
    values = np.asarray(vector[()]).reshape(-1)
    if values.dtype.kind in "SOU" and values.size == size:  # labels (Prismatic's DPC_CoM_x, _y)
        labels = np.asarray([_text(v) for v in values], dtype=str)
        return {"key": key, "name": label or "channel", "raw_units": raw_units, "units": "", "values": labels}
    if values.dtype.kind not in "iuf":
        values = np.arange(size)
    elif values.size == 2 and size != 2:
        values = values[0] + (values[1] - values[0]) * np.arange(size, dtype=np.float64)
    elif values.size != size and not (size == 1 and values.size >= 1):
        raise FormatError(
            name,
            f"dimension vector has {values.size} values but data axis "
            f"{key.removeprefix('dim')} has {size}; the file may be damaged",
            where=vector.name,
        )
    return {
        "key": key,
        "name": label,
        "raw_units": raw_units,
        "units": _units(raw_units, label),
        "values": values[:size],
    }


def _units(raw: str, label: str) -> str:
    """An unambiguous spelling of an EMD unit (``"[n_m]"`` -> ``"nm"``; ``""`` when not understood)."""
    groups = re.findall(r"\[(.*?)\]", raw)
    text = "*".join(groups) if groups else raw
    text = text.replace("_", "").strip()
    if not text:
        return ""
    text = re.sub(r"(?<![A-Za-zµ])A(?![A-Za-z])", "Å", text)  # py4DSTEM's "A", "A^-1": ångström
    quantity = "Length" if _DIM_NAMES.get(_key(label)) in ("x", "y", "z") else None
    try:
        return units.format(units.parse(text, quantity))
    except UnitError:
        return ""


def _key(label: str) -> str:
    return re.sub(r"[\s_]+", "", label).lower()


def _kind_from_units(spelling: str) -> str | None:
    """``"length"``, ``"reciprocal"``, ``"time"`` or ``"energy"`` from a unit (None when unknown)."""
    if not spelling:
        return None
    dimensionality = dict(units.parse(spelling).dimensionality)
    kinds = {
        "length": {"[length]": 1},
        "reciprocal": {"[length]": -1},
        "time": {"[time]": 1},
        "energy": {"[length]": 2, "[mass]": 1, "[time]": -2},
    }
    return next((kind for kind, dims in kinds.items() if dimensionality == dims), None)


def _from_units(spelling: str, default: str) -> str | None:
    """The dim a unit implies at a position whose positional name is `default`."""
    kind = _kind_from_units(spelling)
    if kind == "length":
        return default if default in ("x", "y", "z") else None
    if kind == "reciprocal":
        return {"x": "kx", "y": "ky", "kx": "kx", "ky": "ky"}.get(default)
    return kind


def _default_dims(ndim: int, record_by: str) -> tuple[str, ...]:
    spatial = {0: (), 1: ("x",), 2: ("y", "x"), 3: ("frame", "y", "x")}
    if record_by == "spectrum" and ndim - 1 in spatial:
        return (*spatial[ndim - 1], "channel")
    table = {1: ("channel",), 2: ("y", "x"), 3: ("frame", "y", "x"), 4: ("y", "x", "ky", "kx")}
    return table.get(ndim, tuple(f"d{i}" for i in range(ndim)))


def _dim_names(axes: list[dict[str, Any]], attrs: dict[str, Any], *, reverse: bool) -> list[str]:
    """Dims by meaning: the vector's name, else its unit, else its position (``d<i>`` on a clash)."""
    defaults = list(_default_dims(len(axes), str(attrs.get("record_by", ""))))
    if reverse:
        defaults.reverse()
    names = [
        _DIM_NAMES.get(_key(axis["name"])) or _from_units(axis["units"], default) or default
        for axis, default in zip(axes, defaults, strict=True)
    ]
    return [name if name not in names[:i] else f"d{i}" for i, name in enumerate(names)]


def _signal(manager: Any, plan: dict[str, Any], root: dict[str, Any], source: str) -> xr.DataArray:
    coords = {}
    for dim, axis in zip(plan["dims"], plan["axes"], strict=True):
        spec = {"values": axis["values"], "units": axis["units"]}
        if dim in ("time", "frame") and axis["units"]:
            spec["quantity"] = "Time"
        coords[dim] = spec
    original = {
        "group": plan["attrs"],
        "datasets": plan["extras"],
        "dims": {a["key"]: {"name": a["name"], "units": a["raw_units"]} for a in plan["axes"]},
    }
    title = plan["name"]
    da = model.from_array(
        lazy_variable_data(manager, plan["path"]),
        plan["dims"],
        coords=coords,
        name=title,
        title=title,
        source=f"Berkeley EMD {root['version']}",
        metadata=_normalised(root["original_metadata"], plan["extras"]),
        original_metadata=original,
    )
    if plan["chunks"]:
        da.encoding["preferred_chunks"] = dict(zip(plan["dims"], plan["chunks"], strict=True))
    return da


def _group_nodes(manager: Any, plans: dict[str, dict]) -> dict[str, xr.Dataset]:
    """Intermediate group nodes carrying their HDF5 attributes."""
    parents = {p.rsplit("/", 1)[0] for path in plans for p in _ancestors(path)} - {"", *plans}
    with HDF5_LOCK:
        h5 = manager.acquire()
        return {path: xr.Dataset(attrs=_attrs(h5[path])) for path in sorted(parents) if path in h5}


def _metadata_bundles(group: h5py.Group) -> dict[str, Any]:
    """EMD 1.0 metadata: ``metadatabundle`` groups of `group` and of its parent, as plain dicts."""
    out: dict[str, Any] = {}
    for owner in (group.parent, group):
        bundle = owner.get("metadatabundle") if owner is not None else None
        if not isinstance(bundle, h5py.Group):
            continue
        for key, item in bundle.items():
            if isinstance(item, h5py.Group):
                out[str(key)] = {
                    str(k): attr_to_python(v[()]) if not isinstance(v[()], bytes) else _text(v[()])
                    for k, v in item.items()
                    if isinstance(v, h5py.Dataset) and v.size <= 64
                }
    return out


def _ancestors(path: str) -> list[str]:
    parts = path.strip("/").split("/")
    return ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def _normalised(original: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    microscope, user = original.get("microscope") or {}, original.get("user") or {}
    sample = original.get("sample") or {}
    values: dict[str, Any] = {
        "microscope": microscope.get("name") or None,
        "operator": user.get("name") or user.get("User name") or None,
        "sample": sample.get("sample name") or sample.get("material") or None,
        "beam_energy": _keV(microscope.get("high tension"), "V") or _keV(microscope.get("voltage"), "V"),
        "magnification": number(microscope.get("magnification")),
        "dwell_time": quantity(microscope.get("dwell time"), "s"),
    }
    stamp = number(extras.get("acquisition times", extras.get("acquisition time")))
    if stamp and stamp > 0:
        when = dt.datetime.fromtimestamp(stamp, tz=dt.UTC)
        values.update(date=when.date().isoformat(), time=when.time().replace(microsecond=0).isoformat())
    return {k: v for k, v in values.items() if v is not None}


def _keV(value: Any, default_unit: str) -> dict[str, Any] | None:
    """A voltage (a number in `default_unit`, or text such as ``"300kV"``) as ``{"value": keV}``."""
    has_unit = isinstance(value, str) and re.search(r"[A-Za-z]", value) is not None
    magnitude = None if has_unit else number(value)
    if has_unit:
        try:
            quantity = units.ureg.Quantity(value.strip())
            return {"value": float(quantity.to("kV").magnitude), "units": "keV"}
        except Exception:  # noqa: BLE001 - pint raises many kinds on free text
            return None
    if magnitude is None:
        return None
    return {"value": float(units.ureg.Quantity(magnitude, default_unit).to("kV").magnitude), "units": "keV"}


def _text(value: Any) -> str:
    value = attr_to_python(value)
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _attrs(obj: h5py.HLObject) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.attrs.items():
        value = attr_to_python(value)
        if isinstance(value, bytes | np.bytes_):
            value = _text(value)
        elif isinstance(value, np.ndarray) and value.dtype.kind in "SO":
            value = [_text(v) for v in value.reshape(-1)]
        out[str(key)] = value
    return out
