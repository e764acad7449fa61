"""Velox EMD metadata: the JSON blocks of a file, signal titles and normalised metadata.

Velox writes every piece of metadata as JSON text: one ``uint8`` column per frame in a signal's
``Metadata`` dataset (``(60000, n_frames)``, zero-padded), and one-element string datasets
everywhere else (``/Version``, ``/Operations/...``, ``/Presentation/...``, ``/Displays/...``,
``/SharedProperties/...``). Numbers are stored as strings, lengths in metres, energies in eV,
angles in radians and times in seconds; acquisition times are Unix timestamps (UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any
from urllib.parse import unquote

import h5py
import numpy as np

from pycrox.errors import FormatError
from pycrox.readers._common.values import number, quantity

__all__ = [
    "as_dict",
    "detector_entry",
    "file_metadata",
    "frame_differences",
    "json_value",
    "normalised",
    "number",
    "parse_json",
    "read_frame_metadata",
    "signal_titles",
]

#: groups of /Data holding signals (each child a group with a ``Data`` dataset)
SIGNAL_KINDS = ("Image", "Spectrum", "SpectrumImage", "SpectrumStream", "EelsSpectrumImage")


def parse_json(raw: Any, source: str, where: str) -> Any:
    """Decode one JSON block (bytes, str or a ``uint8`` column, zero-padded); ``{}`` when empty.

    Raises
    ------
    FormatError
        When the text is not JSON.
    """
    if isinstance(raw, np.ndarray):
        raw = raw.tobytes()
    if isinstance(raw, bytes):
        raw = raw.split(b"\x00", 1)[0].decode("utf-8", errors="replace")
    text = str(raw).strip()
    if not text:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            source, f"metadata is not valid JSON ({exc.msg} at character {exc.pos})", where=where
        ) from None


def json_value(dset: h5py.Dataset, source: str) -> Any:
    """The JSON content of a one-element string dataset (its text when it is not JSON)."""
    raw = dset[0] if dset.shape else dset[()]
    try:
        return parse_json(raw, source, dset.name)
    except FormatError:
        return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


def read_frame_metadata(group: h5py.Group, source: str, key: str = "Metadata") -> list[dict[str, Any]]:
    """The metadata of every frame of a signal group (one dict per column of `key`, ``Metadata``)."""
    if key not in group:
        return [{}]
    dset = group[key]
    if dset.ndim != 2 or dset.dtype != np.uint8:
        raise FormatError(
            source,
            f"Metadata has shape {dset.shape} {dset.dtype}; expected (bytes, frames) uint8",
            where=dset.name,
        )
    block = dset[()]
    frames = [parse_json(block[:, i], source, f"{dset.name}[:, {i}]") for i in range(block.shape[1])]
    return frames or [{}]


def _flatten(mapping: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(mapping, dict):
        return {prefix: mapping}
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def frame_differences(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each frame, the dotted metadata keys whose value differs from frame 0 (``[]`` for one frame)."""
    if len(frames) < 2:
        return []
    first = _flatten(frames[0])
    return [{k: v for k, v in _flatten(frame).items() if first.get(k) != v} for frame in frames]


