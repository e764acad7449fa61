"""Simple-harmonic-oscillator numerics on numpy blocks: the model, its Jacobian, two guesses, the fit.

Every function works on a block of pixels at once: responses ``(pixels, n)`` complex, the
frequency grid ``(n,)`` in Hz. Inside the solver the frequencies are divided by the band centre,
so the parameters are of order one whatever the band; they are scaled back before returning.
The complex response is fitted through its real and imaginary parts stacked side by side
(``2n`` real residuals per pixel) with the batched Levenberg-Marquardt of `pycrox.analysis._lm`.
"""

from __future__ import annotations

import numpy as np

from pycrox.analysis import _lm

__all__ = ["PARAMS", "WIDTH", "fit_block", "guess_complex_gaussian", "guess_direct", "response"]

#: parameter order of every parameter row (as BGlib's ``sho32`` compound minus R2)
PARAMS = ("amplitude", "resonance_frequency", "quality_factor", "phase")
#: columns of a block result: 4 parameters, 4 standard errors, r2, converged
WIDTH = 2 * len(PARAMS) + 2
#: iterations per pixel before it counts as not converged
MAX_ITER = 100

Array = np.ndarray


def response(f: Array, amplitude: Array, w0: Array, q: Array, phase: Array) -> Array:
    """The SHO response ``A e^{iφ} w0² / (f² - i f w0 / Q - w0²)`` (BGlib's ``SHOfunc``); broadcasts."""
    return amplitude * np.exp(1j * phase) * w0**2 / (f**2 - 1j * f * w0 / q - w0**2)


def _stacked(x: Array, amplitude: Array, w0: Array, q: Array, phase: Array) -> Array:
    n = x.size // 2
    h = response(x[:n], amplitude, w0, q, phase)
    out = np.empty((h.shape[0], 2 * n), np.float64)
    out[:, :n], out[:, n:] = h.real, h.imag
    return out


def _stacked_jacobian(
    x: Array, amplitude: Array, w0: Array, q: Array, phase: Array
) -> tuple[Array, list[Array]]:
    n = x.size // 2
    f = x[:n]
    rotor = np.exp(1j * phase)
    inverse = 1 / (f * f - 1j * f * (w0 / q) - w0 * w0)
    shape = (rotor * w0 * w0) * inverse  # dH/dA
    h = amplitude * shape
    d_w0 = ((amplitude * rotor * w0) * (2 * f * f - 1j * f * (w0 / q))) * (inverse * inverse)
    d_q = h * ((-1j * w0 / (q * q)) * f) * inverse
    out = np.empty((5, h.shape[0], 2 * n), np.float64)
    for index, part in enumerate((h, shape, d_w0, d_q, 1j * h)):
        out[index, :, :n], out[index, :, n:] = part.real, part.imag
    return out[0], [out[1], out[2], out[3], out[4]]


def _pair_estimates(w: Array, z: Array, ranked: Array, points: int) -> tuple[Array, Array]:
    """BGlib's algebraic SHO estimate from every pair of the `points` largest bins: ``(pixels, pairs, 4)``."""
    top = ranked[:, :points]
    first, second = np.triu_indices(points, k=1)
    i1, i2 = top[:, first], top[:, second]  # (pixels, pairs)
    w1, w2 = w[i1], w[i2]
    z1, z2 = np.take_along_axis(z, i1, axis=1), np.take_along_axis(z, i2, axis=1)
    x1, y1, x2, y2 = z1.real, z1.imag, z2.real, z2.imag
    m1, m2 = x1**2 + y1**2, x2**2 + y2**2
    cross = x1 * x2 + y1 * y2
    denom = w1 * (m1 - cross) + w2 * (m2 - cross)
    span = w1**2 - w2**2
    with np.errstate(all="ignore"):
        a = span * (w1 * x2 * m1 - w2 * x1 * m2) / denom
        b = span * (w1 * y2 * m1 - w2 * y1 * m2) / denom
        c = span * (x2 * y1 - x1 * y2) / denom
        d = (w1**3 * m1 - w1**2 * w2 * cross - w1 * w2**2 * cross + w2**3 * m2) / denom
    valid = (denom > 0) & (d > 0)
    return np.stack([a, b, c, d], axis=-1), valid


def _from_abcd(abcd: Array) -> Array:
    a, b, c, d = np.moveaxis(abcd, -1, 0)
    with np.errstate(all="ignore"):
        root = np.sqrt(d)
        return np.stack([np.abs(a + 1j * b) / d, root, -root / c, np.arctan2(-b, -a)], axis=-1)


def guess_complex_gaussian(w: Array, z: Array, points: int = 5) -> Array:
    """BGlib's ``complex_gaussian`` guess for every row of `z`, vectorised: ``(pixels, 4)``.

    Every pair of the `points` largest-amplitude bins gives an exact SHO through both; the
    estimates are averaged with weights ``(1 / error)^4`` (error: the squared misfit of each
    estimate over the whole band). Rows where this fails, lands outside the band or explains
    the data poorly get `guess_direct` (BGlib falls back to its "fast guess" there).
    """
    ranked = np.argsort(-np.abs(z), axis=1, kind="stable")
    abcd, valid = _pair_estimates(w, z, ranked, min(points, w.size))
    with np.errstate(all="ignore"):
        # the SHO of (a, b, c, d) is -(a + ib) / (f² + icf - d): no exp or sqrt per bin
        a, b, c, d = (abcd[..., j : j + 1] for j in range(4))
        model = -(a + 1j * b) / (w * w + 1j * c * w - d)  # (pixels, pairs, n)
        error = (np.abs(model - z[:, None, :]) ** 2).sum(axis=-1)
        weight = np.where(valid & np.isfinite(error), (1 / error) ** 4, 0.0)
        total = weight.sum(axis=1)
        mean = (weight[..., None] * np.where(valid[..., None], abcd, 0)).sum(axis=1) / total[:, None]
    guess = _from_abcd(mean)
    with np.errstate(all="ignore"):
        residual = z - response(w, *(guess[:, j : j + 1] for j in range(4)))
        explained = np.std(np.abs(z), axis=1) / np.std(np.abs(residual), axis=1)
    good = (
        (total > 0)
        & np.isfinite(guess).all(axis=1)
        & (explained >= 1.2)
        & (guess[:, 1] >= w.min())
        & (guess[:, 1] <= w.max())
    )
    if not good.all():
        guess[~good] = guess_direct(w, z[~good])
    return guess


