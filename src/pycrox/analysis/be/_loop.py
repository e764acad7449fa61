"""Piezoresponse-loop numerics on numpy blocks: projection, BGlib's 9-parameter model, guesses, fit, metrics.

Loops are rows ``(pixels, n)`` over a DC-bias grid ``(n,)`` in volts, in the order measured
(BGlib's waveform: 0 -> +V -> 0 -> -V -> 0). As BGlib does, the model is evaluated on the grid
rolled back by a quarter cycle, so its first half is the falling branch (switching at ``a_2``)
and its second half the rising one (switching at ``a_3``).
"""

from __future__ import annotations

import numpy as np
from scipy.special import erf, erfinv

from pycrox.analysis import _lm

__all__ = [
    "METRICS",
    "PARAMS",
    "evaluate",
    "fit_block",
    "geometry",
    "guess_block",
    "project_block",
    "switching",
]

PARAMS = ("a_0", "a_1", "a_2", "a_3", "a_4", "b_0", "b_1", "b_2", "b_3")
SWITCHING = (
    "v_plus",
    "v_minus",
    "imprint",
    "r_plus",
    "r_minus",
    "switchable_polarization",
    "work_of_switching",
    "nucleation_bias_1",
    "nucleation_bias_2",
)
METRICS = ("area", "centroid_x", "centroid_y", "rotation", "offset", *SWITCHING)
#: BGlib's sharpness of the step between the two widths of a branch
_STEP = 1000.0
#: iterations per loop before it counts as not converged
MAX_ITER = 200

Array = np.ndarray


def shift(n: int) -> int:
    """BGlib's quarter-cycle roll (``shift_vdc``)."""
    return int(-1 * n / 4)


def _branch(v: Array, a: Array, low: Array, high: Array) -> tuple[Array, list[Array]]:
    """One branch ``y`` in [0, 1] and its derivatives with respect to ``(a, low, high)``."""
    rise = (erf((v - a) * _STEP) + 1) / 2
    g = (high - low) * rise + low
    t = (v - a) / g
    e = erf(t)
    bell = 2 / np.sqrt(np.pi) * np.exp(-t * t)
    total = low + high
    numerator = g * e + low
    y = numerator / total
    d_g = e - bell * t
    d_a = -bell / total
    d_low = (d_g * (1 - rise) + 1) / total - y / total
    d_high = d_g * rise / total - y / total
    return y, [d_a, d_low, d_high]


def _halves(x: Array) -> tuple[Array, Array]:
    half = x.size // 2
    return x[:half], x[half:]


def evaluate(x: Array, *p: Array) -> Array:
    """BGlib's ``loop_fit_function`` on the shifted grid `x`, for parameter columns ``(batch, 1)``."""
    return _model(x, *p)[0]


def _model(
    x: Array,
    a0: Array,
    a1: Array,
    a2: Array,
    a3: Array,
    a4: Array,
    b0: Array,
    b1: Array,
    b2: Array,
    b3: Array,
) -> tuple[Array, list[Array]]:
    v1, v2 = _halves(x)
    y1, (d_a2, d_b0, d_b1) = _branch(v1, a2, b0, b1)
    y2, (d_a3, d_b2, d_b3) = _branch(v2, a3, b2, b3)
    y = np.concatenate([y1, y2], axis=1)
    value = a0 + a1 * y + a4 * x
    zeros1, zeros2 = np.zeros_like(y1), np.zeros_like(y2)

    def first(part: Array) -> Array:
        return np.concatenate([a1 * part, zeros2], axis=1)

    def second(part: Array) -> Array:
        return np.concatenate([zeros1, a1 * part], axis=1)

    ones = np.ones_like(value)
    jac = [ones, y, first(d_a2), second(d_a3), ones * x, first(d_b0), first(d_b1), second(d_b2), second(d_b3)]
    return value, jac


def bounds(v: Array) -> tuple[Array, Array]:
    """Parameter bounds: BGlib's widths ``b`` in [1e-3, 100] V, switching biases within the sweep."""
    span = float(np.ptp(v)) or 1.0
    lo, hi = float(v.min()) - span, float(v.max()) + span
    lower = np.array([-np.inf, -np.inf, lo, lo, -np.inf, 1e-3, 1e-3, 1e-3, 1e-3])
    upper = np.array([np.inf, np.inf, hi, hi, np.inf, 100, 100, 100, 100])
    return lower, upper


def guess_block(v: Array, loops: Array) -> Array:
    """BGlib's ``generate_guess`` for every row, vectorised: ``(pixels, 9)``.

    The loop's polygon centroid gives a vertical and a horizontal line; where they cross the
    loop gives the two remanent levels (``a_0``, ``a_0 + a_1``) and the two switching biases
    (``a_2``, ``a_3``). BGlib intersects these lines with the convex hull; here with the loop's
    own segments (the outermost crossings), which agree for convex loops. Widths start at 2.
    """
    (cx, cy), _ = geometry(v, loops)
    x0, x1 = v[:-1], v[1:]
    y0, y1 = loops[:, :-1], loops[:, 1:]
    with np.errstate(all="ignore"):
        # vertical line x = cx crossing segments: the y values there
        tv = (cx[:, None] - x0) / (x1 - x0)
        hit_v = (tv >= 0) & (tv <= 1)
        yv = y0 + tv * (y1 - y0)
        # horizontal line y = cy crossing segments: the x values there
        th = (cy[:, None] - y0) / (y1 - y0)
        hit_h = (th >= 0) & (th <= 1)
        xh = x0 + th * (x1 - x0)
    low = np.where(hit_v, yv, np.inf).min(axis=1)
    high = np.where(hit_v, yv, -np.inf).max(axis=1)
    left = np.where(hit_h, xh, np.inf).min(axis=1)
    right = np.where(hit_h, xh, -np.inf).max(axis=1)
    no_v = ~np.isfinite(low) | ~np.isfinite(high) | (low == high)
    low = np.where(no_v, loops.min(axis=1), low)
    high = np.where(no_v, loops.max(axis=1), high)
    no_h = ~np.isfinite(left) | ~np.isfinite(right) | (left == right)
    left = np.where(no_h, v.min() / 2, left)
    right = np.where(no_h, v.max() / 2, right)
    out = np.zeros((loops.shape[0], 9))
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = low, high - low, left, right
    out[:, 5:] = 2.0
    return out


