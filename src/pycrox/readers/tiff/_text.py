"""TIFF variants described by text or private tags: JEOL SightX, Hamamatsu HPD-TA, Gatan DM, ImageJ.

`describe_text_variants` returns a `pycrox.readers.tiff._vendors.VendorInfo` for a page that
none of the binary-header vendors claimed (an empty one for plain TIFF).
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np

from pycrox.errors import FormatError
from pycrox.readers._common.values import (
    convert,
    drop_empty,
    iso_date,
    iso_time,
    jsonlike,
    number,
    quantity,
    scalar_from_text,
    unit_spelling,
    xml_to_dict,
)
from pycrox.readers.tiff._vendors import AxisCalibration, VendorInfo, resolution_length

__all__ = ["describe_text_variants"]

#: Gatan DigitalMicrograph private tags: dimension i (0 = x, 1 = y, 2 = stack) uses code + i
_DM_UNITS, _DM_OFFSET, _DM_SCALE, _DM_INTENSITY_UNITS = 65003, 65006, 65009, 65022


def describe_text_variants(tif: Any, page: Any, source_name: str, read_bytes: Any) -> VendorInfo:
    """JEOL SightX, Hamamatsu, then DM tags merged with ImageJ; an empty `VendorInfo` otherwise."""
    for parser in (_jeol_sightx, _hamamatsu):
        info = parser(page, source_name, read_bytes)
        if info is not None:
            return info
    info = _dm_tags(page) or VendorInfo()
    imagej = _imagej(tif, page)
    if imagej is not None:
        info.vendor = f"{info.vendor} + ImageJ" if info.vendor else imagej.vendor
        info.axes.update(imagej.axes)
        info.original.update(imagej.original)
    return info


def _tag(page: Any, code: int) -> Any:
    tag = page.tags.get(code)
    return None if tag is None else tag.value


# ----------------------------------------------------------------------------- JEOL SightX


def _jeol_sightx(page: Any, source_name: str, read_bytes: Any) -> VendorInfo | None:
    """JEOL TEM Center / SightX: ``Make == "JEOL Ltd."`` and a ``TemReporter`` XML description."""
    text = _tag(page, 270)
    if _tag(page, 271) != "JEOL Ltd." or not isinstance(text, str) or "<TemReporter" not in text:
        return None
    try:
        md = xml_to_dict(ET.fromstring(text.strip(" \r\n\t\x00\x01")))
    except ET.ParseError:
        return None
    if not isinstance(md, dict):
        return None
    info = VendorInfo(vendor="JEOL SightX", modality="TEM", original={"TemReporter": jsonlike(md)})
    eos = str(_get(md, "Eos", "EosMode"))
    imaging = md.get("ImageFormingSystem", {}) if isinstance(md.get("ImageFormingSystem"), dict) else {}
    stem = "ASID" in eos
    info.modality = "STEM" if stem else "TEM"
    _jeol_axes(info, page, md, imaging, stem)
    diffraction = imaging.get("ModeString") == "DIFF"
    selector = number(imaging.get("SelectorValue"))
    info.metadata = drop_empty(
        {
            "beam_energy": quantity(_get(md, "ElectronGun", "AccelerationVoltage"), "keV", scale=1e-3),
            "beam_current": quantity(_get(md, "ElectronGun", "BeamCurrent"), "nA", scale=1e-3),
            "microscope": md.get("Instruments"),
            "operator": md.get("Operator") or None,
            "date": iso_date(str(md.get("DateTime", ""))),
            "time": iso_time(str(md.get("DateTime", ""))),
            "magnification": None if diffraction else selector,
            "camera_length": _jeol_camera_length(imaging) if diffraction else None,
        }
    )
    mode = imaging.get("ScanningImageFormingMode" if stem else "ImageFormingMode", "")
    parts = [
        "STEM" if stem else "TEM",
        str(_get(md, "IlluminationSystem", "ImageField"))[4:],
        str(mode)[4:],
        str(imaging.get("SelectorString", "")),
    ]
    info.title = ", ".join(parts)
    return info


def _get(md: dict, *keys: str) -> Any:
    for key in keys:
        md = md.get(key, {}) if isinstance(md, dict) else {}
    return md if md != {} else None


def _jeol_camera_length(imaging: dict) -> dict | None:
    unit = str(imaging.get("SelectorUnitString", "mm"))
    value = convert(imaging.get("SelectorValue"), unit, "mm")
    return None if value is None else {"value": value, "units": "mm"}


def _jeol_axes(info: VendorInfo, page: Any, md: dict, imaging: dict, stem: bool) -> None:
    """Calibrate TEM images from the resolution tags (the detector pixel).

    Images: the detector pixel divided by the magnification; diffraction: the detector pixel over
    camera length x wavelength. STEM images stay uncalibrated.
    """
    if stem:
        return
    selector = number(imaging.get("SelectorValue"))
    for letter, name in (("X", "x"), ("Y", "y")):
        pixel = resolution_length(page, letter)
        if not pixel or not selector:
            continue
        if imaging.get("ModeString") == "MAG":
            info.axes[letter] = AxisCalibration(scale=pixel / selector * 1e9, units="nm", name=name)
        elif imaging.get("ModeString") == "DIFF":
            length = convert(selector, str(imaging.get("SelectorUnitString", "mm")), "m")
            voltage = number(_get(md, "ElectronGun", "AccelerationVoltage"))
            if length and voltage:
                scale = pixel / (length * _electron_wavelength(voltage) * 1e9)
                info.axes[letter] = AxisCalibration(scale=scale, units="1/nm", name=f"k{name}")


def _electron_wavelength(volts: float) -> float:
    """Relativistic electron wavelength in metres."""
    m, e, c, h = 9.1093837015e-31, 1.602176634e-19, 299792458.0, 6.62607015e-34
    return h / math.sqrt(2 * m * e * volts * (1 + e * volts / (2 * m * c**2)))


# ----------------------------------------------------------------------------- Hamamatsu


def _hamamatsu(page: Any, source_name: str, read_bytes: Any) -> VendorInfo | None:
    """HPD-TA streak-camera images: ``[Section],key=value,...`` description; axis tables in the file."""
    artist, software, text = _tag(page, 315), _tag(page, 305), _tag(page, 270)
    if not (str(artist).startswith("Copyright Hamamatsu") and str(software).startswith("HPD-TA")):
        return None
    md = parse_hamamatsu_description(str(text or ""))
    info = VendorInfo(vendor="Hamamatsu HPD-TA", modality="streak camera")
    scaling = md.get("Scaling", {})
    height, width = page.shape[0], page.shape[1]
    info.original = {"ImageDescriptionParsed": jsonlike(md)}
    for letter, size in (("X", width), ("Y", height)):
        table = _hamamatsu_table(scaling, letter, size, source_name, read_bytes)
        if table is None:
            continue
        axis = linear_or_table(table, str(scaling.get(f"Scaling{letter}Unit", "")))
        if letter == "X":
            axis.name = "wavelength" if unit_spelling(axis.units) in ("nm", "µm", "Å") else "x"
        else:
            axis.name = "time" if _is_time_unit(axis.units) else "y"
        info.axes[letter] = axis
        info.original["ImageDescriptionParsed"].setdefault("Scaling", {})[f"Scaling{letter}axis"] = table
    camera, acquisition = md.get("Camera", {}), md.get("Acquisition", {})
    exposure = str(acquisition.get("ExposureTime", ""))
    unit = exposure.split()[-1] if len(exposure.split()) > 1 else "s"
    info.metadata = drop_empty(
        {
            "detector": camera.get("CameraName"),
            "exposure_time": quantity(convert(exposure, unit, "s"), "s"),
        }
    )
    return info


def parse_hamamatsu_description(text: str) -> dict[str, dict[str, Any]]:
    """``[Section],k=v,k="quoted, value"`` text (sections may share a line) as nested dicts."""
    out: dict[str, dict[str, Any]] = {}
    parts = re.split(r"\[([A-Za-z][\w .]*)\],", text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        pairs = re.findall(r'([^=,\r\n]+)=("[^"]*"|[^,\r\n]*)', body)
        out[name.strip()] = {k.strip(): scalar_from_text(v.strip('"')) for k, v in pairs}
    return out


def _is_time_unit(text: str) -> bool:
    return convert(1.0, unit_spelling(text) or "1", "s") is not None


def _hamamatsu_table(
    scaling: dict, letter: str, size: int, source_name: str, read_bytes: Any
) -> np.ndarray | None:
    """``ScalingXScalingFile="#offset,count"``: a float32 table in the file ("Focus mode"/"Other": none)."""
    match = re.match(r"#(\d+),(\d+)", str(scaling.get(f"Scaling{letter}ScalingFile", "")))
    if not match:
        return None
    offset, count = int(match.group(1)), int(match.group(2))
    if count != size:
        raise FormatError(
            source_name,
            f"the {letter} axis table holds {count} values but the image has {size}",
            where=f"offset {offset}",
        )
    return np.frombuffer(read_bytes(offset, 4 * count), dtype="<f4").astype(np.float64)


def linear_or_table(table: np.ndarray, unit: str) -> AxisCalibration:
    """A uniform axis when `table` is linear within float32 precision, else the table itself."""
    index = np.arange(table.size, dtype=np.float64)
    if table.size > 1 and np.all(np.isfinite(table)):
        scale, offset = np.polyfit(index, table, 1)
        residual = np.abs(table - (offset + scale * index)).max()
        if residual <= 4 * np.finfo(np.float32).eps * np.abs(table).max():
            return AxisCalibration(scale=float(scale), offset=float(offset), units=unit)
    return AxisCalibration(units=unit, values=table) if table.size else AxisCalibration()


# ----------------------------------------------------------------------------- Gatan DM


def _dm_tags(page: Any) -> VendorInfo | None:
    """Private tags 65003-65011 written by DigitalMicrograph's TIFF export."""
    if not any(code in page.tags for code in range(_DM_UNITS, _DM_SCALE + 3)):
        return None
    info = VendorInfo(vendor="Gatan DigitalMicrograph")
    for i, letter in enumerate(("X", "Y", "stack")):
        scale = number(_tag(page, _DM_SCALE + i))
        if scale is None:
            continue
        offset = number(_tag(page, _DM_OFFSET + i)) or 0.0
        info.axes[letter] = AxisCalibration(
            scale=scale, offset=offset + 0.0, units=str(_tag(page, _DM_UNITS + i) or "")
        )
    intensity = _tag(page, _DM_INTENSITY_UNITS)
    info.data_units = unit_spelling(intensity) if isinstance(intensity, str) else ""
    return info


