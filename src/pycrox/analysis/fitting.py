"""Curve fitting of every spectrum (or line) of a signal at once: batched Levenberg-Marquardt.

`fit` solves one small least-squares problem per pixel, for all pixels of a block together
(see `pycrox.analysis._lm`): no Python loop per pixel. numpy data are cut into blocks of about
1 MiB that run on a thread pool; dask data are fitted chunk by chunk (the result stays lazy).
The solver scales every parameter by its Jacobian column norm (MINPACK-style), so parameters of
very different magnitudes (a power-law amplitude of 1e11 beside an exponent of 2) are fitted as
well as unit-sized ones; float32 data are fitted in float32, then polished in float64. Complex
data are fitted with real and imaginary residuals together.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from pycrox import progress as _progress
from pycrox import provenance
from pycrox.analysis import _fit_guess, _fit_inputs, _lm, clustering
from pycrox.analysis._dims import coordinate_units, core_chunks_ok
from pycrox.analysis._matrix import derived_attrs
from pycrox.analysis.models import FitError, FitWarning, Model, Normalised

__all__ = ["FitError", "FitWarning", "fit"]

#: iterations per pixel before it counts as not converged
MAX_ITER = 200
#: float64 iterations that polish a float32 fit
POLISH_ITER = 50
#: starting damping (relative to the scaled diagonal) from a built-in guess; 1 from other starts
GUESSED_DAMPING = 0.01
#: clusters used by ``guess="kmeans"``
KMEANS_CLUSTERS = 8
#: bytes of one (pixels x points) array in a block: small enough to stay in cache
_BLOCK_BYTES = 2**20

Guess = str | Callable[[np.ndarray, np.ndarray], np.ndarray] | Sequence[float] | Mapping[str, float] | None


@dataclass(frozen=True)
class _Setup:
    """Everything a block of pixels needs to be fitted (pickled into dask tasks)."""

    model: Model
    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    constant: np.ndarray | None
    guess: Callable[[np.ndarray, np.ndarray], np.ndarray] | None
    curve: bool
    threads: int = 1
    show_progress: bool = False
    complex_values: bool = False
    builtin_guess: bool = False
    min_r2: float | None = None
    warn: bool = False
    work: Normalised | None = None

    @property
    def size(self) -> int:
        """Real values per fitted line (``2 n`` for complex data)."""
        return self.x.size * (2 if self.complex_values else 1)

    @property
    def width(self) -> int:
        return 2 * len(self.model.params) + 2 + (self.size if self.curve else 0)

    @property
    def value_dtype(self) -> np.dtype:
        return np.result_type(self.x.dtype, np.complex64) if self.complex_values else self.x.dtype

    @property
    def tolerance(self) -> float:
        return 1e-5 if self.x.dtype == np.float32 else 1.5e-8


def fit(
    da: xr.DataArray,
    model: str | Model | Callable[..., np.ndarray],
    dim: Hashable | None = None,
    *,
    p0: Sequence[float] | Mapping[str, Any] | None = None,
    bounds: Mapping[str, tuple[float, float]] | tuple[Sequence[float], Sequence[float]] | None = None,
    guess: Guess = None,
    return_curve: bool = False,
    progress: bool = False,
    params: Sequence[str] | None = None,
    n_params: int | None = None,
    min_r2: float | None = None,
) -> xr.Dataset:
    """Fit a model to every spectrum (every line along `dim`) of a signal.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed, real or complex. Pixels holding NaN or inf give NaN results.
        Complex data are fitted with the real and imaginary residuals together (as BGlib's SHO
        fit does): the model returns complex values and the cost is ``sum(|f - y|**2)``.
    model : str, Model or callable
        A built-in name (``"gaussian"``, ``"gaussian_offset"``, ``"lorentzian"``, ``"voigt"``,
        ``"polynomial"``, ``"polynomial3"``, ``"linear"``, ``"exponential"``, ``"powerlaw"``;
        see `pycrox.analysis.models`) with an analytic Jacobian and automatic starting values,
        or a function ``f(x, p1, p2, ...)`` written with numpy so that it broadcasts: `x` has
        shape ``(n,)``, every parameter ``(pixels, 1)``, the result ``(pixels, n)`` (complex
        for complex data). A function that does not broadcast is fitted pixel by pixel, with a
        `FitWarning`.
    dim : hashable, optional
        The dim to fit along (its coordinate is `x`); default the single SPECTRAL dim.
    p0 : sequence or mapping, optional
        Starting values: one number per parameter, or ``{name: number or DataArray}`` (a
        DataArray over the other dims gives per-pixel values; a previous fit Dataset works).
    bounds : mapping or (lower, upper), optional
        ``{name: (low, high)}`` or two sequences as in `scipy.optimize.curve_fit`.
    guess : {None, "auto", "kmeans"}, callable, sequence or mapping, optional
        How to get starting values when `p0` is not given. None: the model's automatic guess
        (built-ins) or ones. ``"auto"``: the built-in guess. ``"kmeans"``: cluster the spectra
        (8 clusters), fit the cluster means (starting from `p0` or the automatic guess) and
        start every pixel from its cluster's result. A callable ``guess(x, y)`` is either
        vectorised (`y` of shape ``(pixels, n)``, returns ``(pixels, n_params)``) or written
        for one spectrum as sidpy's SidFitter takes it (`y` of shape ``(n,)``, returns
        ``(n_params,)``): the shape it returns for a block decides, and a per-spectrum
        function is called once per spectrum. Numbers act like `p0`.
    return_curve : bool, optional
        Also return the fitted curve as ``fit``.
    progress : bool, optional
        Show a tqdm progress bar. On dask input this computes the result now.
    params : sequence of str, optional
        Names of the parameters of a function model, for functions written ``f(x, *p)`` (or
        to rename those of ``f(x, a, b)``); as many names as the function takes parameters.
    n_params : int, optional
        Number of parameters of a function written ``f(x, *p)``; they are named ``c0``,
        ``c1``, ... Give `params` or `n_params`, not both.
    min_r2 : float, optional
        Pixels whose R² is below it count as not converged: NaN parameters and errors,
        ``converged`` False (their ``r2`` is kept, to show why).

    Returns
    -------
    xarray.Dataset
        One variable per parameter and ``<name>_error`` (standard errors, as curve_fit's
        ``sqrt(diag(pcov))``), over the other dims, in units derived from ``da[dim]`` and the
        data where the model defines them (a Gaussian's ``center`` and ``sigma`` in the
        units of `dim`, ``amplitude`` in the data units); ``r2`` (coefficient of
        determination; for complex data ``1 - sum|r|**2 / sum|y - mean(y)|**2``);
        ``converged`` (bool); optionally ``fit`` (like `da`). Lazy if `da` is. Pixels that do
        not converge (or fall below `min_r2`) get NaN parameters, ``converged`` False and one
        `FitWarning` per call giving their count (on dask data: per chunk, when computed).

    Raises
    ------
    DimensionError
        Unknown `dim`, several dims, or a coordinate that is not finite and numeric.
    FitError
        Unknown model name, a model that raises or returns the wrong shape (or complex values
        for real data), fewer points than parameters, bad `p0` / `bounds` / `guess` /
        `params` / `n_params` / `min_r2`, a guess function returning a shape that fits
        neither a block nor one spectrum.

    Examples
    --------
    >>> x = np.linspace(-5, 5, 101)
    >>> data = np.stack([a * np.exp(-0.5 * (x - 1) ** 2) for a in (1.0, 2.0)])
    >>> da = pycrox.from_array(data, dims=("x", "energy"), coords={"energy": {"values": x, "units": "eV"}})
    >>> result = fit(da, "gaussian")
    >>> result.amplitude.values.round(6).tolist(), result.center.attrs["units"]
    ([1.0, 2.0], 'eV')
    """
    axis = _fit_inputs.fit_dim(da, dim)
    complex_data = np.iscomplexobj(np.empty(0, da.dtype))
    low_precision = da.dtype in (np.float16, np.float32, np.complex64)
    dtype = np.dtype(np.float32) if low_precision else np.dtype(np.float64)
    x = _fit_inputs.grid(da, axis).astype(dtype)
    spec = _fit_inputs.resolve_model(model, params, n_params)
    count = len(spec.params)
    if x.size * (2 if complex_data else 1) < count:
        raise FitError(f"fit: model {spec.name} has {count} parameters but {axis!r} has only {x.size} points")
    _fit_inputs.check_names(spec, da, axis, return_curve)
    lower, upper = _fit_inputs.bounds_of(bounds, spec.params)
    constant, per_pixel, guesser = _fit_inputs.starts(p0, guess, spec)
    threshold = _fit_inputs.r2_threshold(min_r2)
    complex_model = False
    if spec.jacobian is None:
        spec, complex_model = _fit_inputs.check_broadcasting(spec, x, constant)
    if complex_model and not complex_data:
        raise FitError(
            f"fit: model {spec.name} returns complex values but the data are real; fit complex data "
            "(e.g. da * 1j for purely imaginary values) or return np.real/np.abs of the model"
        )
    kmeans = isinstance(guess, str) and guess == "kmeans"
    if complex_data and (
        kmeans or (guesser is not None and guesser is spec.guess and spec.guess is not None)
    ):
        raise FitError(
            f"fit: complex data need p0= or a guess function; the automatic guesses "
            f"{'(kmeans) ' if kmeans else ''}of {spec.name} work on real spectra only"
        )
    lazy = da.chunks is not None
    threads = 1 if lazy else _cpu_count()
    setup = _Setup(
        spec,
        x,
        lower,
        upper,
        constant,
        guesser,
        return_curve,
        threads,
        progress and not lazy,
        complex_values=complex_data,
        builtin_guess=guesser is not None and guesser is spec.guess,
        min_r2=threshold,
        warn=lazy and not progress,
        work=_normalised(spec, x, lower, upper),
    )
    if kmeans:
        per_pixel = _kmeans_starts(da, axis, setup)
    stacked = _apply(core_chunks_ok(da, [axis], "fit"), axis, setup, per_pixel)
    if progress and lazy:
        with _progress.progress(description="fit"):
            stacked = stacked.compute()
    if stacked.chunks is None:
        _warn_unconverged(stacked.isel(fit_output=2 * count + 1).values, setup, stacklevel=2)
    result = _assemble(da, axis, spec, stacked, setup)
    return provenance.record(
        result,
        "fit",
        source=da,
        model=spec.name,
        dim=axis,
        p0=_fit_inputs.describe(p0),
        bounds=_fit_inputs.describe(bounds),
        guess=_fit_inputs.describe(guess),
        return_curve=return_curve,
        params=None if params is None else list(params),
        n_params=n_params,
        min_r2=min_r2,
    )


def _warn_unconverged(status: np.ndarray, setup: _Setup, stacklevel: int) -> None:
    """One `FitWarning` counting the fitted pixels that did not converge (status 0 or -1)."""
    fitted = int(np.isfinite(status).sum())
    solver, rejected = int((status == 0).sum()), int((status == -1).sum())
    if not solver + rejected:
        return
    parts = []
    if solver:
        parts.append(f"{solver} did not converge in {MAX_ITER} iterations or gave non-finite model values")
    if rejected:
        parts.append(f"{rejected} had R² below min_r2={setup.min_r2}")
    warnings.warn(
        f"fit: {solver + rejected} of {fitted} pixels did not converge ({'; '.join(parts)}); their "
        "parameters are NaN and `converged` is False. Try other starting values (p0, guess='kmeans') "
        "or bounds",
        FitWarning,
        stacklevel=stacklevel + 1,
    )


def _normalised(spec: Model, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> Normalised | None:
    """The model's normalised problem, if it has one and the bounds carry over to it."""
    if spec.normalise is None:
        return None
    work = spec.normalise(x)
    if work is None:
        return None
    for j in work.signed:
        if lower[j] not in (-np.inf, 0.0) or upper[j] not in (0.0, np.inf):
            return None
    return work


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


