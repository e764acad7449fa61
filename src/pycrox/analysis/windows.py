"""Sliding windows over an image (or any dims) as new dims, and their reassembly.

`windows` cuts ``(y, x)`` into ``(y, x, window_y, window_x)``: ``y``/``x`` become the window
centres, ``window_y``/``window_x`` the offsets inside a window. The last window along a dim is
moved flush with the edge when `step` does not tile it, so every pixel is in some window and
`reassemble` gives the image back.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import (
    coordinate_spacing,
    core_chunks_ok,
    length_in_pixels,
    per_dim,
    resolve_dims,
)
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["reassemble", "windows"]

#: coordinate attr of a window-centre coordinate: what `reassemble` needs
WINDOWS_ATTR = "windows"
METHODS = ("centre", "mean")
PixelSize = int | str | Mapping[Hashable, Any]


def windows(
    da: xr.DataArray, size: PixelSize, step: PixelSize, dim: Hashable | Iterable[Hashable] | None = None
) -> xr.DataArray:
    """Sliding windows of `da` over `dim`, as new dims ``window_<dim>``.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed; dask stays lazy.
    size, step : int, str or mapping
        Window width and stride: an int is a number of pixels, a string such as ``"2 nm"`` or
        ``"16 px"`` is converted with the coordinate spacing (rounded); ``{dim: value}`` per dim.
    dim : hashable or sequence of hashable, optional
        Dims to cut; default the SPATIAL dims.

    Returns
    -------
    xarray.DataArray
        Dims of `da` (the windowed ones now indexing window centres, in physical units) followed
        by ``window_<dim>`` (offset from the window centre, SPATIAL, same units). The input's
        dtype and attrs are kept.

    Raises
    ------
    DimensionError
        Unknown dims, a size larger than the dim or below 1, a step below 1, a non-uniform
        coordinate.
    UnitError
        If a size cannot be expressed in the coordinate's units.

    See Also
    --------
    reassemble

    Examples
    --------
    >>> image = model.from_array(np.arange(36.0).reshape(6, 6))
    >>> tiles = windows(image, 4, 2)
    >>> dict(tiles.sizes)
    {'y': 2, 'x': 2, 'window_y': 4, 'window_x': 4}
    >>> bool((reassemble(tiles) == image).all())
    True
    """
    dims = resolve_dims(da, dim, default_type="SPATIAL", func="windows")
    sizes = _pixels(da, dims, size, "size")
    steps = _pixels(da, dims, step, "step")
    names = [f"window_{d}" for d in dims]
    clash = [n for n in names if n in da.dims]
    if clash:
        raise DimensionError(f"windows: {da.name!r} already has dims {clash}")
    starts = {d: _starts(da.sizes[d], sizes[d], steps[d], d) for d in dims}
    coords: dict[Hashable, xr.DataArray] = {}
    for d, name in zip(dims, names, strict=True):
        coords |= _window_coordinates(da, d, name, starts[d], sizes[d], steps[d])
    source = core_chunks_ok(da, dims, "windows")
    result = xr.apply_ufunc(
        _cut_kernel,
        source,
        input_core_dims=[list(dims)],
        output_core_dims=[[*dims, *names]],
        exclude_dims=set(dims),
        kwargs={"starts": [starts[d] for d in dims], "sizes": [sizes[d] for d in dims]},
        dask="parallelized",
        output_dtypes=[da.dtype],
        keep_attrs=True,
        dask_gufunc_kwargs={"output_sizes": {n: c.size for n, c in coords.items()}},
    )
    result = result.transpose(*da.dims, *names).assign_coords(coords)
    return provenance.record(
        model.refresh_data_type(result), "windows", source=da, size=size, stride=step, dim=list(dims)
    )  # record() takes `step` itself


def reassemble(
    da: xr.DataArray, dim: Hashable | Iterable[Hashable] | None = None, *, method: str = "centre"
) -> xr.DataArray:
    """Put windows made by `windows` back together into one image.

    Parameters
    ----------
    da : xarray.DataArray
        Output of `windows` (possibly processed window by window, same sizes).
    dim : hashable or sequence of hashable, optional
        The windowed dims (``"y"``, not ``"window_y"``); default every dim `windows` made.
    method : {"centre", "mean"}, optional
        Where windows overlap, take each pixel from the window whose centre is nearest
        ("centre": an exact copy, no arithmetic) or average the overlapping windows ("mean").

    Returns
    -------
    xarray.DataArray
        The original dims, coordinates (offsets included) and dim order; attrs of `da`.

    Raises
    ------
    DimensionError
        If a dim was not made by `windows`, or a ``window_<dim>`` dim is missing.
    ValueError
        Unknown `method`.
    """
    if method not in METHODS:
        raise ArgumentError(f"reassemble: method must be one of {list(METHODS)}, got {method!r}")
    made = [d for d in da.dims if d in da.coords and WINDOWS_ATTR in da.coords[d].attrs]
    dims = tuple(made) if dim is None else resolve_dims(da, dim, default_type=None, func="reassemble")
    missing = [d for d in dims if d not in made or f"window_{d}" not in da.dims]
    if missing or not dims:
        raise DimensionError(
            f"reassemble: {missing or list(da.dims)} were not cut by pycrox windows() (no {WINDOWS_ATTR!r} "
            f"attr or no window_<dim> dim); dims are {list(da.dims)}"
        )
    infos = [da.coords[d].attrs[WINDOWS_ATTR] for d in dims]
    names = [f"window_{d}" for d in dims]
    coords = {d: _source_coordinate(da, d, info) for d, info in zip(dims, infos, strict=True)}
    source = core_chunks_ok(da, [*dims, *names], "reassemble")
    dtype = da.dtype if method == "centre" else np.result_type(da.dtype, np.float32)
    result = xr.apply_ufunc(
        _join_kernel,
        source,
        input_core_dims=[[*dims, *names]],
        output_core_dims=[list(dims)],
        exclude_dims=set(dims) | set(names),
        dask="parallelized",
        output_dtypes=[dtype],
        keep_attrs=True,
        kwargs={
            "starts": [i["starts"] for i in infos],
            "totals": [i["source_size"] for i in infos],
            "method": method,
        },
        dask_gufunc_kwargs={"output_sizes": {d: c.size for d, c in coords.items()}},
    )
    order = [d for d in da.dims if d not in names]
    return provenance.record(
        model.refresh_data_type(result.transpose(*order).assign_coords(coords)),
        "reassemble",
        source=da,
        dim=list(dims),
        method=method,
    )


def _pixels(da: xr.DataArray, dims: tuple[Hashable, ...], value: Any, name: str) -> dict[Hashable, int]:
    out = {}
    for d, v in per_dim(value, dims, "windows", name).items():
        if isinstance(v, float):
            raise TypeError(
                f"windows: {name} must be an int (pixels) or a string with units, not the float {v}"
            )
        pixels = (
            int(v) if isinstance(v, int | np.integer) else round(length_in_pixels(v, da, d, "windows", name))
        )
        if pixels < 1:
            raise DimensionError(f"windows: {name} along {d!r} is {v!r} = {pixels} pixel(s); it must be >= 1")
        out[d] = pixels
    return out


def _starts(total: int, size: int, step: int, dim: Hashable) -> list[int]:
    if size > total:
        raise DimensionError(f"windows: window size {size} is larger than {dim!r} ({total} pixels)")
    starts = list(range(0, total - size + 1, step))
    if starts[-1] != total - size:
        starts.append(total - size)  # last window flush with the edge, so every pixel is covered
    return starts


def _window_coordinates(
    da: xr.DataArray, dim: Hashable, name: str, starts: list[int], size: int, step: int
) -> dict[Hashable, xr.DataArray]:
    spacing = coordinate_spacing(da, dim, "windows") if da.sizes[dim] > 1 else 1.0
    attrs = dict(da.coords[dim].attrs) if dim in da.coords else {}
    offset = float(da.coords[dim].values[0]) if dim in da.coords else 0.0
    centres = offset + spacing * (np.asarray(starts) + (size - 1) / 2)
    info = {
        "starts": starts,
        "size": size,
        "step": step,
        "source_size": da.sizes[dim],
        "offset": offset,
        "spacing": spacing,
        "attrs": attrs,
    }
    centre = xr.DataArray(centres, dims=(dim,), name=dim, attrs={**attrs, WINDOWS_ATTR: info})
    inner = model.coordinate(
        name,
        spacing * (np.arange(size) - (size - 1) / 2),
        units=attrs.get("units", ""),
        quantity=attrs.get("quantity", ""),
        dimension_type="SPATIAL",
    )
    return {dim: centre, name: inner}


def _source_coordinate(da: xr.DataArray, dim: Hashable, info: dict) -> xr.DataArray:
    values = info["offset"] + info["spacing"] * np.arange(info["source_size"], dtype=np.float64)
    return xr.DataArray(values, dims=(dim,), name=dim, attrs=dict(info.get("attrs") or {}))


def _cut_kernel(values: np.ndarray, *, starts: list[list[int]], sizes: list[int]) -> np.ndarray:
    ndim = len(sizes)
    axes = tuple(range(values.ndim - ndim, values.ndim))
    view = np.lib.stride_tricks.sliding_window_view(values, sizes, axis=axes)
    index = np.ix_(*[np.asarray(s) for s in starts])
    key: tuple[Any, ...] = (..., *index, *[slice(None)] * ndim)
    return view[key]


def _join_kernel(
    values: np.ndarray, *, starts: list[list[int]], totals: list[int], method: str
) -> np.ndarray:
    ndim = len(starts)
    sizes = values.shape[values.ndim - ndim :]
    lead = values.shape[: values.ndim - 2 * ndim]
    if method == "centre":
        owners, inside = zip(
            *[_owners(s, n, t) for s, n, t in zip(starts, sizes, totals, strict=True)], strict=True
        )
        picks: tuple[Any, ...] = (..., *np.ix_(*owners), *np.ix_(*inside))
        return values[picks]
    mean = np.zeros((*lead, *totals), dtype=np.result_type(values.dtype, np.float64))
    count = np.zeros(totals, dtype=np.int64)
    for index in itertools.product(*[range(len(s)) for s in starts]):
        target = tuple(slice(s[i], s[i] + n) for s, i, n in zip(starts, index, sizes, strict=True))
        count[target] += 1  # running mean: exact where the overlapping windows agree
        at: tuple[Any, ...] = (..., *target)
        window: tuple[Any, ...] = (..., *index, *[slice(None)] * ndim)
        mean[at] += (values[window] - mean[at]) / count[target]
    return mean.astype(np.result_type(values.dtype, np.float32))


def _owners(starts: list[int], size: int, total: int) -> tuple[np.ndarray, np.ndarray]:
    """For each pixel: the window whose centre is nearest, and the pixel's index inside it."""
    pixel = np.arange(total)
    centres = np.asarray(starts) + (size - 1) / 2
    covering = (pixel[:, None] >= np.asarray(starts)) & (pixel[:, None] < np.asarray(starts) + size)
    distance = np.where(covering, np.abs(pixel[:, None] - centres), np.inf)
    owner = np.argmin(distance, axis=1)
    return owner, pixel - np.asarray(starts)[owner]
