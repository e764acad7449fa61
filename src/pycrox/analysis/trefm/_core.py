"""Instantaneous frequency and time-to-first-peak of trEFM ring signals (FFTA's ``Pixel.analyze``)."""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import xarray as xr
from scipy import interpolate as spi
from scipy import optimize as spo

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok, quantity_in
from pycrox.analysis.trefm._params import Setup, setup
from pycrox.analysis.trefm._signal import raw_frequency, ridge_frequency
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["instantaneous_frequency", "time_to_first_peak"]

PeakMethod = Literal["minimum", "spline", "fit"]
Transform = Literal["hilbert", "wavelet"]
_TRANSFORMS = ("hilbert", "wavelet")
_METHODS = ("minimum", "spline", "fit")
TWO_PI = 2 * np.pi


def instantaneous_frequency(
    da: xr.DataArray,
    dim: Hashable | None = None,
    *,
    trigger: Any,
    drive_frequency: Any = None,
    filter_bandwidth: Any = "5 kHz",
    n_taps: int = 1499,
    window: Any = "blackman",
    dc_width: Any = "10 kHz",
    check_drive: bool = True,
    transform: Transform = "hilbert",
    wavelet_width: Any = "5 us",
    total_time: Any = None,
) -> xr.DataArray:
    """Instantaneous frequency shift of every pixel's cantilever signal, in Hz, zero at the trigger.

    FFTA's Hilbert method (``ffta.pixel.Pixel`` with ``method="hilbert"``), vectorised over
    pixels: the spectrum within `dc_width` of 0 Hz is removed, the signal is multiplied by
    `window`, band-passed by an `n_taps` FIR filter (Blackman-windowed ``firwin``) over
    ``drive_frequency ± filter_bandwidth / 2`` (zero-phase, ``fftconvolve(mode="same")``), and
    the unwrapped phase of its analytic signal (Hilbert transform) is differentiated with a
    5-point Savitzky-Golay filter; the value at the trigger is subtracted.

    Parameters
    ----------
    da : xarray.DataArray
        Deflection signals, e.g. ``(y, x, time)``; numpy- or dask-backed (chunks along the pixel
        dims are processed in parallel; the time dim is made one chunk). The time coordinate
        must be uniform and carry time units.
    dim : hashable, optional
        The time dim; default the TEMPORAL dim.
    trigger : float or str
        Time of the trigger on the time axis: a number in the coordinate's units or a string
        such as ``"300 us"``.
    drive_frequency : float or str, optional
        Cantilever drive frequency (a number is Hz; ``"279 kHz"``). Default: found per pixel
        from the FFT peak before the trigger, as FFTA does when none is given.
    filter_bandwidth : float or str, optional
        Width of the band-pass around the drive frequency (FFTA's ``filter_bandwidth``).
    n_taps : int, optional
        Odd number of FIR taps (FFTA's ``n_taps``; FFTA's own default is 1499).
    window : str, float or tuple, optional
        A `scipy.signal.get_window` window applied before filtering; None for none.
    dc_width : float or str, optional
        Half-width of the low-frequency band removed first (FFTA's ``remove_dc``).
    check_drive : bool, optional
        Replace a given drive frequency, pixel by pixel, when the FFT peak before the trigger
        is at least one FFT bin away from it (FFTA's ``check_drive_freq``).
    transform : {"hilbert", "wavelet"}, optional
        ``"hilbert"``: the chain above (FFTA's ``method="hilbert"``). ``"wavelet"``: after the DC
        removal and window, the ridge of a complex Morlet transform (Gaussian band-passes every
        half standard deviation around the drive, the strongest refined by a parabola through
        the log-magnitudes); no FIR filter. FFTA's own wavelet path (PyWavelets ``cmor1-1``
        scales) is not reproduced number for number.
    wavelet_width : float or str, optional
        Time width (standard deviation) of the Morlet wavelet: shorter follows faster changes,
        longer is less noisy (the frequency resolution is ``1 / (2 pi width)``).
    total_time : float or str, optional
        Only checked against the time coordinate (FFTA's ``total_time``); the coordinate rules.

    Returns
    -------
    xarray.DataArray
        Same dims and coordinates; ``units="Hz"``, ``quantity="Frequency shift"``; lazy on
        dask; with provenance. FFTA's own ``inst_freq`` is this times 2π (it is angular) and
        lags it by ``(n_taps - 1) / 2`` samples (see `time_to_first_peak`).

    Raises
    ------
    DimensionError
        No time dim, a non-uniform time axis, or a trigger outside the record.
    UnitError
        A time coordinate without units (or not in time units), or an argument whose unit does
        not convert.

    Warns
    -----
    RuntimeWarning
        When computed, for pixels whose signal holds NaN or inf: their output is NaN.
    """
    plan = setup(
        da,
        dim,
        "instantaneous_frequency",
        trigger=trigger,
        total_time=total_time,
        roi=None,
        drive_frequency=drive_frequency,
        filter_bandwidth=filter_bandwidth,
        n_taps=n_taps,
        window=window,
        dc_width=dc_width,
        check_drive=check_drive,
    )
    width = _wavelet_width(transform, wavelet_width, "instantaneous_frequency")
    source = core_chunks_ok(da, (plan.dim,), "instantaneous_frequency")
    result = xr.apply_ufunc(
        _frequency_kernel,
        source,
        input_core_dims=[[plan.dim]],
        output_core_dims=[[plan.dim]],
        kwargs={"plan": plan, "width": width},
        dask="parallelized",
        output_dtypes=[np.float64],
    )
    result = result.transpose(*da.dims)
    result.attrs = {
        "units": "Hz",
        "quantity": "Frequency shift",
        "long_name": "Frequency shift (Hz)",
        "title": f"instantaneous frequency of {da.attrs.get('title') or da.name or 'signal'}",
    }
    result.name = "frequency_shift"
    return provenance.record(
        result,
        "trefm.instantaneous_frequency",
        source=da,
        dim=str(plan.dim),
        trigger=trigger,
        transform=transform,
        wavelet_width_s=width,
        **plan.parameters(),
    )


