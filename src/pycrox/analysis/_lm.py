"""Batched Levenberg-Marquardt: many small least-squares problems solved at once with numpy.

Every row of ``y`` (shape ``(batch, n)``) is one problem with the same model and the same
``x``. One iteration evaluates the model for all active rows in one call, forms the P x P
normal equations with row-wise dot products, solves them with one batched
`numpy.linalg.solve`, and accepts or rejects each row's step on its own. Damping follows Nielsen's
rule (H. B. Nielsen, "Damping parameter in Marquardt's method", IMM-REP-1999-05), starting at
1 (Marquardt-scaled), which keeps poor starting values from being thrown far away. Rows that
converge leave the active set, so late iterations cost little.

The solver is invariant to the scale of every parameter: as MINPACK's ``lmder`` does, each
Jacobian column is scaled by the running maximum of its norm, and the damped normal equations
are solved for the scaled step (a parameter of size 1e11 next to one of size 2 is as well
conditioned as two of size 1). Complex models work on the real view of their values (real and
imaginary parts stacked as interleaved real residuals). Parameters are float64; the model and
the residuals use the problem's float type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from pycrox.errors import FitError

__all__ = [
    "CONVERGED",
    "FAILED",
    "MAX_ITER",
    "Problem",
    "covariance",
    "errors_from_normal",
    "solve",
    "solve_normal",
]

CONVERGED, MAX_ITER, FAILED = 0, 1, 2
#: damping of the (nearly) undamped Gauss-Newton step used by the convergence test
_RIDGE = 1e-12

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
    complex_values : bool
        The model (or the data) is complex: values are handed to the solver as their real view,
        ``(batch, 2 n)`` with real and imaginary parts interleaved.
    """

    x: Array
    function: Callable[..., Array]
    jacobian: Callable[..., tuple[Array, list[Array]]] | None
    scale: Array
    name: str = "model"
    complex_values: bool = False

    @property
    def dtype(self) -> np.dtype:
        """The working (real) float type."""
        return self.x.dtype

    @property
    def complex_dtype(self) -> np.dtype:
        """The complex type matching `dtype`."""
        return np.result_type(self.dtype, np.complex64)

    @property
    def size(self) -> int:
        """Real residuals per row: ``n``, or ``2 n`` for a complex problem."""
        return self.x.size * (2 if self.complex_values else 1)

    def with_dtype(self, dtype: np.dtype) -> Problem:
        """The same problem evaluated in another float type."""
        return Problem(
            self.x.astype(dtype), self.function, self.jacobian, self.scale, self.name, self.complex_values
        )

    def _columns(self, p: Array) -> list[Array]:
        work = p.astype(self.dtype)
        return [work[:, j : j + 1] for j in range(p.shape[1])]

    def _call(self, function: Callable, columns: list[Array]) -> object:
        try:
            with np.errstate(all="ignore"):
                return function(self.x, *columns)
        except Exception as exc:
            raise FitError(f"fit: model {self.name} raised {type(exc).__name__}: {exc}") from exc

    def _real(self, value: object, rows: int) -> Array:
        """``(rows, n)`` model output as the solver's real array (the real view if complex)."""
        out = np.asarray(value)
        if out.shape != (rows, self.x.size):
            try:
                out = np.broadcast_to(out, (rows, self.x.size))
            except ValueError:
                raise FitError(
                    f"fit: model {self.name} returned shape {out.shape} for {rows} parameter rows and "
                    f"{self.x.size} x values; expected {(rows, self.x.size)}"
                ) from None
        if self.complex_values:
            return np.ascontiguousarray(out, dtype=self.complex_dtype).view(self.dtype)
        if np.iscomplexobj(out):
            raise FitError(
                f"fit: model {self.name} returned complex values for real data; fit complex data, "
                "or return a real model"
            )
        return out.astype(self.dtype, copy=False)

    def _checked(self, value: object, rows: int) -> Array:
        shape = np.asarray(value).shape
        if shape != (rows, self.x.size):
            raise FitError(
                f"fit: model {self.name} returned shape {shape} for {rows} parameter rows and "
                f"{self.x.size} x values; expected {(rows, self.x.size)}"
            )
        return self._real(value, rows)

    def values(self, p: Array) -> Array:
        """Model values ``(batch, size)`` at float64 parameters ``p`` ``(batch, P)``."""
        return self._checked(self._call(self.function, self._columns(p)), p.shape[0])

    def values_and_jacobian(self, p: Array) -> tuple[Array, list[Array]]:
        """Model values and the list of P partial derivatives, each ``(batch, size)``."""
        if self.jacobian is None:
            value = self.values(p)
            return value, self.differences(p, value)
        joint, parts = cast(tuple[object, list[Array]], self._call(self.jacobian, self._columns(p)))
        rows = p.shape[0]
        return self._checked(joint, rows), [self._real(d, rows) for d in parts]

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
    return np.einsum("ij,ij->i", r, r, dtype=np.float64)