def file_metadata(h5: h5py.File, source: str) -> dict[str, Any]:
    """Every JSON block of the file outside the signal groups, nested by HDF5 path."""
    tree: dict[str, Any] = {}

    def visit(name: str, obj: Any) -> None:
        parts = name.split("/")
        if parts[0] == "Data" and len(parts) > 1 and parts[1] in SIGNAL_KINDS:
            return
        if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "O" and obj.size == 1:
            node = tree
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = json_value(obj, source)

    h5.visititems(visit)
    return tree


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is a dict, else an empty one (Velox metadata leave out what they do not know)."""
    return value if isinstance(value, dict) else {}


def detector_entry(meta: dict[str, Any], name: str | None) -> dict[str, Any]:
    """The ``Detectors`` entry of detector `name` (exact name, then prefix, then ``DetectorIndex``)."""
    detectors = as_dict(meta.get("Detectors"))
    entries = [d for d in detectors.values() if isinstance(d, dict)]
    if name:
        exact = [d for d in entries if d.get("DetectorName") == name]
        prefixed = [d for d in entries if str(d.get("DetectorName", "")).startswith(name)]
        if exact or prefixed:
            return (exact or prefixed)[0]
    index = (meta.get("BinaryResult") or {}).get("DetectorIndex")
    return detectors.get(f"Detector-{index}", {}) if index is not None else {}


def _acquisition_datetime(meta: dict[str, Any], detector: str | None) -> dt.datetime | None:
    stamp = number(((meta.get("Acquisition") or {}).get("AcquisitionStartDatetime") or {}).get("DateTime"))
    if not stamp:
        custom = as_dict(meta.get("CustomProperties"))
        micro = number((custom.get(f"Detectors[{detector}].TimeStamp") or {}).get("value"))
        stamp = micro / 1e6 if micro else None
    if not stamp:
        return None
    return dt.datetime.fromtimestamp(stamp, tz=dt.UTC)


def _magnification(meta: dict[str, Any]) -> float | None:
    custom = as_dict(meta.get("CustomProperties"))
    entry = custom.get("StemMagnification") or {}
    return number(entry.get("value")) if entry.get("type") != "bool" else None


def _microscope(meta: dict[str, Any]) -> str | None:
    instrument = meta.get("Instrument") or {}
    names = [instrument.get("InstrumentClass"), instrument.get("InstrumentModel")]
    words = list(dict.fromkeys(n for n in names if n))
    return " ".join(words) or None


def normalised(meta: dict[str, Any], detector: str | None) -> dict[str, Any]:
    """The normalised acquisition metadata (`pycrox.model.METADATA_KEYS`) of one signal.

    Parameters
    ----------
    meta : dict
        The signal's frame-0 metadata.
    detector : str, optional
        The detector name (``BinaryResult.Detector``, or several joined with ``+``).
    """
    optics, scan = meta.get("Optics") or {}, meta.get("Scan") or {}
    entry = detector_entry(meta, (detector or "").split("+")[0])
    when = _acquisition_datetime(meta, detector)
    scanned = (number((scan.get("ScanSize") or {}).get("width")) or 0) > 0
    kind = entry.get("DetectorType")
    values = {
        "microscope": _microscope(meta),
        "detector": detector,
        "date": when.date().isoformat() if when else None,
        "time": when.time().replace(microsecond=0).isoformat() if when else None,
        "operator": (meta.get("Core") or {}).get("UserId") or None,
        "sample": (meta.get("Sample") or {}).get("SampleId") or None,
        "beam_energy": quantity(optics.get("AccelerationVoltage"), "keV", scale=1e-3),
        "magnification": _magnification(meta),
        "camera_length": quantity(optics.get("CameraLength"), "mm", scale=1e3),
        "convergence_angle": quantity(optics.get("BeamConvergence"), "mrad", scale=1e3),
        "dwell_time": quantity(scan.get("DwellTime"), "s") if scanned and kind != "ImagingDetector" else None,
        "exposure_time": quantity(entry.get("ExposureTime"), "s") if kind == "ImagingDetector" else None,
        "live_time": quantity(entry.get("LiveTime"), "s") if kind == "AnalyticalDetector" else None,
        "real_time": quantity(entry.get("RealTime"), "s") if kind == "AnalyticalDetector" else None,
        "elevation_angle": quantity(entry.get("ElevationAngle"), "deg", scale=180 / math.pi),
        "azimuth_angle": quantity(entry.get("AzimuthAngle"), "deg", scale=180 / math.pi),
    }
    if detector and "+" in detector:  # a sum over detectors: per-detector values do not apply
        for key in ("live_time", "real_time", "azimuth_angle"):
            values[key] = None
    return {key: value for key, value in values.items() if value is not None}


def _operation_titles(operations: dict[str, Any]) -> dict[str, str]:
    """Signal titles that the processing operations (Velox < 11) give their outputs, by data UUID."""
    titles: dict[str, str] = {}

    def each(kind: str) -> list[dict[str, Any]]:
        group = operations.get(kind)
        return [v for v in group.values() if isinstance(v, dict)] if isinstance(group, dict) else []

    for op in each("CameraInputOperation"):
        titles[_uuid(op.get("dataPath"))] = op.get("cameraName", "")
    for op in each("StemInputOperation"):
        titles[_uuid(op.get("dataPath"))] = op.get("detector", "")
    for op in each("DpcOperation"):
        titles[_uuid(op.get("dataPath"))] = "DPC"
    for op in each("MathematicsOperation"):
        outputs = op.get("outputs") if isinstance(op.get("outputs"), list) else []
        index = outputs[0].get("inputIndex") if outputs and isinstance(outputs[0], dict) else None
        if index in ("0", "1"):
            titles[_uuid(op.get("dataPath"))] = "A-C" if index == "0" else "B-D"
    for op in each("SurfaceReconstructionOperation"):
        mode = "iDPC" if op.get("integrationMode") == "true" else "dDPC"
        if op.get("unfilteredDataPath"):
            titles[_uuid(op["unfilteredDataPath"])] = mode
        filtered = op.get("enableFilter") == "true"
        titles[_uuid(op.get("dataPath"))] = f"Filtered {mode}" if filtered else mode
    return {k: v for k, v in titles.items() if k and v}


def _display_titles(meta: dict[str, Any], h5: h5py.File, source: str) -> dict[str, str]:
    """Display labels by data UUID: /Presentation/Displays (Velox < 11) or /Displays (11)."""
    titles: dict[str, str] = {}
    old = ((meta.get("Presentation") or {}).get("Displays") or {}).get("ImageDisplay") or {}
    for display in old.values():
        if isinstance(display, dict) and isinstance(display.get("display"), dict):
            titles[_uuid(display.get("dataPath"))] = unquote(str(display["display"].get("label", "")))
    new = (meta.get("Displays") or {}).get("ImageDisplay") or {}
    for display in new.values():
        reference = display.get("data") if isinstance(display, dict) else None
        if isinstance(reference, str) and reference in h5:
            target = json_value(h5[reference], source)
            path = target.get("dataPath") if isinstance(target, dict) else None
            titles[_uuid(path)] = str(display.get("title") or display.get("id") or "")
    return {k: v for k, v in titles.items() if k and v}


def signal_titles(meta: dict[str, Any], h5: h5py.File, source: str) -> dict[str, str]:
    """Titles of the image signals by data UUID: operations first, then display labels."""
    titles = _display_titles(meta, h5, source)
    operations = as_dict(meta.get("Operations"))
    titles.update(_operation_titles(operations))
    return titles


def _uuid(path: Any) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1] if path else ""
