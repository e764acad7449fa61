"""Batched Levenberg-Marquardt: many small least-squares problems solved at once with numpy.

Every row of ``y`` (shape ``(batch, n)``) is one problem with the same model and the same
``x``. One iteration evaluates the model for all active rows in one call, forms the P x P
normal equations with row-wise dot products, solves them with one batched
`numpy.linalg.solve`, and accepts or rejects each row's step on its own. Damping follows Nielsen's
rule (H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05), starting at
1 (Marquardt-scaled), which keeps poor starting values from being thrown far away. Rows that
converge leave the active set, so late iterations cost little. Parameters are float64; the model and
the residuals use the data's float type (float32 stays float32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pycrox.analysis.models import FitError

__all__ = ["CONVERGED", "FAILED", "MAX_ITER", "Problem", "covariance", "solve"]

CONVERGED, MAX_ITER, FAILED = 0, 1, 2

Array = np.ndarray


@dataclass(frozen=True)
class Problem:
    """One model on one ``x`` grid, evaluated for a batch of parameter rows.

    Attributes
    ----------
    x : numpy.ndarray
        ``(n,)`` in the working float type.
    function : callable
        ``f(x, *params)`` with each parameter ``(batch, 1)``, returning ``(batch, n)``.
    jacobian : callable or None
        ``(x, *params) -> (f, [df/dp])``; None: forward differences in one batched call.
    scale : numpy.ndarray
        ``(P,)`` typical parameter magnitudes (finite-difference steps for parameters near 0).
    name : str
        For messages.
    """

    x: Array
    function: Callable[..., Array]
    jacobian: Callable[..., tuple[Array, list[Array]]] | None
    scale: Array
    name: str = "model"

    @property
    def dtype(self) -> np.dtype:
        """The working float type."""
        return self.x.dtype

    def _columns(self, p: Array) -> list[Array]:
        work = p.astype(self.dtype)
        return [work[:, j : j + 1] for j in range(p.shape[1])]

    def _call(self, function: Callable, columns: list[Array]) -> object:
        try:
            with np.errstate(all="ignore"):
                return function(self.x, *columns)
        except Exception as exc:
            raise FitError(f"fit: model {self.name} raised {type(exc).__name__}: {exc}") from exc

    def _checked(self, value: object, rows: int) -> Array:
        out = np.asarray(value)
        if out.shape != (rows, self.x.size):
            raise FitError(
                f"fit: model {self.name} returned shape {out.shape} for {rows} parameter rows and "
                f"{self.x.size} x values; expected {(rows, self.x.size)}"
            )
        return out.astype(self.dtype, copy=False)

    def values(self, p: Array) -> Array:
        """Model values ``(batch, n)`` at float64 parameters ``p`` ``(batch, P)``."""
        return self._checked(self._call(self.function, self._columns(p)), p.shape[0])

    def values_and_jacobian(self, p: Array) -> tuple[Array, list[Array]]:
        """Model values and the list of P partial derivatives, each ``(batch, n)``."""
        if self.jacobian is None:
            value = self.values(p)
            return value, self.differences(p, value)
        value, parts = self._call(self.jacobian, self._columns(p))  # type: ignore[misc]
        return self._checked(value, p.shape[0]), [np.asarray(d, self.dtype) for d in parts]

    def differences(self, p: Array, value: Array) -> list[Array]:
        """Forward-difference Jacobian: all P perturbed parameter sets in one model call."""
        rows, count = p.shape
        base = p.astype(self.dtype)
        step = np.sqrt(np.finfo(self.dtype).eps) * np.maximum(np.abs(p), self.scale)
        stacked = np.broadcast_to(base, (count, rows, count)).copy()
        index = np.arange(count)
        stacked[index, :, index] = (p + step).astype(self.dtype).T
        actual = stacked[index, :, index].astype(np.float64) - base.T.astype(np.float64)  # (P, rows)
        flat = stacked.reshape(count * rows, count)
        shifted = self._checked(self._call(self.function, [flat[:, j : j + 1] for j in index]), count * rows)
        shifted = shifted.reshape(count, rows, -1)
        inverse = (1 / np.where(actual == 0, 1.0, actual)).astype(self.dtype)
        return [(shifted[j] - value) * inverse[j][:, None] for j in index]


def _sum_squares(r: Array) -> Array:
    return np.einsum("ij,ij->i", r, r).astype(np.float64)


def _normal_equations(jac: list[Array], r: Array) -> tuple[Array, Array]:
    count = len(jac)
    a = np.empty((r.shape[0], count, count))
    g = np.empty((r.shape[0], count))
    for i in range(count):
        g[:, i] = np.einsum("ij,ij->i", jac[i], r)
        for j in range(i, count):
            a[:, i, j] = a[:, j, i] = np.einsum("ij,ij->i", jac[i], jac[j])
    return a, g


def _damped_step(a: Array, g: Array, damping: Array, fixed: Array | None = None) -> tuple[Array, Array]:
    """Marquardt step ``-(A + damping * diag(A))^-1 g`` and the cost reduction it predicts.

    Parameters marked in `fixed` (``(batch, P)`` bool: held at a bound) get a zero step.
    """
    if fixed is not None and fixed.any():
        free = ~fixed
        a = np.where(free[:, :, None] & free[:, None, :], a, 0) + np.eye(a.shape[1]) * fixed[:, :, None]
        g = np.where(free, g, 0)
    diagonal = np.diagonal(a, axis1=1, axis2=2)
    floor = 1e-12 * diagonal.max(axis=1, keepdims=True) + 1e-300
    scaled = damping[:, None] * np.maximum(diagonal, floor)
    augmented = a + np.eye(a.shape[1]) * scaled[:, :, None]
    try:
        step = -np.linalg.solve(augmented, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        step = -(np.linalg.pinv(augmented, hermitian=True) @ g[..., None])[..., 0]
    return step, ((scaled * step - g) * step).sum(axis=1)


@dataclass
class _Active:
    """Arrays of the rows still iterating (compacted as rows finish)."""

    rows: Array
    p: Array
    y: Array
    r: Array
    jac: list[Array]
    cost: Array
    damping: Array
    growth: Array

    def keep(self, mask: Array) -> _Active:
        return _Active(
            self.rows[mask],
            self.p[mask],
            self.y[mask],
            self.r[mask],
            [j[mask] for j in self.jac],
            self.cost[mask],
            self.damping[mask],
            self.growth[mask],
        )

    def adapt(self, accepted: Array, ratio: Array) -> None:
        """Nielsen's damping update from the ratio of actual to predicted cost reduction."""
        shrink = np.maximum(1 / 3, 1 - (2 * np.clip(ratio, 0, 1) - 1) ** 3)
        self.damping = np.where(
            accepted, np.maximum(self.damping * shrink, 1e-12), self.damping * self.growth
        )
        self.growth = np.where(accepted, 2.0, self.growth * 2)