def geometry(v: Array, loops: Array) -> tuple[tuple[Array, Array], Array]:
    """Polygon centroid ``(x, y)`` and signed area of every loop (BGlib's ``calculate_loop_centroid``)."""
    x0, x1 = v[:-1], v[1:]
    y0, y1 = loops[:, :-1], loops[:, 1:]
    cross = x0 * y1 - x1 * y0
    area = 0.5 * cross.sum(axis=1)
    with np.errstate(all="ignore"):
        cx = ((x0 + x1) * cross).sum(axis=1) / (6 * area)
        cy = ((y0 + y1) * cross).sum(axis=1) / (6 * area)
    return (cx, cy), area


def project_block(v: Array, z: Array) -> tuple[Array, Array, Array]:
    """Project complex loops onto their axis in the complex plane: ``(loops, rotation, offset)``.

    The axis is the principal direction of each pixel's response points ``(Re, Im)`` (the line
    BGlib fits through them); the loop is the component along it, ``|z| cos(arg z - θ)``, and the
    sign of the axis is chosen so that the loop's area over the DC bias is positive, as in BGlib.
    ``offset`` is the distance from the origin to the axis line.
    """
    centre = z.mean(axis=1, keepdims=True)
    d = z - centre
    sxx = (d.real**2).sum(axis=1)
    syy = (d.imag**2).sum(axis=1)
    sxy = (d.real * d.imag).sum(axis=1)
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    axis = np.exp(1j * theta)[:, None]
    loops = (z * np.conj(axis)).real
    _, area = geometry(v, loops)
    flip = area < 0
    loops[flip] *= -1
    theta = np.where(flip, theta + np.pi, theta)
    theta = np.angle(np.exp(1j * theta))
    offset = np.abs((centre * np.conj(axis)).imag[:, 0])
    return loops, theta, offset


def fit_block(v: Array, loops: Array, start: Array, max_iter: int = MAX_ITER) -> Array:
    """Least-squares loop fit of every finite row: ``(pixels, 9 + 1 + 1)`` = parameters, r2, converged."""
    n = v.size
    out = np.full((loops.shape[0], len(PARAMS) + 2), np.nan)
    out[:, -1] = 0.0
    ok = np.flatnonzero(np.isfinite(loops).all(axis=1) & np.isfinite(start).all(axis=1))
    if ok.size == 0:
        return out
    roll = shift(n)
    x = np.roll(v, roll)
    y = np.roll(loops[ok], roll, axis=1).astype(np.float64)
    scale = np.maximum(np.abs(start[ok]).mean(axis=0), 1e-3)
    problem = _lm.Problem(x, evaluate, _model, scale, "loop")
    lower, upper = bounds(v)
    params, cost, status = _lm.solve(
        problem, y, np.asarray(start[ok], np.float64), lower, upper, max_iter=max_iter
    )
    centred = y - y.mean(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        r2 = 1 - cost / np.einsum("ij,ij->i", centred, centred)
    good = (status == _lm.CONVERGED) & np.isfinite(params).all(axis=1)
    params[~good] = np.nan
    out[ok] = np.column_stack([params, np.where(good, r2, np.nan), good])
    return out


def fit_cost(v: Array, loops: Array, params: Array) -> Array:
    """Sum of squared residuals of `params` on every loop (for choosing between starts)."""
    roll = shift(v.size)
    x = np.roll(v, roll)
    y = np.roll(loops, roll, axis=1)
    with np.errstate(all="ignore"):
        model = evaluate(x, *(params[:, j : j + 1] for j in range(9)))
        return ((model - y) ** 2).sum(axis=1)


def switching(params: Array, nuc_threshold: float) -> Array:
    """BGlib's ``calc_switching_coef_vec``, vectorised: ``(pixels, 9)`` in the order of `SWITCHING`."""
    a = params[:, :5].T
    b = params[:, 5:].T
    with np.errstate(all="ignore"):
        level_1 = nuc_threshold * b[2] + nuc_threshold * b[3] - b[2]
        nuc_1 = _first_finite(b[2] * erfinv(level_1 / b[2]) + a[3], b[3] * erfinv(level_1 / b[3]) + a[3])
        level_2 = (1 - nuc_threshold) * b[0] + (1 - nuc_threshold) * b[1] - b[0]
        nuc_2 = _first_finite(b[0] * erfinv(level_2 / b[0]) + a[2], b[1] * erfinv(level_2 / b[1]) + a[2])
    columns = [
        a[3],
        a[2],
        (a[2] + a[3]) / 2,
        a[0] + a[1],
        a[0],
        a[1],
        np.abs(a[3] - a[2]) * np.abs(a[1]),
        nuc_1,
        nuc_2,
    ]
    out = np.stack(columns, axis=1)
    out[~np.isfinite(params).all(axis=1)] = np.nan
    return out


def _first_finite(first: Array, second: Array) -> Array:
    return np.where(np.isfinite(first), first, np.where(np.isfinite(second), second, -1e-10))
