"""Calibration and metadata of vendor TIFF variants (FEI/Thermo, Zeiss, TVIPS, Olympus, JEOL).

Each ``_<vendor>`` function looks at the first page of a series and returns a `VendorInfo`
(or None when the page is not that vendor's): per-axis calibrations, normalised metadata
(`pycrox.model.METADATA_KEYS`), the parsed vendor structure for ``original_metadata`` and a
title. `describe` tries them in order, then the text-described and generic variants of
`pycrox.readers.tiff._text` (JEOL SightX, Hamamatsu HPD-TA, Gatan DM tags, ImageJ). Pixel sizes
come from the vendor's own metadata, never from the TIFF resolution tags, which these programs
fill with display defaults (except where a vendor defines them as the calibration: TVIPS
without pixel-size fields, JEOL SightX).
"""

from __future__ import annotations

import configparser
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pycrox.readers._common.values import (
    beam_energy,
    convert,
    drop_empty,
    iso_date,
    iso_time,
    jsonlike,
    number,
    quantity,
    scalar_from_text,
    unit_spelling,
)

__all__ = ["AxisCalibration", "VendorInfo", "describe", "resolution_length"]


@dataclass
class AxisCalibration:
    """One axis: ``offset + scale * index`` in `units`, or explicit `values` (non-uniform)."""

    scale: float = 1.0
    offset: float = 0.0
    units: str = ""
    values: np.ndarray | None = None
    name: str | None = None  # dimension name to use instead of the default


@dataclass
class VendorInfo:
    """What a vendor's tags say about one series.

    `axes` is keyed by tifffile axis letters (``"X"``, ``"Y"``) or ``"stack"`` for the one
    non-image axis of a page stack.
    """

    vendor: str = ""
    axes: dict[str, AxisCalibration] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    original: dict[str, Any] = field(default_factory=dict)
    title: str | None = None
    modality: str = ""
    data_units: str = ""


def describe(tif: Any, page: Any, source_name: str, read_bytes: Any) -> VendorInfo:
    """The `VendorInfo` of the series whose first page is `page`.

    Parameters
    ----------
    tif : tifffile.TiffFile
        The open file.
    page : tifffile.TiffPage
        First page of the series.
    source_name : str
        For messages.
    read_bytes : callable
        ``read_bytes(offset, nbytes) -> bytes`` for vendor tables stored outside the tags.
    """
    from pycrox.readers.tiff import _text

    generic = _generic(page)
    for parser in (_fei, _zeiss_sem, _tvips, _olympus_sis):
        info = parser(page)
        if info is not None:
            break
    else:
        info = _text.describe_text_variants(tif, page, source_name, read_bytes)
    info.metadata = {**generic, **info.metadata}
    return info


def _tag(page: Any, code: int) -> Any:
    tag = page.tags.get(code)
    return None if tag is None else tag.value


def _generic(page: Any) -> dict[str, Any]:
    """Date and time from the TIFF DateTime tag (``YYYY:MM:DD HH:MM:SS``)."""
    stamp = _tag(page, 306)
    if not isinstance(stamp, str):
        return {}
    return drop_empty({"date": iso_date(stamp), "time": iso_time(stamp)})


def resolution_length(page: Any, axis: str) -> float | None:
    """Length of one pixel in metres from the X/YResolution tags (pixels per inch or cm)."""
    resolution = _tag(page, 282 if axis == "X" else 283)
    unit = jsonlike(_tag(page, 296))
    if not resolution or unit not in (2, 3):
        return None
    numerator, denominator = (resolution if isinstance(resolution, tuple) else (resolution, 1))[:2]
    if not numerator:
        return None
    return denominator / numerator * (0.0254 if unit == 2 else 0.01)


# ----------------------------------------------------------------------------- FEI / Thermo


