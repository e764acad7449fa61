"""Shared checks of the EELS functions: the energy dim, windows, experimental parameters.

Every EELS function works along one energy-loss dimension (``dim=None``: the single SPECTRAL
dim) whose coordinate must be increasing, uniform and in an energy unit; values are taken in
eV. Experimental parameters (beam energy, collection and convergence semi-angles) come from a
keyword argument (a number in the stated unit, a string such as ``"200 kV"`` or a pint
quantity) or else from ``attrs["metadata"]``, as the vendor readers write it.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import units
from pycrox.analysis._dims import coordinate_spacing, coordinate_units, quantity_in, resolve_dims
from pycrox.errors import DimensionError, EELSError, EELSWarning, UnitError

__all__ = [
    "ELECTRON_REST_ENERGY_KEV",
    "EELSError",
    "EELSWarning",
    "energy_axis",
    "experimental",
    "relativistic",
    "window_mask",
]

#: m0 c^2 in keV
ELECTRON_REST_ENERGY_KEV = 510.99895

#: metadata keys (of ``attrs["metadata"]``) searched for each experimental parameter
_METADATA_KEYS = {
    "beam_energy": ("beam_energy", "acceleration_voltage", "high_tension"),
    "collection_angle": ("collection_angle", "collection_semi_angle"),
    "convergence_angle": ("convergence_angle", "convergence_semi_angle"),
}
#: DigitalMicrograph tag holding the collection semi-angle (kept in ``original_metadata``)
_DM_COLLECTION_TAG = "Collection semi-angle (mrad)"


def energy_axis(da: xr.DataArray, dim: Hashable | None, func: str) -> tuple[Hashable, np.ndarray]:
    """The energy dim of `da` and its coordinate in eV, checked increasing and uniform.

    Raises
    ------
    DimensionError
        No SPECTRAL dim (and no `dim`), no coordinate, a coordinate that is not increasing or not
        uniform, fewer than 4 channels.
    UnitError
        The coordinate's unit is not an energy.
    """
    names = resolve_dims(da, dim, default_type="SPECTRAL", func=func)
    if len(names) != 1:
        raise DimensionError(f"{func}: dim must be one energy dimension, not {dim!r}")
    name = names[0]
    if name not in da.coords:
        raise DimensionError(
            f"{func}: dimension {name!r} has no coordinate, so the energy of each channel is unknown; "
            f"assign one in eV, e.g. da.assign_coords({name}=('{name}', energies, {{'units': 'eV'}}))"
        )
    if da.sizes[name] < 4:
        raise DimensionError(
            f"{func}: {name!r} has {da.sizes[name]} channel(s); an EELS spectrum needs at least 4"
        )
    values = np.asarray(da[name].values, dtype=np.float64)
    if not np.all(np.diff(values) > 0):
        raise DimensionError(
            f"{func}: the energy coordinate {name!r} is not strictly increasing (from {values[0]:g} to "
            f"{values[-1]:g}); sort it first, e.g. da.sortby({name!r})"
        )
    coordinate_spacing(da, name, func)  # raises on a non-uniform axis
    return name, values * _ev_factor(da, name, func)


def _ev_factor(da: xr.DataArray, name: Hashable, func: str) -> float:
    unit, quantity = coordinate_units(da, name)
    if not unit:
        raise UnitError(
            f"{func}: the energy coordinate {name!r} has no units; set them, e.g. "
            f"da[{name!r}].attrs['units'] = 'eV'"
        )
    try:
        return float(units.ureg.Quantity(1.0, units.parse(unit, quantity)).to("eV").m)
    except (pint.errors.DimensionalityError, UnitError) as exc:
        raise UnitError(
            f"{func}: the coordinate {name!r} is in {unit!r}, which is not an energy: {exc}"
        ) from None


def window_mask(energy: np.ndarray, window: Any, func: str, *, minimum: int = 3) -> np.ndarray:
    """Boolean mask of the channels inside ``window = (start, end)`` (eV numbers or strings with units).

    Raises
    ------
    EELSError
        A window that is not two increasing values, lies (partly) outside the data, or holds fewer
        than `minimum` channels.
    """
    try:
        start, end = window
    except (TypeError, ValueError):
        raise EELSError(
            f"{func}: window must be (start, end) in eV, e.g. (350, 450); got {window!r}"
        ) from None
    e1 = quantity_in(start, "eV", "energy", func, "window start")
    e2 = quantity_in(end, "eV", "energy", func, "window end")
    step = energy[1] - energy[0]
    if not e1 < e2:
        raise EELSError(f"{func}: window ({e1:g}, {e2:g}) eV must have start < end")
    if e1 < energy[0] - 0.5 * step or e2 > energy[-1] + 0.5 * step:
        raise EELSError(
            f"{func}: window ({e1:g}, {e2:g}) eV lies outside the data, which span "
            f"{energy[0]:g} to {energy[-1]:g} eV; choose a window inside that range"
        )
    mask = (energy >= e1) & (energy <= e2)
    if np.count_nonzero(mask) < minimum:
        raise EELSError(
            f"{func}: window ({e1:g}, {e2:g}) eV holds {np.count_nonzero(mask)} channel(s); at least "
            f"{minimum} are needed, widen it"
        )
    return mask


def _from_metadata(da: xr.DataArray, name: str) -> Any:
    metadata = da.attrs.get("metadata") or {}
    for key in _METADATA_KEYS[name]:
        value = metadata.get(key) if isinstance(metadata, Mapping) else None
        if isinstance(value, Mapping) and "value" in value:
            return f"{value['value']} {value.get('units', '')}".strip()
        if value is not None:
            return value
    if name == "collection_angle":
        found = _find_tag(da.attrs.get("original_metadata") or {}, _DM_COLLECTION_TAG)
        if isinstance(found, int | float) and found > 0:
            return f"{found} mrad"
    return None


def _find_tag(tree: Any, key: str, depth: int = 0) -> Any:
    if not isinstance(tree, Mapping) or depth > 12:
        return None
    if key in tree:
        return tree[key]
    for value in tree.values():
        found = _find_tag(value, key, depth + 1)
        if found is not None:
            return found
    return None


_UNITS = {
    "beam_energy": ("keV", "energy"),
    "collection_angle": ("mrad", "angle"),
    "convergence_angle": ("mrad", "angle"),
}
_EXAMPLES = {"beam_energy": "'200 kV'", "collection_angle": "'20 mrad'", "convergence_angle": "'10 mrad'"}


def experimental(
    da: xr.DataArray, name: str, value: Any, func: str, *, default: float | None = None
) -> float:
    """A beam energy [keV] or semi-angle [mrad] from the keyword `value`, else from the metadata.

    An accelerating voltage (``"200 kV"``) counts as the beam energy of an electron (200 keV).
    `default` is returned when neither gives a value (None: that is an error).

    Raises
    ------
    EELSError
        If there is no value and no `default`.
    UnitError
        If the value's unit does not fit.
    """
    source = value if value is not None else _from_metadata(da, name)
    if source is None:
        if default is not None:
            return default
        raise EELSError(
            f"{func}: no {name.replace('_', ' ')} in the keyword arguments or in attrs['metadata']['{name}']; "
            f"pass {name}={_EXAMPLES[name]}"
        )
    target, quantity = _UNITS[name]
    if (
        name == "beam_energy"
        and isinstance(source, str)
        and source.strip().lower().endswith(("kv", " v", "mv"))
    ):
        source = _voltage_as_energy(source, func)
    result = quantity_in(source, target, quantity, func, name)
    if not np.isfinite(result) or result < 0 or (name == "beam_energy" and result == 0):
        raise EELSError(f"{func}: {name}={source!r} must be positive")
    return result


def _voltage_as_energy(text: str, func: str) -> float:
    return quantity_in(text, "kV", "voltage", func, "beam_energy")


def relativistic(beam_energy_kev: float) -> tuple[float, float, float]:
    """``(gamma, T [eV], F)`` of an electron of kinetic energy `beam_energy_kev`.

    ``T = m0 v^2 / 2`` (the "effective incident energy" of Egerton, eV) and
    ``F = (1 + E0/1022) / (1 + E0/511)^2`` (the relativistic factor of the mean-free-path formulas).
    """
    e0 = beam_energy_kev
    gamma = 1.0 + e0 / ELECTRON_REST_ENERGY_KEV
    t_kev = e0 * (1.0 + e0 / (2 * ELECTRON_REST_ENERGY_KEV)) / gamma**2
    f = (1.0 + e0 / (2 * ELECTRON_REST_ENERGY_KEV)) / gamma**2
    return gamma, t_kev * 1e3, f


def data_units(da: xr.DataArray) -> str:
    """The data's unit string (``""`` when absent)."""
    return str(da.attrs.get("units", "") or "")
