"""Vectorised least squares for background models: every pixel of a block at once, numpy only.

Two solvers, both on ``y`` of shape ``(pixels, m)`` (the channels of the fit window):

- `fit_exponential_family`: ``f = c exp(-b g)`` with a fixed abscissa ``g`` (``ln(E/E_ref)``
  for a power law, ``E - E_ref`` for an exponential). ``c`` is linear, so it is projected out and
  Newton steps in ``b`` alone, from a weighted log-linear start (closed form, weights ``y**2`` so
  that it approximates the linear-space problem), reach the minimum of the linear-space sum of
  squares that `scipy.optimize.curve_fit` finds.
- `fit_linear`: ``f = X @ c`` for a design matrix shared by all pixels (polynomials, fixed-exponent
  power laws): one pseudo-inverse, one matrix product.

Both return the parameters, their covariance (``s**2 (J^T J)^-1`` with ``s**2 = SSR / (m - p)``, as
curve_fit's ``pcov``), R^2 and a convergence flag per pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "fit_exponential_family", "fit_linear"]

#: LM iterations before a pixel counts as not converged
MAX_ITER = 100
#: relative parameter step (and relative SSR change) below which a pixel has converged
TOLERANCE = 1e-10


@dataclass
class Solution:
    """Per-pixel results: ``params (N, p)``, ``covariance (N, p, p)``, ``r2 (N,)``, ``converged (N,)``."""

    params: np.ndarray
    covariance: np.ndarray
    r2: np.ndarray
    converged: np.ndarray


def _r2(y: np.ndarray, ssr: np.ndarray) -> np.ndarray:
    m = y.shape[1]
    total = y.sum(axis=1)
    sst = np.einsum("ij,ij->i", y, y) - total * total / m
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sst > 0, 1.0 - ssr / sst, np.nan)


def _sums(x: np.ndarray, powers: np.ndarray, count: int) -> np.ndarray:
    """``x @ powers[:, :count]`` as row-wise einsum reductions.

    No BLAS call: for such thin products it is slower (and contends for threads) than one fused
    pass over ``x`` per column.
    """
    out = np.empty((x.shape[0], count))
    for k in range(count):
        out[:, k] = np.einsum("ij,ij->i", x, np.broadcast_to(powers[:, k], x.shape))
    return out


def _log_linear_start(y: np.ndarray, powers: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of ``ln y = a - b g`` with weights ``y**2`` (positive channels only)."""
    positive = y > 0
    w = np.where(positive, y * y, 0.0)
    logy = np.log(np.where(positive, y, 1.0))
    sw, swg, swgg = _sums(w, powers, 3).T
    swl, swgl = _sums(w * logy, powers, 2).T
    det = sw * swgg - swg * swg
    ok = (positive.sum(1) >= 2) & (det > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (sw * swgl - swg * swl) / det
        intercept = (swl - slope * swg) / sw
    return np.where(ok, intercept, 0.0), np.where(ok, -slope, 0.0), ok


def fit_exponential_family(y: np.ndarray, g: np.ndarray) -> Solution:
    """Least-squares ``y ~ c * exp(-b g)`` for every row of `y` (variable projection + Newton).

    For a fixed ``b`` the best ``c`` is linear, ``c = S1 / S2`` with ``S1 = sum(y phi)``,
    ``S2 = sum(phi**2)`` and ``phi = exp(-b g)``, so the sum of squared residuals is
    ``sum(y**2) - S1**2 / S2``: one-dimensional in ``b``. Newton steps on ``F(b) = S1**2 / S2``
    (from six row-wise sums per iteration, one ``exp`` per channel) start from the weighted
    log-linear fit; a step that lowers ``F`` is halved. The minimum is the one `curve_fit` finds.

    Parameters
    ----------
    y : numpy.ndarray
        ``(N, m)`` float64, finite.
    g : numpy.ndarray
        ``(m,)`` abscissa, best centred near 0 for conditioning.

    Returns
    -------
    Solution
        ``params[:, 0] = c`` (the amplitude at ``g = 0``), ``params[:, 1] = b``; the covariance of
        ``(c, b)``.
    """
    n_pix, m = y.shape
    powers = np.stack([np.ones_like(g), g, g * g], axis=1)  # (m, 3)
    _, b0, ok = _log_linear_start(y, powers)
    yy = np.einsum("ij,ij->i", y, y)
    out_b = np.full(n_pix, np.nan)
    out_sums = np.full((n_pix, 6), np.nan)
    converged = np.zeros(n_pix, dtype=bool)
    idx = np.flatnonzero(ok)
    ya, b = y[idx], b0[idx]
    best_b, best_f = b.copy(), np.full(idx.size, -np.inf)
    best_sums = np.full((idx.size, 6), np.nan)
    for iteration in range(MAX_ITER + 1):
        sums = _projection_sums(ya, g, b, powers)
        s1, s2 = sums[:, 0], sums[:, 3]
        with np.errstate(divide="ignore", invalid="ignore"):
            value = s1 * s1 / s2
        improved = np.isfinite(value) & (value >= best_f)
        # a "worse" point within rounding of the best one: the maximum is reached
        level = np.isfinite(value) & (np.abs(value - best_f) <= 1e-13 * np.abs(value))
        best_b = np.where(improved, b, best_b)
        best_f = np.where(improved, value, best_f)
        best_sums = np.where(improved[:, None], sums, best_sums)
        step = _newton_step(best_sums)
        # a worse point: go half-way back towards the best one instead of a Newton step
        step = np.where(improved, step, 0.5 * (b - best_b))
        small = (np.abs(step) <= TOLERANCE * (1 + np.abs(best_b))) | level
        good = small & np.isfinite(best_f)
        done = good | ~np.isfinite(step) | (iteration == MAX_ITER)
        if done.any():
            rows = idx[done]
            out_b[rows], out_sums[rows], converged[rows] = best_b[done], best_sums[done], good[done]
            keep = ~done
            idx, ya, b, best_b, best_f, best_sums, step = (
                x[keep] for x in (idx, ya, b, best_b, best_f, best_sums, step)
            )
        if idx.size == 0:
            break
        b = np.where(np.isfinite(step), best_b + step, best_b)
    return _projection_solution(out_b, out_sums, yy, y, converged, m)


def _projection_sums(y: np.ndarray, g: np.ndarray, b: np.ndarray, powers: np.ndarray) -> np.ndarray:
    """``[sum y phi, sum y g phi, sum y g^2 phi, sum phi^2, sum g phi^2, sum g^2 phi^2]`` per row."""
    with np.errstate(over="ignore", invalid="ignore"):
        phi = np.exp(-b[:, None] * g)
    return np.concatenate([_sums(y * phi, powers, 3), _sums(phi * phi, powers, 3)], axis=1)


def _newton_step(sums: np.ndarray) -> np.ndarray:
    """Newton step in ``b`` that maximises ``F = S1**2 / S2`` (derivatives from the sums)."""
    s1, s1g, s1gg, s2, s2g, s2gg = sums.T
    d1, dd1 = -s1g, s1gg  # dS1/db, d2S1/db2
    d2, dd2 = -2 * s2g, 4 * s2gg  # dS2/db, d2S2/db2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        grad = 2 * s1 * d1 / s2 - s1 * s1 * d2 / s2**2
        curv = (
            2 * d1 * d1 / s2
            + 2 * s1 * dd1 / s2
            - 4 * s1 * d1 * d2 / s2**2
            - s1 * s1 * dd2 / s2**2
            + 2 * s1 * s1 * d2 * d2 / s2**3
        )
        newton = -grad / curv
        # away from the maximum (curv >= 0) take a bounded gradient step instead
        return np.where(curv < 0, newton, np.sign(grad) * 0.1)


def _projection_solution(
    b: np.ndarray, sums: np.ndarray, yy: np.ndarray, y: np.ndarray, converged: np.ndarray, m: int
) -> Solution:
    s1, s1g, _, s2, s2g, s2gg = sums.T
    with np.errstate(divide="ignore", invalid="ignore"):
        c = s1 / s2
        ssr = np.maximum(yy - s1 * s1 / s2, 0.0)
    # J = [phi, -g c phi]: J^T J = [[S2, -c S2g], [-c S2g, c^2 S2gg]]
    normal = np.stack([s2, c * s2g, c * c * s2gg], axis=1)
    del s1g
    centred = y.sum(axis=1)
    sst = yy - centred * centred / m
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(sst > 0, 1.0 - ssr / sst, np.nan)
    params = np.stack([c, b], axis=1)
    return Solution(params, _covariance_2x2(normal, ssr, m), r2, converged & np.isfinite(c) & np.isfinite(b))


def _covariance_2x2(normal: np.ndarray, ssr: np.ndarray, m: int) -> np.ndarray:
    """``s**2 (J^T J)^-1`` with ``J = [f, -g f]``: ``J^T J = [[S0, -S1], [-S1, S2]]``."""
    s0, s1, s2 = normal[:, 0], -normal[:, 1], normal[:, 2]
    det = s0 * s2 - s1 * s1
    scale = ssr / max(m - 2, 1)
    cov = np.empty((normal.shape[0], 2, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        cov[:, 0, 0], cov[:, 1, 1] = s2 / det * scale, s0 / det * scale
        cov[:, 0, 1] = cov[:, 1, 0] = -s1 / det * scale
    return cov


def fit_linear(y: np.ndarray, design: np.ndarray) -> Solution:
    """Least-squares ``y ~ design @ c`` for every row of `y` (one shared ``(m, p)`` design matrix)."""
    m, p = design.shape
    pinv = np.linalg.pinv(design)  # (p, m)
    coef = y @ pinv.T
    res = y - coef @ design.T
    ssr = np.einsum("ij,ij->i", res, res)
    xtx_inv = np.linalg.pinv(design.T @ design)
    covariance = xtx_inv[None, :, :] * (ssr / max(m - p, 1))[:, None, None]
    converged = np.isfinite(coef).all(axis=1)
    return Solution(coef, covariance, _r2(y, ssr), converged)