def _fei(page: Any) -> VendorInfo | None:
    """FEI_HELIOS (34682) or FEI_SFEG (34680): INI text (tifffile parses it into a dict)."""
    found = [
        (name, _tag(page, code))
        for code, name in ((34682, "FEI_HELIOS"), (34680, "FEI_SFEG"))
        if _tag(page, code) is not None
    ]
    if not found:
        return None
    name, value = found[0]
    md = value if isinstance(value, dict) else _parse_ini(str(value))
    info = VendorInfo(vendor="FEI", modality="SEM", original={name: jsonlike(md)})
    scan, beam = md.get("Scan", {}), md.get(md.get("Beam", {}).get("Beam", "EBeam"), {})
    width, height = number(scan.get("PixelWidth")), number(scan.get("PixelHeight"))
    if width is None and md.get("IRBeam"):  # ion-beam images: field width / pixels
        image, ion = md.get("Image", {}), md["IRBeam"]
        width = _ratio(ion.get("HFW"), image.get("ResolutionX"))
        height = _ratio(ion.get("VFW"), image.get("ResolutionY"))
        info.modality = "FIB"
    for letter, scale in (("X", width), ("Y", height)):
        if scale:
            info.axes[letter] = AxisCalibration(scale=scale, units="m")
    user, system, detectors = md.get("User", {}), md.get("System", {}), md.get("Detectors", {})
    info.metadata = drop_empty(
        {
            "beam_energy": quantity(md.get("Beam", {}).get("HV", beam.get("HV")), "keV", scale=1e-3),
            "beam_current": quantity(beam.get("BeamCurrent"), "nA", scale=1e9),
            "dwell_time": quantity(scan.get("Dwelltime"), "s"),
            "microscope": system.get("SystemType") or system.get("Type"),
            "detector": detectors.get("Name"),
            "signal": detectors.get("Mode"),
            "date": iso_date(str(user.get("Date", ""))),
            "time": iso_time(str(user.get("Time", ""))),
            "operator": user.get("User"),
        }
    )
    return info


def _ratio(a: Any, b: Any) -> float | None:
    x, y = number(a), number(b)
    return x / y if x is not None and y else None


class _CaseKeepingParser(configparser.ConfigParser):
    def optionxform(self, optionstr: str) -> str:
        return optionstr  # keep the key case


def _parse_ini(text: str) -> dict[str, Any]:
    """FEI's INI text as ``{section: {key: value}}`` (numbers converted; ``{"text": text}`` if unreadable)."""
    parser = _CaseKeepingParser(interpolation=None, strict=False)
    try:
        parser.read_string(text.rstrip("\x00"))
    except configparser.Error:
        return {"text": text}
    out: dict[str, dict[str, Any]] = {}
    for section in parser.sections():
        out[section] = {key: scalar_from_text(raw) for key, raw in parser.items(section)}
    return out


# ----------------------------------------------------------------------------- Zeiss SEM


def _zeiss_sem(page: Any) -> VendorInfo | None:
    """CZ_SEM (34118): ``{key: (label, value[, unit])}`` plus a flat numeric tuple under ``""``."""
    md = _tag(page, 34118)
    if not isinstance(md, dict):
        return None
    info = VendorInfo(vendor="Zeiss SEM", modality="SEM", original={"CZ_SEM": jsonlike(md)})
    width = page.shape[1] if len(page.shape) > 1 else 0
    scale = _zeiss_pixel_size(md, width)
    if scale:
        info.axes = {
            "X": AxisCalibration(scale=scale, units="m"),
            "Y": AxisCalibration(scale=scale, units="m"),
        }
    info.metadata = drop_empty(
        {
            "beam_energy": _zeiss_beam_energy(md.get("ap_actualkv")),
            "beam_current": _zeiss_quantity(md, "ap_iprobe", "nA"),
            "dwell_time": _zeiss_quantity(md, "dp_dwell_time", "s"),
            "magnification": _zeiss_magnification(_zeiss_value(md, "ap_mag")),
            "microscope": _zeiss_value(md, "sv_serial_number"),
            "detector": _zeiss_value(md, "dp_detector_channel"),
            "date": iso_date(str(_zeiss_value(md, "ap_date") or "")),
            "time": iso_time(str(_zeiss_value(md, "ap_time") or "")),
            "operator": _zeiss_value(md, "sv_user_name"),
        }
    )
    return info


def _zeiss_value(md: dict, key: str) -> Any:
    entry = md.get(key)
    return entry[1] if isinstance(entry, tuple | list) and len(entry) > 1 else None


def _zeiss_quantity(md: dict, key: str, unit: str) -> dict | None:
    entry = md.get(key)
    if not isinstance(entry, tuple | list) or len(entry) < 3:
        return None
    value = convert(entry[1], str(entry[2]), unit)
    return None if value is None else {"value": value, "units": unit}


