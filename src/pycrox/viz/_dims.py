"""Which dims play which part in a picture: navigation, signal, frames, point positions."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import xarray as xr

from pycrox.errors import DimensionError

__all__ = [
    "colour_dim",
    "dim_types",
    "frame_dim",
    "navigation_dims",
    "point_coordinates",
    "point_dim",
    "spectral_dim",
]


def dim_types(da: xr.DataArray) -> dict[Hashable, str]:
    """``{dim: dimension_type}`` (``"UNKNOWN"`` where unset)."""
    return {
        d: str(da[d].attrs.get("dimension_type", "UNKNOWN")) if d in da.coords else "UNKNOWN" for d in da.dims
    }


def point_dim(da: xr.DataArray) -> Hashable | None:
    """The POINT_CLOUD dim that carries two numeric per-position coordinates, or None."""
    for dim, kind in dim_types(da).items():
        if kind == "POINT_CLOUD" and point_coordinates(da, dim) is not None:
            return dim
    return None


def spectral_dim(da: xr.DataArray) -> Hashable:
    """The last SPECTRAL dim, else the last dim."""
    spectral = [d for d, t in dim_types(da).items() if t == "SPECTRAL"]
    return spectral[-1] if spectral else da.dims[-1]


def frame_dim(da: xr.DataArray) -> Hashable:
    """The dim that counts the images of a stack: the first one that is not SPATIAL."""
    types = dim_types(da)
    return next((d for d in da.dims if types[d] != "SPATIAL"), da.dims[0])


def navigation_dims(da: xr.DataArray) -> tuple[Hashable, Hashable]:
    """The two dims to navigate: the spatial ones, else two neither spectral nor reciprocal, else the first two.

    Raises
    ------
    DimensionError
        When `da` has fewer than three dims and no two spatial ones.
    """
    types = dim_types(da)
    spatial = [d for d, t in types.items() if t == "SPATIAL"]
    if len(spatial) == 2:
        return spatial[0], spatial[1]
    others = [d for d in da.dims if types[d] not in ("SPECTRAL", "RECIPROCAL")]
    if len(others) == 2:
        return others[0], others[1]
    if da.ndim < 3:
        raise DimensionError(f"plot: cannot find two navigation dims in {dict(da.sizes)}")
    return da.dims[0], da.dims[1]


def point_coordinates(da: xr.DataArray, dim: Hashable) -> tuple[xr.DataArray, xr.DataArray] | None:
    """The two numeric coordinates along a point-cloud dim (``x``/``y`` by name first), or None."""
    along = [
        name
        for name, c in da.coords.items()
        if c.dims == (dim,) and name != dim and np.issubdtype(c.dtype, np.number)
    ]
    by_name = {str(name).lower(): name for name in along}
    if "x" in by_name and "y" in by_name:
        return da.coords[by_name["x"]], da.coords[by_name["y"]]
    return (da.coords[along[0]], da.coords[along[1]]) if len(along) >= 2 else None


def colour_dim(da: xr.DataArray) -> Hashable | None:
    """The colour dim of a 3-D image: ``rgb``, or (for an IMAGE) a CHANNEL dim of size 3 or 4; else None."""
    if da.ndim != 3:
        return None
    types = dim_types(da)
    for dim in da.dims:
        named = dim == "rgb" or (types[dim] == "CHANNEL" and da.attrs.get("data_type") == "IMAGE")
        if named and da.sizes[dim] in (3, 4):
            return dim
    return None
