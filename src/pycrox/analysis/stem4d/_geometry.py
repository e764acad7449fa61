"""Where the scan and the detector are in a 4-D STEM array, and what the detector's units are.

4-D data in pycrox have two navigation dims (SPATIAL: the scan, e.g. ``y``, ``x``) and two
detector dims (RECIPROCAL: the diffraction pattern, e.g. ``ky``, ``kx``), found by their
coordinates' ``dimension_type`` (or, without one, by the data-model names). The detector is
calibrated as a scattering angle (``mrad``) or a reciprocal length (``1/Å``, ``1/nm``); values
given in the other kind are converted with the electron wavelength from
``metadata["beam_energy"]``. An uncalibrated detector is used in pixels with a
`CalibrationWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import model, units
from pycrox.analysis._dims import _split_quantity, coordinate_spacing
from pycrox.errors import CalibrationWarning, DimensionError, UnitError

__all__ = ["CalibrationWarning", "Geometry", "electron_wavelength", "geometry"]

_H = 6.62607015e-34  # Planck constant, J s
_M0 = 9.1093837015e-31  # electron rest mass, kg
_E = 1.602176634e-19  # elementary charge, C
_C = 299792458.0  # speed of light, m/s


_ANGLES = ("radian", "milliradian", "microradian", "degree")


def electron_wavelength(energy_kev: float) -> float:
    """Relativistic electron wavelength in ångström for a beam energy in keV.

    Examples
    --------
    >>> round(electron_wavelength(300.0), 5)
    0.01969
    """
    volts = energy_kev * 1e3
    momentum = math.sqrt(2 * _M0 * _E * volts * (1 + _E * volts / (2 * _M0 * _C**2)))
    return _H / momentum * 1e10


@dataclass(frozen=True)
class Geometry:
    """Scan and detector dims of a 4-D array, with the detector's coordinates and units.

    Attributes
    ----------
    nav : tuple of hashable
        ``(row, column)`` navigation dims, e.g. ``("y", "x")``.
    det : tuple of hashable
        ``(row, column)`` detector dims, e.g. ``("ky", "kx")``.
    k_row, k_col : numpy.ndarray
        Detector coordinate values (pixel indices when uncalibrated).
    units : str
        Detector unit spelling (``"mrad"``, ``"1/Å"``, ``"px"``).
    kind : str
        ``"angle"``, ``"reciprocal"`` or ``"pixel"``.
    wavelength : float or None
        Electron wavelength in Å from ``metadata["beam_energy"]``, if known.
    """

    nav: tuple[Hashable, Hashable]
    det: tuple[Hashable, Hashable]
    k_row: np.ndarray
    k_col: np.ndarray
    units: str
    kind: str
    wavelength: float | None

    @property
    def shape(self) -> tuple[int, int]:
        """Detector shape ``(rows, columns)``."""
        return self.k_row.size, self.k_col.size

    def grids(self) -> tuple[np.ndarray, np.ndarray]:
        """Detector coordinates as two 2-D arrays ``(k_row, k_col)`` of the detector's shape."""
        return np.meshgrid(self.k_row, self.k_col, indexing="ij")

    def step(self) -> float:
        """Mean detector pixel size in detector units."""
        return float(np.mean([abs(_step(self.k_row)), abs(_step(self.k_col))]))


def _step(values: np.ndarray) -> float:
    return float((values[-1] - values[0]) / (values.size - 1)) if values.size > 1 else 1.0


def _dim_type(da: xr.DataArray, dim: Hashable) -> str:
    kind = str(da.coords[dim].attrs.get("dimension_type", "")).upper() if dim in da.coords else ""
    if kind and kind != "UNKNOWN":
        return kind
    known = model.DIMENSIONS.get(str(dim))
    return known[1].value if known else "UNKNOWN"


def _describe(da: xr.DataArray) -> str:
    return ", ".join(f"{d!r} ({_dim_type(da, d)})" for d in da.dims)


