"""Removal of plural scattering by Fourier methods: Fourier-log (low loss) and Fourier-ratio (core loss)."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import scipy.fft
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok, float_dtype, quantity_in
from pycrox.analysis.eels import _zlp
from pycrox.analysis.eels._common import EELSError, EELSWarning, energy_axis

__all__ = ["deconvolve", "fourier_log", "zero_loss_of"]

METHODS = ("fourier_log", "fourier_ratio")
#: bytes of the complex work arrays of one block of spectra
_BLOCK_BYTES = 2**25


def deconvolve(
    da: xr.DataArray,
    method: str = "fourier_log",
    *,
    low_loss: xr.DataArray | None = None,
    threshold: Any = None,
    add_zero_loss: bool = False,
    dim: Hashable | None = None,
) -> xr.DataArray:
    """The single-scattering distribution (SSD), reconvolved with the zero-loss peak.

    Parameters
    ----------
    da : xarray.DataArray
        ``"fourier_log"``: low-loss spectra holding the whole zero-loss peak (ZLP). ``"fourier_ratio"``:
        core-loss spectra, background already subtracted. numpy- or dask-backed.
    method : {"fourier_log", "fourier_ratio"}, optional
        Fourier-log: ``SSD = FT^-1[Z ln(J / Z)]``. Fourier-ratio: ``FT^-1[Z C / L]`` with ``C`` the
        core-loss and ``L`` the low-loss spectrum of the same pixel. ``Z`` is the ZLP (the spectrum up
        to its end, see `threshold`): the reconvolution with it is the usual apodisation, so the
        result has the energy resolution of the data and no noise blow-up.
    low_loss : xarray.DataArray, optional
        For ``"fourier_ratio"`` (required): low-loss spectra with the same energy step and the same
        other dims (its energy dim may have another name, offset and length).
    threshold : float or str, optional
        End of the ZLP in eV; default per pixel: the first minimum after the ZLP.
    add_zero_loss : bool, optional
        ``"fourier_log"`` only: add the ZLP back to the SSD.
    dim : hashable, optional
        The energy dim of `da`; default the single SPECTRAL dim.

    Returns
    -------
    xarray.DataArray
        The SSD like `da` (float32 for float32 data, else float64; same energy axis and units). Lazy
        if `da` is.

    Raises
    ------
    DimensionError
        No energy dim, or a coordinate that is not increasing or uniform.
    EELSError
        Unknown method, a missing or mismatched `low_loss`, a threshold outside the data.

    Notes
    -----
    Egerton (2011), sections 4.2.1 (Fourier-log) and 4.3.1 (Fourier-ratio). Both pad the
    spectra with zeros to at least twice their length, so a spectrum should fall close to zero at
    its high-energy end (or be extrapolated there) to avoid ringing.

    Examples
    --------
    >>> energy = np.arange(-10.0, 90.0, 0.25)
    >>> zlp = np.exp(-0.5 * (energy / 0.5) ** 2)
    >>> da = pycrox.from_array(zlp, dims=("energy",), coords={"energy": {"values": energy, "units": "eV"}})
    >>> float(abs(deconvolve(da)).max()) < 1e-9  # no inelastic scattering at all
    True
    """
    func = "eels.deconvolve"
    if method not in METHODS:
        raise EELSError(f"{func}: unknown method {method!r}; choose one of {list(METHODS)}")
    axis, energy = energy_axis(da, dim, func)
    if method == "fourier_log":
        if low_loss is not None:
            raise EELSError(
                f"{func}: low_loss is for method='fourier_ratio'; Fourier-log uses the data's own ZLP"
            )
        fixed = _fixed_threshold(energy, threshold, func)
        result = xr.apply_ufunc(
            fourier_log,
            core_chunks_ok(da, [axis], func),
            input_core_dims=[[axis]],
            output_core_dims=[[axis]],
            kwargs={"energy": energy, "fixed": fixed, "add_zero_loss": add_zero_loss},
            dask="parallelized",
            keep_attrs=False,
            output_dtypes=[float_dtype(da.dtype)],
        )
    else:
        result = _fourier_ratio(da, axis, energy, low_loss, threshold, func)
    attrs = {k: v for k, v in da.attrs.items() if k != "provenance"}
    result = result.transpose(*da.dims).assign_attrs({**attrs, "long_name": "single-scattering distribution"})
    return provenance.record(
        result.rename(da.name),
        "eels.deconvolve",
        source=da,
        method=method,
        threshold=threshold,
        add_zero_loss=add_zero_loss,
        dim=axis,
        low_loss=None if low_loss is None else low_loss.attrs.get("title", ""),
    )


def _fixed_threshold(energy: np.ndarray, threshold: Any, func: str) -> int | None:
    if threshold is None:
        return None
    e = quantity_in(threshold, "eV", "energy", func, "threshold")
    if not energy[0] < e <= energy[-1]:
        raise EELSError(
            f"{func}: threshold {e:g} eV lies outside the data ({energy[0]:g} to {energy[-1]:g} eV)"
        )
    return int(np.searchsorted(energy, e))


def zero_loss_of(y: np.ndarray, energy: np.ndarray, fixed: int | None) -> np.ndarray:
    """The ZLP of every row: the spectrum up to its end (`fixed` index, or found per row), zero after.

    Rows without a usable ZLP (see `pycrox.analysis.eels._zlp.ends`) are all NaN, with an `EELSWarning`.
    """
    end = _zlp.ends(y, energy, fixed)
    missing = int(np.count_nonzero(end < 0))
    if missing:
        warnings.warn(
            f"eels: {missing} spectra have no zero-loss peak within {_zlp.PEAK_RANGE_EV:g} eV of 0 eV followed by "
            "a minimum; their results are NaN. Calibrate the axis (align_zero_loss), give threshold= in eV, "
            "or check that these are low-loss spectra",
            EELSWarning,
            stacklevel=2,
        )
    return _zlp.zero_loss(y, end)


def fourier_log(
    y: np.ndarray, *, energy: np.ndarray, fixed: int | None = None, add_zero_loss: bool = False
) -> np.ndarray:
    """Fourier-log deconvolution of every row of `y` (energy last), reconvolved with its ZLP."""
    return by_blocks(lambda block: _fourier_log_block(block, energy, fixed, add_zero_loss), y).astype(
        float_dtype(y.dtype), copy=False
    )


def by_blocks(kernel: Callable[..., np.ndarray], y: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """Apply `kernel` to blocks of rows of `y` (and of `others`, broadcast alike): bounded memory."""
    shape, n = y.shape[:-1], y.shape[-1]
    flat = y.reshape(-1, n)
    extra = [np.broadcast_to(o, (*shape, o.shape[-1])).reshape(-1, o.shape[-1]) for o in others]
    step = max(1, _BLOCK_BYTES // (16 * scipy.fft.next_fast_len(2 * n, real=True)))
    dtype = float_dtype(y.dtype)
    parts = [
        kernel(flat[i : i + step], *(e[i : i + step] for e in extra)).astype(dtype, copy=False)
        for i in range(0, flat.shape[0], step)
    ]
    out = np.concatenate(parts, axis=0) if parts else np.empty((0, n))
    return out.reshape(*shape, out.shape[-1])


def _fourier_log_block(
    y: np.ndarray, energy: np.ndarray, fixed: int | None, add_zero_loss: bool
) -> np.ndarray:
    n = y.shape[-1]
    size = scipy.fft.next_fast_len(2 * n, real=True)
    y = y.astype(np.float64)
    z = zero_loss_of(y, energy, fixed)
    zf = scipy.fft.rfft(z, size, axis=-1)
    jf = scipy.fft.rfft(y, size, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = np.nan_to_num(zf * np.log(jf / zf), nan=0.0, posinf=0.0, neginf=0.0)
    ssd = scipy.fft.irfft(sf, size, axis=-1)[..., :n]
    if add_zero_loss:
        ssd = ssd + z
    return np.where(np.isfinite(z).all(axis=-1, keepdims=True), ssd, np.nan)


def _fourier_ratio(
    da: xr.DataArray,
    axis: Hashable,
    energy: np.ndarray,
    low_loss: xr.DataArray | None,
    threshold: Any,
    func: str,
) -> xr.DataArray:
    if low_loss is None:
        raise EELSError(f"{func}: method='fourier_ratio' needs the low-loss spectra; pass low_loss=")
    low_axis, low_energy = energy_axis(low_loss, None if axis not in low_loss.dims else axis, func)
    step, low_step = energy[1] - energy[0], low_energy[1] - low_energy[0]
    if abs(step - low_step) > 1e-6 * abs(step):
        raise EELSError(
            f"{func}: the core-loss step ({step:g} eV) differs from the low-loss step ({low_step:g} eV); "
            "resample one of them onto the other's step first"
        )
    others = [d for d in da.dims if d != axis]
    extra = [d for d in low_loss.dims if d != low_axis and d not in others]
    if extra:
        raise EELSError(f"{func}: low_loss has dims {extra} that the core-loss data lack")
    low = low_loss.rename({low_axis: "_low_energy"}).drop_vars("_low_energy", errors="ignore")
    fixed = _fixed_threshold(low_energy, threshold, func)
    return xr.apply_ufunc(
        _ratio_kernel,
        core_chunks_ok(da, [axis], func),
        core_chunks_ok(low, ["_low_energy"], func),
        input_core_dims=[[axis], ["_low_energy"]],
        output_core_dims=[[axis]],
        kwargs={"energy": low_energy, "fixed": fixed},
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[float_dtype(da.dtype)],
    )


def _ratio_kernel(core: np.ndarray, low: np.ndarray, *, energy: np.ndarray, fixed: int | None) -> np.ndarray:
    return by_blocks(lambda c, lo: _ratio_block(c, lo, energy, fixed), core, low).astype(
        float_dtype(core.dtype), copy=False
    )


def _ratio_block(core: np.ndarray, low: np.ndarray, energy: np.ndarray, fixed: int | None) -> np.ndarray:
    n = core.shape[-1]
    size = scipy.fft.next_fast_len(2 * max(n, low.shape[-1]), real=True)
    low = np.broadcast_to(low, (*core.shape[:-1], low.shape[-1])).astype(np.float64)
    z = zero_loss_of(low, energy, fixed)
    zf = scipy.fft.rfft(z, size, axis=-1)
    lf = scipy.fft.rfft(low, size, axis=-1)
    cf = scipy.fft.rfft(core.astype(np.float64), size, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sf = np.nan_to_num(zf * cf / lf, nan=0.0, posinf=0.0, neginf=0.0)
    out = scipy.fft.irfft(sf, size, axis=-1)[..., :n]
    return np.where(np.isfinite(z).all(axis=-1, keepdims=True), out, np.nan)