# ----------------------------------------------------------------------------- ImageJ


def _imagej(tif: Any, page: Any) -> VendorInfo | None:
    """ImageJ description: ``unit`` (x/y, from the resolution tags), ``spacing`` (z), ``finterval`` (t)."""
    md = tif.imagej_metadata if page.index == 0 else None
    if not md:
        return None
    info = VendorInfo(vendor="ImageJ", original={"ImageJ": jsonlike(md)})
    unit = _imagej_unit(md.get("unit"))
    if unit:
        for letter, code in (("X", 282), ("Y", 283)):
            resolution = _tag(page, code)
            if resolution and resolution[0]:
                axis_unit = _imagej_unit(md.get("yunit")) or unit if letter == "Y" else unit
                info.axes[letter] = AxisCalibration(scale=resolution[1] / resolution[0], units=axis_unit)
    spacing = number(md.get("spacing"))
    if spacing:  # in zunit; ImageJ falls back to the x/y unit, which is not trusted here (see docs)
        info.axes["Z"] = AxisCalibration(scale=spacing, units=_imagej_unit(md.get("zunit")))
    interval = number(md.get("finterval"))
    if interval:
        info.axes["T"] = AxisCalibration(scale=interval, units=_imagej_unit(md.get("tunit")) or "s")
    return info


def _imagej_unit(text: Any) -> str:
    if not isinstance(text, str) or text.lower() in ("", "pixel", "pixels"):
        return ""
    return text.replace("\\u00B5", "µ").replace("\\u00b5", "µ")
