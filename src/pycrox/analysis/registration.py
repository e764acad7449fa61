"""Drift correction of image stacks by phase correlation with sub-pixel (upsampled-DFT) precision.

The shift of each frame against a reference is the peak of the phase correlation, refined on a
grid `upsample` times finer by a matrix-multiply DFT around the integer peak (Guizar-Sicairos,
Thurman & Fienup, Opt. Lett. 33, 156 (2008), doi:10.1364/OL.33.000156).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.fft
import scipy.ndimage
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import (
    check_finite,
    coordinate_spacing,
    coordinate_units,
    core_chunks_ok,
    dims_of_type,
    float_dtype,
    resolve_dims,
)
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["phase_correlation", "register"]

INTERPOLATIONS = ("fourier", "spline")


def register(
    stack: xr.DataArray,
    dim: Hashable = "frame",
    *,
    reference: int | str | xr.DataArray = 0,
    upsample: int = 100,
    interpolation: str = "fourier",
) -> xr.Dataset:
    """Align the frames of an image stack to a reference (drift correction).

    Parameters
    ----------
    stack : xarray.DataArray
        Images along `dim`; the image dims are the two SPATIAL dims (or, for a 3-D stack, the
        two dims other than `dim`). numpy- or dask-backed; dask stays lazy.
    dim : hashable, optional
        The stack dim. None takes the single TEMPORAL dim.
    reference : int, "mean" or xarray.DataArray, optional
        Index of the reference frame along `dim`, the mean image of the stack, or an image
        with the same image dims.
    upsample : int, optional
        Sub-pixel precision is ``1 / upsample`` pixel (1 = whole pixels).
    interpolation : {"fourier", "spline"}, optional
        How frames are moved: Fourier shift theorem (exact for band-limited images; content
        wraps around the edges) or cubic spline (edges repeat the nearest pixel).

    Returns
    -------
    xarray.Dataset
        ``aligned`` (the stack, same dims, coordinates and attrs; floating point),
        ``shift_<d>`` for each image dim ``d`` in the coordinate's units and
        ``shift_<d>_pixels`` in pixels: the shift applied to each frame
        (``aligned(r) = frame(r - shift)``).

    Raises
    ------
    DimensionError
        Unknown dims, image dims that cannot be told, a reference index out of range or a
        reference of another shape, a non-uniform image coordinate.
    NonFiniteError
        When computed, if the data hold NaN or inf.
    ValueError
        Bad `upsample` or `interpolation`.

    Notes
    -----
    Phase correlation (the cross-power spectrum normalised to unit magnitude) with the
    upsampled-DFT refinement of Guizar-Sicairos et al. (2008), doi:10.1364/OL.33.000156.
    """
    (stack_dim,) = _stack_dim(stack, dim)
    image_dims = _image_dims(stack, stack_dim)
    if isinstance(upsample, bool) or not isinstance(upsample, int | np.integer) or upsample < 1:
        raise ArgumentError(f"register: upsample must be an integer >= 1, got {upsample!r}")
    if interpolation not in INTERPOLATIONS:
        raise ArgumentError(
            f"register: interpolation must be one of {list(INTERPOLATIONS)}, got {interpolation!r}"
        )
    steps = {d: coordinate_spacing(stack, d, "register") for d in image_dims}
    ref = _reference(stack, stack_dim, image_dims, reference)
    source = core_chunks_ok(stack, image_dims, "register")
    shifts = xr.apply_ufunc(
        _estimate_kernel,
        source,
        ref,
        input_core_dims=[list(image_dims)] * 2,
        output_core_dims=[[], []],
        kwargs={"upsample": int(upsample)},
        dask="parallelized",
        output_dtypes=[np.float64, np.float64],
    )
    aligned = xr.apply_ufunc(
        _shift_kernel,
        source,
        *shifts,
        input_core_dims=[list(image_dims), [], []],
        output_core_dims=[list(image_dims)],
        kwargs={"interpolation": interpolation},
        dask="parallelized",
        output_dtypes=[float_dtype(stack.dtype)],
        keep_attrs=True,
    ).transpose(*stack.dims)
    aligned.attrs["title"] = f"aligned {stack.attrs.get('title') or stack.name or ''}".strip()
    variables = {"aligned": aligned}
    for d, pixels in zip(image_dims, shifts, strict=True):
        variables |= _shift_variables(stack, d, pixels, steps[d])
    result = xr.Dataset(
        variables, attrs={"title": aligned.attrs["title"], "source": stack.attrs.get("source", "")}
    )
    params = {
        "dim": stack_dim,
        "reference": reference if not isinstance(reference, xr.DataArray) else "image",
        "upsample": upsample,
        "interpolation": interpolation,
    }
    return provenance.record(model.refresh_data_type(result), "register", source=stack, **params)


def phase_correlation(reference: np.ndarray, moving: np.ndarray, upsample: int = 1) -> np.ndarray:
    """Shift (in pixels, per axis) that moves `moving` onto `reference`.

    Parameters
    ----------
    reference, moving : numpy.ndarray
        2-D images of the same shape (or their 2-D FFTs when complex).
    upsample : int, optional
        Precision ``1 / upsample`` pixel.

    Returns
    -------
    numpy.ndarray
        ``[shift_axis0, shift_axis1]`` such that ``reference(r) ~ moving(r - shift)``.

    Examples
    --------
    >>> image = np.zeros((16, 16)); image[5, 7] = 1.0
    >>> phase_correlation(np.roll(image, (2, -3), axis=(0, 1)), image).tolist()
    [2.0, -3.0]
    """
    ref_f = reference if np.iscomplexobj(reference) else scipy.fft.fft2(reference)
    mov_f = moving if np.iscomplexobj(moving) else scipy.fft.fft2(moving)
    product = ref_f * mov_f.conj()
    product /= np.maximum(np.abs(product), np.finfo(np.float64).tiny * 1e10)
    correlation = np.abs(scipy.fft.ifft2(product))
    shape = np.array(product.shape)
    shift = np.array(np.unravel_index(np.argmax(correlation), product.shape), dtype=np.float64)
    shift[shift > shape // 2] -= shape[shift > shape // 2]
    if upsample > 1:
        shift = np.round(shift * upsample) / upsample
        region = int(np.ceil(upsample * 1.5))
        centre = float(region // 2)
        fine = np.abs(_upsampled_dft(product, region, upsample, centre - shift * upsample))
        peak = np.array(np.unravel_index(np.argmax(fine), fine.shape), dtype=np.float64)
        shift = shift + (peak - centre) / upsample
    return shift


def _upsampled_dft(spectrum: np.ndarray, region: int, factor: int, offset: np.ndarray) -> np.ndarray:
    """Inverse DFT of `spectrum` on a ``region x region`` grid of step ``1/factor`` pixel.

    Grid point ``i`` along an axis sits at ``(i - offset) / factor`` pixels; two small matrix
    products replace an FFT of a ``factor``-times larger array.
    """
    kernels = []
    for axis, size in enumerate(spectrum.shape):
        positions = (np.arange(region) - offset[axis])[:, None]
        kernels.append(np.exp(2j * np.pi * positions * scipy.fft.fftfreq(size, factor)[None, :]))
    return kernels[0] @ spectrum @ kernels[1].T


def _estimate_kernel(values: np.ndarray, reference: np.ndarray, *, upsample: int) -> tuple[np.ndarray, ...]:
    check_finite(values, "register")
    check_finite(reference, "register")
    spectra = scipy.fft.fft2(values.astype(np.float64, copy=False), workers=-1)
    ref_spectra = np.broadcast_to(
        scipy.fft.fft2(reference.astype(np.float64, copy=False), workers=-1), spectra.shape
    )
    lead = spectra.shape[:-2]
    flat, ref_flat = spectra.reshape(-1, *spectra.shape[-2:]), ref_spectra.reshape(-1, *spectra.shape[-2:])
    found = np.array([phase_correlation(r, m, upsample) for r, m in zip(ref_flat, flat, strict=True)])
    found = found.reshape(*lead, 2)
    return found[..., 0], found[..., 1]


def _shift_kernel(
    values: np.ndarray, shift_0: np.ndarray, shift_1: np.ndarray, *, interpolation: str
) -> np.ndarray:
    dtype = float_dtype(values.dtype)
    if interpolation == "spline":
        flat = values.reshape(-1, *values.shape[-2:]).astype(np.float64)
        moves = np.stack(np.broadcast_arrays(shift_0, shift_1), axis=-1).reshape(-1, 2)
        out = np.stack(
            [scipy.ndimage.shift(f, m, order=3, mode="nearest") for f, m in zip(flat, moves, strict=True)]
        )
        return out.reshape(values.shape).astype(dtype)
    ky = scipy.fft.fftfreq(values.shape[-2])[:, None]
    kx = scipy.fft.fftfreq(values.shape[-1])[None, :]
    phase = np.exp(-2j * np.pi * (ky * shift_0[..., None, None] + kx * shift_1[..., None, None]))
    moved = scipy.fft.ifft2(scipy.fft.fft2(values, workers=-1) * phase, workers=-1)
    return (moved if np.iscomplexobj(values) else moved.real).astype(dtype)


def _stack_dim(stack: xr.DataArray, dim: Any) -> tuple[Hashable]:
    dims = resolve_dims(stack, dim, default_type="TEMPORAL", func="register")
    if len(dims) != 1:
        raise DimensionError(f"register: dim must name one stack dim, got {list(dims)}")
    return dims  # type: ignore[return-value]


def _image_dims(stack: xr.DataArray, stack_dim: Hashable) -> tuple[Hashable, Hashable]:
    others = [d for d in stack.dims if d != stack_dim]
    spatial = [d for d in dims_of_type(stack, "SPATIAL") if d != stack_dim]
    image = others if len(others) == 2 else spatial
    if len(image) != 2:
        raise DimensionError(
            f"register: cannot tell the two image dims of {stack.name!r} with dims {list(stack.dims)} "
            f"(SPATIAL dims: {spatial}); give the stack two SPATIAL dims"
        )
    return image[0], image[1]


def _reference(
    stack: xr.DataArray, stack_dim: Hashable, image_dims: tuple[Hashable, Hashable], reference: Any
) -> xr.DataArray:
    if isinstance(reference, str):
        if reference != "mean":
            raise ArgumentError(
                f"register: reference must be an index, 'mean' or an image, got {reference!r}"
            )
        return stack.mean([stack_dim])
    if isinstance(reference, xr.DataArray):
        missing = [d for d in image_dims if d not in reference.dims or reference.sizes[d] != stack.sizes[d]]
        if missing or stack_dim in reference.dims:
            raise DimensionError(
                f"register: the reference image has dims {dict(reference.sizes)}, expected "
                f"{ {d: stack.sizes[d] for d in image_dims} } without {stack_dim!r}"
            )
        return reference.drop_vars(list(image_dims), errors="ignore")
    if isinstance(reference, bool) or not isinstance(reference, int | np.integer):
        raise TypeError(f"register: reference must be an int, 'mean' or a DataArray, got {reference!r}")
    size = stack.sizes[stack_dim]
    if not -size <= reference < size:
        raise DimensionError(
            f"register: reference {reference} is out of range for {stack_dim!r} of size {size}"
        )
    return stack.isel({stack_dim: int(reference)}, drop=True)


def _shift_variables(
    stack: xr.DataArray, dim: Hashable, pixels: xr.DataArray, step: float
) -> dict[str, xr.DataArray]:
    unit_text, quantity = coordinate_units(stack, dim)
    common = {
        "data_type": "LINE_PLOT",
        "modality": stack.attrs.get("modality", ""),
        "source": stack.attrs.get("source", ""),
    }
    physical = _signal(pixels * step, f"shift along {dim}", unit_text, quantity or "Length", common)
    in_pixels = _signal(pixels, f"shift along {dim} in pixels", "px", "Shift", common)
    return {f"shift_{dim}": physical, f"shift_{dim}_pixels": in_pixels}


def _signal(values: xr.DataArray, title: str, unit_text: str, quantity: str, common: dict) -> xr.DataArray:
    coords = {d: values.coords[d] for d in values.dims if d in values.coords}
    out = model.from_array(
        values.data,
        dims=values.dims,
        coords=coords,
        title=title,
        units=unit_text,
        quantity=quantity,
        **common,
    )
    out.attrs["long_name"] = title
    return out
