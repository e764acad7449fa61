r"""Simple-harmonic-oscillator guesses and fits of complex band-excitation responses, every pixel at once.

The model (BGlib's ``SHOfunc``) is

.. math:: H(f) = A e^{i\varphi} \frac{f_0^2}{f^2 - i f f_0 / Q - f_0^2}

fitted to the real and imaginary parts jointly. Numerics live in `pycrox.analysis.be._sho`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal

import xarray as xr

from pycrox import provenance
from pycrox.analysis.be import _inputs, _kernels, _sho
from pycrox.analysis.models import FitError

__all__ = ["sho_fit", "sho_guess"]

GuessMethod = Literal["complex_gaussian", "direct"]
_GUESSES = _kernels.GUESSES


def _columns(data_units: str, errors: bool) -> list[tuple[str, str, str]]:
    params = [
        ("amplitude", data_units, "SHO amplitude"),
        ("resonance_frequency", "Hz", "SHO resonance frequency"),
        ("quality_factor", "", "SHO quality factor"),
        ("phase", "rad", "SHO phase"),
    ]
    out = list(params)
    if errors:
        out += [(f"{name}_error", unit, f"standard error of the {text}") for name, unit, text in params]
    out.append(("r2", "", "SHO R²"))
    if errors:
        out.append(("converged", "", "SHO fit converged"))
    return out


def _check_method(method: str, func: str) -> None:
    if method not in _GUESSES:
        raise FitError(f"{func}: unknown guess method {method!r}; use one of {sorted(_GUESSES)}")


def sho_guess(
    da: xr.DataArray, dim: Hashable | None = None, *, method: GuessMethod = "complex_gaussian"
) -> xr.Dataset:
    """Starting values of the SHO model for every pixel, without iterating.

    Parameters
    ----------
    da : xarray.DataArray
        Complex band-excitation response, numpy- or dask-backed, any number of other dims.
    dim : hashable, optional
        The frequency dim; default the single SPECTRAL dim (a USID ``Frequency`` dim works).
        Its coordinate must have units convertible to Hz.
    method : {"complex_gaussian", "direct"}, optional
        ``"complex_gaussian"``: BGlib's estimate from pairs of the five largest bins, weighted by
        their misfit, falling back to ``"direct"`` where it fails (as BGlib falls back to its
        fast guess). ``"direct"``: the amplitude peak and its width at half power.

    Returns
    -------
    xarray.Dataset
        ``amplitude`` (units of `da`), ``resonance_frequency`` (Hz), ``quality_factor``,
        ``phase`` (rad) and ``r2`` of the guessed curve, over the other dims; lazy if `da` is.
        Pixels holding NaN get NaN.

    Raises
    ------
    FitError
        Real data, or an unknown `method`.
    DimensionError
        No (or several) SPECTRAL dims and no `dim`, or a dim without a coordinate.
    UnitError
        A frequency coordinate without units, or in units that are not a frequency.

    See Also
    --------
    sho_fit : the least-squares fit that starts from these values.

    Examples
    --------
    >>> from pycrox.analysis.be import _sho
    >>> f = np.linspace(290e3, 310e3, 64)
    >>> z = _sho.response(f, 1e-3, 300e3, 150.0, 0.5)
    >>> da = xr.DataArray(z, dims="frequency", coords={"frequency": ("frequency", f, {"units": "Hz"})})
    >>> guess = sho_guess(da, "frequency")
    >>> round(float(guess.resonance_frequency) / 1e3, 1), guess.resonance_frequency.attrs["units"]
    (300.0, 'Hz')
    """
    func = "sho_guess"
    axis = _inputs.spectral_dim(da, dim, func)
    _inputs.require_complex(da, func)
    _check_method(method, func)
    freq = _inputs.axis_in(da, axis, "Hz", func)
    stacked = _inputs.run_blocks(da, axis, _kernels.sho_guess_kernel, 5, freq=freq, method=method)
    result = _inputs.assemble(da, stacked, _columns(str(da.attrs.get("units", "")), False), "SHO guess")
    return provenance.record(result, func, source=da, dim=axis, method=method)


def sho_fit(
    da: xr.DataArray,
    dim: Hashable | None = None,
    *,
    guess: GuessMethod | xr.Dataset = "complex_gaussian",
    max_iter: int = _sho.MAX_ITER,
) -> xr.Dataset:
    """Least-squares SHO fit of every pixel's complex response, real and imaginary parts jointly.

    Parameters
    ----------
    da : xarray.DataArray
        Complex band-excitation response, numpy- or dask-backed.
    dim : hashable, optional
        The frequency dim; default the single SPECTRAL dim. Its coordinate needs units
        convertible to Hz.
    guess : {"complex_gaussian", "direct"} or xarray.Dataset, optional
        A `sho_guess` method, or a Dataset with ``amplitude``, ``resonance_frequency``,
        ``quality_factor`` and ``phase`` over the other dims (e.g. an earlier `sho_guess`
        or `sho_fit` result).
    max_iter : int, optional
        Levenberg-Marquardt iterations per pixel before it counts as not converged.

    Returns
    -------
    xarray.Dataset
        ``amplitude`` (units of `da`), ``resonance_frequency`` (Hz), ``quality_factor``,
        ``phase`` (rad, in ``(-π, π]``, with ``amplitude >= 0``), their ``<name>_error``
        (standard errors as `scipy.optimize.curve_fit` gives them), ``r2`` (BGlib's complex
        R²) and ``converged`` (bool), over the other dims; lazy if `da` is. Pixels holding
        NaN or not converging get NaN and ``converged=False``, with one `FitWarning`
        (one per dask chunk on dask data) giving their count.

    Raises
    ------
    FitError
        Real data, an unknown guess method, or a guess Dataset without the four parameters.
    DimensionError
        No (or several) SPECTRAL dims and no `dim`, or a dim without a coordinate.
    UnitError
        A frequency coordinate without units, or in units that are not a frequency.

    See Also
    --------
    sho_guess : the starting values.

    Notes
    -----
    The model and the ``complex_gaussian`` guess are those of BGlib (Jesse, Ievlev, Smith;
    pycroscopy/BGlib ``be_sho.py``). BGlib minimises ``1 - R²`` per pixel with scipy; here all
    pixels of a block are solved together by the batched Levenberg-Marquardt of
    `pycrox.analysis._lm` with an analytic Jacobian.

    Examples
    --------
    >>> from pycrox.analysis.be import _sho
    >>> f = np.linspace(290e3, 310e3, 64)
    >>> z = _sho.response(f, 1e-3, 301e3, 150.0, 0.5)
    >>> da = xr.DataArray(z, dims="frequency", coords={"frequency": ("frequency", f, {"units": "Hz"})})
    >>> result = sho_fit(da, "frequency")
    >>> round(float(result.resonance_frequency)), round(float(result.quality_factor), 3), bool(result.converged)
    (301000, 150.0, True)
    """
    func = "sho_fit"
    axis = _inputs.spectral_dim(da, dim, func)
    _inputs.require_complex(da, func)
    freq = _inputs.axis_in(da, axis, "Hz", func)
    data_units = str(da.attrs.get("units", ""))
    start = None
    method = None
    if isinstance(guess, xr.Dataset):
        unit_of = {"resonance_frequency": "Hz", "phase": "rad"}
        start = _inputs.stack_start(guess, _sho.PARAMS, unit_of, func)
    else:
        _check_method(guess, func)
        method = guess
    stacked = _inputs.run_blocks(
        da,
        axis,
        _kernels.sho_fit_kernel,
        _sho.WIDTH,
        start,
        freq=freq,
        method=method,
        max_iter=max_iter,
        threads=_inputs.threads_for(da),
    )
    result = _inputs.assemble(da, stacked, _columns(data_units, True), "SHO fit")
    described = guess if isinstance(guess, str) else "Dataset"
    return provenance.record(result, func, source=da, dim=axis, guess=described, max_iter=max_iter)