def split_dims(da: xr.DataArray, func: str) -> tuple[tuple[Hashable, Hashable], tuple[Hashable, Hashable]]:
    """``(nav, det)``: the two SPATIAL and the two RECIPROCAL dims of `da`, in ``da.dims`` order.

    Raises
    ------
    DimensionError
        If `da` does not have exactly two of each.
    """
    if not isinstance(da, xr.DataArray):
        raise TypeError(f"{func}: expected an xarray.DataArray with 4-D STEM data, got {type(da).__name__}")
    nav = tuple(d for d in da.dims if _dim_type(da, d) == "SPATIAL")
    det = tuple(d for d in da.dims if _dim_type(da, d) == "RECIPROCAL")
    if len(nav) != 2 or len(det) != 2:
        raise DimensionError(
            f"{func}: 4-D STEM data need 2 navigation (SPATIAL) and 2 detector (RECIPROCAL) dims; "
            f"{da.name!r} has [{_describe(da)}]. Set the coordinates' dimension_type attrs, e.g. "
            "da.ky.attrs['dimension_type'] = 'RECIPROCAL', or use pycrox.from_array(..., "
            "dims=('y', 'x', 'ky', 'kx'))"
        )
    return (nav[0], nav[1]), (det[0], det[1])


def _kind(unit: pint.Unit | None) -> str:
    if unit is None or unit == units.ureg.pixel_unit:
        return "pixel"
    if any(unit == units.ureg.Unit(name) for name in _ANGLES):
        return "angle"
    if unit.dimensionality == (1 / units.ureg.meter).dimensionality:
        return "reciprocal"
    return "pixel"


def _beam_wavelength(da: xr.DataArray) -> float | None:
    energy = (da.attrs.get("metadata") or {}).get("beam_energy")
    if isinstance(energy, dict):
        try:
            value = units.ureg.Quantity(float(energy["value"]), units.parse(str(energy.get("units", "keV"))))
            return electron_wavelength(float(value.to("keV").m))
        except (KeyError, TypeError, ValueError, pint.errors.PintError, UnitError):
            return None
    if isinstance(energy, int | float) and energy > 0:
        return electron_wavelength(float(energy))
    return None


def geometry(da: xr.DataArray, func: str) -> Geometry:
    """The `Geometry` of 4-D data; warns (`CalibrationWarning`) and uses pixels when uncalibrated.

    Raises
    ------
    DimensionError
        Not 2 navigation + 2 detector dims, or non-uniform detector coordinates.
    """
    nav, det = split_dims(da, func)
    spellings = {str(da.coords[d].attrs.get("units", "") or "") if d in da.coords else "" for d in det}
    unit: pint.Unit | None = None
    if len(spellings) == 1:
        try:
            unit = units.parse(next(iter(spellings)), "Reciprocal length")
        except UnitError:
            unit = None
    kind = _kind(unit) if len(spellings) == 1 else "pixel"
    if kind == "pixel":
        rows, cols = (
            np.arange(da.sizes[det[0]], dtype=np.float64),
            np.arange(da.sizes[det[1]], dtype=np.float64),
        )
        if spellings != {"px"} and spellings != {"pixel"}:
            warnings.warn(
                f"{func}: the detector dims {list(det)} of {da.name!r} carry no scattering-angle or "
                f"reciprocal-length units (found {sorted(spellings)}); working in detector pixels. Calibrate "
                "with da.assign_coords(kx=..., ky=...) and units 'mrad' or '1/Å' for physical angles",
                CalibrationWarning,
                stacklevel=3,
            )
        return Geometry(nav, det, rows, cols, "px", "pixel", _beam_wavelength(da))
    for d in det:
        coordinate_spacing(da, d, func)  # uniform, or a clear error
    values = [np.asarray(da.coords[d].values, dtype=np.float64) for d in det]
    return Geometry(
        nav,
        det,
        values[0],
        values[1],
        units.format(unit) if unit is not None else "px",
        kind,
        _beam_wavelength(da),
    )


