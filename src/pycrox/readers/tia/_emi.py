"""The metadata side of FEI TIA: ``<ObjectInfo>`` XML blocks in the ``.emi`` file.

An ``.emi`` file is TIA's binary display document; the acquisition metadata of each data
object sit in it as plain XML ``<ObjectInfo>...</ObjectInfo>`` blocks, in the order of the
``_1.ser``, ``_2.ser``, ... files. `read_objects` extracts them as nested dicts with the vendor's
names (``ExperimentalDescription`` rows become ``"<Label>_<Unit>": value``), and `normalise`
maps them to pycrox's metadata keys.
"""

from __future__ import annotations

import datetime as _dt
import re
import xml.etree.ElementTree as ET
from typing import Any

from pycrox.errors import FormatError
from pycrox.readers._common.companion import quantity, read_bytes
from pycrox.sources import Source

__all__ = ["mode", "normalise", "read_objects"]

_OBJECT = re.compile(rb"<ObjectInfo>.*?</ObjectInfo>", re.DOTALL)


def read_objects(source: Source) -> list[dict[str, Any]]:
    """Every ``<ObjectInfo>`` block of an ``.emi`` file as a nested dict, in file order.

    Raises
    ------
    FormatError
        When a block is not well-formed XML.
    """
    raw = read_bytes(source, 0, source.size(), "the EMI file")
    objects = []
    for match in _OBJECT.finditer(raw):
        try:
            root = ET.fromstring(match.group().decode("utf-8", errors="replace"))
        except ET.ParseError as exc:
            raise FormatError(
                source.name,
                f"<ObjectInfo> block is not well-formed XML ({exc})",
                where=f"offset {match.start()}",
            ) from exc
        objects.append(_element_dict(root))
    return objects


def _element_dict(element: ET.Element) -> Any:
    if element.tag == "ExperimentalDescription":
        return _experimental_description(element)
    if element.tag == "TrueImageHeaderInfo":
        return _true_image_header(element)
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        out[child.tag] = _element_dict(child)
    return out


def _experimental_description(element: ET.Element) -> dict[str, Any]:
    """``<Data><Label/><Value/><Unit/></Data>`` rows as ``{"Label_Unit": value}`` (float when a unit is given)."""
    out: dict[str, Any] = {}
    for row in element.iter("Data"):
        label, value, unit = (row.findtext(tag) or "" for tag in ("Label", "Value", "Unit"))
        key = f"{label}_{unit}" if unit else label
        out[key] = _number(value) if unit else value
    return out


def _true_image_header(element: ET.Element) -> dict[str, Any]:
    """The escaped XML inside ``<TrueImageHeaderInfo>`` as ``{index: value}``."""
    text = (element.text or "").strip()
    if not text:
        return {}
    try:
        inner = ET.fromstring(text)
    except ET.ParseError:
        return {"text": text}
    return {row.findtext("Index") or "": _number(row.findtext("Value") or "") for row in inner.iter("Data")}


def _number(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _leading_number(text: Any) -> float | None:
    """``"22500 X"`` -> 22500.0; None when `text` does not start with a number."""
    if isinstance(text, int | float):
        return float(text)
    match = re.match(r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)", str(text))
    return float(match.group(1)) if match else None


def normalise(info: dict[str, Any]) -> dict[str, Any]:
    """Normalised metadata (beam_energy, magnification, camera_length, ...) of one ObjectInfo dict."""
    description = info.get("ExperimentalDescription") or {}
    acquire = info.get("AcquireInfo") or {}
    conditions = (info.get("ExperimentalConditions") or {}).get("MicroscopeConditions") or {}
    meta: dict[str, Any] = {}
    volts = _leading_number(conditions.get("AcceleratingVoltage", ""))
    if volts is not None:
        meta["beam_energy"] = quantity(volts / 1000.0, "keV")
    elif isinstance(description.get("High tension_kV"), float):
        meta["beam_energy"] = quantity(description["High tension_kV"], "keV")
    if description.get("Microscope"):
        meta["microscope"] = str(description["Microscope"]).removeprefix("Microscope ").strip()
    magnification = description.get("Magnification_x", _leading_number(acquire.get("Magnification", "")))
    if isinstance(magnification, float):
        meta["magnification"] = magnification
    if isinstance(description.get("Camera length_m"), float):
        meta["camera_length"] = quantity(description["Camera length_m"] * 1000.0, "mm")
    if acquire.get("CameraNamePath"):
        meta["detector"] = acquire["CameraNamePath"]
    meta.update(_times(info, acquire))
    if description.get("User"):
        meta["operator"] = description["User"]
    return meta


def _times(info: dict[str, Any], acquire: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    seconds = _leading_number(acquire.get("DwellTimePath", ""))
    if seconds is not None:  # a camera's exposure, or a scan's dwell time per pixel
        meta["exposure_time" if acquire.get("CameraNamePath") else "dwell_time"] = quantity(seconds, "s")
    integration = _leading_number(acquire.get("IntegrationTime", ""))
    if integration is not None:
        meta["exposure_time"] = quantity(integration, "s")
    try:
        stamp = _dt.datetime.strptime(str(info.get("AcquireDate", "")).strip(), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return meta
    meta["date"], meta["time"] = stamp.date().isoformat(), stamp.time().isoformat(timespec="seconds")
    return meta


def mode(info: dict[str, Any]) -> str:
    """The microscope mode text (``"STEM nP SA Zoom Diffraction"``), or ``""``."""
    return str((info.get("ExperimentalDescription") or {}).get("Mode", "")).strip()
