"""Low-loss EELS: zero-loss alignment, relative and absolute thickness, inelastic mean free path."""

from __future__ import annotations

import re
import warnings
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok, quantity_in
from pycrox.analysis.eels import _zlp
from pycrox.analysis.eels._common import EELSError, EELSWarning, energy_axis, experimental, relativistic
from pycrox.analysis.eels.edges import atomic_number

__all__ = ["align_zero_loss", "mean_free_path", "thickness"]

#: block of pixels handled at once by the kernels (bytes of float64 work arrays)
_BLOCK_BYTES = 2**24


def align_zero_loss(da: xr.DataArray, *, dim: Hashable | None = None) -> xr.Dataset:
    """Shift every spectrum so that its zero-loss peak sits at 0 eV (sub-channel).

    Parameters
    ----------
    da : xarray.DataArray
        Low-loss spectra (one or a spectrum image) holding a zero-loss peak, the highest channel
        of each spectrum; numpy- or dask-backed.
    dim : hashable, optional
        The energy dim; default the single SPECTRAL dim.

    Returns
    -------
    xarray.Dataset
        ``aligned`` (like `da`, float; each spectrum moved by linear interpolation so that its
        ZLP centre is at 0 eV on the unchanged, now calibrated, energy axis; channels that move
        in from beyond the ends repeat the end values) and ``shift`` [eV], the ZLP centre found in
        each spectrum (a Gaussian through the maximum and its neighbours). Lazy if `da` is.

    Raises
    ------
    DimensionError
        No energy dim, or a coordinate that is not increasing or uniform.

    Examples
    --------
    >>> energy = np.arange(-5.0, 20.0, 0.1)
    >>> da = pycrox.from_array(np.exp(-0.5 * ((energy - 0.33) / 0.4) ** 2), dims=("energy",),
    ...                        coords={"energy": {"values": energy, "units": "eV"}})
    >>> round(float(align_zero_loss(da)["shift"]), 3)
    0.33
    """
    func = "eels.align_zero_loss"
    axis, energy = energy_axis(da, dim, func)
    step = energy[1] - energy[0]
    source = core_chunks_ok(da, [axis], func)
    shift = xr.apply_ufunc(
        lambda y: energy[0] + step * _zlp.peak_position(y),
        source,
        input_core_dims=[[axis]],
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[np.float64],
    )
    aligned = xr.apply_ufunc(
        _zlp.shift_rows,
        source,
        shift,
        input_core_dims=[[axis], []],
        output_core_dims=[[axis]],
        kwargs={"step": step},
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[np.float64],
    ).transpose(*da.dims)
    out = xr.Dataset(
        {
            "aligned": aligned.assign_attrs({k: v for k, v in da.attrs.items() if k != "provenance"}),
            "shift": shift.assign_attrs(units="eV", quantity="energy", long_name="zero-loss peak position"),
        }
    )
    return provenance.record(out, "eels.align_zero_loss", source=da, dim=axis)


