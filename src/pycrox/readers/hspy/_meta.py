"""HyperSpy metadata trees: HDF5 groups and attributes back to nested dicts, and normalised keys.

HyperSpy writes a signal's ``metadata`` and ``original_metadata`` as nested HDF5 groups whose
leaves are attributes (small arrays and long lists as datasets). Special spellings:
``"_None_"`` is None; ``_list_<n>_<key>`` / ``_tuple_<n>_<key>`` groups and ``_list_<key>`` /
``_tuple_<key>`` datasets are sequences; ``_list_empty_<key>`` / ``_tuple_empty_<key>`` attrs are
empty ones; ``_bs_<key>`` holds bytes; ``_datetime_date`` / ``_datetime_time`` (format < 2) hold
``repr`` of Python dates; ``_sig_<name>`` groups are nested signals (recorded by path here);
``_ragged_shapes_<key>`` datasets belong to ragged arrays. Files older than 1.2 call the trees
``mapped_parameters`` and ``original_parameters``.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from typing import Any

import h5py
import numpy as np

from pycrox.readers._common.values import convert, iso_date, iso_time, jsonlike, number

__all__ = ["get_path", "group_to_dict", "normalised", "quantity_and_units", "signal_kind"]

#: datasets larger than this (elements) stay on disk: the dict records their path and shape
MAX_INLINE = 1_000_000

#: HyperSpy ``signal_type`` -> the ``signal`` of `pycrox.model.dimension_for`
_SIGNALS = {
    "eels": "EELS",
    "eds": "EDS",
    "eds_tem": "EDS",
    "eds_sem": "EDS",
    "eds_sem_tem": "EDS",
    "cl": "CL",
    "cl_sem": "CL",
    "pl": "PL",
    "luminescence": "PL",
    "raman": "Raman",
    "diffraction": "diffraction",
    "electron_diffraction": "diffraction",
    "diffraction2d": "diffraction",
    "electron_diffraction2d": "diffraction",
    "dpc": "image",
}


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str) and value == "_None_":
        return None
    if isinstance(value, np.ndarray) and value.dtype.kind in "SO":
        return [_attr(v) for v in value.tolist()]
    return jsonlike(value)


def _python_date(text: str) -> str | None:
    """``"datetime.date(1991, 10, 1)"`` -> ``"1991-10-01"`` (and times likewise)."""
    try:
        args = ast.literal_eval(text[text.index("(") :])
        if not isinstance(args, tuple):
            args = (args,)
        kind = dt.date if "date(" in text else dt.time
        return kind(*args).isoformat()
    except (ValueError, SyntaxError, TypeError):
        return None


def _dataset(dset: h5py.Dataset) -> Any:
    if dset.size > MAX_INLINE:
        return {"dataset": dset.name, "shape": list(dset.shape), "dtype": str(dset.dtype)}
    if h5py.check_string_dtype(dset.dtype) is not None:
        values = dset.asstr()[()]
        return values.tolist() if isinstance(values, np.ndarray) else values
    if h5py.check_vlen_dtype(dset.dtype) is not None:
        return [np.asarray(v).tolist() for v in np.asarray(dset[()]).reshape(-1)]
    value = dset[()]
    return value.tolist() if isinstance(value, np.ndarray) and value.ndim == 0 else jsonlike(value)


def _sequence_key(key: str, prefix: str) -> str:
    """``_list_3_items`` -> ``items`` (groups carry the length after the prefix)."""
    rest = key[len(prefix) :]
    match = re.match(r"\d+_(.*)", rest)
    return match.group(1) if match else rest


def group_to_dict(group: h5py.Group | h5py.Dataset, depth: int = 0) -> dict[str, Any]:
    """A HyperSpy metadata group as a nested JSON-like dict (see the module doc for spellings)."""
    out: dict[str, Any] = {}
    if depth > 64:
        return out
    for key, raw in group.attrs.items():
        value = _attr(raw)
        if key.startswith("_sig_"):
            continue
        if key.startswith("_list_empty_"):
            out[key[len("_list_empty_") :]] = []
        elif key.startswith("_tuple_empty_"):
            out[key[len("_tuple_empty_") :]] = []
        elif key.startswith("_bs_"):
            out[key[4:]] = np.asarray(raw).tobytes().decode("latin-1")
        elif key.startswith("_datetime_") and isinstance(value, str):
            out[key[len("_datetime_") :]] = _python_date(value) or value
        else:
            out[key] = value
    if isinstance(group, h5py.Dataset):
        return out
    for key, child in group.items():
        if key.startswith("_ragged_shapes_"):
            continue
        if key.startswith("_sig_"):
            out[key[5:]] = {"signal": child.name}
        elif isinstance(child, h5py.Dataset):
            for prefix in ("_list_", "_tuple_"):
                if key.startswith(prefix):
                    out[key[len(prefix) :]] = _as_list(_dataset(child))
                    break
            else:
                out[key] = _dataset(child)
        elif key.startswith(("_list_", "_tuple_", "_hspy_AxesManager_")):
            prefix = "_list_" if key.startswith("_list_") else "_tuple_" if key.startswith("_tuple_") else ""
            items = group_to_dict(child, depth + 1)
            name = _sequence_key(key, prefix) if prefix else key
            out[name] = [items[k] for k in sorted(items, key=_natural)]
        else:
            out[key] = group_to_dict(child, depth + 1)
    return out


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _natural(key: str) -> tuple[int, str]:
    match = re.search(r"(\d+)", key)
    return (int(match.group(1)) if match else 0, key)


def get_path(tree: dict[str, Any], *path: str) -> Any:
    """``tree[path[0]][path[1]]...``, or None where a level is missing or not a dict."""
    node: Any = tree
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _with_unit(node: dict[str, Any], key: str, default: str, target: str) -> dict[str, Any] | None:
    """``node[key]`` in `target` units: HyperSpy's own unit (`default`) unless ``<key>_units`` says else."""
    value = number(node.get(key)) if isinstance(node, dict) else None
    if value is None:
        return None
    unit = str(node.get(f"{key}_units") or default)
    unit = {"kV": "kV", "mR": "mrad", "mr": "mrad"}.get(unit, unit)
    if unit.lower() in ("kv", "v") and target == "keV":
        value = value * (1.0 if unit.lower() == "kv" else 1e-3)
    else:
        converted = convert(value, unit, target)
        if converted is None:
            return None
        value = converted
    return {"value": float(value), "units": target}