def solve(
    problem: Problem,
    y: Array,
    p0: Array,
    lower: Array,
    upper: Array,
    *,
    max_iter: int = 200,
    ftol: float = 1.5e-8,
    xtol: float = 1.5e-8,
) -> tuple[Array, Array, Array]:
    """Least-squares fit of every row of `y`, starting at `p0`, within ``[lower, upper]``.

    Parameters
    ----------
    problem : Problem
        Model, grid and Jacobian.
    y : numpy.ndarray
        ``(batch, n)`` finite data in the working float type.
    p0 : numpy.ndarray
        ``(batch, P)`` float64 starting values (clipped into the bounds).
    lower, upper : numpy.ndarray
        ``(P,)`` bounds (``-inf`` / ``inf`` for none).
    max_iter : int, optional
        Most iterations per row.
    ftol, xtol : float, optional
        A row converges when an accepted step lowers its cost by less than `ftol` (relative),
        or when its step is below ``xtol * (|p| + xtol)`` for every parameter.

    Returns
    -------
    params : numpy.ndarray
        ``(batch, P)`` float64.
    cost : numpy.ndarray
        ``(batch,)`` sum of squared residuals.
    status : numpy.ndarray
        ``(batch,)`` int8: CONVERGED, MAX_ITER or FAILED (non-finite model values at the start).
    """
    params = np.clip(np.asarray(p0, np.float64), lower, upper)
    cost_out = np.full(y.shape[0], np.nan)
    status = np.full(y.shape[0], MAX_ITER, np.int8)
    joint = problem.jacobian is not None
    value, jac = problem.values_and_jacobian(params)
    r = value - y
    cost = _sum_squares(r)
    good = np.isfinite(cost) & np.isfinite(params).all(axis=1)
    status[~good] = FAILED
    ones = np.ones(y.shape[0])
    state = _Active(np.arange(y.shape[0]), params.copy(), y, r, jac, cost, ones, 2 * ones).keep(good)
    for _ in range(max_iter):
        if state.rows.size == 0:
            break
        a, g = _normal_equations(state.jac, state.r)
        fixed = ((state.p <= lower) & (g > 0)) | ((state.p >= upper) & (g < 0))  # pushed against a bound
        step, predicted = _damped_step(a, g, state.damping, fixed)
        trial = np.clip(state.p + step, lower, upper)
        small = (np.abs(trial - state.p) <= xtol * (np.abs(state.p) + xtol)).all(axis=1)
        if joint:
            value, trial_jac = problem.values_and_jacobian(trial)
        else:
            value, trial_jac = problem.values(trial), None
        trial_r = value - state.y
        trial_cost = _sum_squares(trial_r)
        ratio = (state.cost - trial_cost) / np.where(predicted > 0, predicted, np.inf)
        better = (ratio > 1e-4) & (trial_cost < state.cost)
        gain = np.where(
            state.cost > 0, (state.cost - trial_cost) / np.where(state.cost > 0, state.cost, 1), 0
        )
        done = (better & (gain <= ftol)) | small | (state.cost == 0)
        _accept(problem, state, better, trial, trial_r, trial_cost, trial_jac, value)
        state.adapt(better, ratio)
        stuck = (state.damping > 1e16) & ~done
        finished = done | stuck
        if finished.any():
            params[state.rows[finished]] = state.p[finished]
            cost_out[state.rows[finished]] = state.cost[finished]
            status[state.rows[finished]] = np.where(stuck[finished], FAILED, CONVERGED)
            state = state.keep(~finished)
    params[state.rows] = state.p
    cost_out[state.rows] = state.cost
    return params, cost_out, status