# --- computation ---------------------------------------------------------------------------------


def _apply(
    source: xr.DataArray, axis: Hashable, setup: _Setup, per_pixel: xr.DataArray | None
) -> xr.DataArray:
    inputs, core = [source], [[axis]]
    if per_pixel is not None:
        inputs.append(
            per_pixel.chunk() if source.chunks is not None and per_pixel.chunks is None else per_pixel
        )
        core.append(["parameter"])
    return xr.apply_ufunc(
        _fit_kernel,
        *inputs,
        input_core_dims=core,
        output_core_dims=[["fit_output"]],
        kwargs={"setup": setup},
        dask="parallelized",
        dask_gufunc_kwargs={
            "output_sizes": {"fit_output": setup.width},
            "meta": np.empty((0,) * source.ndim),
        },
    )


def _fit_kernel(values: np.ndarray, start: np.ndarray | None = None, *, setup: _Setup) -> np.ndarray:
    """Fit every line of `values` (core dim last): ``[params | errors | r2 | status | curve]``.

    ``status`` is 1 (converged), 0 (not converged), -1 (R² below ``min_r2``) or NaN (not
    fitted: the line holds NaN or inf).
    """
    shape, n = values.shape[:-1], values.shape[-1]
    y = values.reshape(-1, n).astype(setup.value_dtype, copy=False)
    starts = (
        None if start is None else np.broadcast_to(start, (*shape, start.shape[-1])).reshape(y.shape[0], -1)
    )
    out = np.full((y.shape[0], setup.width), np.nan)
    index = np.flatnonzero(np.isfinite(y).all(axis=1))
    step = max(16, _BLOCK_BYTES // (n * y.itemsize))
    blocks = [index[i : i + step] for i in range(0, index.size, step)]

    def run(rows: np.ndarray) -> int:
        out[rows] = _fit_rows(setup, y[rows], None if starts is None else starts[rows])
        return 0

    _map(run, blocks, setup)
    if setup.warn:
        _warn_unconverged(out[:, 2 * len(setup.model.params) + 1], setup, stacklevel=1)
    return out.reshape(*shape, setup.width)


def _map(run: Callable[[np.ndarray], int], blocks: list[np.ndarray], setup: _Setup) -> list[int]:
    bar = None
    if setup.show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(blocks), desc="fit", unit="block", leave=False)

    def tracked(rows: np.ndarray) -> int:
        failed = run(rows)
        if bar is not None:
            bar.update(1)
        return failed

    try:
        if setup.threads > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(setup.threads) as pool:
                return list(pool.map(tracked, blocks))
        return [tracked(rows) for rows in blocks]
    finally:
        if bar is not None:
            bar.close()


