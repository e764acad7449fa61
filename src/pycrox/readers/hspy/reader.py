"""HyperSpy HSPY / HDF5 files (format versions 1.0 to 3.x): every signal of ``/Experiments``.

An HSPY file is HDF5 with root attributes ``file_format = "HyperSpy"`` and
``file_format_version``; each group of ``/Experiments`` is one signal: a ``data`` dataset (C
order, navigation axes first), one ``axis-<i>`` group per data axis (`_axes`), and the
``metadata`` / ``original_metadata`` trees (`_meta`). Each signal becomes one lazy node named
after its group: dims are named from the axis units and the signal type
(`pycrox.model.dimension_for`; ``Energy`` in eV of an EELS signal is ``energy_loss``, two axes in
1/nm of a diffraction pattern ``ky``/``kx``), non-uniform and functional axes give their
values, complex data stay complex, and ragged data (``attributes.ragged``, a variable-length
dataset with ``_ragged_shapes_data``) are an object array of numpy arrays, one per navigation
position, read on demand. ``attrs["original_metadata"]`` holds HyperSpy's ``metadata`` tree,
the ``original_metadata`` tree, the axes as stored and the ``learning_results``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import h5py
import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.backends.locks import HDF5_LOCK
from xarray.core import indexing

from pycrox import model
from pycrox._hdf5 import H5_ERRORS, open_file_manager, probe
from pycrox._hdf5 import lazy_variable_data as _lazy_h5
from pycrox.errors import FormatError, PycroxError
from pycrox.readers.hspy import _axes
from pycrox.readers.hspy import _meta as meta_

__all__ = ["guess_can_open", "is_hspy", "read_tree"]


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is a HyperSpy file (HDF5, root ``file_format = "HyperSpy"``)."""
    return probe(filename_or_obj, storage_options, lambda root: is_hspy(root.file))


