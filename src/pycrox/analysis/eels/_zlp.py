"""The zero-loss peak (ZLP) of low-loss spectra, per pixel, numpy in and out (energy last).

- `peak_position`: sub-channel ZLP centre from a Gaussian (log-parabola) through the maximum and
  its two neighbours.
- `threshold_index`: the end of the ZLP, the first local minimum after the peak of the spectrum
  smoothed over 5 channels (the "inflection" between the ZLP and the plasmons).
- `zero_loss`: each spectrum with every channel from the threshold on set to 0.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PEAK_RANGE_EV",
    "SEARCH_CHANNELS",
    "ends",
    "peak_position",
    "shift_rows",
    "threshold_index",
    "zero_loss",
]

#: how many channels after the ZLP maximum are searched for its end
SEARCH_CHANNELS = 400
#: a spectrum whose maximum lies further than this from 0 eV has no usable zero-loss peak
PEAK_RANGE_EV = 50.0


def ends(y: np.ndarray, energy: np.ndarray, fixed: int | None = None) -> np.ndarray:
    """End index of the ZLP of every row (`fixed`, or found per row); ``-1`` where there is no ZLP.

    A row has no ZLP when its maximum lies more than `PEAK_RANGE_EV` from 0 eV (a core-loss or
    noise spectrum, or a wrongly calibrated axis), or when no minimum follows the maximum.
    """
    top = np.argmax(y, axis=-1)
    near = np.abs(energy[top]) <= PEAK_RANGE_EV
    end = np.full(y.shape[:-1], fixed) if fixed is not None else threshold_index(y)
    return np.where(near & (end > top), end, -1)


def peak_position(y: np.ndarray) -> np.ndarray:
    """Sub-channel index of the maximum of every row (energy last)."""
    n = y.shape[-1]
    top = np.clip(np.argmax(y, axis=-1), 1, n - 2)
    left = np.take_along_axis(y, (top - 1)[..., None], -1)[..., 0].astype(np.float64)
    mid = np.take_along_axis(y, top[..., None], -1)[..., 0].astype(np.float64)
    right = np.take_along_axis(y, (top + 1)[..., None], -1)[..., 0].astype(np.float64)
    positive = (left > 0) & (mid > 0) & (right > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        la, lm, lr = (np.log(np.where(positive, v, 1.0)) for v in (left, mid, right))
        gauss = 0.5 * (la - lr) / (la - 2 * lm + lr)
        parab = 0.5 * (left - right) / (left - 2 * mid + right)
    offset = np.where(positive, gauss, parab)
    offset = np.where(np.isfinite(offset) & (np.abs(offset) <= 1), offset, 0.0)
    return top + offset


def threshold_index(y: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Index of the first local minimum after each row's maximum (``-1`` when none is found).

    Parameters
    ----------
    y : numpy.ndarray
        ``(..., n)`` spectra.
    limit : int, optional
        Search at most this many channels after the maximum (default `SEARCH_CHANNELS`).
    """
    n = y.shape[-1]
    top = np.argmax(y, axis=-1)
    stop = min(n, int(top.max(initial=0)) + (limit or SEARCH_CHANNELS) + 3)
    start = int(top.min(initial=0))
    part = y[..., start:stop].astype(np.float64)
    padded = np.pad(part, [(0, 0)] * (part.ndim - 1) + [(3, 2)], mode="edge")
    padded[..., 0] = 0.0
    cumulative = np.cumsum(padded, axis=-1)
    smooth = (cumulative[..., 5:] - cumulative[..., :-5]) / 5.0  # centred 5-channel mean
    rising = np.diff(smooth, axis=-1) >= 0
    index = np.arange(rising.shape[-1]) + start
    after = index > top[..., None]
    found = rising & after
    first = np.argmax(found, axis=-1)
    has = found.any(axis=-1)
    return np.where(has, first + start, -1)


def zero_loss(y: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """`y` with every channel at or after `threshold` (per row) set to 0; rows with ``-1`` all NaN."""
    index = np.arange(y.shape[-1])
    out = np.where(index < threshold[..., None], y, 0.0)
    return np.where((threshold >= 0)[..., None], out, np.nan)


def shift_rows(y: np.ndarray, shift: np.ndarray, *, step: float) -> np.ndarray:
    """``out[i] = y(E_i + shift)`` by linear interpolation, ends repeated."""
    n = y.shape[-1]
    q = np.arange(n) + (shift / step)[..., None]
    q = np.clip(q, 0, n - 1)
    low = np.minimum(np.floor(q).astype(np.intp), n - 2)
    frac = q - low
    y0 = np.take_along_axis(y, low, -1)
    y1 = np.take_along_axis(y, low + 1, -1)
    return y0 + frac * (y1 - y0)