def _zeiss_beam_energy(entry: Any) -> dict | None:
    if not isinstance(entry, tuple | list) or len(entry) < 3:
        return None
    return beam_energy(entry[1], str(entry[2]))


def _zeiss_pixel_size(md: dict, width: int) -> float | None:
    """Metres per pixel: the flat tuple's item 3 refers to a 1024-pixel-wide frame."""
    flat = md.get("")
    if isinstance(flat, tuple | list) and len(flat) > 3 and number(flat[3]) and width:
        return float(flat[3]) * 1024 / width
    field_width = md.get("ap_width")
    if isinstance(field_width, tuple | list) and len(field_width) > 2 and width:
        metres = convert(field_width[1], str(field_width[2]), "m")
        return metres / width if metres else None
    pixel = md.get("ap_pixel_size")
    if isinstance(pixel, tuple | list) and len(pixel) > 2:
        return convert(pixel[1], str(pixel[2]), "m")
    return None


def _zeiss_magnification(text: Any) -> float | None:
    """``"50.00 K X"`` -> 50000."""
    value = number(str(text).split()[0]) if text else None
    if value is None:
        return None
    return value * 1000 if " K" in str(text).upper() else value


# ----------------------------------------------------------------------------- TVIPS


def _tvips(page: Any) -> VendorInfo | None:
    """TVIPS (37706): EM-MENU's binary header, decoded by tifffile into a dict."""
    md = _tag(page, 37706)
    if not isinstance(md, dict):
        return None
    info = VendorInfo(vendor="TVIPS", modality="TEM", original={"TVIPS": jsonlike(md)})
    px, py = number(md.get("PixelSizeX")), number(md.get("PixelSizeY"))
    if px and py:
        info.axes = {"X": AxisCalibration(scale=px, units="nm"), "Y": AxisCalibration(scale=py, units="nm")}
    else:
        for letter in ("X", "Y"):
            length = resolution_length(page, letter)
            if length:
                info.axes[letter] = AxisCalibration(scale=length, units="m")
    diffraction = md.get("TemMode") == 3
    info.metadata = drop_empty(
        {
            "beam_energy": quantity(md.get("TemHighTension"), "keV", scale=1e-3),
            "magnification": None if diffraction else number(md.get("TemMagnification")),
            "exposure_time": quantity(md.get("ExposureTime"), "s", scale=1e-3),
            "detector": md.get("CameraType"),
            "date": _tvips_date(md.get("Date")),
            "time": _tvips_time(md.get("Time")),
        }
    )
    info.title = md.get("ImageName") or None
    return info


def _tvips_date(value: Any) -> str | None:
    """EM-MENU packs the date as ``year << 16 | month << 8 | day``."""
    if not isinstance(value, int) or value <= 0:
        return None
    try:
        return dt.date(value >> 16, (value >> 8) & 0xFF, value & 0xFF).isoformat()
    except ValueError:
        return None


def _tvips_time(value: Any) -> str | None:
    """Seconds since midnight."""
    if not isinstance(value, int) or not 0 <= value < 86400:
        return None
    return f"{value // 3600:02d}:{value % 3600 // 60:02d}:{value % 60:02d}"


# ----------------------------------------------------------------------------- Olympus SIS


def _olympus_sis(page: Any) -> VendorInfo | None:
    """OlympusSIS (33560) binary header (tifffile decodes it); OlympusINI (33471) kept as text."""
    md = _tag(page, 33560)
    if not isinstance(md, dict):
        return None
    info = VendorInfo(vendor="Olympus SIS", original={"OlympusSIS": jsonlike(md)})
    for letter, key in (("X", "pixelsizex"), ("Y", "pixelsizey")):
        scale = number(md.get(key))
        if scale:
            info.axes[letter] = AxisCalibration(scale=scale, units="m")
    stamp = md.get("datetime")  # to the minute; the DateTime tag, when present, has the seconds
    info.metadata = drop_empty(
        {
            "magnification": number(md.get("magnification")),
            "detector": md.get("cameraname") or _tag(page, 272),
            "date": None if _tag(page, 306) else iso_date(stamp),
            "time": None if _tag(page, 306) else iso_time(stamp),
        }
    )
    info.title = md.get("name") or None
    return info


def axis_units(calibration: AxisCalibration) -> str:
    """The unambiguous spelling of an axis unit (lengths resolve ``A`` as ångström)."""
    return unit_spelling(calibration.units, "Length")