def guess_direct(w: Array, z: Array) -> Array:
    """Peak of the amplitude and the width at half power: ``(pixels, 4)`` without any fitting.

    The resonance is the frequency of the largest amplitude, ``Q = f0 / FWHM`` with the two
    half-power crossings interpolated linearly (one side doubled when the other leaves the
    band), ``A = |H(f0)| / Q`` and ``φ = arg H(f0) - π/2`` (at resonance the model is ``i A Q e^{iφ}``).
    """
    amp = np.abs(z)
    rows = np.arange(z.shape[0])
    peak = np.argmax(amp, axis=1)
    top = amp[rows, peak]
    threshold = top[:, None] / np.sqrt(2)
    index = np.arange(w.size)[None, :]
    below = amp < threshold
    left = np.where(below & (index < peak[:, None]), index, -1).max(axis=1)
    right = np.where(below & (index > peak[:, None]), index, w.size).min(axis=1)
    f_left = _crossing(w, amp, threshold[:, 0], left, left + 1)
    f_right = _crossing(w, amp, threshold[:, 0], right - 1, right)
    f0 = w[peak]
    half = np.where(
        left >= 0,
        np.where(right < w.size, (f_right - f_left) / 2, f0 - f_left),
        np.where(right < w.size, f_right - f0, (w.max() - w.min()) / 2),
    )
    with np.errstate(all="ignore"):
        q = f0 / (2 * np.abs(half))
        q = np.where(np.isfinite(q) & (q > 0), q, f0 / (w.max() - w.min()))
        return np.stack(
            [top / q, f0, q, np.angle(np.exp(1j * (np.angle(z[rows, peak]) - np.pi / 2)))], axis=1
        )


def _crossing(w: Array, amp: Array, level: Array, lo: Array, hi: Array) -> Array:
    """Frequency where `amp` crosses `level` between bins `lo` and `hi` (NaN when out of range)."""
    ok = (lo >= 0) & (hi < w.size)
    lo_c, hi_c = np.clip(lo, 0, w.size - 1), np.clip(hi, 0, w.size - 1)
    rows = np.arange(amp.shape[0])
    a_lo, a_hi = amp[rows, lo_c], amp[rows, hi_c]
    with np.errstate(all="ignore"):
        t = np.clip((level - a_lo) / (a_hi - a_lo), 0, 1)
    t = np.where(np.isfinite(t), t, 0.5)
    return np.where(ok, w[lo_c] + t * (w[hi_c] - w[lo_c]), np.nan)


def _normalised(params: Array, centre: float) -> Array:
    out = np.array(params, np.float64)
    out[:, 1] /= centre
    return out


def fit_block(w: Array, z: Array, start: Array, max_iter: int = MAX_ITER) -> Array:
    """Least-squares SHO fit of every finite row of `z` from `start`: ``(pixels, WIDTH)``.

    Columns: the 4 parameters, their standard errors, ``r2`` and ``converged`` (1.0 or 0.0).
    Rows that hold NaN, start from non-finite values or do not converge get NaN parameters and
    ``converged = 0``. Amplitudes come out non-negative (a sign flip is a phase of π) and
    phases in ``(-π, π]``.
    """
    out = np.full((z.shape[0], WIDTH), np.nan)
    out[:, -1] = 0.0
    centre = float(np.mean(w))
    ok = np.flatnonzero(np.isfinite(z).all(axis=1) & np.isfinite(start).all(axis=1))
    if ok.size == 0:
        return out
    u = w / centre
    y = np.concatenate([z[ok].real, z[ok].imag], axis=1).astype(np.float64)
    p0 = _normalised(start[ok], centre)
    problem = _lm.Problem(np.concatenate([u, u]), _stacked, _stacked_jacobian, np.ones(4), "sho")
    lower = np.array([-np.inf, u.min(), -np.inf, -np.inf])
    upper = np.array([np.inf, u.max(), np.inf, np.inf])
    params, cost, status = _lm.solve(problem, y, p0, lower, upper, max_iter=max_iter)
    errors = _lm.covariance(problem, y, params, cost)
    params[:, 1] *= centre
    errors[:, 1] *= centre
    flip = params[:, 0] < 0
    params[flip, 0] *= -1
    params[flip, 3] += np.pi
    params[:, 3] = np.angle(np.exp(1j * params[:, 3]))
    centred = _centred(z[ok])
    total = np.einsum("ij,ij->i", centred, centred)
    with np.errstate(all="ignore"):
        r2 = 1 - cost / total
    good = (status == _lm.CONVERGED) & np.isfinite(params).all(axis=1) & (params[:, 2] != 0)
    params[~good] = np.nan
    errors[~good] = np.nan
    block = np.concatenate([params, errors, np.where(good, r2, np.nan)[:, None], good[:, None]], axis=1)
    out[ok] = block
    return out


def _centred(z: Array) -> Array:
    centred = z - z.mean(axis=1, keepdims=True)
    return np.concatenate([centred.real, centred.imag], axis=1).astype(np.float64)