def _fit_rows(setup: _Setup, y: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """``[params | errors | r2 | status | curve]`` for every row of `y` (finite, maybe complex)."""
    count = len(setup.model.params)
    p0 = _initial(setup, y, start)
    if setup.work is not None:  # solve on the normalised grid, map back below
        p0 = setup.work.to_work(p0)
    finite = np.abs(p0[np.isfinite(p0).all(axis=1)])
    scale = np.median(finite, axis=0) if finite.size else np.ones(count)
    problem = _lm.Problem(
        setup.x if setup.work is None else setup.work.x,
        setup.model.function,
        setup.model.jacobian,
        np.where(scale > 0, scale, 1.0),
        setup.model.name,
        setup.complex_values,
    )
    real = y.view(setup.x.dtype) if setup.complex_values else y
    bounds = (setup.lower, setup.upper)
    tol = setup.tolerance
    params, cost, status, normal = _lm.solve_normal(
        problem, real, p0, *bounds, max_iter=MAX_ITER, ftol=tol, xtol=tol, damping=_damping(setup, start)
    )
    if setup.x.dtype != np.float64:  # polish the float32 result in float64, near the minimum already
        problem, real = problem.with_dtype(np.dtype(np.float64)), real.astype(np.float64)
        again = np.isfinite(params).all(axis=1) & np.isfinite(cost)  # stuck in float32 too
        if again.any():
            params[again], cost[again], status[again], normal[again] = _lm.solve_normal(
                problem, real[again], params[again], *bounds, max_iter=POLISH_ITER, damping=1e-3
            )
    work = params.copy()
    if setup.work is not None:
        params = setup.work.to_model(work)
        change = setup.work.derivative(params)  # d(work) / d(model): A = M^T A' M
        normal = np.einsum("bji,bjk,bkl->bil", change, normal, change)
    centred = y - y.mean(axis=1, keepdims=True)
    flat = centred.view(centred.real.dtype) if setup.complex_values else centred
    total = np.einsum("ij,ij->i", flat, flat, dtype=np.float64)
    r2 = 1 - cost / np.where(total > 0, total, np.nan)
    state = np.where(status == _lm.CONVERGED, 1.0, 0.0)
    if setup.min_r2 is not None:
        state[(state == 1) & ~(r2 >= setup.min_r2)] = -1.0
    good = state == 1
    params[~good] = np.nan
    out = np.full((y.shape[0], setup.width), np.nan)
    out[:, :count] = params
    normal[~good] = np.nan
    out[:, count : 2 * count] = _lm.errors_from_normal(normal, cost, problem.size)
    out[:, 2 * count] = r2
    out[:, 2 * count + 1] = state
    if setup.curve and good.any():
        out[good, 2 * count + 2 :] = problem.values(work[good])
    return out


def _damping(setup: _Setup, start: np.ndarray | None) -> float:
    """Starting damping: light from a built-in data-driven guess (close already), else 1."""
    return GUESSED_DAMPING if start is None and setup.constant is None and setup.builtin_guess else 1.0


def _initial(setup: _Setup, y: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Starting values per row: per-pixel starts, else the guess function, else constants or ones."""
    count = len(setup.model.params)
    p0 = np.full((y.shape[0], count), np.nan) if start is None else np.array(start, np.float64)
    missing = ~np.isfinite(p0).all(axis=1)
    if not missing.any():
        return p0
    if setup.guess is not None:
        p0[missing] = _fit_guess.from_function(
            setup.guess, setup.x, y[missing], count, vectorised=setup.builtin_guess
        )
    else:
        p0[missing] = setup.constant if setup.constant is not None else 1.0
    return p0


def _kmeans_starts(da: xr.DataArray, axis: Hashable, setup: _Setup) -> xr.DataArray:
    """Per-pixel starting values from fits of the k-means cluster means (as sidpy's fitter does)."""
    clean = da.where(np.isfinite(da), 0)
    pixels = int(np.prod([da.sizes[d] for d in da.dims if d != axis]))
    groups = clustering.cluster(clean, min(KMEANS_CLUSTERS, max(pixels, 1)), dim=axis)
    means = np.asarray(groups["means"].values, dtype=setup.x.dtype)
    fitted = _fit_rows(replace(setup, curve=False, min_r2=None), means, None)
    table = fitted[:, : len(setup.model.params)]
    return xr.apply_ufunc(
        lambda labels: table[labels],
        groups["labels"].drop_attrs(),
        output_core_dims=[["parameter"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"parameter": table.shape[1]}},
    )


# --- result --------------------------------------------------------------------------------------


def _assemble(
    da: xr.DataArray, axis: Hashable, spec: Model, stacked: xr.DataArray, setup: _Setup
) -> xr.Dataset:
    title = str(da.attrs.get("title") or da.name or "signal")
    y_units, y_quantity = str(da.attrs.get("units", "")), str(da.attrs.get("quantity", ""))
    x_units, x_quantity = coordinate_units(da, axis)
    param_units = spec.parameter_units(x_units, x_quantity, y_units, y_quantity)
    count = len(spec.params)
    variables: dict[str, xr.DataArray] = {}
    for j, name in enumerate(spec.params):
        for key, column, text in ((name, j, name), (f"{name}_error", count + j, f"standard error of {name}")):
            var = stacked.isel(fit_output=column, drop=True)
            var.attrs = derived_attrs(
                da, var, title=f"{title}: {spec.name} {text}", units=param_units[name], quantity=""
            )
            variables[key] = var
    r2 = stacked.isel(fit_output=2 * count, drop=True)
    r2.attrs = derived_attrs(da, r2, title=f"{title}: {spec.name} R²", units="", quantity="")
    variables["r2"] = r2
    converged = stacked.isel(fit_output=2 * count + 1, drop=True) == 1
    converged.attrs = derived_attrs(
        da, converged, title=f"{title}: {spec.name} converged", units="", quantity=""
    )
    variables["converged"] = converged
    if setup.curve:
        curve_values = stacked.isel(fit_output=slice(2 * count + 2, None))
        if setup.complex_values:
            curve_values = (
                curve_values.isel(fit_output=slice(0, None, 2))
                + 1j * curve_values.isel(fit_output=slice(1, None, 2)).data
            )
        curve_values = curve_values.rename(fit_output=axis)
        if axis in da.coords:
            curve_values = curve_values.assign_coords({axis: da.coords[axis]})
        fitted = curve_values.transpose(*da.dims).astype(np.result_type(da.dtype, np.float32))
        fitted.attrs = {**da.attrs, "title": f"{title}: {spec.name} fit"}
        variables["fit"] = fitted
    dataset = xr.Dataset(variables)
    dataset.attrs = {
        "title": f"{title}: {spec.name} fit",
        "model": spec.name,
        "parameters": list(spec.params),
    }
    return dataset
