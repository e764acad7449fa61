"""Axis and colour-bar labels, "quantity [units]", from the model's attrs (no matplotlib here)."""

from __future__ import annotations

from collections.abc import Hashable

import xarray as xr

__all__ = ["axis_label", "label", "with_labels"]


def label(da: xr.DataArray) -> str:
    """The label of a signal's values or of a coordinate: ``"Intensity [counts]"``.

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox signal or one of its coordinates.

    Returns
    -------
    str
        ``long_name`` (else ``quantity``, else the name), then `` [units]`` when ``units`` is not
        empty; ``""`` when there is nothing to say.

    Examples
    --------
    >>> label(xr.DataArray([1.0], attrs={"quantity": "Intensity", "units": "counts"}))
    'Intensity [counts]'
    >>> label(xr.DataArray([1.0], name="x", attrs={"units": "nm"}))
    'x [nm]'
    """
    attrs = da.attrs
    name = attrs.get("long_name") or attrs.get("quantity") or ("" if da.name is None else str(da.name))
    units = attrs.get("units")
    units = units if isinstance(units, str) else ""
    return f"{name} [{units}]".strip() if units else str(name)


def axis_label(da: xr.DataArray, dim: Hashable) -> str:
    """The label of dimension `dim` of `da`: its coordinate's `label`, or the dim name without one."""
    return label(da[dim]) if dim in da.coords else str(dim)


def with_labels(da: xr.DataArray) -> xr.DataArray:
    """A copy whose values and dimension coordinates carry ``long_name`` = their ``quantity``.

    xarray's own plots (``da.plot()``) build their labels from ``long_name`` and ``units``; a
    signal or coordinate that lacks ``long_name`` gets its ``quantity`` (when it has one), so the
    colour bar reads "Intensity [counts]" and the axes "Length [nm]". Existing ``long_name``
    values are kept; the input is not modified.

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox signal.

    Returns
    -------
    xarray.DataArray
        The same data (still lazy if `da` is) with completed attrs.

    Examples
    --------
    >>> da = xr.DataArray([1.0, 2.0], dims="x", attrs={"quantity": "Intensity", "units": "counts"})
    >>> with_labels(da).attrs["long_name"], "long_name" in da.attrs
    ('Intensity', False)
    """
    out = da.copy(deep=False)
    out.attrs = _completed(da.attrs)
    for dim in da.dims:
        if dim in da.coords:
            out.coords[dim].attrs = _completed(da[dim].attrs)
    return out


def _completed(attrs: dict) -> dict:
    if attrs.get("long_name") or not attrs.get("quantity"):
        return dict(attrs)
    return {**attrs, "long_name": attrs["quantity"]}
