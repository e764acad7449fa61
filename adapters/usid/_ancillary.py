"""Load and check the ancillary datasets of a USID main dataset.

`load` follows the object references of a main dataset to its ``<kind>_Indices`` and
``<kind>_Values`` datasets, checks them against each other and against the main dataset, and
returns them in the spectroscopic shape ``(n_dims, n_steps)`` together with the layout details
(paths, dtypes, extra attributes) that differ from what the pycrox writer produces by default.
Every problem is a `FormatError` naming the file, the HDF5 path and what was found.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import h5py
import numpy as np

from pycrox.adapters.usid import _attrs, mapping
from pycrox.errors import FormatError

__all__ = ["Ancillary", "decode_text", "default_label_array", "default_type", "dereference", "load"]

#: ancillary datasets larger than this many times the file (uncompressed) are a lying header
_MAX_EXPANSION = 1000


@dataclass
class Ancillary:
    """The Indices/Values pair of one kind (``"Position"`` or ``"Spectroscopic"``).

    Attributes
    ----------
    kind : str
        ``"Position"`` or ``"Spectroscopic"``.
    labels, units : list of str
        One per dimension, in file order.
    inds, vals : numpy.ndarray
        ``(n_dims, n_steps)`` (Position datasets are transposed).
    types : list of int or None
        The ``type`` attribute (pyUSID DimType), when present.
    paths : dict
        ``{"Position_Indices": "/...", "Position_Values": "/..."}``.
    layout : dict
        Per dataset name: what the default writer would not reproduce (``path``, ``dtype``,
        ``attrs``, ``attr_types``, ``absent``).
    """

    kind: str
    labels: list[str]
    units: list[str]
    inds: np.ndarray
    vals: np.ndarray
    types: list[int] | None
    paths: dict[str, str]
    layout: dict[str, dict[str, Any]] = field(default_factory=dict)


def decode_text(value: Any) -> str:
    """A label or unit as str (bytes are UTF-8)."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value).decode("utf-8", errors="surrogateescape")
    return str(value)


def default_label_array(texts: list[str]) -> np.ndarray:
    """How the writer stores labels and units: fixed-length UTF-8 bytes (as pyUSID does)."""
    return np.array([t.encode("utf-8", errors="surrogateescape") for t in texts], dtype="S")


def dereference(main: h5py.Dataset, source: str) -> dict[str, h5py.Dataset]:
    """The four ancillary datasets a main dataset references, by attribute name.

    Raises
    ------
    FormatError
        When a reference is missing, not an object reference, dangling or points to a group.
    """
    out = {}
    for name in mapping.ANCILLARY:
        ref = main.attrs.get(name)
        if not isinstance(ref, h5py.Reference) or isinstance(ref, h5py.RegionReference):
            found = "missing" if ref is None else f"a {type(ref).__name__}, not an object reference"
            raise FormatError(source, f"attribute {name!r} of the main dataset is {found}", where=main.name)
        try:
            target = main.file[ref]
        except (OSError, ValueError, KeyError) as exc:
            raise FormatError(source, f"attribute {name!r} points nowhere ({exc})", where=main.name) from exc
        if not isinstance(target, h5py.Dataset):
            raise FormatError(
                source, f"attribute {name!r} points to a group, expected a dataset", where=main.name
            )
        out[name] = target
    return out


def load(main: h5py.Dataset, targets: dict[str, h5py.Dataset], kind: str, source: str) -> Ancillary:
    """The `kind` ancillary pair of `main` (from `dereference`), checked; see the module docstring.

    Raises
    ------
    FormatError
        When shapes or labels do not match, or dtypes are not numbers.
    """
    index_dset, value_dset = targets[f"{kind}_Indices"], targets[f"{kind}_Values"]
    paths = {f"{kind}_Indices": index_dset.name, f"{kind}_Values": value_dset.name}
    for dset in (index_dset, value_dset):
        _check_shape(main, dset, kind, source)
    if index_dset.shape != value_dset.shape:
        raise FormatError(
            source,
            f"{kind}_Indices has shape {index_dset.shape} but {kind}_Values has "
            f"{value_dset.shape}; they must be equal",
            where=main.name,
        )
    index_attrs, value_attrs = _attrs.read_attrs(index_dset), _attrs.read_attrs(value_dset)
    labels = _labels(index_attrs[0], "labels", source, paths[f"{kind}_Indices"])
    units = _labels(index_attrs[0], "units", source, paths[f"{kind}_Indices"])
    _check_labels(index_dset.shape, value_attrs[0], labels, units, kind, source, paths)
    inds, vals = (_read_numeric(d, kind, source) for d in (index_dset, value_dset))
    if kind == "Position":
        inds, vals = inds.T, vals.T
    if inds.dtype.kind == "f":
        if not np.array_equal(inds, np.round(inds)):
            raise FormatError(source, "indices must be whole numbers", where=paths[f"{kind}_Indices"])
        inds = inds.astype(np.int64)
    types = _types(index_attrs[0].get("type"))
    anc = Ancillary(kind, labels, units, inds.astype(np.int64, copy=False), vals, types, paths)
    scattered = kind == "Position" and mapping.is_scattered(anc.inds, types)
    parent, name = main.name.rsplit("/", 1)
    for role, dset, read in (
        (f"{kind}_Indices", index_dset, index_attrs),
        (f"{kind}_Values", value_dset, value_attrs),
    ):
        details = _layout(dset, role, paths[role], parent or "/", name, read, scattered, labels, units)
        if details:
            anc.layout[role] = details
    return anc