def thickness(
    da: xr.DataArray,
    *,
    mean_free_path: Any = None,
    method: str | None = None,
    density: Any = None,
    composition: Mapping[str, float] | str | None = None,
    beam_energy: Any = None,
    collection_angle: Any = None,
    convergence_angle: Any = None,
    threshold: Any = None,
    dim: Hashable | None = None,
) -> xr.Dataset:
    """Relative thickness ``t / lambda`` by the log-ratio method, and ``t`` with a mean free path.

    Parameters
    ----------
    da : xarray.DataArray
        Low-loss spectra holding the whole zero-loss peak (its maximum is the ZLP); numpy- or
        dask-backed.
    mean_free_path : float, str or pint.Quantity, optional
        The inelastic mean free path (a number is in nm). Default: computed by `method` from the
        beam energy, the angles and `density` or `composition` (see `mean_free_path`).
    method : {"iakoubovskii", "malis"}, optional
        Mean-free-path formula; default Iakoubovskii when `density` is known, else Malis when
        `composition` is known.
    density : float or str, optional
        Mass density (a number is in g/cm^3), for Iakoubovskii's formula.
    composition : mapping or str, optional
        ``{"Sr": 1, "Ti": 1, "O": 3}`` or a formula ``"SrTiO3"``, for Malis' effective Z.
    beam_energy, collection_angle, convergence_angle : float, str or pint.Quantity, optional
        Default from ``attrs["metadata"]`` (numbers are keV and mrad). The convergence angle
        defaults to 0.
    threshold : float or str, optional
        End of the zero-loss peak in eV; default per pixel: the first minimum after the ZLP of
        the spectrum smoothed over 5 channels.
    dim : hashable, optional
        The energy dim; default the single SPECTRAL dim.

    Returns
    -------
    xarray.Dataset
        ``t_over_lambda`` (``ln(I_t / I_0)``), ``zero_loss_intensity`` (``I_0``), ``total_intensity``
        (``I_t``) per pixel; with a mean free path also ``mean_free_path`` [nm] and ``thickness``
        [nm]. Without one, an `EELSWarning` says which argument to pass. Lazy if `da` is.

    Raises
    ------
    DimensionError
        No energy dim, or a coordinate that is not increasing or uniform.
    EELSError
        Unknown method, missing beam energy or collection angle for the mean free path, an
        unknown element, a threshold outside the data.

    Notes
    -----
    Egerton (2011), section 5.1. K. Iakoubovskii et al., Microsc. Res. Tech. 71, 626 (2008),
    doi:10.1002/jemt.20597. T. Malis, S. C. Cheng and R. F. Egerton, J. Electron Microsc. Tech. 8,
    193 (1988), doi:10.1002/jemt.1060080206.

    Examples
    --------
    >>> energy = np.arange(-5.0, 60.0, 0.1)
    >>> zlp = np.exp(-0.5 * (energy / 0.3) ** 2)
    >>> plasmon = 0.5 * np.exp(-0.5 * ((energy - 20) / 3) ** 2) * zlp.sum() / (3 * np.sqrt(2 * np.pi) / 0.1)
    >>> da = pycrox.from_array(zlp + plasmon, dims=("energy",), coords={"energy": {"values": energy, "units": "eV"}})
    >>> result = thickness(da, mean_free_path="100 nm")
    >>> round(float(result.t_over_lambda), 3), round(float(result.thickness), 1)
    (0.405, 40.5)
    """
    func = "eels.thickness"
    axis, energy = energy_axis(da, dim, func)
    fixed = None
    if threshold is not None:
        e = quantity_in(threshold, "eV", "energy", func, "threshold")
        if not energy[0] < e <= energy[-1]:
            raise EELSError(
                f"{func}: threshold {e:g} eV lies outside the data ({energy[0]:g} to {energy[-1]:g} eV)"
            )
        fixed = int(np.searchsorted(energy, e))
    source = core_chunks_ok(da, [axis], func)
    sums = xr.apply_ufunc(
        _sums_kernel,
        source,
        input_core_dims=[[axis]],
        output_core_dims=[["_sums"]],
        kwargs={"energy": energy, "fixed": fixed},
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"_sums": 2}},
    )
    i0, it = sums.isel(_sums=0, drop=True), sums.isel(_sums=1, drop=True)
    unit = str(da.attrs.get("units", "") or "")
    out = {
        "t_over_lambda": np.log(it / i0).assign_attrs(units="", long_name="relative thickness t/lambda"),
        "zero_loss_intensity": i0.assign_attrs(units=unit, long_name="zero-loss intensity I_0"),
        "total_intensity": it.assign_attrs(units=unit, long_name="total intensity I_t"),
    }
    mfp = _resolve_mfp(
        da,
        mean_free_path,
        method,
        density,
        composition,
        beam_energy,
        collection_angle,
        convergence_angle,
        func,
    )
    if mfp is not None:
        out["mean_free_path"] = xr.DataArray(
            mfp, attrs={"units": "nm", "long_name": "inelastic mean free path"}
        )
        out["thickness"] = (out["t_over_lambda"] * mfp).assign_attrs(units="nm", long_name="thickness")
    result = xr.Dataset(out)
    return provenance.record(
        result,
        "eels.thickness",
        source=da,
        dim=axis,
        mean_free_path=mfp,
        method=method,
        density=density,
        composition=composition,
        threshold=threshold,
    )


