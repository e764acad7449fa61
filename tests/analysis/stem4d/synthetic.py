"""Simulated 4-D STEM data of known truth: probe positions, potentials, lattices."""

from __future__ import annotations

import math

import numpy as np

import pycrox


def spot(shape: tuple[int, int], row: np.ndarray, col: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian spots of width `sigma` px centred at (row, col) (arrays of any shape) -> (*shape_of_row, *shape)."""
    r = np.arange(shape[0])[:, None]
    c = np.arange(shape[1])[None, :]
    row, col = np.asarray(row)[..., None, None], np.asarray(col)[..., None, None]
    return np.exp(-((r - row) ** 2 + (c - col) ** 2) / (2 * sigma**2))


def disk(shape: tuple[int, int], row: np.ndarray, col: np.ndarray, radius: float) -> np.ndarray:
    """Soft-edged disks of `radius` px (an edge of about one pixel) centred at (row, col)."""
    r = np.arange(shape[0])[:, None]
    c = np.arange(shape[1])[None, :]
    row, col = np.asarray(row)[..., None, None], np.asarray(col)[..., None, None]
    distance = np.hypot(r - row, c - col)
    return 1 / (1 + np.exp((distance - radius) / 0.5))


def stem4d(
    values: np.ndarray,
    *,
    det_units: str = "mrad",
    det_step: float = 1.0,
    scan_step: float = 0.1,
    centred: bool = True,
    beam_energy: float | None = 300.0,
):
    """A pycrox 4-D DataArray (y, x, ky, kx) with detector coordinates in `det_units`."""
    ny, nx, nky, nkx = values.shape
    coords = {}
    for dim, n in (("ky", nky), ("kx", nkx)):
        start = -(n // 2) * det_step if centred else 0.0
        coords[dim] = {"values": start + det_step * np.arange(n), "units": det_units}
    for dim, n in (("y", ny), ("x", nx)):
        coords[dim] = {"values": scan_step * np.arange(n), "units": "nm"}
    metadata = {"beam_energy": {"value": beam_energy, "units": "keV"}} if beam_energy else {}
    return pycrox.from_array(
        values,
        dims=("y", "x", "ky", "kx"),
        coords=coords,
        title="simulated",
        quantity="Intensity",
        units="counts",
        metadata=metadata,
    )


def potential(n: int, period: float, width: float, step: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A periodic lattice of Gaussian atoms on an n x n scan: phi and its gradient (d/dx, d/dy), analytic."""
    coord = step * np.arange(n)
    y, x = np.meshgrid(coord, coord, indexing="ij")
    phi, gx, gy = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    side = n * step
    for cy in np.arange(period / 2, side, period):
        for cx in np.arange(period / 2, side, period):
            dx = (x - cx + side / 2) % side - side / 2
            dy = (y - cy + side / 2) % side - side / 2
            g = np.exp(-(dx**2 + dy**2) / (2 * width**2))
            phi += g
            gx += -dx / width**2 * g
            gy += -dy / width**2 * g
    return phi, gx, gy


def rotate(vx: np.ndarray, vy: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return c * vx - s * vy, s * vx + c * vy
