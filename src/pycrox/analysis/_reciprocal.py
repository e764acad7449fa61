"""Reciprocal and direct coordinates for `pycrox.analysis.fourier`: names, units, values, round trip.

`reciprocal_coordinate` builds ``kx`` in ``1/nm`` from ``x`` in ``nm`` and stores what it
replaced under the coordinate attr ``fft_source``; `direct_coordinate` reads it back.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.fft
import xarray as xr

from pycrox import model, units
from pycrox.analysis._dims import coordinate_spacing, coordinate_units

__all__ = [
    "DIRECT_NAMES",
    "RECIPROCAL_NAMES",
    "SOURCE_ATTR",
    "direct_coordinate",
    "frequency_step",
    "new_names",
    "reciprocal_coordinate",
    "resample_uniform",
    "was_shifted",
]

#: coordinate attr holding what `fft` replaced
SOURCE_ATTR = "fft_source"
RECIPROCAL_NAMES: dict[Hashable, Hashable] = {"x": "kx", "y": "ky", "z": "kz"}
DIRECT_NAMES: dict[Hashable, Hashable] = {v: k for k, v in RECIPROCAL_NAMES.items()}


def new_names(
    da: xr.DataArray,
    dims: tuple[Hashable, ...],
    table: dict[Hashable, Hashable],
    stored: dict[Hashable, Any] | None = None,
) -> list[Hashable]:
    """Renamed dims (x -> kx, or the stored original name), keeping a name that would collide."""
    names = []
    for d in dims:
        new = (stored or {}).get(d) or table.get(d, d)
        clash = new != d and (new in da.dims or new in names)
        names.append(d if clash else new)
    return names


def _inverse_unit(unit_text: str, quantity: str) -> str:
    return units.format(units.parse(unit_text, quantity) ** -1) if unit_text else ""


def _reciprocal_quantity(quantity: str) -> str:
    if not quantity:
        return ""
    if quantity.lower().startswith("reciprocal "):
        return quantity[len("reciprocal ") :].capitalize()
    return f"Reciprocal {quantity.lower()}"


def reciprocal_coordinate(
    da: xr.DataArray, dim: Hashable, new: Hashable, step: float, shift: bool, half: bool, real_source: bool
) -> xr.DataArray:
    """Frequency coordinate `new` for `dim` (RECIPROCAL, inverse units), remembering `dim` in ``fft_source``."""
    size = da.sizes[dim]
    unit_text, quantity = coordinate_units(da, dim)
    if half:
        freqs = scipy.fft.rfftfreq(size, step)
    else:
        freqs = scipy.fft.fftfreq(size, step)
        freqs = np.fft.fftshift(freqs) if shift else freqs
    coord = model.coordinate(
        new,
        freqs,
        units=_inverse_unit(unit_text, quantity),
        quantity=_reciprocal_quantity(quantity),
        dimension_type="RECIPROCAL",
    )
    first = float(da.coords[dim].values[0]) if dim in da.coords else 0.0
    original = {
        k: v for k, v in (da.coords[dim].attrs if dim in da.coords else {}).items() if k != SOURCE_ATTR
    }
    coord.attrs[SOURCE_ATTR] = {
        "name": str(dim),
        "offset": first,
        "spacing": step,
        "size": size,
        "shifted": bool(shift and not half),
        "half": bool(half),
        "real_source": bool(real_source),
        "attrs": original,
    }
    return coord


def direct_coordinate(
    da: xr.DataArray, dim: Hashable, new: Hashable, step: float, info: dict
) -> xr.DataArray:
    """The coordinate `fft` replaced (from `info`), or one of step ``1 / (n * step)`` starting at 0."""
    if info:
        values = info["offset"] + info["spacing"] * np.arange(info["size"], dtype=np.float64)
        coord = xr.DataArray(values, dims=(new,), name=new, attrs=dict(info.get("attrs") or {}))
        return coord
    size = da.sizes[dim]
    unit_text, quantity = coordinate_units(da, dim)
    known = model.DIMENSIONS.get(str(new))
    kind = known[1] if known and str(new) != str(dim) else "UNKNOWN"
    return model.coordinate(
        new,
        np.arange(size) / (size * step),
        units=_inverse_unit(unit_text, quantity),
        quantity=_reciprocal_quantity(quantity),
        dimension_type=kind,
    )


def frequency_step(da: xr.DataArray, dim: Hashable, shifted: bool) -> float:
    """Step of a frequency coordinate, in centred order (``fftshift`` of an unshifted one)."""
    if dim not in da.coords:
        return coordinate_spacing(da, dim, "ifft")
    values = da.coords[dim].values
    centred = values if shifted else np.fft.fftshift(values)
    return coordinate_spacing(xr.DataArray(centred, dims=(dim,), coords={dim: centred}), dim, "ifft")


def was_shifted(da: xr.DataArray, dim: Hashable, info: dict, shift: bool | None) -> bool:
    """Whether the zero frequency of `dim` is in the middle: as given, as stored, or from the values."""
    if shift is not None:
        return shift
    if "shifted" in info:
        return bool(info["shifted"])
    return bool(dim in da.coords and float(da.coords[dim].values[0]) < 0)


def resample_uniform(da: xr.DataArray, dims: tuple[Hashable, ...]) -> xr.DataArray:
    """Linear resampling of each of `dims` onto a uniform grid with the same end points and size."""
    out = da
    for d in dims:
        if d not in da.coords:
            continue
        values = np.asarray(da.coords[d].values, dtype=np.float64)
        grid = np.linspace(values[0], values[-1], values.size)
        if not np.allclose(values, grid, rtol=0, atol=1e-9 * abs(values[-1] - values[0])):
            out = out.interp({d: grid}).assign_attrs(out.attrs)
            out.coords[d].attrs.update(da.coords[d].attrs)
    return out
