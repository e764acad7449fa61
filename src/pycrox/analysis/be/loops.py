"""Piezoresponse hysteresis loops: projection, BGlib's 9-parameter loop fit, and loop metrics.

Loops run along a DC-bias dim (volts) in the order measured. Numerics live in
`pycrox.analysis.be._loop`; this module checks inputs, applies the numerics block by block
(lazily on dask) and labels the results.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal

import numpy as np
import scipy.cluster.vq
import xarray as xr

from pycrox import provenance, units
from pycrox.analysis._dims import core_chunks_ok
from pycrox.analysis.be import _inputs, _loop, _names
from pycrox.analysis.models import FitError
from pycrox.errors import UnitError

__all__ = ["loop_fit", "loop_guess", "loop_metrics", "loop_project"]

LoopGuess = Literal["kmeans", "direct"]
#: most k-means clusters of the ``"kmeans"`` guess (BGlib uses sqrt(pixels), unbounded)
MAX_CLUSTERS = 64
#: most loops the k-means of the ``"kmeans"`` guess runs on
SAMPLE = 4096


def _product(data_units: str, other: str) -> str:
    if not data_units:
        return ""
    try:
        return units.format(units.parse(data_units) * units.parse(other))
    except UnitError:
        return ""


def _param_columns(data_units: str) -> list[tuple[str, str, str]]:
    per_volt = ""
    if data_units:
        try:
            per_volt = units.format(units.parse(data_units) / units.parse("V"))
        except UnitError:
            per_volt = ""
    unit = [data_units, data_units, "V", "V", per_volt, "V", "V", "V", "V"]
    text = ["offset", "height", "falling switching bias", "rising switching bias", "slope"] + [
        f"branch width {i}" for i in range(4)
    ]
    return [(name, u, f"loop {t}") for name, u, t in zip(_loop.PARAMS, unit, text, strict=True)]


def _loops_input(
    da: xr.DataArray | xr.Dataset, dim: Hashable | None, func: str
) -> tuple[xr.DataArray, Hashable]:
    """A DataArray of loops (a Dataset with ``amplitude`` and ``phase`` is combined to complex)."""
    if isinstance(da, xr.Dataset):
        da = da.rename({k: _names.from_bglib(str(k)) for k in da.data_vars if _names.from_bglib(str(k)) != k})
        if not {"amplitude", "phase"} <= set(da.data_vars):
            raise FitError(
                f"{func}: a Dataset needs 'amplitude' and 'phase' (an sho_fit result); it has {list(da.data_vars)}"
            )
        combined = da["amplitude"] * np.exp(1j * da["phase"])
        combined.attrs = {**da["amplitude"].attrs}
        da = combined
    return da, _inputs.spectral_dim(da, dim, func)


def loop_project(da: xr.DataArray | xr.Dataset, dim: Hashable | None = None) -> xr.Dataset:
    """Project complex loop responses onto their axis in the complex plane, as BGlib does.

    Parameters
    ----------
    da : xarray.DataArray or xarray.Dataset
        Complex response ``amplitude · e^{iφ}`` per DC step (e.g. from `sho_fit`), or an
        `sho_fit` Dataset (its ``amplitude`` and ``phase`` are combined). numpy or dask.
    dim : hashable, optional
        The DC-bias dim; default the single SPECTRAL dim. Its coordinate needs volt units.

    Returns
    -------
    xarray.Dataset
        ``projected_loop`` (like `da`, real, in its units), ``rotation`` (rad: the axis
        angle) and ``offset`` (distance from the origin to the axis, in the data units),
        over the other dims; lazy if `da` is.

    Raises
    ------
    FitError
        Real data, or a Dataset without ``amplitude`` and ``phase``.
    DimensionError
        No (or several) SPECTRAL dims and no `dim`.
    UnitError
        A DC coordinate without units, or not in volts.

    Notes
    -----
    BGlib fits a plane through ``(V, Re, Im)`` and projects on its trace; the trace is the
    principal axis of the ``(Re, Im)`` points, used here directly. The sign is chosen so that
    the loop's area is positive (as BGlib). BGlib reports ``tan`` of the trace's slope as its
    "rotation angle"; here ``rotation`` is the angle itself.

    Examples
    --------
    >>> v = np.concatenate([np.linspace(0, 1, 4), np.linspace(1, -1, 8), np.linspace(-1, 0, 4)])
    >>> rising = np.concatenate([np.ones(4), np.zeros(8), np.ones(4)]) > 0
    >>> loop = np.tanh(4 * (v - np.where(rising, 0.3, -0.3))) * 1e-3 + 1e-4j
    >>> da = xr.DataArray(loop * np.exp(0.3j), dims="dc", coords={"dc": ("dc", v, {"units": "V"})})
    >>> round(float(loop_project(da, "dc").rotation), 2)
    0.3
    """
    func = "loop_project"
    da, axis = _loops_input(da, dim, func)
    _inputs.require_complex(da, func)
    volts = _inputs.axis_in(da, axis, "V", func)
    n = da.sizes[axis]
    source = core_chunks_ok(da, [axis], func)
    stacked = xr.apply_ufunc(
        _project_kernel,
        source,
        input_core_dims=[[axis]],
        output_core_dims=[["be_output"]],
        kwargs={"volts": volts},
        dask="parallelized",
        dask_gufunc_kwargs={
            "output_sizes": {"be_output": n + 2},
            "meta": np.empty((0,) * da.ndim, np.float64),
        },
    )
    data_units = str(da.attrs.get("units", ""))
    loops = stacked.isel(be_output=slice(0, n)).rename(be_output=axis).assign_coords({axis: da.coords[axis]})
    loops = loops.transpose(*da.dims)
    loops.attrs = {**da.attrs, "title": f"{da.attrs.get('title') or da.name or 'signal'}: projected loop"}
    extras = _inputs.assemble(
        da,
        stacked.isel(be_output=slice(n, n + 2)),
        [("rotation", "rad", "loop axis angle"), ("offset", data_units, "loop axis offset")],
        "loop projection",
    )
    result = extras.assign(projected_loop=loops)
    return provenance.record(result, func, source=da, dim=axis)


def _project_kernel(values: np.ndarray, *, volts: np.ndarray) -> np.ndarray:
    shape, n = values.shape[:-1], values.shape[-1]
    z = values.reshape(-1, n).astype(np.complex128)
    out = np.full((z.shape[0], n + 2), np.nan)
    finite = np.flatnonzero(np.isfinite(z).all(axis=1))
    if finite.size:
        loops, rotation, offset = _loop.project_block(volts, z[finite])
        out[finite] = np.column_stack([loops, rotation, offset])
    return out.reshape(*shape, n + 2)


def _require_real(da: xr.DataArray, func: str) -> None:
    if np.issubdtype(da.dtype, np.complexfloating):
        raise FitError(
            f"{func}: {da.name!r} is complex; fit the projected loop (loop_project(...).projected_loop)"
        )


def loop_guess(
    da: xr.DataArray,
    dim: Hashable | None = None,
    *,
    method: LoopGuess = "kmeans",
    n_clusters: int | None = None,
) -> xr.Dataset:
    """Starting values of BGlib's 9-parameter loop model for every projected loop.

    Parameters
    ----------
    da : xarray.DataArray
        Real projected loops (`loop_project`), numpy or dask, over a DC-bias dim in volts.
    dim : hashable, optional
        The DC-bias dim; default the single SPECTRAL dim.
    method : {"kmeans", "direct"}, optional
        ``"direct"``: BGlib's ``generate_guess`` on every loop (centroid lines crossing the
        loop). ``"kmeans"``: BGlib's cluster priors: k-means of the loops (``sqrt(pixels)``
        clusters, at most 64, from up to 4096 loops spread over the map), a fit of every
        cluster centre from its direct guess, and every pixel starting from its nearest
        centre's fit or its own direct guess, whichever fits it better. On dask data the
        sampled loops are read now; the result stays lazy.
    n_clusters : int, optional
        Clusters of ``"kmeans"`` (default as above).

    Returns
    -------
    xarray.Dataset
        ``a_0`` ... ``a_4``, ``b_0`` ... ``b_3`` (units as `loop_fit`) and ``r2`` of the
        guessed curve, over the other dims; lazy if `da` is.

    Raises
    ------
    FitError
        Complex data or an unknown `method`.
    DimensionError, UnitError
        As `loop_fit`.
    """
    func = "loop_guess"
    axis = _inputs.spectral_dim(da, dim, func)
    _require_real(da, func)
    volts = _inputs.axis_in(da, axis, "V", func)
    table = _cluster_table(da, axis, volts, method, n_clusters, func)
    stacked = _inputs.run_blocks(da, axis, _guess_kernel, 10, table, volts=volts)
    columns = [*_param_columns(str(da.attrs.get("units", ""))), ("r2", "", "loop guess R²")]
    result = _inputs.assemble(da, stacked, columns, "loop guess")
    return provenance.record(result, func, source=da, dim=axis, method=method, n_clusters=n_clusters)


def _cluster_table(
    da: xr.DataArray, axis: Hashable, volts: np.ndarray, method: str, n_clusters: int | None, func: str
) -> xr.DataArray | None:
    """Per-pixel cluster-prior parameters (``parameter`` core dim), or None for ``"direct"``.

    k-means (k-means++ seeding, `scipy.cluster.vq.kmeans2`) runs on at most `SAMPLE` loops spread
    evenly over the pixels; every pixel then takes its nearest centre's fit (lazily on dask).
    """
    if method == "direct":
        return None
    if method != "kmeans":
        raise FitError(f"{func}: unknown guess method {method!r}; use 'kmeans' or 'direct'")
    others = [d for d in da.dims if d != axis]
    flat = da.stack(_pixel=others).transpose("_pixel", axis) if others else da.expand_dims("_pixel")
    pixels = flat.sizes["_pixel"]
    k = n_clusters or min(MAX_CLUSTERS, max(2, int(pixels**0.5)))
    pick = np.unique(np.linspace(0, pixels - 1, min(pixels, SAMPLE)).astype(int))
    sample = np.asarray(flat.isel(_pixel=pick).values, np.float64)
    sample = sample[np.isfinite(sample).all(axis=1)]
    if sample.shape[0] < 2:
        return None
    centres, _ = scipy.cluster.vq.kmeans2(sample, min(k, sample.shape[0]), minit="++", seed=0)
    fitted = _loop.fit_block(volts, centres, _loop.guess_block(volts, centres))[:, :9]
    fallback = ~np.isfinite(fitted).all(axis=1)
    fitted[fallback] = _loop.guess_block(volts, centres[fallback])
    return xr.apply_ufunc(
        _nearest_prior,
        core_chunks_ok(da, [axis], func),
        input_core_dims=[[axis]],
        output_core_dims=[["parameter"]],
        kwargs={"centres": centres, "table": fitted},
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"parameter": 9}},
    )


def _nearest_prior(values: np.ndarray, *, centres: np.ndarray, table: np.ndarray) -> np.ndarray:
    rows = values.reshape(-1, values.shape[-1]).astype(np.float64)
    distance = (rows**2).sum(axis=1)[:, None] - 2 * rows @ centres.T + (centres**2).sum(axis=1)[None, :]
    labels = np.argmin(np.where(np.isfinite(distance), distance, np.inf), axis=1)
    return table[labels].reshape(*values.shape[:-1], table.shape[1])


def _starts(volts: np.ndarray, loops: np.ndarray, prior: np.ndarray | None) -> np.ndarray:
    direct = _loop.guess_block(volts, loops)
    if prior is None:
        return direct
    better = _loop.fit_cost(volts, loops, prior) < _loop.fit_cost(volts, loops, direct)
    return np.where(better[:, None], prior, direct)


def _guess_kernel(values: np.ndarray, prior: np.ndarray | None = None, *, volts: np.ndarray) -> np.ndarray:
    shape, n = values.shape[:-1], values.shape[-1]
    loops = values.reshape(-1, n).astype(np.float64)
    priors = None if prior is None else np.broadcast_to(prior, (*shape, 9)).reshape(-1, 9)
    out = np.full((loops.shape[0], 10), np.nan)
    finite = np.isfinite(loops).all(axis=1)
    if finite.any():
        clean = loops[finite]
        starts = _starts(volts, clean, None if priors is None else priors[finite])
        centred = clean - clean.mean(axis=1, keepdims=True)
        with np.errstate(all="ignore"):
            r2 = 1 - _loop.fit_cost(volts, clean, starts) / np.einsum("ij,ij->i", centred, centred)
        out[finite] = np.column_stack([starts, r2])
    return out.reshape(*shape, 10)


def loop_fit(
    da: xr.DataArray,
    dim: Hashable | None = None,
    *,
    guess: LoopGuess | xr.Dataset = "kmeans",
    n_clusters: int | None = None,
    max_iter: int = _loop.MAX_ITER,
) -> xr.Dataset:
    """Fit BGlib's 9-parameter piezoresponse loop model to every projected loop at once.

    Parameters
    ----------
    da : xarray.DataArray
        Real projected loops (`loop_project`), numpy or dask, over a DC-bias dim in volts in
        the order measured (BGlib's waveform 0 -> +V -> 0 -> -V -> 0).
    dim : hashable, optional
        The DC-bias dim; default the single SPECTRAL dim (a USID ``DC_Offset`` dim works).
    guess : {"kmeans", "direct"} or xarray.Dataset, optional
        A `loop_guess` method, or a Dataset of ``a_0`` ... ``b_3`` (an earlier guess or fit).
    n_clusters : int, optional
        Clusters of the ``"kmeans"`` guess.
    max_iter : int, optional
        Levenberg-Marquardt iterations per loop.

    Returns
    -------
    xarray.Dataset
        ``a_0``, ``a_1`` (data units: the lower remanent level and the loop height), ``a_2``,
        ``a_3`` (V: the falling and rising switching biases), ``a_4`` (data units per volt: the
        slope), ``b_0`` ... ``b_3`` (V: branch widths), ``r2`` and ``converged``; lazy if `da`
        is. Loops holding NaN or not converging get NaN and ``converged=False`` with one
        `FitWarning` (per dask chunk).

    Raises
    ------
    FitError
        Complex data, an unknown guess method or a guess Dataset without the parameters.
    DimensionError
        No (or several) SPECTRAL dims and no `dim`.
    UnitError
        A DC coordinate without units or not in volts.

    Notes
    -----
    The model is BGlib's ``loop_fit_function`` (S. Jesse et al.), with BGlib's bounds on the
    widths (1e-3 to 100 V); the switching biases are kept within one sweep width of the sweep.

    Examples
    --------
    >>> from pycrox.analysis.be import _loop
    >>> k = np.arange(64) / 64
    >>> v = 8 * np.where(k < 0.25, 4 * k, np.where(k < 0.75, 2 - 4 * k, 4 * k - 4))
    >>> truth = np.array([[-1.0, 2.0, -3.0, 2.5, 0.0, 1.0, 1.0, 1.0, 1.0]])
    >>> shifted = np.roll(v, _loop.shift(64))
    >>> loops = np.roll(_loop.evaluate(shifted, *truth.T[:, :, None]), -_loop.shift(64), axis=1)[0]
    >>> da = xr.DataArray(loops, dims="dc", coords={"dc": ("dc", v, {"units": "V"})})
    >>> result = loop_fit(da, "dc", guess="direct")
    >>> round(float(result.a_2), 3), round(float(result.a_3), 3), bool(result.converged)
    (-3.0, 2.5, True)
    """
    func = "loop_fit"
    axis = _inputs.spectral_dim(da, dim, func)
    _require_real(da, func)
    volts = _inputs.axis_in(da, axis, "V", func)
    if isinstance(guess, xr.Dataset):
        start = _inputs.stack_start(guess, _loop.PARAMS, {}, func)
        stacked = _inputs.run_blocks(
            da,
            axis,
            _fit_kernel,
            11,
            start,
            volts=volts,
            max_iter=max_iter,
            prior=False,
            threads=_inputs.threads_for(da),
        )
    else:
        table = _cluster_table(da, axis, volts, guess, n_clusters, func)
        stacked = _inputs.run_blocks(
            da,
            axis,
            _fit_kernel,
            11,
            table,
            volts=volts,
            max_iter=max_iter,
            prior=True,
            threads=_inputs.threads_for(da),
        )
    columns = [
        *_param_columns(str(da.attrs.get("units", ""))),
        ("r2", "", "loop R²"),
        ("converged", "", "loop fit converged"),
    ]
    result = _inputs.assemble(da, stacked, columns, "loop fit")
    described = guess if isinstance(guess, str) else "Dataset"
    return provenance.record(
        result, func, source=da, dim=axis, guess=described, n_clusters=n_clusters, max_iter=max_iter
    )


def _fit_kernel(
    values: np.ndarray,
    start: np.ndarray | None = None,
    *,
    volts: np.ndarray,
    max_iter: int,
    prior: bool,
    threads: int = 1,
) -> np.ndarray:
    shape, n = values.shape[:-1], values.shape[-1]
    loops = values.reshape(-1, n)
    starts = None if start is None else np.broadcast_to(start, (*shape, 9)).reshape(-1, 9)
    out = np.empty((loops.shape[0], 11))

    def run(rows: slice) -> None:
        block = loops[rows].astype(np.float64)
        p0 = np.full((block.shape[0], 9), np.nan)
        finite = np.isfinite(block).all(axis=1)
        if finite.any():
            given = None if starts is None else starts[rows][finite]
            p0[finite] = _starts(volts, block[finite], given) if prior or given is None else given
        out[rows] = _loop.fit_block(volts, block, p0, max_iter)

    _inputs.each_block(loops.shape[0], run, threads)
    failed = int(np.count_nonzero(out[:, -1] == 0))
    _inputs.warn_unconverged("loop_fit", failed, loops.shape[0], "Try guess='direct' or more max_iter")
    return out.reshape(*shape, 11)


def loop_metrics(
    da: xr.DataArray | xr.Dataset,
    dim: Hashable | None = None,
    *,
    fit: xr.Dataset | None = None,
    nuc_threshold: float = 0.03,
) -> xr.Dataset:
    """Loop geometry and BGlib's switching parameters for every loop.

    Parameters
    ----------
    da : xarray.DataArray or xarray.Dataset
        Complex loop responses (projected first, as `loop_project`), an `sho_fit` Dataset, or
        real projected loops, over a DC-bias dim in volts.
    dim : hashable, optional
        The DC-bias dim; default the single SPECTRAL dim.
    fit : xarray.Dataset, optional
        A `loop_fit` result for these loops; fitted here (``guess="kmeans"``) when omitted.
    nuc_threshold : float, optional
        Nucleation threshold of the nucleation biases (BGlib's default 0.03).

    Returns
    -------
    xarray.Dataset
        ``area`` (data units x V), ``centroid_x`` (V), ``centroid_y`` (data units) of the loop
        polygon; ``rotation`` (rad) and ``offset`` of the projection (NaN for real input,
        which is already projected); from the fit: ``v_plus``, ``v_minus`` (coercive biases,
        V), ``imprint`` (V), ``r_plus``, ``r_minus`` (remanent responses), ``switchable_polarization``,
        ``work_of_switching`` (data units x V), ``nucleation_bias_1``, ``nucleation_bias_2`` (V).
        Lazy if `da` is.

    Raises
    ------
    FitError
        A Dataset without ``amplitude``/``phase``, or a `fit` without the loop parameters.
    DimensionError, UnitError
        As `loop_fit`.
    """
    func = "loop_metrics"
    da, axis = _loops_input(da, dim, func)
    volts = _inputs.axis_in(da, axis, "V", func)
    data_units = str(da.attrs.get("units", ""))
    if np.issubdtype(da.dtype, np.complexfloating):
        projection = loop_project(da, axis)
        loops, rotation, offset = projection.projected_loop, projection.rotation, projection.offset
    else:
        loops = da
        nan = xr.full_like(da.isel({axis: 0}, drop=True), np.nan, dtype=np.float64)
        rotation, offset = nan, nan
    if fit is None:
        fit = loop_fit(loops, axis)
    params = _inputs.stack_start(fit, _loop.PARAMS, {}, func)
    stacked = _inputs.run_blocks(
        loops, axis, _metrics_kernel, 12, params, volts=volts, nuc_threshold=nuc_threshold
    )
    area_units = _product(data_units, "V")
    columns = [
        ("area", area_units, "loop area"),
        ("centroid_x", "V", "loop centroid bias"),
        ("centroid_y", data_units, "loop centroid response"),
        ("v_plus", "V", "positive coercive bias"),
        ("v_minus", "V", "negative coercive bias"),
        ("imprint", "V", "imprint"),
        ("r_plus", data_units, "positive remanent response"),
        ("r_minus", data_units, "negative remanent response"),
        ("switchable_polarization", data_units, "switchable polarization"),
        ("work_of_switching", area_units, "work of switching"),
        ("nucleation_bias_1", "V", "nucleation bias 1"),
        ("nucleation_bias_2", "V", "nucleation bias 2"),
    ]
    result = _inputs.assemble(da, stacked, columns, "loop metrics")
    rotation = rotation.assign_attrs(units="rad", title="loop axis angle")
    offset = offset.assign_attrs(units=data_units, title="loop axis offset")
    result = result.assign(rotation=rotation, offset=offset)[list(_loop.METRICS)]
    result.attrs = {"title": f"{da.attrs.get('title') or da.name or 'signal'}: loop metrics"}
    return provenance.record(result, func, source=da, dim=axis, nuc_threshold=nuc_threshold)


def _metrics_kernel(
    values: np.ndarray, params: np.ndarray, *, volts: np.ndarray, nuc_threshold: float
) -> np.ndarray:
    shape, n = values.shape[:-1], values.shape[-1]
    loops = values.reshape(-1, n).astype(np.float64)
    p = np.broadcast_to(params, (*shape, 9)).reshape(-1, 9)
    (cx, cy), area = _loop.geometry(volts, loops)
    out = np.column_stack([area, cx, cy, _loop.switching(np.asarray(p, np.float64), nuc_threshold)])
    return out.reshape(*shape, 12)