def _normal_equations(jac: list[Array], r: Array) -> tuple[Array, Array]:
    count = len(jac)
    a = np.empty((r.shape[0], count, count))
    g = np.empty((r.shape[0], count))
    for i in range(count):
        g[:, i] = np.einsum("ij,ij->i", jac[i], r)
        for j in range(i, count):
            a[:, i, j] = a[:, j, i] = np.einsum("ij,ij->i", jac[i], jac[j])
    return a, g


def _column_norms(a: Array) -> Array:
    """``sqrt(diag(A))`` per row: the norms of the Jacobian columns."""
    return np.sqrt(np.maximum(np.diagonal(a, axis1=1, axis2=2), 0.0))


def _damped_step(
    a: Array, g: Array, damping: Array, norms: Array, fixed: Array | None = None
) -> tuple[Array, Array]:
    """Scaled Marquardt step ``-(A + damping * D^2)^-1 g`` and the cost reduction it predicts.

    ``D`` (`norms`, ``(batch, P)``) scales every parameter by its Jacobian column norm, so the
    system solved, ``(D^-1 A D^-1 + damping I) (D step) = -D^-1 g``, has a unit diagonal
    whatever the parameters' magnitudes. Parameters marked in `fixed` (``(batch, P)`` bool: held
    at a bound) get a zero step.
    """
    count = a.shape[1]
    inverse = 1 / norms
    scaled_a = a * inverse[:, :, None] * inverse[:, None, :]
    scaled_g = g * inverse
    if fixed is not None and fixed.any():
        free = ~fixed
        scaled_a = (
            np.where(free[:, :, None] & free[:, None, :], scaled_a, 0) + np.eye(count) * fixed[:, :, None]
        )
        scaled_g = np.where(free, scaled_g, 0)
    augmented = scaled_a + np.eye(count) * damping[:, None, None]
    try:
        scaled_step = -np.linalg.solve(augmented, scaled_g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        scaled_step = -(np.linalg.pinv(augmented, hermitian=True) @ scaled_g[..., None])[..., 0]
    predicted = (damping[:, None] * scaled_step * scaled_step - scaled_g * scaled_step).sum(axis=1)
    return scaled_step * inverse, predicted


@dataclass
class _Active:
    """Arrays of the rows still iterating (compacted as rows finish).

    Only the normal equations (``A = J^T J``, ``g = J^T r``) of the current point are kept, not
    the Jacobian: compacting and accepting move P x P numbers per row instead of P x n.
    """

    rows: Array
    p: Array
    y: Array
    a: Array
    g: Array
    cost: Array
    damping: Array
    growth: Array

    def keep(self, mask: Array) -> _Active:
        return _Active(
            self.rows[mask],
            self.p[mask],
            self.y[mask],
            self.a[mask],
            self.g[mask],
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
    damping: float = 1.0,
) -> tuple[Array, Array, Array]:
    """Least-squares fit of every row of `y`, starting at `p0`, within ``[lower, upper]``.

    Parameters
    ----------
    problem : Problem
        Model, grid and Jacobian.
    y : numpy.ndarray
        ``(batch, problem.size)`` finite data in the working float type (the real view of
        complex data).
    p0 : numpy.ndarray
        ``(batch, P)`` float64 starting values (clipped into the bounds).
    lower, upper : numpy.ndarray
        ``(P,)`` bounds (``-inf`` / ``inf`` for none).
    max_iter : int, optional
        Most iterations per row.
    ftol, xtol : float, optional
        A row converges when the Gauss-Newton step from its current parameters would lower
        the cost by less than `ftol` (relative; the step is still taken if it lowers the cost,
        as MINPACK's last step is), or is below ``xtol * (|p| + xtol)`` for every parameter.
        Both measure the distance to the minimum (the normal equations are scaled), so a run
        of small damped steps along a flat valley does not stop a row early. A row also
        converges when a rejected step moves no parameter by more than that (no descent left
        at this precision, as MINPACK's test on its trust region).
    damping : float, optional
        Starting damping (relative to the scaled diagonal); small values suit starts that are
        already close to the minimum.

    Returns
    -------
    params : numpy.ndarray
        ``(batch, P)`` float64.
    cost : numpy.ndarray
        ``(batch,)`` sum of squared residuals.
    status : numpy.ndarray
        ``(batch,)`` int8: CONVERGED, MAX_ITER or FAILED (non-finite model values at the start,
        or no step lowers the cost however strongly damped).
    """
    params, cost, status, _ = solve_normal(
        problem, y, p0, lower, upper, max_iter=max_iter, ftol=ftol, xtol=xtol, damping=damping
    )
    return params, cost, status


def solve_normal(
    problem: Problem,
    y: Array,
    p0: Array,
    lower: Array,
    upper: Array,
    *,
    max_iter: int = 200,
    ftol: float = 1.5e-8,
    xtol: float = 1.5e-8,
    damping: float = 1.0,
    last_step: bool = True,
) -> tuple[Array, Array, Array, Array]:
    """`solve`, also returning the normal matrices ``J^T J`` ``(batch, P, P)`` at the result.

    They give the standard errors without another model evaluation (`errors_from_normal`);
    NaN for rows that failed at the start. ``last_step=False`` stops a row that passes the
    `ftol` test where it is, without taking (and checking) the last Gauss-Newton step: for a
    first pass in float32 that a float64 pass polishes.
    """
    params = np.clip(np.asarray(p0, np.float64), lower, upper)
    count = params.shape[1]
    cost_out = np.full(y.shape[0], np.nan)
    normal = np.full((y.shape[0], count, count), np.nan)
    status = np.full(y.shape[0], MAX_ITER, np.int8)
    joint = problem.jacobian is not None
    value, jac = problem.values_and_jacobian(params)
    r = value - y
    cost = _sum_squares(r)
    good = np.isfinite(cost) & np.isfinite(params).all(axis=1)
    status[~good] = FAILED
    cost_out[~good] = cost[~good]
    a, g = _normal_equations(jac, r)
    ones = np.ones(y.shape[0])
    state = _Active(np.arange(y.shape[0]), params.copy(), y, a, g, cost, damping * ones, 2 * ones).keep(good)
    out = (params, cost_out, status, normal)
    for _ in range(max_iter):
        if state.rows.size == 0:
            break
        norms = _column_norms(state.a)
        norms = np.where(np.isfinite(norms) & (norms > 0), norms, 1.0)
        fixed = ((state.p <= lower) & (state.g > 0)) | ((state.p >= upper) & (state.g < 0))  # at a bound
        # converged: the Gauss-Newton step from the current point is negligible, or removes less
        # than ftol of the cost (then it is still taken below, if it lowers the cost). Both test
        # the distance to the minimum, not the progress of the last (perhaps heavily damped)
        # step, so a slow walk along a flat valley does not stop a row.
        newton, reduction = _damped_step(state.a, state.g, np.full(state.rows.size, _RIDGE), norms, fixed)
        small = (np.abs(newton) <= xtol * (np.abs(state.p) + xtol)).all(axis=1) | (state.cost == 0)
        if not last_step:
            small |= reduction <= ftol * state.cost
        if small.any():
            _finish(out, state, small, CONVERGED)
            keep = ~small
            state, norms, fixed, reduction = state.keep(keep), norms[keep], fixed[keep], reduction[keep]
            if state.rows.size == 0:
                break
        final = reduction <= ftol * state.cost
        step, predicted = _damped_step(state.a, state.g, np.where(final, _RIDGE, state.damping), norms, fixed)
        trial = np.clip(state.p + step, lower, upper)
        if joint:
            value, trial_jac = problem.values_and_jacobian(trial)
        else:
            value, trial_jac = problem.values(trial), None
        trial_r = value - state.y
        trial_cost = _sum_squares(trial_r)
        ratio = (state.cost - trial_cost) / np.where(predicted > 0, predicted, np.inf)
        better = np.where(final, trial_cost <= state.cost, (ratio > 1e-4) & (trial_cost < state.cost))
        # as MINPACK's xtol test on its trust region: a rejected step that no longer moves any
        # parameter by more than xtol means no descent is left at this precision
        final |= ~better & (np.abs(trial - state.p) <= xtol * (np.abs(state.p) + xtol)).all(axis=1)
        _accept(problem, state, better, trial, trial_r, trial_cost, trial_jac, value)
        state.adapt(better, ratio)
        if final.any():
            _finish(out, state, final, CONVERGED)
            state = state.keep(~final)
        stuck = state.damping > 1e16
        if stuck.any():
            _finish(out, state, stuck, FAILED)
            state = state.keep(~stuck)
    _finish(out, state, np.ones(state.rows.size, bool), MAX_ITER)
    return out


def _finish(out: tuple[Array, Array, Array, Array], state: _Active, rows: Array, code: int) -> None:
    """Write the result of the active rows marked in `rows` into `out` (in place)."""
    params, cost, status, normal = out
    index = state.rows[rows]
    params[index] = state.p[rows]
    cost[index] = state.cost[rows]
    status[index] = code
    normal[index] = state.a[rows]


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
        jac = trial_jac if trial_jac is not None else problem.differences(trial, value)
        state.p, state.cost = trial, trial_cost
        state.a, state.g = _normal_equations(jac, trial_r)
        return
    if trial_jac is not None:
        a, g = _normal_equations([j[better] for j in trial_jac], trial_r[better])
    else:
        a, g = _normal_equations(problem.differences(trial[better], value[better]), trial_r[better])
    state.p = np.where(better[:, None], trial, state.p)
    state.cost = np.where(better, trial_cost, state.cost)
    state.a = state.a.copy()
    state.g = state.g.copy()
    state.a[better] = a
    state.g[better] = g


def errors_from_normal(normal: Array, cost: Array, size: int) -> Array:
    """Standard errors ``(batch, P)`` from normal matrices ``J^T J``, as `scipy.optimize.curve_fit`.

    ``sqrt(diag(pinv(J^T J)) * cost / (size - P))`` (absolute_sigma=False). The matrix is
    scaled to unit diagonal before its pseudo-inverse, so a parameter of size 1e11 beside one
    of size 1 is not cut off as numerically singular.
    """
    count = normal.shape[1]
    errors = np.full(normal.shape[:2], np.nan)
    ok = np.isfinite(normal).all(axis=(1, 2)) & np.isfinite(cost)
    if not ok.any():
        return errors
    a = normal[ok]
    norms = _column_norms(a)
    norms = np.where(norms > 0, norms, 1.0)
    inverse = np.linalg.pinv(a / (norms[:, :, None] * norms[:, None, :]), hermitian=True)
    dof = max(size - count, 1)
    variance = np.diagonal(inverse, axis1=1, axis2=2) / norms**2 * (cost[ok] / dof)[:, None]
    errors[ok] = np.sqrt(np.clip(variance, 0, None))
    return errors


def covariance(problem: Problem, y: Array, params: Array, cost: Array) -> Array:
    """Standard errors ``(batch, P)`` as `scipy.optimize.curve_fit` gives them (absolute_sigma=False).

    Evaluates the Jacobian at `params`; see `errors_from_normal`.
    """
    ok = np.isfinite(params).all(axis=1) & np.isfinite(cost)
    normal = np.full((params.shape[0], params.shape[1], params.shape[1]), np.nan)
    if ok.any():
        _, jac = problem.values_and_jacobian(params[ok])
        normal[ok], _ = _normal_equations(jac, np.zeros((int(ok.sum()), y.shape[1]), problem.dtype))
    return errors_from_normal(normal, cost, y.shape[1])