def in_detector_units(value: Any, geom: Geometry, func: str, name: str) -> float:
    """A length on the detector (radius, position) in the detector's units.

    Numbers are taken in the detector's units; strings such as ``"20 mrad"``, ``"0.5 1/Å"`` or
    ``"10 px"`` (or pint quantities) are converted; an angle and a reciprocal length are
    converted into each other with the beam's wavelength (``theta = lambda * k``).

    Raises
    ------
    UnitError
        If the value's unit cannot be expressed in the detector's units.
    """
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return float(value)
    magnitude, unit = _split_quantity(value, func, name)
    quantity = units.ureg.Quantity(magnitude, unit)
    given = _kind(unit)
    if given == "pixel" or geom.kind == "pixel":
        if given == geom.kind == "pixel":
            return float(magnitude)
        if given == "pixel":
            return float(magnitude) * geom.step()
        raise UnitError(
            f"{func}: {name}={value!r} is physical but the detector is uncalibrated (pixels); give it in "
            "pixels (a number or 'N px') or calibrate the detector coordinates first"
        )
    target = units.parse(geom.units, "Reciprocal length")
    if given != geom.kind:
        if geom.wavelength is None:
            raise UnitError(
                f"{func}: {name}={value!r} is {'an angle' if given == 'angle' else 'a reciprocal length'} "
                f"but the detector is in {geom.units!r}, and the data have no metadata['beam_energy'] to "
                "convert with; give it in the detector's units or set the beam energy"
            )
        wavelength = units.ureg.Quantity(geom.wavelength, "angstrom")
        quantity = (
            (quantity.to("radian") / wavelength)
            if given == "angle"
            else (quantity * wavelength) * units.ureg.radian
        )
    try:
        return float(quantity.to(target).m)
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"{func}: {name}={value!r} cannot be expressed in {geom.units!r}: {exc}") from None


def resolve_center(center: Any, geom: Geometry, func: str) -> tuple[float, float]:
    """``(k_row, k_col)`` of the pattern's centre: given, the coordinates' zero, or the middle.

    `center` None takes the origin of the detector coordinates when it lies on the detector (a
    calibrated, centred detector), else the detector's middle with a `CalibrationWarning`.
    """
    if center is not None:
        if not isinstance(center, tuple | list) or len(center) != 2:
            raise TypeError(f"{func}: center must be a pair (k_row, k_col) in detector units, got {center!r}")
        return (
            in_detector_units(center[0], geom, func, "center[0]"),
            in_detector_units(center[1], geom, func, "center[1]"),
        )
    inside = all(min(v[0], v[-1]) <= 0 <= max(v[0], v[-1]) for v in (geom.k_row, geom.k_col))
    if inside and geom.kind != "pixel":
        return 0.0, 0.0
    middle = (float(np.mean(geom.k_row[[0, -1]])), float(np.mean(geom.k_col[[0, -1]])))
    warnings.warn(
        f"{func}: the detector coordinates do not contain the optical axis (0, 0); the pattern centre is "
        f"taken as the detector's middle {middle} {geom.units}. Pass center=(k_row, k_col) to set it",
        CalibrationWarning,
        stacklevel=4,
    )
    return middle


def detector_check(values: Any, geom: Geometry, func: str, name: str) -> np.ndarray:
    """A 2-D numpy array of the detector's shape from an array or a DataArray on the detector dims.

    Raises
    ------
    DimensionError
        If the shape or the dims do not match the detector.
    """
    if isinstance(values, xr.DataArray):
        if set(values.dims) != set(geom.det):
            raise DimensionError(
                f"{func}: {name} has dims {list(values.dims)} but the detector dims are {list(geom.det)}"
            )
        values = values.transpose(*geom.det).values
    array = np.asarray(values)
    if array.shape != geom.shape:
        raise DimensionError(
            f"{func}: {name} has shape {array.shape} but the detector {list(geom.det)} is {geom.shape}; "
            "give one value per detector pixel"
        )
    return array
