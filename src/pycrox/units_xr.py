"""Units on xarray objects: quantify, dequantify and convert, with pycrox's registry and spellings."""

from __future__ import annotations

import pint
import pint_xarray  # noqa: F401  (registers .pint)
import xarray as xr

from pycrox import units
from pycrox.errors import DimensionError, UnitError

__all__ = ["convert_factor", "dequantify", "quantify", "to_units"]


def _unit_of(obj: xr.DataArray, where: str) -> pint.Unit:
    try:
        return units.parse(obj.attrs.get("units", ""), obj.attrs.get("quantity"))
    except UnitError as exc:
        raise UnitError(f"{where}: {exc}") from None


def quantify(da: xr.DataArray) -> xr.DataArray:
    """Wrap data and dimension coordinates in pint quantities of `pycrox.units.ureg`.

    Parameters
    ----------
    da : xarray.DataArray
        A model DataArray; units come from ``attrs["units"]`` of the data and of each coordinate.

    Returns
    -------
    xarray.DataArray
        Quantified through pint-xarray (coordinates become unit-aware indexes).

    Raises
    ------
    UnitError
        If a unit spelling is unknown; the message names the variable.
    """
    data_unit = _unit_of(da, f"data {da.name!r}")
    coords = {c: _unit_of(da[c], f"coordinate {c!r}") for c in da.coords if "units" in da[c].attrs}
    stripped = da.copy(deep=False)
    stripped.attrs = {k: v for k, v in da.attrs.items() if k != "units"}
    for c in coords:
        stripped[c].attrs = {k: v for k, v in da[c].attrs.items() if k != "units"}
    # pint-xarray names the data by the array's name (None when unnamed); a coordinate of the same
    # name cannot be told apart, so the data then go unnamed for the call
    if da.name is not None and da.name in da.coords:
        stripped = stripped.rename(None)
    key = stripped.name
    quantified = stripped.pint.quantify({**coords, key: data_unit}, unit_registry=units.ureg)
    return quantified.rename(da.name) if key != da.name else quantified


def dequantify(da: xr.DataArray) -> xr.DataArray:
    """Strip pint quantities back to arrays with ``units`` attrs (written in `pycrox.units.format`).

    The data and every dimension coordinate get a ``units`` attr, ``""`` when dimensionless, so
    ``dequantify(quantify(da))`` is a valid model object again.
    """
    out = da.pint.dequantify(format="~C")
    bare = [d for d in out.dims if d in out.coords and "units" not in out[d].attrs]
    out = out.assign_coords({d: out[d].assign_attrs(units="") for d in bare})
    return out if "units" in out.attrs else out.assign_attrs(units="")


def convert_factor(from_unit: str, to_unit: str, quantity: str | None = None) -> float:
    """The factor that takes values in `from_unit` to `to_unit`.

    Raises
    ------
    UnitError
        If either unit is unknown or they have different dimensionality.
    """
    try:
        factor = (
            units.ureg.Quantity(1.0, units.parse(from_unit, quantity)).to(units.parse(to_unit, quantity)).m
        )
        return float(
            f"{factor:.15g}"
        )  # 1e-6 / 1e-9 is 999.9999999999999 in binary: keep exact prefixes exact
    except pint.errors.DimensionalityError as exc:
        raise UnitError(f"cannot convert {from_unit!r} to {to_unit!r}: {exc}") from None


def to_units(da: xr.DataArray, **targets: str) -> xr.DataArray:
    """Convert coordinates (keyword = dim name) or the data (keyword ``data``) to other units.

    Parameters
    ----------
    da : xarray.DataArray
        A model DataArray.
    **targets : str
        e.g. ``x="nm"`` or ``data="keV"``.

    Returns
    -------
    xarray.DataArray
        A new object; converted variables get new values and ``units`` attrs.

    Raises
    ------
    DimensionError
        If a keyword names no coordinate.
    UnitError
        If a conversion is impossible.

    Examples
    --------
    >>> da = pycrox.from_array(np.zeros(3), dims=["x"], coords={"x": {"values": [0.0, 1.0, 2.0], "units": "µm"}})
    >>> da.pycro.to_units(x="nm").x.values.tolist(), da.pycro.to_units(x="nm").x.attrs["units"]
    ([0.0, 1000.0, 2000.0], 'nm')
    """
    out = da.copy(deep=False)
    for name, target in targets.items():
        if name == "data":
            factor = convert_factor(da.attrs.get("units", ""), target, da.attrs.get("quantity"))
            out = (out * factor).assign_attrs({**da.attrs, "units": target})
            continue
        if name not in da.coords:
            raise DimensionError(
                f"to_units: {da.name!r} has no coordinate {name!r}; it has {list(da.coords)}"
            )
        coord = da[name]
        factor = convert_factor(coord.attrs.get("units", ""), target, coord.attrs.get("quantity"))
        out = out.assign_coords({name: (coord * factor).assign_attrs({**coord.attrs, "units": target})})
    return out
