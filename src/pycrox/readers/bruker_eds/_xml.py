"""Bruker Esprit XML (``.spx`` files, the ``HeaderData`` of ``.bcf`` files) as Python values.

`to_dict` turns an element into nested dicts; ``ClassInstance`` children are keyed by their
``Type`` (and ``Name``). Numbers written with a decimal comma (Windows locales) are read as
floats; comma-separated lists stay text. `EDSHeader` gathers what the readers need from a
``TRTSpectrum`` element: calibration, counts, angles, times and detector.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.readers._common.values import scalar_from_text

__all__ = ["EDSHeader", "eds_header", "parse_xml", "to_dict", "value"]

_COMMA_FLOAT = re.compile(r"[-+]?\d+,\d+(?:[eE][-+]?\d+)?")


def parse_xml(raw: bytes, source_name: str, where: str) -> ET.Element:
    """Parse Bruker XML (declared WINDOWS-1252, sometimes with a trailing NUL).

    Raises
    ------
    FormatError
        When the bytes are not well-formed XML.
    """
    try:
        return ET.fromstring(raw.rstrip(b"\x00 \r\n\t"))
    except ET.ParseError as exc:
        raise FormatError(source_name, f"the XML is not well formed ({exc})", where=where) from exc


def value(text: str | None) -> Any:
    """A leaf's text as int/float (decimal comma accepted) or the text itself."""
    if text is not None and _COMMA_FLOAT.fullmatch(text.strip()):
        return float(text.strip().replace(",", "."))
    return scalar_from_text(text)


def to_dict(element: ET.Element | None, *, skip: tuple[str, ...] = (), max_depth: int = 48) -> Any:
    """`element` as nested dicts (attributes as ``"@name"``; repeated tags as lists).

    Children whose tag is in `skip` (bulky data such as ``Data`` or ``Channels``) are left out.
    """
    if element is None:
        return {}
    children = [c for c in element if c.tag not in skip]
    if not children and not element.attrib:
        return value(element.text)
    out: dict[str, Any] = {f"@{k}": value(v) for k, v in element.attrib.items()}
    if max_depth <= 0:
        return out
    grouped: dict[str, list] = {}
    for child in children:
        grouped.setdefault(_key(child), []).append(to_dict(child, skip=skip, max_depth=max_depth - 1))
    for key, items in grouped.items():
        out[key] = items[0] if len(items) == 1 else items
    return out


def _key(child: ET.Element) -> str:
    if child.tag != "ClassInstance":
        return child.tag
    kind, name = child.get("Type", "ClassInstance"), child.get("Name")
    return f"{kind}[{name}]" if name else kind


def find_class(element: ET.Element | None, kind: str) -> ET.Element | None:
    """The first ``ClassInstance`` child of `element` with ``Type == kind``."""
    return None if element is None else element.find(f"./ClassInstance[@Type='{kind}']")


@dataclass
class EDSHeader:
    """What one ``TRTSpectrum`` element says."""

    counts: np.ndarray
    offset: float  # keV
    scale: float  # keV per channel
    hardware: dict = field(default_factory=dict)
    detector: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    spectrum: dict = field(default_factory=dict)


def eds_header(spectrum: ET.Element | None, source_name: str, where: str) -> EDSHeader:
    """Calibration, counts and sub-headers of a ``TRTSpectrum`` element.

    Raises
    ------
    FormatError
        When the spectrum header or its calibration is missing.
    """
    if spectrum is None:
        raise FormatError(source_name, "no TRTSpectrum element", where=where)
    headered = spectrum.find("./TRTHeaderedClass")
    spectrum_header = _as_dict(to_dict(find_class(spectrum, "TRTSpectrumHeader")))
    offset, scale = spectrum_header.get("CalibAbs"), spectrum_header.get("CalibLin")
    if not isinstance(offset, int | float) or not isinstance(scale, int | float):
        raise FormatError(
            source_name,
            f"the spectrum header has no energy calibration (CalibAbs={offset!r}, CalibLin={scale!r})",
            where=f"{where}/TRTSpectrumHeader",
        )
    detector = to_dict(find_class(headered, "TRTDetectorHeader"))
    if isinstance(detector, dict) and isinstance(detector.get("DetLayers"), str):
        detector["DetLayers"] = _detector_layers(detector["DetLayers"])
    analysis = to_dict(find_class(headered, "TRTESMAHeader"))
    xrf = to_dict(find_class(headered, "TRTXrfHeader"))
    if not analysis and isinstance(xrf, dict) and xrf:  # micro-XRF: tube voltage and excitation angle
        analysis = {"PrimaryEnergy": xrf.get("Voltage"), "ElevationAngle": xrf.get("ExcitationAngle"), **xrf}
    return EDSHeader(
        counts=_channels(spectrum.findtext("./Channels"), source_name, where),
        offset=float(offset),
        scale=float(scale),
        hardware=_as_dict(to_dict(find_class(headered, "TRTSpectrumHardwareHeader"))),
        detector=_as_dict(detector),
        analysis=_as_dict(analysis),
        spectrum=spectrum_header,
    )


def _as_dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _channels(text: str | None, source_name: str, where: str) -> np.ndarray:
    if not text or not text.strip():
        return np.zeros(0, dtype=np.uint64)
    try:
        return np.array([int(v) for v in text.strip().strip(",").split(",")], dtype=np.uint64)
    except (ValueError, OverflowError) as exc:
        raise FormatError(
            source_name, f"the Channels list is not a list of counts ({exc})", where=f"{where}/Channels"
        ) from exc


def _detector_layers(text: str) -> Any:
    """``DetLayers``: base64 of zlib-compressed XML describing the detector's layers."""
    try:
        root = ET.fromstring(zlib.decompress(base64.b64decode(text), bufsize=2**16))
    except (ValueError, zlib.error, ET.ParseError):
        return text
    return {child.tag: {k: value(v) for k, v in child.attrib.items()} for child in root}