def signal_kind(metadata: dict[str, Any]) -> str | None:
    """The `pycrox.model.dimension_for` signal of a HyperSpy ``signal_type`` (None if not known)."""
    kind = get_path(metadata, "Signal", "signal_type") or metadata.get("signal") or ""
    return _SIGNALS.get(str(kind).lower())


def quantity_and_units(metadata: dict[str, Any]) -> tuple[str, str]:
    """``Signal.quantity`` ``"Intensity (counts)"`` -> ``("Intensity", "counts")``."""
    text = str(get_path(metadata, "Signal", "quantity") or "").strip()
    match = re.fullmatch(r"(.*?)\s*\(([^()]*)\)", text)
    return (match.group(1), match.group(2)) if match else (text, "")


def normalised(metadata: dict[str, Any]) -> dict[str, Any]:
    """The `pycrox.model.METADATA_KEYS` of a HyperSpy metadata tree (units converted)."""
    instrument = get_path(metadata, "Acquisition_instrument") or {}
    microscope = {}
    for kind in ("TEM", "SEM"):
        if isinstance(instrument.get(kind), dict):
            microscope = instrument[kind]
            break
    detector: dict[str, Any] = microscope["Detector"] if isinstance(microscope.get("Detector"), dict) else {}
    general = get_path(metadata, "General") or {}
    values: dict[str, Any] = {
        "microscope": microscope.get("microscope"),
        "signal": get_path(metadata, "Signal", "signal_type") or None,
        "date": iso_date(general.get("date")) if general.get("date") else None,
        "time": iso_time(general.get("time")) if general.get("time") else None,
        "operator": general.get("authors"),
        "sample": get_path(metadata, "Sample", "description"),
        "beam_energy": _with_unit(microscope, "beam_energy", "keV", "keV"),
        "beam_current": _with_unit(microscope, "beam_current", "nA", "nA"),
        "convergence_angle": _with_unit(microscope, "convergence_angle", "mrad", "mrad"),
        "camera_length": _with_unit(microscope, "camera_length", "mm", "mm"),
        "magnification": number(microscope.get("magnification")),
    }
    for name, entry in detector.items():
        if not isinstance(entry, dict):
            continue
        if values.get("detector") is None:
            values["detector"] = name
        values["dwell_time"] = values.get("dwell_time") or _with_unit(entry, "dwell_time", "s", "s")
        values["exposure_time"] = values.get("exposure_time") or _with_unit(entry, "exposure", "s", "s")
        values["live_time"] = values.get("live_time") or _with_unit(entry, "live_time", "s", "s")
        values["real_time"] = values.get("real_time") or _with_unit(entry, "real_time", "s", "s")
        values["elevation_angle"] = values.get("elevation_angle") or _with_unit(
            entry, "elevation_angle", "deg", "deg"
        )
        values["azimuth_angle"] = values.get("azimuth_angle") or _with_unit(
            entry, "azimuth_angle", "deg", "deg"
        )
    laser = get_path(instrument, "Laser", "wavelength")
    if number(laser) is not None:
        values["laser_wavelength"] = {"value": float(number(laser) or 0.0), "units": "nm"}
    return {key: value for key, value in values.items() if value not in (None, "", [])}