def _text(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def is_hspy(h5: h5py.Group) -> bool:
    """Whether an open HDF5 file has HyperSpy's root attributes and ``/Experiments`` group."""
    return _text(h5.attrs.get("file_format", "")).lower() == "hyperspy" and isinstance(
        h5.get("Experiments"), h5py.Group
    )


class RaggedArray(BackendArray):
    """A variable-length HDF5 dataset as an object array of numpy arrays (shaped by the file's shapes)."""

    def __init__(self, manager: Any, h5path: str, shapes_path: str | None) -> None:
        self._manager, self._path, self._shapes = manager, h5path, shapes_path
        with HDF5_LOCK:
            dset = manager.acquire()[h5path]
            self.shape = dset.shape
        self.dtype = np.dtype(object)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.OUTER, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        # integers become one-element slices so that h5py always returns an array of elements
        drop = tuple(i for i, k in enumerate(key) if isinstance(k, int | np.integer))
        sliced = tuple(slice(int(k), int(k) + 1) if i in drop else k for i, k in enumerate(key))
        with HDF5_LOCK:
            h5 = self._manager.acquire()
            flat = h5[self._path][sliced] if sliced else h5[self._path][()]
            shapes = (h5[self._shapes][sliced] if sliced else h5[self._shapes][()]) if self._shapes else None
        out = np.empty(np.shape(flat), dtype=object)
        for index in np.ndindex(out.shape):
            item = np.asarray(flat[index])
            if shapes is not None:
                item = item.reshape(tuple(int(n) for n in np.asarray(shapes[index]).reshape(-1)))
            out[index] = item
        return out.reshape(tuple(n for i, n in enumerate(out.shape) if i not in drop)) if drop else out


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a HyperSpy HSPY / HDF5 file as a lazy DataTree, one node per signal.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL, h5py.File or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``, ``file``, ``format_version``; one child node per signal of
        ``/Experiments``.

    Raises
    ------
    FormatError
        If the file is not readable HDF5, lacks HyperSpy's root attributes, or a signal lacks
        its ``data`` or axes.
    """
    manager, name = open_file_manager(filename_or_obj, storage_options)
    try:
        with HDF5_LOCK:
            h5 = manager.acquire()
            if not is_hspy(h5):
                raise FormatError(
                    name,
                    "no HyperSpy layout: expected root attribute file_format='HyperSpy' and /Experiments",
                )
            version = _text(h5.attrs.get("file_format_version", ""))
            plans = [_plan(group, version, name) for group in _experiments(h5, name)]
        nodes: dict[str, Any] = {}
        for plan in plans:
            node = _node_name(plan["group"], nodes)
            if node in _axes.dims_and_coords(_signal_axes(plan), meta_.signal_kind(plan["metadata"]))[0]:
                node = _node_name(f"{plan['group']}_signal", nodes)  # a variable cannot share a dim's name
            nodes[f"/{node}"] = _signal(manager, plan, node, version).to_dataset(name=node)
    except BaseException as exc:
        if not isinstance(filename_or_obj, h5py.Group):
            manager.close()
        if isinstance(exc, H5_ERRORS) and not isinstance(exc, PycroxError):
            raise FormatError(name, f"damaged HDF5 structure ({type(exc).__name__}: {exc})") from exc
        raise
    attrs = {"source": f"HyperSpy {version}".strip(), "file": _base_name(name), "format_version": version}
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **nodes})
    tree.set_close(None if isinstance(filename_or_obj, h5py.Group) else manager.close)
    return tree


def _experiments(h5: h5py.File, name: str) -> list[h5py.Group]:
    groups = [g for g in h5["Experiments"].values() if isinstance(g, h5py.Group)]
    if not groups:
        raise FormatError(name, "the HyperSpy file holds no signal", where="/Experiments")
    for group in groups:
        if not isinstance(group.get("data"), h5py.Dataset):
            raise FormatError(name, "signal group has no 'data' dataset", where=group.name)
    return groups


def _plan(group: h5py.Group, version: str, name: str) -> dict[str, Any]:
    """Everything read at open time for one signal (metadata, axes; no data)."""
    old = _version(version) < (1, 2)
    meta_key, original_key = (
        ("mapped_parameters", "original_parameters") if old else ("metadata", "original_metadata")
    )
    children = _children(
        group, (meta_key, original_key, "attributes", "learning_results", "peak_learning_results")
    )
    metadata = meta_.group_to_dict(children[meta_key]) if meta_key in children else {}
    original = meta_.group_to_dict(children[original_key]) if original_key in children else {}
    if old:  # signal type and title under their pre-1.2 names
        if "signal" in metadata:
            metadata.setdefault("Signal", {})["signal_type"] = metadata.pop("signal")
        if "name" in metadata:
            metadata.setdefault("General", {})["title"] = metadata.pop("name")
        if isinstance(metadata.get("TEM"), dict):
            metadata.setdefault("Acquisition_instrument", {})["TEM"] = metadata.pop("TEM")
    attributes = meta_.group_to_dict(children["attributes"]) if "attributes" in children else {}
    dset = group["data"]
    record_by = str(meta_.get_path(metadata, "Signal", "record_by") or "")
    axes = _axes.read_axes(group, dset.shape, record_by, name)
    ragged = bool(attributes.get("ragged")) or h5py.check_vlen_dtype(dset.dtype) is not None
    shapes = next((k for k in ("_ragged_shapes_data", "ragged_shapes") if k in group), None)
    extra = {}
    for key in ("learning_results", "peak_learning_results"):
        if key in children:
            extra[key] = meta_.group_to_dict(children[key])
    return {
        "group": group.name,
        "data": dset.name,
        "chunks": dset.chunks,
        "ndim": dset.ndim,
        "metadata": metadata,
        "original": original,
        "attributes": attributes,
        "axes": axes,
        "ragged": ragged,
        "shapes": f"{group.name}/{shapes}" if shapes else None,
        "package": {k: _text(v) for k, v in group.attrs.items()},
        "extra": extra,
    }


def _children(group: h5py.Group, names: tuple[str, ...]) -> dict[str, h5py.Group]:
    """The subgroups of `group` among `names`, each looked up once (h5py lookups are slow)."""
    out = {}
    for name in names:
        child = group.get(name)
        if isinstance(child, h5py.Group):
            out[name] = child
    return out


def _signal(manager: Any, plan: dict[str, Any], node: str, version: str) -> xr.DataArray:
    metadata = plan["metadata"]
    signal = meta_.signal_kind(metadata)
    axes = _signal_axes(plan)
    if plan["ragged"]:
        data: Any = indexing.LazilyIndexedArray(RaggedArray(manager, plan["data"], plan["shapes"]))
    else:
        data = _lazy_h5(manager, plan["data"])
    dims, coords = _axes.dims_and_coords(axes, signal)
    quantity, units = meta_.quantity_and_units(metadata)
    title = str(meta_.get_path(metadata, "General", "title") or "")
    title = "" if title == "__unnamed__" else title
    da = model.from_array(
        data,
        dims,
        coords=coords,
        name=node,
        title=title or node,
        quantity=quantity,
        units=units if _parsable(units) else "",
        data_type=_data_type(axes, plan["ragged"]),
        modality=str(meta_.get_path(metadata, "Signal", "signal_type") or ""),
        source=f"HyperSpy {version}".strip(),
        metadata=meta_.normalised(metadata),
        original_metadata={
            "metadata": metadata,
            "original_metadata": plan["original"],
            "axes": [dict(a["original"]) | {"navigate": a["navigate"]} for a in plan["axes"]],
            "attributes": plan["attributes"],
            "package": plan["package"],
            **plan["extra"],
        },
    )
    if plan["chunks"] and not plan["ragged"]:
        da.encoding["preferred_chunks"] = dict(zip(dims, plan["chunks"], strict=True))
    return da


def _signal_axes(plan: dict[str, Any]) -> list[_axes.Axis]:
    """The axes of the stored array (a ragged array stores its navigation axes only)."""
    axes = plan["axes"]
    return ([a for a in axes if a["navigate"]] or axes[: plan["ndim"]]) if plan["ragged"] else axes


def _parsable(unit: str) -> bool:
    from pycrox import units as units_

    try:
        units_.parse(unit)
    except Exception:  # noqa: BLE001 - any pint failure: the unit stays in original_metadata
        return False
    return True


def _data_type(axes: list[_axes.Axis], ragged: bool) -> str | None:
    """None (guessed from the dims) unless the navigate flags say more than the dims do."""
    if ragged:
        return "UNKNOWN"
    nav = sum(a["navigate"] for a in axes)
    sig = len(axes) - nav
    if (nav, sig) == (0, 1):
        return "SPECTRUM"
    if (nav, sig) == (0, 2):
        return "IMAGE"
    if (nav, sig) == (2, 2):
        return "IMAGE_4D"
    if (nav, sig) == (1, 2):
        return "IMAGE_STACK"
    if (nav, sig) == (2, 1):
        return "SPECTRAL_IMAGE"
    if (nav, sig) == (1, 1):
        return "LINE_PLOT_FAMILY"
    return None


def _version(text: str) -> tuple[int, ...]:
    parts = re.findall(r"\d+", text)
    return tuple(int(p) for p in parts[:2]) if parts else (0,)


def _node_name(path: str, used: dict[str, Any]) -> str:
    raw = path.rsplit("/", 1)[-1]
    base = re.sub(r"[^\w.+-]+", "_", "signal" if raw == "__unnamed__" else raw).strip("_") or "signal"
    node, count = base, 1
    while f"/{node}" in used:
        count += 1
        node = f"{base}_{count}"
    return node


def _base_name(name: str) -> str:
    return os.path.basename(name.split("::")[-1].rstrip("/")) or name
