"""Pre-edge background of EELS spectra: fitted in a window, extrapolated under the edge, subtracted.

Every spectrum (every line along the energy dim) is fitted on its own, all at once per block of
pixels with numpy (see `pycrox.analysis.eels._solvers`): no Python loop per pixel.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._blocks import each_block
from pycrox.analysis._dims import core_chunks_ok, float_dtype
from pycrox.analysis.eels import _solvers
from pycrox.analysis.eels._common import EELSError, EELSWarning, data_units, energy_axis, window_mask

__all__ = ["MODELS", "background"]

#: the background models and the parameters each reports
MODELS = {
    "powerlaw": ("amplitude", "exponent"),
    "exponential": ("amplitude", "decay"),
    "polynomial": ("coefficients",),
    "lcpl": ("amplitude", "exponent"),
}
#: bytes of one (pixels x channels) float64 work array: small enough to stay in cache
_BLOCK_BYTES = 2**21


def _cpu_count() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class _Spec:
    """What the kernel needs: the model, the window's energies (eV) and the model's constants."""

    model: str
    energy: np.ndarray
    degree: int = 0
    exponents: tuple[float, float] = (0.0, 0.0)

    @property
    def count(self) -> int:
        return self.degree + 1 if self.model == "polynomial" else 2

    @property
    def reference(self) -> float:
        return (
            float(np.sqrt(self.energy[0] * self.energy[-1]))
            if self.model != "polynomial"
            else float(0.5 * (self.energy[0] + self.energy[-1]))
        )


def background(
    da: xr.DataArray,
    window: Sequence[Any],
    model: str = "powerlaw",
    *,
    dim: Hashable | None = None,
    degree: int = 2,
    exponents: Sequence[float] | None = None,
) -> xr.Dataset:
    """Fit a background in an energy window before an edge and subtract it everywhere.

    Parameters
    ----------
    da : xarray.DataArray
        One spectrum or a spectrum image (numpy- or dask-backed) with an increasing, uniform
        energy-loss coordinate in an energy unit (taken in eV).
    window : (start, end)
        The fit window, in eV (numbers) or strings with units (``("350 eV", "450 eV")``). It
        must lie inside the data and hold more channels than the model has parameters.
    model : {"powerlaw", "exponential", "polynomial", "lcpl"}, optional
        ``"powerlaw"``: ``A * E**-r`` (Egerton's standard model). ``"exponential"``:
        ``A * exp(-E / decay)``. ``"polynomial"``: ``sum(c_k * E**k)`` of `degree`.
        ``"lcpl"``: a linear combination of two power laws with fixed exponents, ``A_1 E**-r_1 +
        A_2 E**-r_2`` (Cueva et al. 2012), fitted linearly per pixel.
    dim : hashable, optional
        The energy dim; default the single SPECTRAL dim.
    degree : int, optional
        Polynomial degree (``model="polynomial"``), 0 to 6.
    exponents : (float, float), optional
        The two exponents of ``"lcpl"``; default ``r - 1`` and ``r + 1`` around the power-law
        exponent ``r`` of the mean spectrum in the window (computed now, also on dask data).

    Returns
    -------
    xarray.Dataset
        ``subtracted`` (``da - background``) and ``background`` (like `da`, the model
        extrapolated over the whole energy axis; NaN where ``E <= 0`` for power laws), the model's
        parameters over the other dims with ``<name>_error`` (standard errors, as curve_fit's
        ``sqrt(diag(pcov))``): ``amplitude`` and ``exponent`` (power law; ``amplitude`` is the
        intensity at 1 eV), ``amplitude`` and ``decay`` [eV] (exponential), ``coefficients`` over a
        dim ``degree`` (polynomial, in powers of E in eV), ``amplitude`` over a dim ``term`` with
        the ``exponent`` of each term (lcpl); ``r2`` in the window and ``converged`` (bool). Lazy
        if `da` is. Unconverged pixels keep their last values and give an `EELSWarning`.

    Raises
    ------
    DimensionError
        No energy dim, a coordinate that is not increasing or not uniform.
    UnitError
        An energy coordinate or window in a unit that is not an energy.
    EELSError
        Unknown model, a window outside the data or with too few channels, a bad degree.

    Notes
    -----
    R. F. Egerton, *Electron Energy-Loss Spectroscopy in the Electron Microscope*, 3rd ed.
    (Springer, 2011), section 4.4. J. A. Cueva et al., Microsc. Microanal. 18, 667 (2012),
    doi:10.1017/S1431927612000244 (LCPL).

    Examples
    --------
    >>> energy = np.arange(300.0, 500.0, 1.0)
    >>> da = pycrox.from_array(1e9 * energy**-3.0, dims=("energy",),
    ...                        coords={"energy": {"values": energy, "units": "eV"}})
    >>> result = background(da, (300, 400))
    >>> round(float(result.exponent), 6), bool(result.converged)
    (3.0, True)
    """
    func = "eels.background"
    axis, energy = energy_axis(da, dim, func)
    if model not in MODELS:
        raise EELSError(f"{func}: unknown model {model!r}; choose one of {sorted(MODELS)}")
    if model == "polynomial" and (
        isinstance(degree, bool) or not isinstance(degree, int) or not 0 <= degree <= 6
    ):
        raise EELSError(f"{func}: degree must be an integer from 0 to 6, not {degree!r}")
    spec = _Spec(model, energy, degree if model == "polynomial" else 0)
    mask = window_mask(energy, window, func, minimum=spec.count + 1)
    if model in ("powerlaw", "lcpl") and energy[mask][0] <= 0:
        raise EELSError(f"{func}: a power law needs energies > 0 in the window; move it above 0 eV")
    spec = _Spec(model, energy[mask], spec.degree)
    inside = np.flatnonzero(mask)  # contiguous on an increasing axis: a slice is a view, not a copy
    part = core_chunks_ok(da.isel({axis: slice(inside[0], inside[-1] + 1)}), [axis], func)
    if model == "lcpl":
        spec = _Spec(model, spec.energy, 0, _lcpl_exponents(part, axis, spec, exponents))
    packed = xr.apply_ufunc(
        _kernel,
        part,
        input_core_dims=[[axis]],
        output_core_dims=[["_packed"]],
        kwargs={"spec": spec, "threads": 1 if part.chunks is not None else _cpu_count()},
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"_packed": 2 * spec.count + 2}},
    )
    result = _assemble(da, axis, energy, spec, packed)
    return provenance.record(
        result,
        "eels.background",
        source=da,
        window=[float(v) for v in energy[mask][[0, -1]]],
        model=model,
        dim=axis,
        degree=spec.degree,
        exponents=list(spec.exponents),
    )


def _lcpl_exponents(
    part: xr.DataArray, axis: Hashable, spec: _Spec, exponents: Sequence[float] | None
) -> tuple[float, float]:
    if exponents is not None:
        values = [float(v) for v in exponents]
        if len(values) != 2 or values[0] == values[1]:
            raise EELSError(f"eels.background: exponents must be two different numbers, not {exponents!r}")
        return values[0], values[1]
    others = [d for d in part.dims if d != axis]
    mean = np.asarray(part.mean(others).values if others else part.values, dtype=np.float64)[None, :]
    power = _kernel(mean, spec=_Spec("powerlaw", spec.energy))
    r = float(power[0, 1])
    if not np.isfinite(r):
        raise EELSError(
            "eels.background: the mean spectrum in the window is not a power law; pass exponents="
        )
    return r - 1.0, r + 1.0


def _kernel(values: np.ndarray, *, spec: _Spec, threads: int = 1) -> np.ndarray:
    """Fit every line of `values` (core dim last): ``[params | errors | r2 | converged]``."""
    shape, m = values.shape[:-1], values.shape[-1]
    y = values.reshape(-1, m)
    out = np.full((y.shape[0], 2 * spec.count + 2), np.nan)
    rows = np.flatnonzero(np.isfinite(y).all(axis=1))

    def run(part: slice) -> None:
        index = rows[part]
        out[index] = _fit_block(y[index].astype(np.float64), spec)

    each_block(rows.size, run, threads, max(64, _BLOCK_BYTES // (8 * m)))
    out[:, -1] = np.where(np.isfinite(out[:, -1]), out[:, -1], 0.0)
    failed = rows.size - int(np.count_nonzero(out[rows, -1] > 0.5))
    if failed:
        warnings.warn(
            f"eels.background: {failed} of {rows.size} spectra did not converge (model {spec.model!r}); "
            "they are flagged by converged=False. Check the window (it should sit just before the edge, "
            "on a smoothly decreasing background) or try another model",
            EELSWarning,
            stacklevel=1,
        )
    return out.reshape(*shape, out.shape[-1])


def _fit_block(y: np.ndarray, spec: _Spec) -> np.ndarray:
    e, ref = spec.energy, spec.reference
    if spec.model in ("powerlaw", "exponential"):
        g = np.log(e / ref) if spec.model == "powerlaw" else e - ref
        sol = _solvers.fit_exponential_family(y, g)
        params, cov = _exponential_parameters(sol, spec.model, ref)
    elif spec.model == "polynomial":
        scale = max(0.5 * (e[-1] - e[0]), 1e-12)
        design = ((e[:, None] - ref) / scale) ** np.arange(spec.count)
        sol = _solvers.fit_linear(y, design)
        transform = _polynomial_transform(ref, scale, spec.degree)
        params = sol.params @ transform.T
        cov = transform @ sol.covariance @ transform.T
    else:
        design = (e[:, None] / ref) ** -np.asarray(spec.exponents)
        sol = _solvers.fit_linear(y, design)
        factor = ref ** np.asarray(spec.exponents)
        params = sol.params * factor
        cov = sol.covariance * np.outer(factor, factor)
    errors = np.sqrt(np.abs(np.diagonal(cov, axis1=1, axis2=2)))
    return np.concatenate([params, errors, sol.r2[:, None], sol.converged[:, None]], axis=1)


def _exponential_parameters(sol: _solvers.Solution, model: str, ref: float) -> tuple[np.ndarray, np.ndarray]:
    """``(c, b)`` of ``c exp(-b g)`` -> reported parameters and their covariance (delta method)."""
    c, b = sol.params[:, 0], sol.params[:, 1]
    shift = np.log(ref) if model == "powerlaw" else ref
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        factor = np.exp(b * shift)
        amplitude = c * factor
        second = b if model == "powerlaw" else 1.0 / b
        d_second = np.ones_like(b) if model == "powerlaw" else -1.0 / b**2
    jac = np.zeros((c.size, 2, 2))
    jac[:, 0, 0], jac[:, 0, 1], jac[:, 1, 1] = factor, amplitude * shift, d_second
    with np.errstate(over="ignore", invalid="ignore"):
        cov = jac @ sol.covariance @ np.swapaxes(jac, 1, 2)
    return np.stack([amplitude, second], axis=1), cov


def _polynomial_transform(ref: float, scale: float, degree: int) -> np.ndarray:
    """Matrix taking coefficients of powers of ``(E - ref) / scale`` to coefficients of powers of E."""
    transform = np.zeros((degree + 1, degree + 1))
    for k in range(degree + 1):
        column = np.polynomial.polynomial.polypow([-ref / scale, 1.0 / scale], k)
        transform[: column.size, k] = column
    return transform


def _assemble(
    da: xr.DataArray, axis: Hashable, energy: np.ndarray, spec: _Spec, packed: xr.DataArray
) -> xr.Dataset:
    count, unit = spec.count, data_units(da)
    take = {i: packed.isel(_packed=i, drop=True) for i in range(2 * count + 2)}
    dtype = float_dtype(da.dtype)  # the curves in the data's float type (float32 stays float32)
    out: dict[str, xr.DataArray] = {}
    if spec.model in ("powerlaw", "exponential"):
        second = "exponent" if spec.model == "powerlaw" else "decay"
        second_units = "" if spec.model == "powerlaw" else "eV"
        amp, other = take[0], take[1]
        long_amp = "A in A*E**-r (E in eV)" if spec.model == "powerlaw" else "A in A*exp(-E/decay)"
        out["amplitude"] = amp.assign_attrs(units=unit, long_name=long_amp)
        out["amplitude_error"] = take[2].assign_attrs(units=unit, long_name="standard error of amplitude")
        out[second] = other.assign_attrs(units=second_units, long_name=f"background {second}")
        out[f"{second}_error"] = take[3].assign_attrs(
            units=second_units, long_name=f"standard error of {second}"
        )
    else:
        name, index_dim = ("coefficients", "degree") if spec.model == "polynomial" else ("amplitude", "term")
        coef = xr.concat([take[i] for i in range(count)], dim=index_dim).assign_coords(
            {index_dim: np.arange(count)}
        )
        err = xr.concat([take[count + i] for i in range(count)], dim=index_dim).assign_coords(
            {index_dim: np.arange(count)}
        )
        out[name] = coef.assign_attrs(units=unit, long_name=f"background {name}")
        out[f"{name}_error"] = err.assign_attrs(units=unit, long_name=f"standard error of {name}")
        if spec.model == "lcpl":
            out["exponent"] = xr.DataArray(np.asarray(spec.exponents), dims=(index_dim,), attrs={"units": ""})
    curve, subtracted = xr.apply_ufunc(
        _curve_kernel,
        da,
        packed.isel(_packed=slice(0, count)),
        input_core_dims=[[axis], ["_packed"]],
        output_core_dims=[[axis], [axis]],
        kwargs={
            "spec": replace(spec, energy=energy),
            "threads": 1 if da.chunks is not None else _cpu_count(),
        },
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[dtype, dtype],
    )
    out["r2"] = take[2 * count].assign_attrs(units="", long_name="coefficient of determination in the window")
    out["converged"] = (take[2 * count + 1] > 0.5).assign_attrs(long_name="fit converged")
    out["background"] = curve.transpose(*da.dims).assign_attrs(
        units=unit, long_name=f"{spec.model} background"
    )
    out["subtracted"] = subtracted.transpose(*da.dims).assign_attrs(
        {**_keep(da.attrs), "long_name": "background-subtracted intensity"}
    )
    return xr.Dataset(out, attrs=_keep(da.attrs))


def _curve_kernel(
    values: np.ndarray, params: np.ndarray, *, spec: _Spec, threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(background, values - background)`` over the whole energy axis, block by block in cache."""
    shape, n = values.shape[:-1], values.shape[-1]
    dtype = float_dtype(values.dtype)
    y = values.reshape(-1, n)
    p = np.broadcast_to(params, (*shape, params.shape[-1])).reshape(-1, params.shape[-1])
    energy = spec.energy
    with np.errstate(divide="ignore", invalid="ignore"):
        positive = np.where(energy > 0, energy, np.nan)
        if spec.model == "powerlaw":
            basis = -np.log(positive).astype(dtype)
        elif spec.model == "exponential":
            basis = -energy.astype(dtype)
        elif spec.model == "polynomial":
            basis = energy ** np.arange(spec.count)[:, None]  # raw powers need float64
        else:
            basis = positive ** -np.asarray(spec.exponents)[:, None]
    back, sub = np.empty(y.shape, dtype), np.empty(y.shape, dtype)

    def run(rows: slice) -> None:
        q = p[rows]
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if spec.model == "powerlaw":
                curve = q[:, :1].astype(dtype) * np.exp(q[:, 1:2].astype(dtype) * basis)
            elif spec.model == "exponential":
                curve = q[:, :1].astype(dtype) * np.exp((1 / q[:, 1:2]).astype(dtype) * basis)
            else:
                curve = q @ basis
        back[rows] = curve
        np.subtract(y[rows], back[rows], out=sub[rows], casting="unsafe")

    each_block(y.shape[0], run, threads, max(16, _BLOCK_BYTES // (8 * n)))
    return back.reshape(*shape, n), sub.reshape(*shape, n)


def _keep(attrs: dict) -> dict:
    """The data's descriptive attrs (units, quantity, metadata), without its provenance."""
    return {k: v for k, v in attrs.items() if k != "provenance"}