def time_to_first_peak(
    da: xr.DataArray,
    dim: Hashable | None = None,
    *,
    trigger: Any,
    roi: Any = None,
    drive_frequency: Any = None,
    method: PeakMethod = "minimum",
    filter_bandwidth: Any = "5 kHz",
    n_taps: int = 1499,
    window: Any = "blackman",
    dc_width: Any = "10 kHz",
    check_drive: bool = True,
    quality_factor: float = 360.0,
    recombination: bool = False,
    ffta_offset: bool = True,
    transform: Transform = "hilbert",
    wavelet_width: Any = "5 us",
    total_time: Any = None,
) -> xr.Dataset:
    """Time to first peak (tFP) and frequency shift of every pixel: FFTA's ``Pixel.analyze``.

    The instantaneous frequency (see `instantaneous_frequency`) is cut to `roi` after the
    trigger, set to zero at its start, and its first minimum found (the maximum with
    `recombination`).

    Parameters
    ----------
    da : xarray.DataArray
        Deflection signals ``(..., time)``, numpy- or dask-backed.
    dim : hashable, optional
        The time dim; default the TEMPORAL dim.
    trigger : float or str
        Time of the trigger on the time axis (coordinate units, or ``"300 us"``).
    roi : float or str, optional
        Length of the window after the trigger searched for the peak (FFTA's ``roi``); default
        30 % of the time after the trigger, as FFTA.
    drive_frequency, filter_bandwidth, n_taps, window, dc_width, check_drive, total_time
        As in `instantaneous_frequency`.
    transform, wavelet_width
        As in `instantaneous_frequency` (``"wavelet"`` uses no FIR filter, so `ffta_offset`
        does not apply to it and the window starts at the trigger).
    method : {"minimum", "spline", "fit"}, optional
        ``"minimum"``: the sample of lowest frequency refined by a parabola through it and its
        neighbours, vectorised over pixels (fast). ``"spline"``: FFTA's ``fit=False``, the
        minimum of a smoothing spline (``k=4``, ``s = 2 * sampling_rate / drive``) found with
        TNC, pixel by pixel. ``"fit"``: FFTA's default, a bounded TNC least-squares fit of
        ``-A (exp(-t/tau1) - 1) exp(-t/tau2)`` whose minimum gives tFP and the shift, pixel by
        pixel.
    quality_factor : float, optional
        Cantilever Q, the initial guess of ``tau2 = Q / (π drive)`` for ``method="fit"``
        (FFTA's ``Q``, default 360).
    recombination : bool, optional
        Look for a maximum instead (FFTA's ``recombination``).
    ffta_offset : bool, optional
        FFTA moves its trigger index ``(n_taps - 1) / 2`` samples earlier to undo a FIR delay,
        but filters with zero phase, so its tFP is longer by that time and its window starts
        before the trigger. True (default) reproduces FFTA's numbers; False measures from the
        trigger itself.

    Returns
    -------
    xarray.Dataset
        Over the non-time dims: ``tfp`` [s], ``shift`` [Hz] (the frequency change at tFP, signed:
        negative for a dip; FFTA reports ``2π`` times it, and as a positive depth with
        ``fit=False``), ``drive_frequency`` [Hz] used per pixel; lazy on dask; with provenance.

    Raises
    ------
    ValueError
        Unknown `method`.
    DimensionError
        No time dim, a trigger outside the record, a `roi` past its end, or (with `ffta_offset`)
        a trigger closer to the start than ``(n_taps - 1) / 2`` samples.
    UnitError
        A time coordinate without time units, or an argument whose unit does not convert.

    Warns
    -----
    RuntimeWarning
        When computed, for pixels whose signal holds NaN or inf (their results are NaN) and for
        pixels where the fit fails (NaN, as FFTA).
    """
    if method not in _METHODS:
        raise ArgumentError(f"time_to_first_peak: method must be one of {_METHODS}, got {method!r}")
    plan = setup(
        da,
        dim,
        "time_to_first_peak",
        trigger=trigger,
        total_time=total_time,
        roi=roi,
        drive_frequency=drive_frequency,
        filter_bandwidth=filter_bandwidth,
        n_taps=n_taps,
        window=window,
        dc_width=dc_width,
        check_drive=check_drive,
    )
    width = _wavelet_width(transform, wavelet_width, "time_to_first_peak")
    offset = (int(n_taps) - 1) // 2 if ffta_offset and transform == "hilbert" else 0
    start = plan.chain.trigger_index - offset
    if start < 0:
        raise DimensionError(
            f"time_to_first_peak: with ffta_offset the window starts {offset} samples before the trigger, "
            f"before the record; use fewer n_taps or ffta_offset=False"
        )
    if start + plan.roi_samples > da.sizes[plan.dim]:
        raise DimensionError("time_to_first_peak: the roi runs past the end of the record; shorten it")
    source = core_chunks_ok(da, (plan.dim,), "time_to_first_peak")
    tfp, shift, drive = xr.apply_ufunc(
        _peak_kernel,
        source,
        input_core_dims=[[plan.dim]],
        output_core_dims=[[], [], []],
        kwargs={
            "plan": plan,
            "width": width,
            "start": start,
            "method": method,
            "q": float(quality_factor),
            "sign": -1.0 if recombination else 1.0,
        },
        dask="parallelized",
        output_dtypes=[np.float64, np.float64, np.float64],
    )
    result = xr.Dataset(
        {
            "tfp": tfp.assign_attrs(units="s", quantity="Time", long_name="Time to first peak (s)"),
            "shift": shift.assign_attrs(
                units="Hz", quantity="Frequency shift", long_name="Frequency shift (Hz)"
            ),
            "drive_frequency": drive.assign_attrs(
                units="Hz", quantity="Frequency", long_name="Drive frequency (Hz)"
            ),
        }
    )
    result.attrs = {"title": f"tFP of {da.attrs.get('title') or da.name or 'signal'}"}
    return provenance.record(
        result,
        "trefm.time_to_first_peak",
        source=da,
        dim=str(plan.dim),
        trigger=trigger,
        roi=roi,
        method=method,
        quality_factor=quality_factor,
        recombination=recombination,
        ffta_offset=ffta_offset,
        transform=transform,
        wavelet_width_s=width,
        **plan.parameters(),
    )


