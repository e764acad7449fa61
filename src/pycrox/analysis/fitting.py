"""Curve fitting of every spectrum (or line) of a signal at once: batched Levenberg-Marquardt.

`fit` solves one small least-squares problem per pixel, for all pixels of a block together
(see `pycrox.analysis._lm`): no Python loop per pixel. numpy data are cut into blocks of about
1 MiB that run on a thread pool; dask data are fitted chunk by chunk (the result stays lazy).
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
from pycrox.analysis import _fit_inputs, _lm, clustering
from pycrox.analysis._dims import coordinate_units, core_chunks_ok
from pycrox.analysis._matrix import derived_attrs
from pycrox.analysis.models import FitError, FitWarning, Model

__all__ = ["FitError", "FitWarning", "fit"]

#: iterations per pixel before it counts as not converged
MAX_ITER = 200
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

    @property
    def width(self) -> int:
        return 2 * len(self.model.params) + 1 + (self.x.size if self.curve else 0)

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
) -> xr.Dataset:
    """Fit a model to every spectrum (every line along `dim`) of a signal.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed. Pixels holding NaN or inf give NaN results.
    model : str, Model or callable
        A built-in name (``"gaussian"``, ``"gaussian_offset"``, ``"lorentzian"``, ``"voigt"``,
        ``"polynomial"``, ``"polynomial3"``, ``"linear"``, ``"exponential"``, ``"powerlaw"``;
        see `pycrox.analysis.models`) with an analytic Jacobian and automatic starting values,
        or a function ``f(x, p1, p2, ...)`` written with numpy so that it broadcasts: `x` has
        shape ``(n,)``, every parameter ``(pixels, 1)``, the result ``(pixels, n)``. A function
        that does not broadcast is fitted pixel by pixel, with a `FitWarning`.
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
        start every pixel from its cluster's result. A callable ``guess(x, y)`` gets `y` of
        shape ``(pixels, n)`` and returns ``(pixels, n_params)``. Numbers act like `p0`.
    return_curve : bool, optional
        Also return the fitted curve as ``fit``.
    progress : bool, optional
        Show a tqdm progress bar. On dask input this computes the result now.

    Returns
    -------
    xarray.Dataset
        One variable per parameter and ``<name>_error`` (standard errors, as curve_fit's
        ``sqrt(diag(pcov))``), over the other dims, in units derived from ``da[dim]`` and the
        data where the model defines them (a Gaussian's ``center`` and ``sigma`` in the
        units of `dim`, ``amplitude`` in the data units); ``r2`` (coefficient of
        determination); optionally ``fit`` (like `da`). Lazy if `da` is. Pixels that do not
        converge get NaN, with a `FitWarning` giving their count.

    Raises
    ------
    DimensionError
        Unknown `dim`, several dims, or a coordinate that is not finite and numeric.
    FitError
        Unknown model name, a model that raises or returns the wrong shape, fewer points
        than parameters, bad `p0` / `bounds` / `guess`, complex data.

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
    if np.iscomplexobj(np.empty(0, da.dtype)):
        raise FitError("fit: complex data are not supported; fit the real and imaginary parts, or abs(da)")
    dtype = np.dtype(np.float32) if da.dtype in (np.float16, np.float32) else np.dtype(np.float64)
    x = _fit_inputs.grid(da, axis).astype(dtype)
    spec = _fit_inputs.resolve_model(model)
    count = len(spec.params)
    if x.size < count:
        raise FitError(f"fit: model {spec.name} has {count} parameters but {axis!r} has only {x.size} points")
    lower, upper = _fit_inputs.bounds_of(bounds, spec.params)
    constant, per_pixel, guesser = _fit_inputs.starts(p0, guess, spec)
    if spec.jacobian is None:
        spec = _fit_inputs.check_broadcasting(spec, x, constant)
    lazy = da.chunks is not None
    threads = 1 if lazy else _cpu_count()
    setup = _Setup(spec, x, lower, upper, constant, guesser, return_curve, threads, progress and not lazy)
    if isinstance(guess, str) and guess == "kmeans":
        per_pixel = _kmeans_starts(da, axis, setup)
    stacked = _apply(core_chunks_ok(da, [axis], "fit"), axis, setup, per_pixel)
    result = _assemble(da, axis, spec, stacked, return_curve)
    if progress and lazy:
        with _progress.progress(description="fit"):
            result = result.compute()
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
    )


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
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"fit_output": setup.width}},
    )