def _accept(
    problem: Problem,
    state: _Active,
    better: Array,
    trial: Array,
    trial_r: Array,
    trial_cost: Array,
    trial_jac: list[Array] | None,
    value: Array,
) -> None:
    """Move the rows whose trial step lowered the cost to the trial point (in place)."""
    if not better.any():
        return
    if better.all():
        state.p, state.r, state.cost = trial, trial_r, trial_cost
        state.jac = trial_jac if trial_jac is not None else problem.differences(trial, value)
        return
    state.p = np.where(better[:, None], trial, state.p)
    state.cost = np.where(better, trial_cost, state.cost)
    state.r = np.where(better[:, None], trial_r, state.r)
    if trial_jac is not None:
        state.jac = [
            np.where(better[:, None], new, old) for new, old in zip(trial_jac, state.jac, strict=True)
        ]
        return
    fresh = problem.differences(trial[better], value[better])
    jac = [np.array(old) for old in state.jac]
    for old, new in zip(jac, fresh, strict=True):
        old[better] = new
    state.jac = jac


def covariance(problem: Problem, y: Array, params: Array, cost: Array) -> Array:
    """Standard errors ``(batch, P)`` as `scipy.optimize.curve_fit` gives them (absolute_sigma=False)."""
    ok = np.isfinite(params).all(axis=1)
    errors = np.full(params.shape, np.nan)
    if not ok.any():
        return errors
    _, jac = problem.values_and_jacobian(params[ok])
    a, _ = _normal_equations(jac, np.zeros((int(ok.sum()), y.shape[1]), problem.dtype))
    inverse = np.linalg.pinv(a, hermitian=True)
    dof = max(y.shape[1] - params.shape[1], 1)
    variance = np.diagonal(inverse, axis1=1, axis2=2) * (cost[ok] / dof)[:, None]
    errors[ok] = np.sqrt(np.clip(variance, 0, None))
    return errors