# --- kernels ---------------------------------------------------------------------------------


def _finite_rows(values: np.ndarray, func: str) -> tuple[np.ndarray, np.ndarray]:
    """float64 copy with bad pixels zeroed, and the mask of good pixels; warns about bad ones."""
    signals = values.astype(np.float64, copy=True)
    good = np.asarray(np.isfinite(signals).all(axis=-1))
    if not good.all():
        bad = int(good.size - np.count_nonzero(good))
        warnings.warn(
            f"{func}: {bad} pixel(s) hold NaN or infinite samples; their results are NaN. "
            "Fill or drop them first to analyse them",
            RuntimeWarning,
            stacklevel=3,
        )
        signals[~good] = 0.0
    return signals, good


def _wavelet_width(transform: str, value: Any, func: str) -> float | None:
    """The wavelet's time width in seconds, or None for the Hilbert transform."""
    if transform not in _TRANSFORMS:
        raise ArgumentError(f"{func}: transform must be one of {_TRANSFORMS}, got {transform!r}")
    if transform == "hilbert":
        return None
    width = quantity_in(value, "s", "Time", func, "wavelet_width")
    if not np.isfinite(width) or width <= 0:
        raise ArgumentError(f"{func}: wavelet_width={value!r} must be a positive time")
    return width


def _angular(signals: np.ndarray, plan: Setup, width: float | None) -> tuple[np.ndarray, np.ndarray]:
    if width is None:
        return raw_frequency(signals, plan.chain)
    return ridge_frequency(signals, plan.chain, width)