def _check_shape(main: h5py.Dataset, dset: h5py.Dataset, kind: str, source: str) -> None:
    if dset.ndim != 2:
        raise FormatError(
            source,
            f"{kind} ancillary dataset is {dset.ndim}-D with shape {dset.shape}; expected 2-D",
            where=dset.name,
        )
    axis, what = (0, "positions (rows)") if kind == "Position" else (1, "spectroscopic steps (columns)")
    if dset.shape[axis] != main.shape[axis]:
        raise FormatError(
            source,
            f"{dset.name} describes {dset.shape[axis]} {what} but the main dataset "
            f"{main.name} has {main.shape[axis]}",
            where=dset.name,
        )
    nbytes = dset.size * dset.dtype.itemsize
    if nbytes > 64 * 2**20 and nbytes > _MAX_EXPANSION * main.file.id.get_filesize():
        raise FormatError(
            source,
            f"ancillary dataset claims {dset.shape} {dset.dtype}, far more than the "
            f"file holds; the file is damaged",
            where=dset.name,
        )


def _labels(values: dict[str, Any], name: str, source: str, where: str) -> list[str]:
    if name not in values:
        raise FormatError(source, f"ancillary dataset has no {name!r} attribute", where=where)
    raw = np.atleast_1d(
        np.asarray(values[name], dtype=object) if isinstance(values[name], list) else values[name]
    )
    if raw.ndim != 1 or raw.dtype.kind not in "SUO":
        raise FormatError(
            source, f"attribute {name!r} must be a list of strings, found {values[name]!r}", where=where
        )
    return [decode_text(v) for v in raw.tolist()]


def _check_labels(
    shape: tuple[int, ...],
    value_attrs: dict[str, Any],
    labels: list[str],
    units: list[str],
    kind: str,
    source: str,
    paths: dict[str, str],
) -> None:
    n_dims = shape[1 if kind == "Position" else 0]
    where = paths[f"{kind}_Indices"]
    if len(labels) != n_dims or len(units) != n_dims:
        raise FormatError(
            source, f"{len(labels)} labels and {len(units)} units for {n_dims} dimensions", where=where
        )
    if len(set(labels)) != len(labels):
        raise FormatError(source, f"labels {labels} repeat a name", where=where)
    for name, expected in (("labels", labels), ("units", units)):
        if _labels(value_attrs, name, source, paths[f"{kind}_Values"]) != expected:
            raise FormatError(
                source,
                f"{name} of the Values dataset differ from the Indices' {expected}",
                where=paths[f"{kind}_Values"],
            )


def _read_numeric(dset: h5py.Dataset, kind: str, source: str) -> np.ndarray:
    if dset.dtype.kind not in "biuf":
        raise FormatError(
            source, f"{kind} ancillary dataset has dtype {dset.dtype}; expected numbers", where=dset.name
        )
    try:
        return dset[()]
    except OSError as exc:
        raise FormatError(source, f"cannot read the ancillary dataset ({exc})", where=dset.name) from exc


def _types(raw: Any) -> list[int] | None:
    if raw is None:
        return None
    raw = np.atleast_1d(raw)
    return [int(v) for v in raw] if raw.dtype.kind in "iub" else None


def default_type(n_dims: int, scattered: bool) -> np.ndarray:
    """The ``type`` attribute the writer gives ancillary datasets."""
    value = mapping.DIM_TYPE_INCOMPLETE if scattered else mapping.DIM_TYPE_DEFAULT
    return np.full(n_dims, value, dtype=np.int64)


def _layout(
    dset: h5py.Dataset,
    role: str,
    path: str,
    parent: str,
    name: str,
    read: tuple[dict[str, Any], dict[str, str]],
    scattered: bool,
    labels: list[str],
    units: list[str],
) -> dict[str, Any]:
    """What the default writer would not reproduce for this ancillary dataset."""
    out: dict[str, Any] = {}
    if path not in mapping.default_ancillary_paths(parent, name)[role]:
        out["path"] = path
    if role.endswith("Indices") and dset.dtype != mapping.INDEX_DTYPE:
        out["dtype"] = dset.dtype.str
    values, tags = read
    defaults = {
        "labels": default_label_array(labels),
        "units": default_label_array(units),
        "type": default_type(len(labels), scattered),
    }
    extra = {
        k: v
        for k, v in values.items()
        if k in tags or k not in defaults or not _attrs.same_value(v, defaults[k])
    }
    absent = [k for k in defaults if k not in values]
    if extra:
        out["attrs"] = extra
        if tags:
            out["attr_types"] = {k: t for k, t in tags.items() if k in extra}
    if absent:
        out["absent"] = absent
    return out
