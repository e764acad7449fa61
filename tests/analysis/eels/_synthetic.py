"""Synthetic EELS spectra of known truth: Poisson plural scattering of a known single-scattering distribution."""

from __future__ import annotations

import numpy as np

import pycrox
from pycrox.analysis.eels._common import relativistic

BOHR_NM = 0.0529177210903


def gauss(e: np.ndarray, centre: float, sigma: float) -> np.ndarray:
    return np.exp(-0.5 * ((e - centre) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def spectrum(
    values: np.ndarray, energy: np.ndarray, dims: tuple[str, ...] = ("energy",), **attrs
) -> xr.DataArray:  # noqa: F821
    return pycrox.from_array(values, dims=dims, coords={"energy": {"values": energy, "units": "eV"}}, **attrs)


def plural(energy: np.ndarray, ssd_per_i0: np.ndarray, zlp_norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(J / I0, ZLP-reconvolved SSD / I0)``: J = Z (x) exp*(S), S the SSD per I0 on the same axis (E=0 inside)."""
    n = energy.size
    size = 4 * n
    i_zero = int(np.argmin(np.abs(energy)))
    s0 = np.roll(np.pad(ssd_per_i0, (0, size - n)), -i_zero)
    zf = np.fft.rfft(np.pad(zlp_norm, (0, size - n)))
    sf = np.fft.rfft(s0)
    return np.fft.irfft(zf * np.exp(sf), size)[:n], np.fft.irfft(zf * sf, size)[:n]


def lowloss(energy: np.ndarray, t_over_lambda: float = 0.6, i0: float = 1e5, fwhm: float = 0.8):
    """Low-loss spectrum, its reconvolved SSD and ZLP (counts) for a plasmon-like SSD of integral t/lambda."""
    de = energy[1] - energy[0]
    zn = gauss(energy, 0.0, fwhm / 2.355) * de
    shape = np.where(energy > 0, gauss(energy, 15.0, 3.0) + 0.3 * gauss(energy, 25, 6), 0) * de
    j, ssd = plural(energy, t_over_lambda * shape / shape.sum(), zn)
    return i0 * j, i0 * ssd, i0 * zn


def drude_lowloss(energy, t_nm=40.0, ep=15.0, width=3.0, beta=10.0, e0=200.0, i0=1e5, fwhm=0.5):
    """Low-loss spectrum of a Drude metal of thickness `t_nm` and its dielectric function."""
    gamma, t_ev, _ = relativistic(e0)
    de = energy[1] - energy[0]
    pos = np.where(energy > 0, energy, 1.0)
    eps = 1 - ep**2 / (pos**2 + 1j * pos * width)
    elf = np.where(energy > 0, (-1 / eps).imag, 0.0)
    theta_e = pos / (2 * gamma * t_ev) * 1e3
    s_ev = i0 * t_nm / (np.pi * BOHR_NM * 2 * t_ev) * elf * np.log1p((beta / theta_e) ** 2)
    j, _ = plural(energy, s_ev * de / i0, gauss(energy, 0.0, fwhm / 2.355) * de)
    return i0 * j, eps