def _frequency_kernel(values: np.ndarray, *, plan: Setup, width: float | None) -> np.ndarray:
    signals, good = _finite_rows(values, "instantaneous_frequency")
    raw, _ = _angular(signals, plan, width)
    index = plan.chain.trigger_index
    shift = (raw - raw[..., index : index + 1]) / TWO_PI
    shift[~good] = np.nan
    return shift


def _peak_kernel(
    values: np.ndarray, *, plan: Setup, width: float | None, start: int, method: str, q: float, sign: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    signals, good = _finite_rows(values, "time_to_first_peak")
    raw, drives = _angular(signals, plan, width)
    cut = sign * (raw[..., start : start + plan.roi_samples] - raw[..., start : start + 1])  # rad/s
    fs = plan.chain.sampling_rate
    if method == "minimum":
        index, depth = _parabolic_minimum(cut)
        tfp, shift = index / fs, depth
    else:
        flat_cut = cut.reshape(-1, cut.shape[-1])
        flat_drive = drives.reshape(-1)
        pairs = [
            _spline_minimum(row, fs, d) if method == "spline" else _product_fit(row, fs, d, q)
            for row, d in zip(flat_cut, flat_drive, strict=True)
        ]
        results = np.array(pairs, dtype=np.float64).reshape(*cut.shape[:-1], 2)
        tfp, shift = results[..., 0], results[..., 1]
    shift = sign * shift / TWO_PI
    tfp = np.where(good, tfp, np.nan)
    shift = np.where(good, shift, np.nan)
    return tfp, shift, np.where(good, drives, np.nan)


def _parabolic_minimum(cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-sample position and value of each row's minimum (parabola through the lowest sample)."""
    n = cut.shape[-1]
    index = np.argmin(cut, axis=-1)
    inner = np.clip(index, 1, n - 2)
    left = np.take_along_axis(cut, (inner - 1)[..., None], -1)[..., 0]
    centre = np.take_along_axis(cut, inner[..., None], -1)[..., 0]
    right = np.take_along_axis(cut, (inner + 1)[..., None], -1)[..., 0]
    curvature = left - 2 * centre + right
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.where(curvature > 0, 0.5 * (left - right) / curvature, 0.0)
    step = np.where(index == inner, np.clip(step, -0.5, 0.5), 0.0)
    position = np.where(index == inner, inner + step, index)
    value = np.where(
        index == inner,
        centre - 0.25 * (left - right) * step,
        np.take_along_axis(cut, index[..., None], -1)[..., 0],
    )
    return position, value


def _spline_minimum(cut: np.ndarray, fs: float, drive: float) -> tuple[float, float]:
    """FFTA ``tfp_calc.find_minimum``: TNC minimum of a k=4 smoothing spline; (tfp s, shift rad/s)."""
    n = cut.size
    x = np.arange(n)
    try:
        spline = spi.UnivariateSpline(x, cut, k=4, ext=3, s=2 * fs / drive)
        found = spo.minimize(spline, cut.argmin(), method="TNC", bounds=((0, n),))
        index = float(found.x[0])
        return index / fs, float(spline(index))  # type: ignore[arg-type]  # scipy-stubs omit scalar x
    except (ValueError, np.linalg.LinAlgError):
        return _failed()


def _product_fit(cut: np.ndarray, fs: float, drive: float, q: float) -> tuple[float, float]:
    """FFTA ``fitting.fit_product`` + ``tfp_calc.fit_freq_product``; (tfp s, shift rad/s)."""
    t = np.arange(cut.size) / fs

    def cost(p: np.ndarray) -> float:
        return float(np.sum((p[0] * (np.exp(-t / p[1]) - 1) * -np.exp(-t / p[2]) - cut) ** 2))

    start = [cut.min(), 1e-4, q / (np.pi * drive)]
    try:
        try:
            found = spo.minimize(
                cost,
                start,
                method="TNC",
                options={"disp": False},
                bounds=[(-10000, -1.0), (5e-7, 0.1), (1e-5, 0.1)],
            )
        except ValueError:
            found = spo.minimize(cost, start, method="TNC", options={"disp": False})
        amplitude, tau1, tau2 = found.x
        best = -amplitude * (np.exp(-t / tau1) - 1) * np.exp(-t / tau2)
        return float(np.argmin(best)) / fs, float(np.min(best))
    except (ValueError, FloatingPointError):
        return _failed()


def _failed() -> tuple[float, float]:
    warnings.warn(
        "time_to_first_peak: the peak search failed for a pixel; its results are NaN",
        RuntimeWarning,
        stacklevel=4,
    )
    return np.nan, np.nan