def _fit_kernel(values: np.ndarray, start: np.ndarray | None = None, *, setup: _Setup) -> np.ndarray:
    """Fit every line of `values` (core dim last): ``[params | errors | r2 | curve]`` per pixel."""
    shape, n = values.shape[:-1], values.shape[-1]
    y = values.reshape(-1, n).astype(setup.x.dtype, copy=False)
    starts = (
        None if start is None else np.broadcast_to(start, (*shape, start.shape[-1])).reshape(y.shape[0], -1)
    )
    out = np.full((y.shape[0], setup.width), np.nan)
    index = np.flatnonzero(np.isfinite(y).all(axis=1))
    step = max(16, _BLOCK_BYTES // (n * y.itemsize))
    blocks = [index[i : i + step] for i in range(0, index.size, step)]

    def run(rows: np.ndarray) -> int:
        out[rows], failed = _fit_rows(setup, y[rows], None if starts is None else starts[rows])
        return failed

    failed = sum(_map(run, blocks, setup))
    if failed:
        warnings.warn(
            f"fit: {failed} of {index.size} pixels did not converge in {MAX_ITER} iterations or gave "
            "non-finite model values; their results are NaN. Try other starting values (p0, "
            "guess='kmeans') or bounds",
            FitWarning,
            stacklevel=1,
        )
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


def _fit_rows(setup: _Setup, y: np.ndarray, start: np.ndarray | None) -> tuple[np.ndarray, int]:
    count = len(setup.model.params)
    p0 = _initial(setup, y, start)
    finite = np.abs(p0[np.isfinite(p0).all(axis=1)])
    scale = np.median(finite, axis=0) if finite.size else np.ones(count)
    problem = _lm.Problem(
        setup.x, setup.model.function, setup.model.jacobian, np.where(scale > 0, scale, 1.0), setup.model.name
    )
    params, cost, status = _lm.solve(
        problem,
        y,
        p0,
        setup.lower,
        setup.upper,
        max_iter=MAX_ITER,
        ftol=setup.tolerance,
        xtol=setup.tolerance,
    )
    bad = status != _lm.CONVERGED
    params[bad] = np.nan
    out = np.full((y.shape[0], setup.width), np.nan)
    out[:, :count] = params
    out[:, count : 2 * count] = _lm.covariance(problem, y, params, cost)
    centred = y - y.mean(axis=1, keepdims=True)
    total = np.einsum("ij,ij->i", centred, centred).astype(np.float64)
    out[:, 2 * count] = np.where(bad, np.nan, 1 - cost / np.where(total > 0, total, np.nan))
    if setup.curve and (~bad).any():
        out[~bad, 2 * count + 1 :] = problem.values(params[~bad])
    return out, int(bad.sum())


def _initial(setup: _Setup, y: np.ndarray, start: np.ndarray | None) -> np.ndarray:
    """Starting values per row: per-pixel starts, else the guess function, else constants or ones."""
    count = len(setup.model.params)
    p0 = np.full((y.shape[0], count), np.nan) if start is None else np.array(start, np.float64)
    missing = ~np.isfinite(p0).all(axis=1)
    if not missing.any():
        return p0
    if setup.guess is not None:
        try:
            guessed = np.asarray(setup.guess(setup.x, y[missing]), np.float64)
        except Exception as exc:
            raise FitError(f"fit: the guess function raised {type(exc).__name__}: {exc}") from exc
        if guessed.shape not in ((int(missing.sum()), count), (count,)):
            raise FitError(
                f"fit: the guess function returned shape {guessed.shape}; expected "
                f"({int(missing.sum())}, {count}) for {int(missing.sum())} pixels"
            )
        p0[missing] = guessed
    else:
        p0[missing] = setup.constant if setup.constant is not None else 1.0
    return p0


def _kmeans_starts(da: xr.DataArray, axis: Hashable, setup: _Setup) -> xr.DataArray:
    """Per-pixel starting values from fits of the k-means cluster means (as sidpy's fitter does)."""
    clean = da.where(np.isfinite(da), 0)
    pixels = int(np.prod([da.sizes[d] for d in da.dims if d != axis]))
    groups = clustering.cluster(clean, min(KMEANS_CLUSTERS, max(pixels, 1)), dim=axis)
    means = np.asarray(groups["means"].values, dtype=setup.x.dtype)
    fitted, _ = _fit_rows(replace(setup, curve=False), means, None)
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
    da: xr.DataArray, axis: Hashable, spec: Model, stacked: xr.DataArray, curve: bool
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
    if curve:
        curve_values = stacked.isel(fit_output=slice(2 * count + 1, None)).rename(fit_output=axis)
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
