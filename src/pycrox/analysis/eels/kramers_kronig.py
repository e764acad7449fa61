"""Kramers-Kronig analysis of low-loss spectra: the dielectric function and the absolute thickness."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import scipy.fft
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok, quantity_in
from pycrox.analysis.eels import _zlp
from pycrox.analysis.eels._common import EELSError, energy_axis, experimental, relativistic
from pycrox.analysis.eels.deconvolution import fourier_log

__all__ = ["kramers_kronig"]

#: Bohr radius in nm
BOHR_NM = 0.0529177210903


def kramers_kronig(
    da: xr.DataArray,
    *,
    refractive_index: float | None = None,
    thickness: Any = None,
    beam_energy: Any = None,
    collection_angle: Any = None,
    dim: Hashable | None = None,
) -> xr.Dataset:
    """Complex dielectric function and thickness from low-loss spectra (Kramers-Kronig analysis).

    Parameters
    ----------
    da : xarray.DataArray
        Low-loss spectra with the whole zero-loss peak at 0 eV (see `align_zero_loss`), reaching far
        enough in energy that the loss function has decayed; numpy- or dask-backed.
    refractive_index : float, optional
        Optical refractive index ``n``, for the normalisation by the Kramers-Kronig sum rule
        (``np.inf`` for a metal). Give this or `thickness`.
    thickness : float or str, optional
        Known thickness (a number is in nm), for the normalisation instead of `refractive_index`.
    beam_energy, collection_angle : float, str or pint.Quantity, optional
        Default from ``attrs["metadata"]`` (numbers are keV and mrad).
    dim : hashable, optional
        The energy dim; default the single SPECTRAL dim.

    Returns
    -------
    xarray.Dataset
        ``epsilon`` (complex, over the energy axis; NaN up to the end of the zero-loss peak),
        ``loss_function`` (``Im[-1/epsilon]``) and ``thickness`` [nm] per pixel. Lazy if `da` is.

    Raises
    ------
    EELSError
        Neither or both of `refractive_index` and `thickness`; a refractive index <= 1; a missing
        beam energy or collection angle.
    DimensionError
        No energy dim, or a coordinate that is not increasing or uniform.

    Notes
    -----
    Egerton (2011), section 4.2.4 and the program KRAKRO: the single-scattering distribution
    (Fourier-log, reconvolved with the ZLP) is divided by the angular factor
    ``ln(1 + (beta / theta_E)**2)``, normalised by the sum rule ``int Im[-1/eps] dE / E = pi/2 (1 -
    1/n**2)`` (or by the thickness), and ``Re[1/eps]`` follows from a Kramers-Kronig (Hilbert)
    transform by FFT. Surface losses and retardation are not corrected.
    """
    func = "eels.kramers_kronig"
    axis, energy = energy_axis(da, dim, func)
    if (refractive_index is None) == (thickness is None):
        raise EELSError(f"{func}: give exactly one of refractive_index= (np.inf for a metal) or thickness=")
    if refractive_index is not None and not refractive_index > 1:
        raise EELSError(f"{func}: refractive_index must be > 1, not {refractive_index!r}")
    known_t = None if thickness is None else quantity_in(thickness, "nm", "length", func, "thickness")
    e0 = experimental(da, "beam_energy", beam_energy, func)
    beta = experimental(da, "collection_angle", collection_angle, func)
    gamma, t_ev, _ = relativistic(e0)
    settings = {
        "energy": energy,
        "n": refractive_index,
        "t": known_t,
        "beta": beta,
        "gamma": gamma,
        "t_ev": t_ev,
    }
    packed = xr.apply_ufunc(
        _kernel,
        core_chunks_ok(da, [axis], func),
        input_core_dims=[[axis]],
        output_core_dims=[[axis, "_part"]],
        kwargs=settings,
        dask="parallelized",
        keep_attrs=False,
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"_part": 4}},
    )
    eps = (packed.isel(_part=0) + 1j * packed.isel(_part=1)).drop_vars("_part", errors="ignore")
    out = xr.Dataset(
        {
            "epsilon": eps.transpose(*da.dims).assign_attrs(units="", long_name="dielectric function"),
            "loss_function": packed.isel(_part=2, drop=True)
            .transpose(*da.dims)
            .assign_attrs(units="", long_name="energy-loss function Im[-1/epsilon]"),
            "thickness": packed.isel({"_part": 3, axis: 0}, drop=True).assign_attrs(
                units="nm", long_name="thickness"
            ),
        }
    )
    return provenance.record(
        out,
        "eels.kramers_kronig",
        source=da,
        refractive_index=refractive_index,
        thickness=known_t,
        beam_energy=e0,
        collection_angle=beta,
        dim=axis,
    )


def _kernel(
    y: np.ndarray,
    *,
    energy: np.ndarray,
    n: float | None,
    t: float | None,
    beta: float,
    gamma: float,
    t_ev: float,
) -> np.ndarray:
    y = y.astype(np.float64)
    step = energy[1] - energy[0]
    end = _zlp.ends(y, energy)
    i0 = np.take_along_axis(np.cumsum(y, axis=-1), np.maximum(end - 1, 0)[..., None], -1)[..., 0]
    ssd = fourier_log(y, energy=energy)  # counts per channel
    # onto the grid k * step (k = 0, 1, ...): shift by the offset of the first channel above 0 eV
    first = int(np.searchsorted(energy, 0.0, side="right"))
    if first >= energy.size - 2:
        raise EELSError("eels.kramers_kronig: the energy axis has almost no channels above 0 eV")
    delta = energy[first] - step * np.round(energy[first] / step)
    grid = step * np.round(energy[first] / step) + step * np.arange(energy.size - first)
    valid = np.arange(energy.size - first)[None] + first >= end.reshape(-1, 1)
    flat = ssd.reshape(-1, energy.size)[:, first:]
    flat = np.where(valid, flat, 0.0)
    if abs(delta) > 1e-9 * step:  # values at grid = energy[first:] - delta
        flat = _zlp.shift_rows(flat, np.full(flat.shape[0], -delta), step=step)
    theta_e = grid / (2 * gamma * t_ev) * 1e3  # mrad
    angular = np.log1p((beta / theta_e) ** 2)
    weighted = flat / angular  # counts per channel / angular factor
    if t is None:
        index = np.inf if n is None else n  # the caller checked that one of n and t is given
        k = (weighted / grid).sum(axis=-1) / (0.5 * np.pi * (1 - 1 / index**2))  # counts / eV
        thick = k * np.pi * BOHR_NM * 2 * t_ev / i0.reshape(-1)
    else:
        thick = np.full(flat.shape[0], t)
        k = t * i0.reshape(-1) / (np.pi * BOHR_NM * 2 * t_ev)
    elf = weighted / step / k[:, None]
    re_inv = 1.0 + _hilbert_of_odd(elf, grid, step)
    eps = 1.0 / (re_inv - 1j * elf)
    out = np.full((*y.shape, 4), np.nan)
    body = out.reshape(-1, energy.size, 4)
    if abs(delta) > 1e-9 * step:  # back onto the data's channels
        back = np.full(flat.shape[0], delta)
        eps = _zlp.shift_rows(eps.real, back, step=step) + 1j * _zlp.shift_rows(eps.imag, back, step=step)
        elf = _zlp.shift_rows(elf, back, step=step)
    body[:, first:, 0], body[:, first:, 1], body[:, first:, 2] = eps.real, eps.imag, elf
    body[:, first:][~valid] = np.nan
    body[:, :, 3] = thick[:, None]
    return out


def _hilbert_of_odd(f: np.ndarray, grid: np.ndarray, step: float) -> np.ndarray:
    """``(1/pi) P int f(E') / (E - E') dE'`` of the odd extension of `f` (given on ``grid >= step``)."""
    m = f.shape[-1]
    offset = int(np.rint(grid[0] / step))  # channels between 0 eV and the first grid point
    positive = np.concatenate([np.zeros((f.shape[0], offset)), f], axis=-1)  # f at 0, step, 2 step...
    size = scipy.fft.next_fast_len(4 * positive.shape[-1])
    odd = np.zeros((f.shape[0], size))
    length = positive.shape[-1]
    odd[:, :length] = positive
    odd[:, size - length + 1 :] = -positive[:, :0:-1]
    spectrum = scipy.fft.fft(odd, axis=-1)
    sign = np.sign(scipy.fft.fftfreq(size))
    transformed = scipy.fft.ifft(-1j * sign * spectrum, axis=-1).real
    return transformed[:, offset : offset + m]
