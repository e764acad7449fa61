"""Arguments of `pycrox.analysis.fitting.fit`: the fit dim, model, bounds and starting values.

Each helper turns one keyword into what the solver needs, or raises `FitError` (or
`DimensionError`) saying what was given and what is expected.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from pycrox.analysis._dims import resolve_dims
from pycrox.analysis.models import FitError, FitWarning, Model, from_function, get
from pycrox.errors import DimensionError

__all__ = ["bounds_of", "check_broadcasting", "describe", "fit_dim", "grid", "resolve_model", "starts"]


def fit_dim(da: xr.DataArray, dim: Hashable | None) -> Hashable:
    dims = resolve_dims(da, dim, default_type="SPECTRAL", func="fit")
    if len(dims) != 1:
        raise DimensionError(f"fit: fits run along one dim, got {list(dims)}")
    return dims[0]


def grid(da: xr.DataArray, axis: Hashable) -> np.ndarray:
    if axis not in da.coords:
        return np.arange(da.sizes[axis], dtype=np.float64)
    values = np.asarray(da.coords[axis].values)
    if not np.issubdtype(values.dtype, np.number) or not np.isfinite(values.astype(np.float64)).all():
        raise DimensionError(f"fit: the coordinate of {axis!r} must be finite numbers to serve as x")
    return values.astype(np.float64)


def resolve_model(model: Any) -> Model:
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return get(model)
    if callable(model):
        return from_function(model)
    raise FitError(f"fit: model must be a built-in name, a pycrox Model or a function, not {model!r}")


def _vector(values: Any, params: tuple[str, ...], what: str) -> np.ndarray:
    """One float per parameter from a sequence or a ``{name: value}`` mapping."""
    if isinstance(values, Mapping):
        missing = [p for p in params if p not in values]
        unknown = [k for k in values if k not in params]
        if missing or unknown:
            raise FitError(
                f"fit: {what} must name every parameter of {list(params)}; "
                f"missing {missing}, unknown {unknown}"
            )
        values = [values[p] for p in params]
    try:
        out = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise FitError(f"fit: {what} must hold numbers, got {values!r}") from None
    if out.size != len(params):
        raise FitError(f"fit: {what} has {out.size} values for the {len(params)} parameters {list(params)}")
    return out


def bounds_of(bounds: Any, params: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    count = len(params)
    if bounds is None:
        return np.full(count, -np.inf), np.full(count, np.inf)
    if isinstance(bounds, Mapping):
        unknown = [k for k in bounds if k not in params]
        if unknown:
            raise FitError(f"fit: bounds name unknown parameters {unknown}; the model has {list(params)}")
        pairs = [bounds.get(p, (-np.inf, np.inf)) for p in params]
        lower, upper = (
            _vector([a for a, _ in pairs], params, "bounds"),
            _vector([b for _, b in pairs], params, "bounds"),
        )
    else:
        try:
            low, high = bounds
        except (TypeError, ValueError):
            raise FitError("fit: bounds must be {name: (low, high)} or (lower, upper)") from None
        lower = np.broadcast_to(np.asarray(low, np.float64), (count,)).copy()
        upper = np.broadcast_to(np.asarray(high, np.float64), (count,)).copy()
    if np.any(lower >= upper) or np.isnan(lower).any() or np.isnan(upper).any():
        raise FitError(f"fit: every lower bound must be below its upper bound, got {lower} and {upper}")
    return lower, upper


def starts(
    p0: Any, guess: Any, spec: Model
) -> tuple[np.ndarray | None, xr.DataArray | None, Callable | None]:
    """(constant starting values, per-pixel starting values, guess function)."""
    if p0 is not None and guess is not None and not (isinstance(guess, str) and guess == "kmeans"):
        raise FitError("fit: give p0 or guess, not both (p0 may seed guess='kmeans')")
    if p0 is None and guess is not None and not isinstance(guess, str) and not callable(guess):
        p0, guess = guess, None  # constant guesses act like p0
    constant, per_pixel = None, None
    if isinstance(p0, Mapping) and any(isinstance(v, xr.DataArray) for v in p0.values()):
        per_pixel = _per_pixel_start(p0, spec.params)
    elif p0 is not None:
        constant = _vector(p0, spec.params, "p0")
    if guess is None or guess == "kmeans":
        return constant, per_pixel, spec.guess if constant is None and per_pixel is None else None
    if guess == "auto":
        if spec.guess is None:
            raise FitError(f"fit: model {spec.name} has no automatic guess; pass p0= or guess=callable")
        return None, None, spec.guess
    if callable(guess):
        return None, None, guess
    raise FitError(f"fit: guess must be None, 'auto', 'kmeans', a function or numbers, not {guess!r}")


def _per_pixel_start(p0: Mapping[str, Any], params: tuple[str, ...]) -> xr.DataArray:
    missing = [p for p in params if p not in p0]
    if missing:
        raise FitError(f"fit: p0 must name every parameter of {list(params)}; missing {missing}")
    columns = [
        xr.DataArray(p0[p]) if not isinstance(p0[p], xr.DataArray) else p0[p].drop_attrs() for p in params
    ]
    return xr.concat(xr.broadcast(*columns), dim="parameter").transpose(..., "parameter").astype(np.float64)


def check_broadcasting(spec: Model, x: np.ndarray, constant: np.ndarray | None) -> Model:
    """`spec` if it broadcasts over pixels; else a per-pixel version (FitWarning); FitError if broken."""
    probe = np.ones(len(spec.params)) if constant is None else constant
    columns = [np.full((2, 1), v, x.dtype) for v in probe]
    try:
        with np.errstate(all="ignore"):
            shape = np.shape(spec.function(x, *columns))
    except Exception as exc:  # noqa: BLE001 - any failure means "does not broadcast"
        shape = f"{type(exc).__name__}: {exc}"
    if shape == (2, x.size):
        return spec
    try:
        with np.errstate(all="ignore"):
            single = np.shape(spec.function(x, *[float(v) for v in probe]))
    except Exception as exc:
        raise FitError(
            f"fit: model {spec.name} raised {type(exc).__name__}: {exc} when called as "
            f"f(x, {', '.join(spec.params)}) with x of shape {x.shape}"
        ) from exc
    if single != x.shape:
        raise FitError(
            f"fit: model {spec.name} returned shape {single} for x of shape {x.shape}; "
            "it must return one value per x"
        )
    warnings.warn(
        f"fit: model {spec.name} does not broadcast over pixels (parameters of shape (pixels, 1) "
        f"gave {shape}); fitting pixel by pixel, which is much slower. Write it with numpy "
        "operations (np.exp, not math.exp; no if on parameters)",
        FitWarning,
        stacklevel=3,
    )
    return replace(spec, function=_pixel_by_pixel(spec.function))


def _pixel_by_pixel(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def looped(x: np.ndarray, *columns: np.ndarray) -> np.ndarray:
        rows = range(np.shape(columns[0])[0])
        return np.stack([np.asarray(function(x, *(float(c[i, 0]) for c in columns))) for i in rows])

    return looped


def describe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): "per-pixel" if isinstance(v, xr.DataArray) else v for k, v in value.items()}
    return value
