"""Dimensions of a DigitalMicrograph image: names by meaning, calibrated coordinates, data type.

DM lists dimensions fastest first (``Dimensions``, ``Calibrations/Dimension``); the C-order
array has them in reverse. A calibrated value is ``(index - Origin) * Scale``, so the
coordinate is ``offset + scale * index`` with ``offset = -Origin * Scale``.

Naming (DM order): a spectral axis is found from ``Meta Data/Format`` ("Spectrum": the first
dimension; "Spectrum image": the third of three) or, failing that, from the one axis with an
energy unit; it is called ``energy_loss`` (EELS, or eV without a signal tag), ``energy`` (EDS,
keV), ``wavelength`` (CL in nm) or ``wavenumber``. The other axes are ``x``, ``y`` (``kx``,
``ky`` when both are in reciprocal length or angle units), then ``z`` (a length), ``time``
(a time) or ``frame``; in 4-D data the first two stored dimensions are the diffraction pattern
(``kx``, ``ky``) and the last two the scan (``x``, ``y``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pycrox import model, units
from pycrox.errors import UnitError

__all__ = ["Axis", "data_type", "image_axes", "normalised_units"]

_ANGLES = {"rad", "mrad", "µrad", "deg"}
_ENERGY = "[mass] * [length] ** 2 / [time] ** 2"


@dataclass(frozen=True)
class Axis:
    """One dimension: name, size and uniform calibration in an unambiguous unit."""

    name: str
    size: int
    offset: float
    scale: float
    units: str
    spectral: bool = False

    def coordinate_spec(self) -> dict[str, Any]:
        """Keyword arguments for `pycrox.model.uniform_coordinate`."""
        spec: dict[str, Any] = {"offset": self.offset, "scale": self.scale, "units": self.units}
        if self.name in ("kx", "ky") and self.units in _ANGLES:
            spec["quantity"] = "Scattering angle"
        return spec


def normalised_units(text: Any, quantity: str | None = "Length") -> str:
    """An unambiguous spelling of a DM unit (``"A"`` -> ``"Å"``, ``"um"`` -> ``"µm"``); unknown ones as they are."""
    text = text.strip() if isinstance(text, str) else ""
    for candidate in dict.fromkeys((text, text.lower())):
        try:
            return units.format(units.parse(candidate, quantity))
        except UnitError:
            continue
    return text


def image_axes(dm_shape: list[int], calibrations: Any, kind: str | None, fmt: str) -> list[Axis] | None:
    """The axes of an image in C order, or None when its dimensionality has no naming rule.

    Parameters
    ----------
    dm_shape : list of int
        ``ImageData/Dimensions``, fastest first.
    calibrations : mapping
        ``ImageData/Calibrations/Dimension`` (missing entries count as uncalibrated).
    kind : str or None
        Signal kind (``"EELS"``, ``"EDS"``, ``"CL"``).
    fmt : str
        ``Meta Data/Format`` in lower case.
    """
    cals = list(calibrations.values()) if isinstance(calibrations, Mapping) else []
    scales, offsets, unit_list = [], [], []
    for i in range(len(dm_shape)):
        scale, offset, unit = _calibration(cals[i] if i < len(cals) else None)
        scales.append(scale)
        offsets.append(offset)
        unit_list.append(unit)
    names = _names(unit_list, kind, fmt)
    if names is None:
        return None
    spectral = _spectral_index(unit_list, kind, fmt)
    axes = [
        Axis(names[i], int(dm_shape[i]), offsets[i], scales[i], unit_list[i], i == spectral)
        for i in range(len(dm_shape))
    ]
    return axes[::-1]


def _calibration(entry: Any) -> tuple[float, float, str]:
    if not isinstance(entry, Mapping):
        return 1.0, 0.0, ""
    scale, origin = entry.get("Scale", 1.0), entry.get("Origin", 0.0)
    scale = float(scale) if _finite(scale) and scale != 0 else 1.0
    origin = float(origin) if _finite(origin) else 0.0
    return scale, -origin * scale, normalised_units(entry.get("Units", ""))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _dimensionality(unit: str) -> str:
    try:
        return str(units.parse(unit, "Length").dimensionality) if unit else ""
    except UnitError:
        return "?"


def _spectral_index(unit_list: list[str], kind: str | None, fmt: str) -> int | None:
    n = len(unit_list)
    energy = [i for i, u in enumerate(unit_list) if _dimensionality(u) == _ENERGY]
    if n == 1:
        return 0 if (kind or fmt.startswith("spectrum") or energy) else None
    if n == 2 and fmt.startswith("spectrum"):
        return 0
    if n == 3 and fmt == "spectrum image":
        return 2
    return energy[0] if len(energy) == 1 else None


def _spectral_name(unit: str, kind: str | None) -> str:
    return model.dimension_for(unit, kind, spectral=True)


def _names(unit_list: list[str], kind: str | None, fmt: str) -> list[str] | None:
    spectral = _spectral_index(unit_list, kind, fmt)
    rest = [i for i in range(len(unit_list)) if i != spectral]
    rest_names = _position_names([unit_list[i] for i in rest])
    if rest_names is None:
        return None
    names = [""] * len(unit_list)
    for i, name in zip(rest, rest_names, strict=True):
        names[i] = name
    if spectral is not None:
        names[spectral] = _spectral_name(unit_list[spectral], kind)
    return names


def _position_names(unit_list: list[str]) -> list[str] | None:
    """Names of the non-spectral axes, fastest first."""
    n = len(unit_list)
    if n == 1:
        return ["time" if _dimensionality(unit_list[0]) == "[time]" else "x"]
    if n in (4, 5):
        return ["kx", "ky", "x", "y", "frame"][:n]
    if n not in (0, 2, 3):
        return None
    plane = ["kx", "ky"] if n and all(_is_reciprocal(u) for u in unit_list[:2]) else ["x", "y"]
    return ([*plane, _stack_name(unit_list[2])] if n == 3 else plane)[:n]


def _is_reciprocal(unit: str) -> bool:
    return unit in _ANGLES or _dimensionality(unit) == "1 / [length]"


def _stack_name(unit: str) -> str:
    dims = _dimensionality(unit)
    if dims == "[length]":
        return "z"
    if dims == "[time]":
        return "time"
    return "tilt" if unit == "deg" else "frame"


def data_type(axes: list[Axis]) -> str:
    """The `pycrox.model.DataType` name of an image with these axes (RGB channel axis excluded)."""
    n = len(axes)
    if any(a.spectral for a in axes):
        others = [a for a in axes if not a.spectral]
        if all(a.size == 1 for a in others):
            return "SPECTRUM"
        return {2: "LINE_PLOT_FAMILY", 3: "SPECTRAL_IMAGE"}.get(n, "UNKNOWN")
    return {1: "LINE_PLOT", 2: "IMAGE", 3: "IMAGE_STACK", 4: "IMAGE_4D"}.get(n, "UNKNOWN")