def _sums_kernel(y: np.ndarray, *, energy: np.ndarray, fixed: int | None) -> np.ndarray:
    """``[I_0, I_t]`` of every row (energy last)."""
    shape, n = y.shape[:-1], y.shape[-1]
    flat = y.reshape(-1, n)
    out = np.empty((flat.shape[0], 2))
    step = max(1, _BLOCK_BYTES // (8 * n))
    for start in range(0, flat.shape[0], step):
        block = flat[start : start + step]
        end = _zlp.ends(block, energy, fixed)
        cumulative = np.cumsum(block, axis=-1, dtype=np.float64)
        total = cumulative[:, -1]
        i0 = np.take_along_axis(cumulative, np.maximum(end - 1, 0)[:, None], -1)[:, 0]
        out[start : start + step, 0] = np.where(end > 0, i0, np.nan)
        out[start : start + step, 1] = total
    missing = int(np.count_nonzero(~np.isfinite(out[:, 0])))
    if missing:
        warnings.warn(
            f"eels.thickness: {missing} spectra have no zero-loss peak (a maximum within {_zlp.PEAK_RANGE_EV:g} eV "
            "of 0 eV followed by a minimum); their results are NaN. Calibrate the axis (align_zero_loss), pass "
            "threshold= in eV, or check that these are low-loss spectra",
            EELSWarning,
            stacklevel=1,
        )
    return out.reshape(*shape, 2)


def _resolve_mfp(
    da: xr.DataArray,
    value: Any,
    method: str | None,
    density: Any,
    composition: Any,
    beam_energy: Any,
    collection_angle: Any,
    convergence_angle: Any,
    func: str,
) -> float | None:
    if value is not None:
        return quantity_in(value, "nm", "length", func, "mean_free_path")
    sample = (da.attrs.get("metadata") or {}).get("sample") or {}
    density = density if density is not None else sample.get("density")
    composition = composition if composition is not None else sample.get("composition")
    if method is None and density is None and composition is None:
        warnings.warn(
            f"{func}: no mean free path, density or composition given, so only t/lambda is returned; pass "
            "mean_free_path='120 nm', density='5.1 g/cm^3' or composition='SrTiO3' for the thickness in nm",
            EELSWarning,
            stacklevel=3,
        )
        return None
    e0 = experimental(da, "beam_energy", beam_energy, func)
    beta = experimental(da, "collection_angle", collection_angle, func)
    alpha = experimental(da, "convergence_angle", convergence_angle, func, default=0.0)
    return mean_free_path(e0, beta, alpha, method=method, density=density, composition=composition)


def mean_free_path(
    beam_energy: Any,
    collection_angle: Any,
    convergence_angle: Any = 0.0,
    *,
    method: str | None = None,
    density: Any = None,
    composition: Mapping[str, float] | str | None = None,
) -> float:
    """Inelastic mean free path [nm] of fast electrons (Iakoubovskii or Malis).

    Parameters
    ----------
    beam_energy : float, str or pint.Quantity
        Kinetic energy of the beam (a number is in keV; ``"200 kV"`` works).
    collection_angle, convergence_angle : float, str or pint.Quantity
        Semi-angles (numbers in mrad).
    method : {"iakoubovskii", "malis"}, optional
        Default: Iakoubovskii when `density` is given, else Malis.
    density : float or str, optional
        Mass density (numbers in g/cm^3); needed by Iakoubovskii.
    composition : mapping or str, optional
        Atomic proportions ``{"Si": 1, "O": 2}`` or a formula ``"SiO2"``; needed by Malis.

    Returns
    -------
    float
        The mean free path in nm.

    Raises
    ------
    EELSError
        Unknown method, or the density / composition it needs is missing, or an unknown element.

    Notes
    -----
    Iakoubovskii et al. (2008), eq. 8: ``1/lambda = 11 rho**0.3 / (200 F E0) * ln[(a2 + b2 + 2 tE2
    + |a2 - b2|) / (a2 + b2 + 2 tC2 + |a2 - b2|) * tC2 / tE2]`` with ``tE = 5.5 rho**0.3 / (F E0)``
    mrad and ``tC = 20`` mrad. Malis et al. (1988): ``lambda = 106 F E0 / (Em ln(2 beta E0 / Em))``
    with ``Em = 7.6 Zeff**0.36`` eV and ``Zeff = sum(f Z**1.3) / sum(f Z**0.3)``.

    Examples
    --------
    >>> round(mean_free_path("200 kV", "100 mrad", density=2.33), 1)
    149.3
    """
    func = "eels.mean_free_path"
    e0 = (
        quantity_in(beam_energy, "keV", "energy", func, "beam_energy")
        if not _is_voltage(beam_energy)
        else (quantity_in(beam_energy, "kV", "voltage", func, "beam_energy"))
    )
    beta = quantity_in(collection_angle, "mrad", "angle", func, "collection_angle")
    alpha = quantity_in(convergence_angle, "mrad", "angle", func, "convergence_angle")
    if method is None:
        method = "iakoubovskii" if density is not None else "malis"
    _, _, f = relativistic(e0)
    if method == "iakoubovskii":
        if density is None:
            raise EELSError(f"{func}: Iakoubovskii's formula needs the density; pass density='5.1 g/cm^3'")
        rho = quantity_in(density, "g/cm^3", "density", func, "density")
        theta_e, theta_c = 5.5 * rho**0.3 / (f * e0), 20.0
        a2, b2 = alpha**2, beta**2
        ratio = (a2 + b2 + 2 * theta_e**2 + abs(a2 - b2)) / (a2 + b2 + 2 * theta_c**2 + abs(a2 - b2))
        inverse = 11 * rho**0.3 / (200 * f * e0) * np.log(ratio * theta_c**2 / theta_e**2)
        return float(1.0 / inverse)
    if method == "malis":
        if composition is None:
            raise EELSError(f"{func}: Malis' formula needs the composition; pass composition='SrTiO3'")
        z_eff = effective_z(composition)
        em = 7.6 * z_eff**0.36
        return float(106 * f * e0 / (em * np.log(2 * beta * e0 / em)))
    raise EELSError(f"{func}: unknown method {method!r}; choose 'iakoubovskii' or 'malis'")


def _is_voltage(value: Any) -> bool:
    return isinstance(value, str) and value.strip().lower().endswith(("kv", " v", "mv"))


def effective_z(composition: Mapping[str, float] | str) -> float:
    """Malis' effective atomic number ``sum(f Z**1.3) / sum(f Z**0.3)`` of a composition or formula."""
    parts = parse_composition(composition)
    z = np.array([atomic_number(el) for el in parts], dtype=float)
    f = np.array(list(parts.values()), dtype=float)
    return float((f * z**1.3).sum() / (f * z**0.3).sum())


def parse_composition(composition: Mapping[str, float] | str) -> dict[str, float]:
    """``"SrTiO3"`` or ``{"Sr": 1, ...}`` -> ``{"Sr": 1.0, "Ti": 1.0, "O": 3.0}`` (elements checked)."""
    if isinstance(composition, str):
        tokens = re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", composition)
        if not tokens or "".join(a + b for a, b in tokens) != composition.replace(" ", ""):
            raise EELSError(
                f"cannot read the formula {composition!r}; write it like 'SrTiO3' or pass a mapping"
            )
        parts: dict[str, float] = {}
        for element, count in tokens:
            parts[element] = parts.get(element, 0.0) + (float(count) if count else 1.0)
    else:
        parts = {str(k): float(v) for k, v in composition.items()}
    for element in parts:
        atomic_number(element)
    if not parts or min(parts.values()) <= 0:
        raise EELSError(f"composition {composition!r} needs positive amounts")
    return parts
