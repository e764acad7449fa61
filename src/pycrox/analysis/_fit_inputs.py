"""Arguments of `pycrox.analysis.fitting.fit`: the fit dim, model, bounds and starting values.

Each helper turns one keyword into what the solver needs, or raises `FitError` (or
`DimensionError`) saying what was given and what is expected.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import xarray as xr

from pycrox.analysis._dims import resolve_dims
from pycrox.analysis.models import FitError, FitWarning, Model, from_function, get
from pycrox.errors import DimensionError

__all__ = [
    "bounds_of",
    "check_broadcasting",
    "check_names",
    "describe",
    "fit_dim",
    "grid",
    "parameter_names",
    "r2_threshold",
    "resolve_model",
    "starts",
]

#: result variables a parameter must not be called
RESERVED = ("r2", "converged", "fit")


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


def resolve_model(model: Any, params: Sequence[str] | None = None, n_params: int | None = None) -> Model:
    names = parameter_names(params, n_params)
    if names is not None and (isinstance(model, (Model, str)) or not callable(model)):
        raise FitError(
            "fit: params= and n_params= name the parameters of a function model f(x, *p); "
            f"model {getattr(model, 'name', model)!r} names its own"
        )
    if isinstance(model, Model):
        spec = model
    elif isinstance(model, str):
        spec = get(model)
    elif callable(model):
        spec = from_function(model, names)
    else:
        raise FitError(f"fit: model must be a built-in name, a pycrox Model or a function, not {model!r}")
    clash = [p for p in spec.params if p in RESERVED or p.endswith("_error")]
    if clash:
        raise FitError(
            f"fit: parameter names {clash} clash with the result variables {list(RESERVED)} and "
            "'<name>_error'; rename them (params=...)"
        )
    return spec


def check_names(spec: Model, da: xr.DataArray, axis: Hashable, curve: bool) -> None:
    """FitError if a parameter name is also a coordinate or dim the result keeps."""
    kept = {name for name, coord in da.coords.items() if axis not in coord.dims or curve}
    kept |= {d for d in da.dims if d != axis or curve}
    clash = [p for p in spec.params if p in kept]
    if clash:
        raise FitError(
            f"fit: parameter names {clash} are also coordinates or dims of the result"
            f"{' (return_curve keeps ' + repr(axis) + ')' if curve and axis in clash else ''}; "
            "rename the parameters with params=(...)"
        )


def parameter_names(params: Sequence[str] | None, n_params: int | None) -> tuple[str, ...] | None:
    """Parameter names from ``params=`` or ``n_params=`` (``c0``, ``c1``, ...), or None."""
    if params is not None and n_params is not None:
        raise FitError("fit: give params= (names) or n_params= (a count), not both")
    if n_params is not None:
        if isinstance(n_params, bool) or not isinstance(n_params, int | np.integer) or n_params < 1:
            raise FitError(f"fit: n_params must be a positive integer, not {n_params!r}")
        return tuple(f"c{k}" for k in range(int(n_params)))
    if params is None:
        return None
    if isinstance(params, str):
        raise FitError(f"fit: params must be a sequence of names, e.g. ('a', 'b'), not the string {params!r}")
    names = tuple(params)
    if not names or not all(isinstance(n, str) and n.isidentifier() for n in names):
        raise FitError(f"fit: params must be non-empty Python identifiers, got {list(names)}")
    if len(set(names)) != len(names):
        raise FitError(f"fit: params must be distinct, got {list(names)}")
    return names


def r2_threshold(min_r2: Any) -> float | None:
    """`min_r2` as a float (None stays None)."""
    if min_r2 is None:
        return None
    try:
        value = float(min_r2)
    except (TypeError, ValueError):
        raise FitError(
            f"fit: min_r2 must be a number (an R² threshold such as 0.9), not {min_r2!r}"
        ) from None
    if np.isnan(value):
        raise FitError("fit: min_r2 must be a number, not NaN")
    return value


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


def check_broadcasting(spec: Model, x: np.ndarray, constant: np.ndarray | None) -> tuple[Model, bool]:
    """The model to fit and whether it returns complex values.

    `spec` itself if it broadcasts over pixels; else a per-pixel version (with a FitWarning);
    FitError if it raises or returns the wrong shape.
    """
    probe = np.ones(len(spec.params)) if constant is None else constant
    columns = [np.full((2, 1), v, x.dtype) for v in probe]
    try:
        with np.errstate(all="ignore"):
            value = spec.function(x, *columns)
        shape: Any = np.shape(value)
    except Exception as exc:  # noqa: BLE001 - any failure means "does not broadcast"
        shape = f"{type(exc).__name__}: {exc}"
    if shape == (2, x.size):
        return spec, bool(np.iscomplexobj(value))
    try:
        with np.errstate(all="ignore"):
            value = spec.function(x, *[float(v) for v in probe])
        single = np.shape(value)
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
    return replace(spec, function=_pixel_by_pixel(spec.function)), bool(np.iscomplexobj(value))


def _pixel_by_pixel(function: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    def looped(x: np.ndarray, *columns: np.ndarray) -> np.ndarray:
        rows = range(np.shape(columns[0])[0])
        return np.stack([np.asarray(function(x, *(float(c[i, 0]) for c in columns))) for i in rows])

    return looped


def describe(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): "per-pixel" if isinstance(v, xr.DataArray) else v for k, v in value.items()}
    return value
