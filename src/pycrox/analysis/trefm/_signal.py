"""FFTA's signal chain, vectorised over pixels: DC removal, window, FIR band-pass, Hilbert phase, derivative.

Every step follows `ffta.pixel.Pixel` (FFTA 0.3.5) with the Hilbert method: ``remove_dc``,
``check_drive_freq``, ``apply_window``, ``fir_filter``, ``hilbert`` and ``calculate_inst_freq``,
but works on a block of pixels at once (one FFT per step along the last axis, the filter's
spectrum computed once per drive frequency).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import fft as sp_fft
from scipy import signal as sps

__all__ = ["Chain", "detect_drive", "raw_frequency", "ridge_frequency"]

#: pixels handled per FFT batch (bounds the temporary memory to a few tens of MB)
BATCH = 128


@dataclass(frozen=True)
class Chain:
    """Parameters of the signal chain, in SI units (Hz, samples)."""

    sampling_rate: float
    trigger_index: int
    drive_frequency: float | None
    filter_bandwidth: float
    n_taps: int
    window: str | float | tuple | None
    dc_width: float
    check_drive: bool


def detect_drive(signals: np.ndarray, chain: Chain) -> np.ndarray:
    """Drive frequency of each pixel from the FFT peak before the trigger (FFTA's ``set_drive``).

    Returns
    -------
    numpy.ndarray
        Hz, shape ``signals.shape[:-1]``.
    """
    n_fft = 2 ** int(np.log2(chain.trigger_index))
    spectrum = np.abs(sp_fft.rfft(signals[..., :n_fft], axis=-1))
    return spectrum.argmax(axis=-1) * (chain.sampling_rate / n_fft)


def drive_frequencies(signals: np.ndarray, chain: Chain) -> np.ndarray:
    """The drive frequency each pixel is filtered at (FFTA's ``set_drive`` / ``check_drive_freq``)."""
    if chain.drive_frequency is None:
        return detect_drive(signals, chain)
    given = np.full(signals.shape[:-1], float(chain.drive_frequency))
    if not chain.check_drive:
        return given
    found = detect_drive(signals, chain)
    resolution = chain.sampling_rate / 2 ** int(np.log2(chain.trigger_index))
    replace = (np.abs(found - given) >= resolution) & (found != 0)
    return np.where(replace, found, given)


def raw_frequency(signals: np.ndarray, chain: Chain) -> tuple[np.ndarray, np.ndarray]:
    """Instantaneous angular frequency (rad/s, before the trigger value is subtracted) of each signal.

    Parameters
    ----------
    signals : numpy.ndarray
        ``(..., n)`` float64 deflection signals (finite).
    chain : Chain
        Parameters.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        The derivative of the unwrapped Hilbert phase, ``(..., n)`` in rad/s, and the drive
        frequency used per signal in Hz.
    """
    n = signals.shape[-1]
    flat = signals.reshape(-1, n)
    drives = drive_frequencies(flat, chain) if flat.shape[0] else np.zeros(0)
    out = np.empty(flat.shape, dtype=np.float64)
    window = _window(chain.window, n)
    for start in range(0, flat.shape[0], BATCH):
        block = _remove_dc(flat[start : start + BATCH], chain)
        if window is not None:
            block *= window
        block_drives = drives[start : start + BATCH]
        filtered = np.empty_like(block)
        for drive in np.unique(block_drives):
            rows = block_drives == drive
            filtered[rows] = _fir_same(block[rows], _taps(float(drive), chain))
        out[start : start + BATCH] = _phase_derivative(_analytic(filtered), chain.sampling_rate)
    return out.reshape(signals.shape), drives.reshape(signals.shape[:-1])


def _analytic(block: np.ndarray) -> np.ndarray:
    """`scipy.signal.hilbert` along the last axis, from a real FFT."""
    n = block.shape[-1]
    spectrum = sp_fft.rfft(block, axis=-1)
    full = np.zeros((*block.shape[:-1], n), dtype=np.complex128)
    full[..., : spectrum.shape[-1]] = spectrum
    full[..., 1 : (n + 1) // 2] *= 2
    return sp_fft.ifft(full, axis=-1)


def _phase_derivative(analytic: np.ndarray, sampling_rate: float) -> np.ndarray:
    """FFTA's ``savgol_filter(unwrap(angle(a)), 5, 1, deriv=1)`` from the phase steps.

    The steps ``angle(a[i+1] conj(a[i]))`` are the unwrapped phase's differences; the 5-point
    linear Savitzky-Golay slope is ``(2 d[i-2] + 3 d[i-1] + 3 d[i] + 2 d[i+1]) / 10`` per sample,
    and ``mode="interp"`` repeats the slope of the first and last five points at the edges.
    """
    steps = np.angle(analytic[..., 1:] * np.conj(analytic[..., :-1]))
    n = analytic.shape[-1]
    out = np.empty(analytic.shape, dtype=np.float64)
    inner = (
        2 * steps[..., : n - 4]
        + 3 * steps[..., 1 : n - 3]
        + 3 * steps[..., 2 : n - 2]
        + 2 * steps[..., 3 : n - 1]
    )
    out[..., 2 : n - 2] = inner * (sampling_rate / 10)
    out[..., :2] = out[..., 2:3]
    out[..., n - 2 :] = out[..., n - 3 : n - 2]
    return out


def _remove_dc(block: np.ndarray, chain: Chain) -> np.ndarray:
    """FFTA's ``remove_dc``: subtract the part of the spectrum within `dc_width` of 0 Hz."""
    n = block.shape[-1]
    width = int(chain.dc_width / (chain.sampling_rate / n))
    mid = n // 2
    spectrum = sp_fft.fftshift(sp_fft.fft(block, axis=-1), axes=-1)
    spectrum[..., : max(mid - width, 0)] = 0
    spectrum[..., mid + width :] = 0
    low = sp_fft.ifft(sp_fft.ifftshift(spectrum, axes=-1), axis=-1).real
    return block - low


def _window(window: str | float | tuple | None, n: int) -> np.ndarray | None:
    if window is None or window == 0:
        return None
    return sps.get_window(window, n)


def _taps(drive: float, chain: Chain) -> np.ndarray:
    """FFTA's FIR band-pass: `n_taps` Blackman-windowed taps over ``drive ± bandwidth / 2``."""
    nyquist = 0.5 * chain.sampling_rate
    half = chain.filter_bandwidth / 2
    band = [(drive - half) / nyquist, (drive + half) / nyquist]
    return sps.firwin(int(chain.n_taps), band, pass_zero=False, window="blackman")


def _fir_same(block: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """``scipy.signal.fftconvolve(row, taps, mode="same")`` for every row, one filter spectrum."""
    n, m = block.shape[-1], taps.size
    size = sp_fft.next_fast_len(n + m - 1, real=True)
    spectrum = sp_fft.rfft(block, size, axis=-1) * sp_fft.rfft(taps, size)
    full = sp_fft.irfft(spectrum, size, axis=-1)
    start = (m - 1) // 2
    return full[..., start : start + n]


def ridge_frequency(signals: np.ndarray, chain: Chain, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Instantaneous angular frequency (rad/s) from the ridge of a complex Morlet (Gabor) transform.

    After FFTA's DC removal and window, each signal is analysed by Gaussian band-pass filters of
    standard deviation ``sigma_f = 1 / (2 pi width)`` (a Morlet wavelet of time width `width`)
    centred every ``sigma_f / 2`` over ``drive ± 3 sigma_f``. At every sample the filter with
    the largest magnitude is found and its neighbours refine it with a parabola through the
    log-magnitudes, exact for a pure tone (the response to one frequency is Gaussian).

    Parameters
    ----------
    signals : numpy.ndarray
        ``(..., n)`` float64 signals.
    chain : Chain
        Parameters (sampling rate, drive, DC width, window).
    width : float
        Time width (standard deviation) of the wavelet in seconds.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        rad/s ``(..., n)`` and the drive frequency used per signal (Hz).
    """
    n = signals.shape[-1]
    flat = signals.reshape(-1, n)
    drives = drive_frequencies(flat, chain) if flat.shape[0] else np.zeros(0)
    sigma = 1.0 / (2 * np.pi * width)
    offsets = np.arange(-6, 7) * (sigma / 2)
    frequencies = np.fft.fftfreq(n, 1 / chain.sampling_rate)
    window = _window(chain.window, n)
    out = np.empty(flat.shape, dtype=np.float64)
    batch = max(1, BATCH // 8)  # 13 filtered copies of each signal are held at once
    for start in range(0, flat.shape[0], batch):
        block = _remove_dc(flat[start : start + batch], chain)
        if window is not None:
            block *= window
        spectrum = sp_fft.fft(block, axis=-1)
        block_drives = drives[start : start + batch]
        centres = block_drives[:, None] + offsets[None, :]  # (pixels, filters)
        magnitude = np.empty((block.shape[0], offsets.size, n))
        for k in range(offsets.size):
            gain = np.exp(-0.5 * ((frequencies[None, :] - centres[:, k, None]) / sigma) ** 2)
            magnitude[:, k] = np.abs(sp_fft.ifft(spectrum * gain, axis=-1))
        log = np.log(np.maximum(magnitude, np.finfo(float).tiny))
        best = np.clip(np.argmax(log, axis=1), 1, offsets.size - 2)
        left = np.take_along_axis(log, (best - 1)[:, None], 1)[:, 0]
        centre = np.take_along_axis(log, best[:, None], 1)[:, 0]
        right = np.take_along_axis(log, (best + 1)[:, None], 1)[:, 0]
        curvature = left - 2 * centre + right
        with np.errstate(invalid="ignore", divide="ignore"):
            step = np.where(curvature < 0, 0.5 * (left - right) / curvature, 0.0)
        step = np.clip(step, -1.0, 1.0)
        ridge = np.take_along_axis(centres, best, 1) + step * (sigma / 2)
        out[start : start + batch] = 2 * np.pi * ridge
    return out.reshape(signals.shape), drives.reshape(signals.shape[:-1])
