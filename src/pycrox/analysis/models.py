"""Built-in fit models with analytic Jacobians, automatic starting values and parameter units.

A model evaluates ``f(x, *params)`` for many pixels at once: `x` has shape ``(n,)`` and every
parameter shape ``(batch, 1)``, the result shape ``(batch, n)``. Names accepted by
`pycrox.analysis.fitting.fit`: ``"gaussian"``, ``"lorentzian"``, ``"voigt"`` (each also with
``"_offset"``: plus a constant), ``"polynomial"`` (degree 2) or ``"polynomial<d>"``,
``"linear"``, ``"exponential"`` and ``"powerlaw"``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.ndimage
import scipy.special

from pycrox import units
from pycrox.errors import FitError, FitWarning, UnitError

__all__ = [
    "BUILTIN",
    "FitError",
    "FitWarning",
    "Model",
    "Normalised",
    "exponential",
    "from_function",
    "gaussian",
    "get",
    "lorentzian",
    "polynomial",
    "powerlaw",
    "voigt",
    "with_offset",
]

Array = np.ndarray


@dataclass(frozen=True)
class Normalised:
    """A model's own function on a normalised grid, and how its parameters map to the model's.

    Fitting ``f(x_normalised, *q)`` with ``q = to_work(p)`` gives the same curves as
    ``f(x, *p)``; the solver works on the normalised problem, where the Jacobian columns are
    far less correlated (a power law on 380-450 eV divided by their geometric mean), and maps
    back.

    Attributes
    ----------
    x : numpy.ndarray
        ``(n,)`` normalised grid.
    to_work, to_model : callable
        ``(batch, P) -> (batch, P)`` model parameters to working parameters and back.
    derivative : callable
        ``(batch, P)`` model parameters -> ``(batch, P, P)`` ``d(work) / d(model)``, which turns
        the working normal matrix ``A'`` into the model's, ``M^T A' M``.
    signed : tuple of int
        Parameters whose working value is the model value times a positive factor: their
        bounds carry over when they are 0 or infinite (else the fit runs unnormalised). The
        other parameters map to themselves.
    """

    x: Array
    to_work: Callable[[Array], Array]
    to_model: Callable[[Array], Array]
    derivative: Callable[[Array], Array]
    signed: tuple[int, ...] = ()


@dataclass(frozen=True)
class Model:
    """A fit model: a broadcasting function plus what pycrox knows about its parameters.

    Attributes
    ----------
    name : str
        Shown in results and messages.
    params : tuple of str
        Parameter names, in the order the function takes them after `x`.
    function : callable
        ``f(x, *params) -> (batch, n)``.
    jacobian : callable, optional
        ``(x, *params) -> (f, [df/dp for p in params])``; None: finite differences.
    guess : callable, optional
        ``(x, y) -> (batch, len(params))`` starting values from data ``y`` of shape ``(batch, n)``.
    powers : mapping, optional
        ``{param: (power of x units, power of data units)}``; a parameter left out has no units.
    normalise : callable, optional
        ``normalise(x) -> Normalised or None``: the same model on a normalised grid, with the
        map between its parameters and these (see `Normalised`); the solver works there.
    """

    name: str
    params: tuple[str, ...]
    function: Callable[..., Array]
    jacobian: Callable[..., tuple[Array, list[Array]]] | None = None
    guess: Callable[[Array, Array], Array] | None = None
    powers: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    normalise: Callable[[Array], Normalised | None] | None = None

    def __call__(self, x: Array, *params: Any) -> Array:
        """Evaluate the model."""
        return self.function(x, *params)

    def parameter_units(self, x_units: str, x_quantity: str, y_units: str, y_quantity: str) -> dict[str, str]:
        """Units of every parameter from the units of `x` and of the data (``""`` when unknown)."""
        out = dict.fromkeys(self.params, "")
        for name, powers in self.powers.items():
            if powers in ((1, 0), (0, 1)):  # keep the spelling the signal already uses
                out[name] = x_units if powers == (1, 0) else y_units
                continue
            try:
                unit = units.ureg.dimensionless
                for text, quantity, power in (
                    (x_units, x_quantity, powers[0]),
                    (y_units, y_quantity, powers[1]),
                ):
                    if power:
                        unit = unit * units.parse(text, quantity) ** power
                out[name] = units.format(unit)
            except UnitError:
                out[name] = ""
        return out


# --- peaks ---------------------------------------------------------------------------------------


def _gaussian(x: Array, amplitude: Array, center: Array, sigma: Array) -> Array:
    return amplitude * np.exp(-0.5 * ((x - center) / sigma) ** 2)


def _gaussian_jacobian(x: Array, amplitude: Array, center: Array, sigma: Array) -> tuple[Array, list[Array]]:
    inverse = 1 / (sigma * sigma)
    d = x - center
    shape = np.exp(d * d * (-0.5 * inverse))
    value = amplitude * shape
    d_center = value * d * inverse
    return value, [shape, d_center, d_center * d / sigma]


def _lorentzian(x: Array, amplitude: Array, center: Array, gamma: Array) -> Array:
    return amplitude * gamma**2 / ((x - center) ** 2 + gamma**2)


def _lorentzian_jacobian(
    x: Array, amplitude: Array, center: Array, gamma: Array
) -> tuple[Array, list[Array]]:
    d = x - center
    inverse = 1 / (d * d + gamma * gamma)
    shape = gamma * gamma * inverse
    value = amplitude * shape
    d_center = 2 * value * d * inverse
    return value, [shape, d_center, d_center * d / gamma]


_SQRT2 = np.sqrt(2.0)
_SQRT2PI = np.sqrt(2 * np.pi)


def _voigt(x: Array, area: Array, center: Array, sigma: Array, gamma: Array) -> Array:
    z = ((x - center) + 1j * gamma) / (sigma * _SQRT2)
    return area * scipy.special.wofz(z).real / (sigma * _SQRT2PI)


def _voigt_jacobian(
    x: Array, area: Array, center: Array, sigma: Array, gamma: Array
) -> tuple[Array, list[Array]]:
    scale = 1 / (sigma * _SQRT2)
    z = ((x - center) + 1j * gamma) * scale
    w = scipy.special.wofz(z)
    norm = 1 / (sigma * _SQRT2PI)
    shape = w.real * norm
    dw = (-2 * z * w + 2j / np.sqrt(np.pi)) * (area * norm)  # area * norm * dw/dz
    d_center = -(dw.real * scale)
    d_gamma = -(dw.imag * scale)
    d_sigma = -(dw * z).real / sigma - area * shape / sigma
    return area * shape, [shape, d_center, d_sigma, d_gamma]


def _peak_features(x: Array, y: Array, baseline: Array) -> tuple[Array, Array, Array]:
    """Signed height above `baseline`, position and full width at half maximum of the main peak."""
    width = max(1, y.shape[1] // 64) * 2 + 1
    smooth: np.ndarray = scipy.ndimage.uniform_filter1d(
        np.asarray(y, np.float64), width, axis=1, mode="nearest"
    )
    above = smooth - baseline[:, None]
    rows = np.arange(y.shape[0])
    top, bottom = above.argmax(axis=1), above.argmin(axis=1)
    up = above[rows, top] >= -above[rows, bottom]
    index = np.where(up, top, bottom)
    height = above[rows, index]
    step = float(np.abs(np.diff(x)).mean()) if x.size > 1 else 1.0
    count = (above * np.sign(height)[:, None] > np.abs(height)[:, None] / 2).sum(axis=1)
    return height, x[index].astype(np.float64), np.maximum(count, 2) * step


def _edge_baseline(y: Array) -> Array:
    edge = max(1, y.shape[1] // 10)
    left, right = y[:, :edge].mean(axis=1, dtype=np.float64), y[:, -edge:].mean(axis=1, dtype=np.float64)
    middle = y[:, edge:-edge] if y.shape[1] > 2 * edge else y
    peak_up = middle.max(axis=1) - np.maximum(left, right) >= np.minimum(left, right) - middle.min(axis=1)
    return np.where(peak_up, np.minimum(left, right), np.maximum(left, right))


def _peak_guess(kind: str) -> Callable[[Array, Array], Array]:
    def guess(x: Array, y: Array) -> Array:
        height, center, fwhm = _peak_features(x, y, np.zeros(y.shape[0]))
        return _peak_start(kind, height, center, fwhm)

    return guess


def _peak_start(kind: str, height: Array, center: Array, fwhm: Array) -> Array:
    if kind == "gaussian":
        return np.stack([height, center, fwhm / (2 * np.sqrt(2 * np.log(2)))], axis=1)
    if kind == "lorentzian":
        return np.stack([height, center, fwhm / 2], axis=1)
    return np.stack([height * fwhm * 1.3, center, fwhm / 3.6, fwhm / 3.6], axis=1)


gaussian = Model(
    "gaussian",
    ("amplitude", "center", "sigma"),
    _gaussian,
    _gaussian_jacobian,
    _peak_guess("gaussian"),
    {"amplitude": (0, 1), "center": (1, 0), "sigma": (1, 0)},
)
lorentzian = Model(
    "lorentzian",
    ("amplitude", "center", "gamma"),
    _lorentzian,
    _lorentzian_jacobian,
    _peak_guess("lorentzian"),
    {"amplitude": (0, 1), "center": (1, 0), "gamma": (1, 0)},
)
voigt = Model(
    "voigt",
    ("area", "center", "sigma", "gamma"),
    _voigt,
    _voigt_jacobian,
    _peak_guess("voigt"),
    {"area": (1, 1), "center": (1, 0), "sigma": (1, 0), "gamma": (1, 0)},
)


def with_offset(model: Model) -> Model:
    """`model` plus a constant ``offset`` (in the data units), e.g. ``gaussian_offset``."""

    def function(x: Array, *params: Any) -> Array:
        return model.function(x, *params[:-1]) + params[-1]

    def jacobian(x: Array, *params: Any) -> tuple[Array, list[Array]]:
        value, parts = model.jacobian(x, *params[:-1])  # type: ignore[misc]
        return value + params[-1], [*parts, np.broadcast_to(np.ones(1, value.dtype), value.shape)]

    def guess(x: Array, y: Array) -> Array:
        baseline = _edge_baseline(y)
        height, center, fwhm = _peak_features(x, y, baseline)
        return np.column_stack([_peak_start(model.name, height, center, fwhm), baseline])

    return Model(
        f"{model.name}_offset",
        (*model.params, "offset"),
        function,
        jacobian if model.jacobian is not None else None,
        guess,
        {**model.powers, "offset": (0, 1)},
    )


# --- polynomial, exponential, power law -----------------------------------------------------------


def polynomial(degree: int) -> Model:
    """``c0 + c1 x + ... + c<degree> x**degree``; coefficient ``c<k>`` in data units / x units**k."""
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or not 0 <= degree <= 20:
        raise FitError(f"fit: a polynomial degree must be an integer from 0 to 20, not {degree!r}")
    names = tuple(f"c{k}" for k in range(degree + 1))

    def function(x: Array, *coefficients: Any) -> Array:
        value = coefficients[-1] * np.ones_like(x)
        for c in coefficients[-2::-1]:
            value = value * x + c
        return value

    def jacobian(x: Array, *coefficients: Any) -> tuple[Array, list[Array]]:
        shape = np.broadcast_shapes(x.shape, *(np.shape(c) for c in coefficients))
        return function(x, *coefficients), [np.broadcast_to(x**k, shape) for k in range(degree + 1)]

    def guess(x: Array, y: Array) -> Array:
        vandermonde = np.vander(x.astype(np.float64), degree + 1, increasing=True)
        return np.asarray(y, np.float64) @ np.linalg.pinv(vandermonde).T

    powers = {name: (-k, 1) for k, name in enumerate(names)}
    return Model(f"polynomial{degree}", names, function, jacobian, guess, powers)


def _exponential(x: Array, amplitude: Array, decay: Array) -> Array:
    return amplitude * np.exp(-x / decay)


def _exponential_jacobian(x: Array, amplitude: Array, decay: Array) -> tuple[Array, list[Array]]:
    shape = np.exp(-x / decay)
    value = amplitude * shape
    return value, [shape, value * x / (decay * decay)]


def _log_linear(u: Array, y: Array) -> tuple[Array, Array]:
    """Slope and intercept of ``log(y)`` against `u`, per row, over the points with ``y > 0``."""
    y = np.asarray(y, np.float64)
    weight = ((y > 0) & np.isfinite(u)).astype(np.float64)
    u = np.where(np.isfinite(u), u, 0.0)
    logs = np.log(np.where(y > 0, y, 1.0))
    count = np.maximum(weight.sum(axis=1), 1)
    mean_u, mean_l = (weight * u).sum(axis=1) / count, (weight * logs).sum(axis=1) / count
    du = u - mean_u[:, None]
    slope = (weight * du * (logs - mean_l[:, None])).sum(axis=1) / np.maximum(
        (weight * du * du).sum(axis=1), 1e-300
    )
    return slope, mean_l - slope * mean_u


def _exponential_guess(x: Array, y: Array) -> Array:
    slope, intercept = _log_linear(x.astype(np.float64), y)
    span = float(np.ptp(x)) or 1.0
    decay = np.where(slope < -1e-12, -1 / np.minimum(slope, -1e-12), 10 * span)
    return np.stack([np.exp(intercept), decay], axis=1)


def _powerlaw(x: Array, amplitude: Array, exponent: Array) -> Array:
    return amplitude * x ** (-exponent)


def _powerlaw_jacobian(x: Array, amplitude: Array, exponent: Array) -> tuple[Array, list[Array]]:
    shape = x ** (-exponent)
    value = amplitude * shape
    return value, [shape, -value * np.log(x)]


def _powerlaw_guess(x: Array, y: Array) -> Array:
    with np.errstate(divide="ignore", invalid="ignore"):
        slope, intercept = _log_linear(np.log(x.astype(np.float64)), y)
    return np.stack([np.exp(intercept), -slope], axis=1)


def _exponential_normalised(x: Array) -> Normalised | None:
    """``amplitude exp(-x / decay)`` on ``x - mean(x)``: amplitude at the middle of the grid."""
    shift = float(np.mean(x))

    def factor(p: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.exp(-shift / p[:, 1])

    def to_work(p: Array) -> Array:
        return np.stack([p[:, 0] * factor(p), p[:, 1]], axis=1)

    def to_model(q: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.stack([q[:, 0] * np.exp(shift / q[:, 1]), q[:, 1]], axis=1)

    def derivative(p: Array) -> Array:
        out = np.zeros((p.shape[0], 2, 2))
        with np.errstate(all="ignore"):
            out[:, 0, 0] = factor(p)
            out[:, 0, 1] = p[:, 0] * factor(p) * shift / p[:, 1] ** 2
        out[:, 1, 1] = 1.0
        return out

    return Normalised(x - np.asarray(shift, x.dtype), to_work, to_model, derivative, signed=(0,))


def _powerlaw_normalised(x: Array) -> Normalised | None:
    """``amplitude x**-exponent`` on ``x / geometric_mean(x)``: amplitude at the middle of the grid."""
    if not (np.all(x > 0) and np.all(np.isfinite(x))):
        return None
    log_scale = float(np.mean(np.log(x.astype(np.float64))))

    def to_work(p: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.stack([p[:, 0] * np.exp(-p[:, 1] * log_scale), p[:, 1]], axis=1)

    def to_model(q: Array) -> Array:
        with np.errstate(all="ignore"):
            return np.stack([q[:, 0] * np.exp(q[:, 1] * log_scale), q[:, 1]], axis=1)

    def derivative(p: Array) -> Array:
        out = np.zeros((p.shape[0], 2, 2))
        with np.errstate(all="ignore"):
            factor = np.exp(-p[:, 1] * log_scale)
            out[:, 0, 0] = factor
            out[:, 0, 1] = -p[:, 0] * factor * log_scale
        out[:, 1, 1] = 1.0
        return out

    work = (x.astype(np.float64) / np.exp(log_scale)).astype(x.dtype)
    return Normalised(work, to_work, to_model, derivative, signed=(0,))


exponential = Model(
    "exponential",
    ("amplitude", "decay"),
    _exponential,
    _exponential_jacobian,
    _exponential_guess,
    {"amplitude": (0, 1), "decay": (1, 0)},
    _exponential_normalised,
)
powerlaw = Model(
    "powerlaw",
    ("amplitude", "exponent"),
    _powerlaw,
    _powerlaw_jacobian,
    _powerlaw_guess,
    {"exponent": (0, 0)},
    _powerlaw_normalised,
)

#: built-in models by name (``polynomial<d>`` is built on demand)
BUILTIN: dict[str, Model] = {
    m.name: m
    for m in (
        gaussian,
        lorentzian,
        voigt,
        exponential,
        powerlaw,
        with_offset(gaussian),
        with_offset(lorentzian),
        with_offset(voigt),
        polynomial(2),
    )
}
BUILTIN["polynomial"] = BUILTIN["polynomial2"]
BUILTIN["linear"] = polynomial(1)


def get(name: str) -> Model:
    """The built-in model called `name` (see the module docstring for the names).

    Raises
    ------
    FitError
        For an unknown name; the message lists the known ones.
    """
    key = name.strip().lower()
    match = re.fullmatch(r"polynomial(\d+)", key)
    if match:
        return polynomial(int(match.group(1)))
    if key not in BUILTIN:
        raise FitError(
            f"fit: unknown model {name!r}; built-in models are {sorted(BUILTIN)} and 'polynomial<d>'"
        )
    return BUILTIN[key]


def from_function(function: Callable[..., Array], names: Sequence[str] | None = None) -> Model:
    """A model from a Python function ``f(x, p1, p2, ...)`` or ``f(x, *p)``.

    Parameters
    ----------
    function : callable
        The model.
    names : sequence of str, optional
        Parameter names; required for ``f(x, *p)``. Without them the names come from the
        signature.

    Raises
    ------
    FitError
        If the signature has no parameter after `x`, takes ``*args`` / ``**kwargs`` without
        `names`, or takes a different number of parameters than `names` gives.
    """
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        if names is not None:  # a ufunc or a C function: trust the names
            return Model(_name(function), tuple(names), function)
        raise FitError(f"fit: cannot read the parameters of model {function!r}: {exc}") from None
    if names is not None:
        _check_count(function, signature, len(names))
        return Model(_name(function), tuple(names), function)
    kinds = [p.kind for p in signature.parameters.values()]
    if inspect.Parameter.VAR_POSITIONAL in kinds or inspect.Parameter.VAR_KEYWORD in kinds:
        raise FitError(
            f"fit: model {_name(function)} takes *args or **kwargs; give its parameters names, "
            "f(x, a, b, ...), or pass params=('a', 'b', ...) or n_params=N"
        )
    names = tuple(signature.parameters)[1:]
    if not names:
        raise FitError(f"fit: model {_name(function)} has no parameter after x; it must be f(x, p1, p2, ...)")
    return Model(_name(function), names, function)


def _check_count(function: Callable[..., Array], signature: inspect.Signature, count: int) -> None:
    """FitError unless `function` can take `x` and `count` positional parameters."""
    positional = [
        p
        for p in signature.parameters.values()
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    variadic = any(p.kind == inspect.Parameter.VAR_POSITIONAL for p in signature.parameters.values())
    required = sum(p.default is inspect.Parameter.empty for p in positional)
    if count + 1 < required or (not variadic and count + 1 > len(positional)):
        raise FitError(
            f"fit: model {_name(function)} takes {len(positional) - 1} parameters after x"
            f"{' (or more)' if variadic else ''} but {count} names were given"
        )


def _name(function: Any) -> str:
    return str(getattr(function, "__name__", None) or repr(function))
