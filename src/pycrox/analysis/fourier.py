"""Discrete Fourier transforms along named dims, with reciprocal coordinates in physical units.

`fft` turns uniform coordinates (``x`` in ``nm``) into reciprocal ones (``kx`` in ``1/nm``,
dimension type RECIPROCAL) and stores what it replaced in the coordinate's ``fft_source``
attr, so `ifft` restores the original names, values (offsets included) and attrs.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import scipy.fft
import scipy.signal
import xarray as xr

from pycrox import model, provenance, units
from pycrox.analysis import _reciprocal
from pycrox.analysis._dims import (
    NonFiniteError,
    coordinate_spacing,
    core_chunks_ok,
    dims_of_type,
    resolve_dims,
)
from pycrox.errors import ArgumentError

__all__ = ["WINDOWS", "fft", "ifft", "power_spectrum"]

#: window names accepted by `fft` and `power_spectrum`
WINDOWS = ("hann", "hamming", "blackman")
#: coordinate attr holding what `fft` replaced
SOURCE_ATTR = _reciprocal.SOURCE_ATTR


def fft(
    da: xr.DataArray,
    dim: Hashable | Iterable[Hashable] | None = None,
    *,
    shift: bool = True,
    window: str | None = None,
    real: bool = False,
    interpolate: bool = False,
) -> xr.DataArray:
    """Discrete Fourier transform along one or more dims, with reciprocal coordinates.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed signal; a dask array split along `dim` is rechunked (logged).
    dim : hashable or sequence of hashable, optional
        Dims to transform. Default: the SPATIAL dims, else the single SPECTRAL dim.
    shift : bool, optional
        Put the zero frequency in the middle (``fftshift``); coordinates then increase.
    window : {"hann", "hamming", "blackman", None}, optional
        Periodic window multiplied along every transformed dim before the transform.
    real : bool, optional
        Real input only: half spectrum (``rfftn``) along the last of `dim`.
    interpolate : bool, optional
        Resample non-uniform coordinates linearly to a uniform grid of the same size instead of
        raising.

    Returns
    -------
    xarray.DataArray
        Complex (complex64 for float32 input), same dim order; ``x``/``y``/``z`` become
        ``kx``/``ky``/``kz`` (other names are kept), coordinates in reciprocal units
        (``"nm"`` -> ``"1/nm"``), dimension type RECIPROCAL. Data units are kept (unnormalised
        sum, numpy's "backward" norm). Lazy if `da` is.

    Raises
    ------
    DimensionError
        Unknown dims, no default dim, fewer than 2 points or a non-uniform coordinate.
    UnitError
        If a coordinate unit is unknown.
    NonFiniteError
        When computed, if the data hold NaN or inf (every output would be NaN).
    ValueError
        Unknown `window`, or `real` with complex data.

    See Also
    --------
    ifft, power_spectrum

    Notes
    -----
    The transform is of the samples: the coordinate offset is not applied as a phase factor.

    Examples
    --------
    >>> from pycrox import model
    >>> da = model.from_array(np.ones((4, 8)), coords={"x": {"values": np.arange(8) * 0.5, "units": "nm"}})
    >>> spec = fft(da, "x")
    >>> spec.dims, spec.kx.attrs["units"], spec.kx.values[:3].tolist()
    (('y', 'kx'), '1/nm', [-1.0, -0.75, -0.5])
    """
    dims = _forward_dims(da, dim)
    _check_window(window)
    if real and np.iscomplexobj(np.empty(0, da.dtype)):
        raise ArgumentError(f"fft: real=True needs real data, {da.name!r} is {da.dtype}")
    source = _reciprocal.resample_uniform(da, dims) if interpolate else da
    steps = {d: coordinate_spacing(source, d, "fft") for d in dims}
    source = core_chunks_ok(source, dims, "fft")
    names = _reciprocal.new_names(source, dims, _reciprocal.RECIPROCAL_NAMES)
    real_source = not np.iscomplexobj(np.empty(0, da.dtype))
    coords = {
        new: _reciprocal.reciprocal_coordinate(
            source, d, new, steps[d], shift, real and d == dims[-1], real_source
        )
        for d, new in zip(dims, names, strict=True)
    }
    taper = _window_array(window, [source.sizes[d] for d in dims], _float_dtype(source.dtype))
    kernel_kwargs = {"ndim": len(dims), "shift": shift, "taper": taper, "real": real}
    result = _apply(source, dims, names, coords, _fft_kernel, kernel_kwargs, _complex_dtype(source.dtype))
    result.attrs.update(
        title=f"FFT of {da.attrs.get('title') or da.name or ''}".strip(),
        long_name=f"FFT of {da.attrs.get('long_name') or da.attrs.get('quantity') or da.name}",
    )
    return provenance.record(
        model.refresh_data_type(result),
        "fft",
        source=da,
        dim=list(dims),
        shift=shift,
        window=window,
        real=real,
        interpolate=interpolate,
    )


def ifft(
    da: xr.DataArray,
    dim: Hashable | Iterable[Hashable] | None = None,
    *,
    shift: bool | None = None,
    real: bool | None = None,
) -> xr.DataArray:
    """Inverse of `fft`: back to the original dims, coordinates and dimension types.

    Parameters
    ----------
    da : xarray.DataArray
        Usually the output of `fft` (its coordinates' ``fft_source`` attr is used). Any other
        signal with uniform coordinates works: ``kx`` -> ``x`` with step ``1 / (n * dk)`` from 0.
    dim : hashable or sequence of hashable, optional
        Dims to transform back. Default: the RECIPROCAL dims.
    shift : bool, optional
        Whether the zero frequency is in the middle. Default: from ``fft_source``, else
        whether the coordinate starts below zero.
    real : bool, optional
        Return the real part (``irfftn`` for a half spectrum). Default: True when the forward
        transform was of real data.

    Returns
    -------
    xarray.DataArray
        Lazy if `da` is. A window applied by `fft` is not divided out.

    Raises
    ------
    DimensionError
        Unknown dims, no RECIPROCAL dim, or a non-uniform coordinate.
    NonFiniteError
        When computed, if the data hold NaN or inf.

    See Also
    --------
    fft

    Examples
    --------
    >>> from pycrox import model
    >>> da = model.from_array(np.arange(8.0), dims=["x"], coords={"x": {"values": 2 + np.arange(8.0), "units": "nm"}})
    >>> back = ifft(fft(da))
    >>> np.allclose(back.values, da.values), back.x.values[0].item(), back.x.attrs["units"]
    (True, 2.0, 'nm')
    """
    dims = resolve_dims(da, dim, default_type="RECIPROCAL", func="ifft")
    infos = {d: dict(da.coords[d].attrs.get(SOURCE_ATTR) or {}) if d in da.coords else {} for d in dims}
    half = [d for d in dims if infos[d].get("half")]
    dims = tuple(d for d in dims if d not in half) + tuple(half)  # the half-spectrum dim goes last
    shifted = {d: _reciprocal.was_shifted(da, d, infos[d], shift) for d in dims}
    steps = {d: _reciprocal.frequency_step(da, d, shifted[d] or d in half) for d in dims}
    real_out = bool(half) or (real if real is not None else all(i.get("real_source") for i in infos.values()))
    source = core_chunks_ok(da, dims, "ifft")
    names = _reciprocal.new_names(
        source, dims, _reciprocal.DIRECT_NAMES, {d: infos[d].get("name") for d in dims}
    )
    coords = {
        new: _reciprocal.direct_coordinate(source, d, new, steps[d], infos[d])
        for d, new in zip(dims, names, strict=True)
    }
    sizes = [coords[new].size for new in names]
    kernel_kwargs = {
        "shifted": [shifted[d] for d in dims],
        "half": bool(half),
        "sizes": sizes,
        "real": real_out,
    }
    dtype = _complex_dtype(source.dtype)
    dtype = np.empty(0, dtype).real.dtype if real_out else dtype
    result = _apply(source, dims, names, coords, _ifft_kernel, kernel_kwargs, dtype)
    title = str(da.attrs.get("title") or "")
    result.attrs["title"] = (
        title.removeprefix("FFT of ") if title.startswith("FFT of ") else f"IFFT of {title}"
    )
    result.attrs.pop("long_name", None)
    return provenance.record(
        model.refresh_data_type(result), "ifft", source=da, dim=list(dims), shift=shift, real=real
    )


def power_spectrum(
    da: xr.DataArray,
    dim: Hashable | Iterable[Hashable] | None = None,
    *,
    shift: bool = True,
    window: str | None = None,
    interpolate: bool = False,
) -> xr.DataArray:
    """Squared magnitude of the `fft`: ``|F|**2`` with reciprocal coordinates.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed signal.
    dim : hashable or sequence of hashable, optional
        As in `fft` (default: SPATIAL dims, else the single SPECTRAL dim).
    shift : bool, optional
        Zero frequency in the middle.
    window : {"hann", "hamming", "blackman", None}, optional
        Window applied before the transform.
    interpolate : bool, optional
        Resample non-uniform coordinates instead of raising.

    Returns
    -------
    xarray.DataArray
        Real (float32 for float32 input), units the square of the data units, quantity
        ``"Power"``.

    Raises
    ------
    DimensionError, UnitError, NonFiniteError, ValueError
        As `fft`.

    Examples
    --------
    >>> from pycrox import model
    >>> da = model.from_array(np.cos(np.pi * np.arange(8.0)), dims=["x"], units="V")
    >>> ps = power_spectrum(da, "x", shift=False)
    >>> ps.values.round(6).tolist(), ps.attrs["units"]
    ([0.0, 0.0, 0.0, 0.0, 64.0, 0.0, 0.0, 0.0], 'V**2')
    """
    dims = _forward_dims(da, dim)
    spectrum = fft(da, dims, shift=shift, window=window, interpolate=interpolate)
    power = xr.apply_ufunc(
        _abs_squared,
        spectrum,
        dask="parallelized",
        output_dtypes=[np.empty(0, spectrum.dtype).real.dtype],
        keep_attrs=True,
    )
    data_units = str(da.attrs.get("units", "") or "")
    squared = units.format(units.parse(data_units, da.attrs.get("quantity")) ** 2) if data_units else ""
    power.attrs.update(
        units=squared,
        quantity="Power",
        title=f"Power spectrum of {da.attrs.get('title') or da.name or ''}".strip(),
        long_name=f"Power spectrum of {da.attrs.get('quantity') or da.name}",
    )
    power.attrs["provenance"] = da.attrs.get("provenance", {})
    return provenance.record(
        model.refresh_data_type(power),
        "power_spectrum",
        source=da,
        dim=list(dims),
        shift=shift,
        window=window,
        interpolate=interpolate,
    )


# --- kernels (numpy in, numpy out; core dims last) -------------------------------------------


def _fft_kernel(
    values: np.ndarray, *, ndim: int, shift: bool, taper: np.ndarray | None, real: bool
) -> np.ndarray:
    axes = tuple(range(-ndim, 0))
    if taper is not None:
        values = values * taper
    transform = scipy.fft.rfftn if real else scipy.fft.fftn
    out = transform(values, axes=axes, workers=-1)
    _check_zero_bin(out, ndim, "fft")
    if shift:
        out = np.fft.fftshift(out, axes=axes[:-1] if real else axes)
    return out


def _ifft_kernel(
    values: np.ndarray, *, shifted: list[bool], half: bool, sizes: list[int], real: bool
) -> np.ndarray:
    ndim = len(shifted)
    unshift = tuple(ax for ax, s in zip(range(-ndim, 0), shifted, strict=True) if s)
    if unshift:
        values = np.fft.ifftshift(values, axes=unshift)
    axes = tuple(range(-ndim, 0))
    if half:
        out = scipy.fft.irfftn(values, s=sizes, axes=axes, workers=-1)
    else:
        out = scipy.fft.ifftn(values, axes=axes, workers=-1)
        out = out.real if real else out
    _check_zero_bin(values, ndim, "ifft")
    return out


def _check_zero_bin(spectrum: np.ndarray, ndim: int, func: str) -> None:
    """NaN/inf anywhere in the input makes the zero-frequency bin (the sum) non-finite: check it."""
    origin: tuple[Any, ...] = (..., *([0] * ndim))
    zero = spectrum[origin]
    if not np.all(np.isfinite(zero)):
        raise NonFiniteError(
            f"{func}: the data hold NaN or infinite values, which spread over the whole spectrum; "
            "replace them first, e.g. with da.fillna(value) or da.interpolate_na(dim)"
        )


def _abs_squared(values: np.ndarray) -> np.ndarray:
    return values.real**2 + values.imag**2


# --- helpers ---------------------------------------------------------------------------------


def _apply(
    source: xr.DataArray,
    dims: tuple[Hashable, ...],
    names: list[Hashable],
    coords: dict[Hashable, xr.DataArray],
    kernel: Any,
    kwargs: dict,
    dtype: np.dtype,
) -> xr.DataArray:
    """Run a transform kernel over `dims` and put the new dims back where the old ones were."""
    result = xr.apply_ufunc(
        kernel,
        source,
        input_core_dims=[list(dims)],
        output_core_dims=[names],
        exclude_dims=set(dims),
        kwargs=kwargs,
        dask="parallelized",
        dask_gufunc_kwargs={
            "output_sizes": {n: coords[n].size for n in names},
            "meta": np.empty((0,) * source.ndim, dtype),
        },
        keep_attrs=True,
    )
    order = [dict(zip(dims, names, strict=True)).get(d, d) for d in source.dims]
    return result.transpose(*order).assign_coords(coords)


def _forward_dims(da: xr.DataArray, dim: Any) -> tuple[Hashable, ...]:
    if dim is None and not dims_of_type(da, "SPATIAL"):
        return resolve_dims(da, None, default_type="SPECTRAL", func="fft")
    return resolve_dims(da, dim, default_type="SPATIAL", func="fft")


def _check_window(window: str | None) -> None:
    if window is not None and window not in WINDOWS:
        raise ArgumentError(f"unknown window {window!r}; use one of {list(WINDOWS)} or None")


def _window_array(window: str | None, sizes: list[int], dtype: np.dtype) -> np.ndarray | None:
    """Outer product of periodic 1-D windows, shaped for the trailing core axes."""
    if window is None:
        return None
    taper = np.ones((), dtype=np.float64)
    for size in sizes:
        taper = np.multiply.outer(taper, scipy.signal.get_window(window, size, fftbins=True))
    return taper.astype(dtype)


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return np.empty(0, _complex_dtype(dtype)).real.dtype


def _complex_dtype(dtype: np.dtype) -> np.dtype:
    return (
        np.dtype(np.complex64) if dtype in (np.float32, np.float16, np.complex64) else np.dtype(np.complex128)
    )
