"""Synthetic band-excitation data of known parameters, shared by the BE tests."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from pycrox.analysis.be import _loop, _sho

FREQ = np.linspace(290e3, 310e3, 64)


def sho_truth(shape: tuple[int, ...], seed: int = 0) -> dict[str, np.ndarray]:
    """Random SHO parameters: resonance inside the band, Q 100-300, any phase."""
    rng = np.random.default_rng(seed)
    return {
        "amplitude": rng.uniform(0.5, 1.5, shape) * 1e-3,
        "resonance_frequency": rng.uniform(296e3, 304e3, shape),
        "quality_factor": rng.uniform(100, 300, shape),
        "phase": rng.uniform(-np.pi, np.pi, shape),
    }


def sho_data(
    truth: dict[str, np.ndarray], noise: float = 0.01, seed: int = 1, freq: np.ndarray = FREQ
) -> xr.DataArray:
    """Complex responses with complex Gaussian noise of `noise` x the peak amplitude (A Q)."""
    rng = np.random.default_rng(seed)
    p = [truth[k][..., None] for k in _sho.PARAMS]
    z = _sho.response(freq, *p)
    scale = (truth["amplitude"] * truth["quality_factor"])[..., None] * noise / np.sqrt(2)
    z = z + scale * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))
    dims = ("y", "x")[: z.ndim - 1]
    coords = {
        d: (d, np.arange(z.shape[i]), {"units": "px", "dimension_type": "SPATIAL"})
        for i, d in enumerate(dims)
    }
    coords["Frequency"] = ("Frequency", freq, {"units": "Hz", "dimension_type": "SPECTRAL"})
    return xr.DataArray(
        z.astype(np.complex64),
        dims=(*dims, "Frequency"),
        coords=coords,
        name="BE response",
        attrs={"units": "V"},
    )


def triangle(n: int = 64, vmax: float = 10.0) -> np.ndarray:
    """BGlib's DC waveform: 0 -> +V -> 0 -> -V -> 0."""
    k = np.arange(n) / n
    return vmax * np.where(k < 0.25, 4 * k, np.where(k < 0.75, 2 - 4 * k, 4 * k - 4))


def loop_truth(pixels: int, seed: int = 2) -> np.ndarray:
    """Random 9-parameter loops: coercive biases near -3 V and +3 V."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.uniform(-1.2, -0.8, pixels),
            rng.uniform(1.5, 2.5, pixels),
            rng.uniform(-4, -2, pixels),
            rng.uniform(2, 4, pixels),
            rng.uniform(-0.01, 0.01, pixels),
            *(rng.uniform(1.0, 2.0, pixels) for _ in range(4)),
        ]
    )


def loop_data(params: np.ndarray, volts: np.ndarray, noise: float = 0.01, seed: int = 3) -> xr.DataArray:
    """Projected loops (pixel, DC_Offset) from the model, in the order measured, plus noise."""
    rng = np.random.default_rng(seed)
    roll = _loop.shift(volts.size)
    shifted = _loop.evaluate(np.roll(volts, roll), *(params[:, j : j + 1] for j in range(9)))
    loops = np.roll(shifted, -roll, axis=1) + noise * rng.standard_normal(shifted.shape)
    coords = {
        "pixel": ("pixel", np.arange(params.shape[0]), {"dimension_type": "SPATIAL"}),
        "DC_Offset": ("DC_Offset", volts, {"units": "V", "dimension_type": "SPECTRAL"}),
    }
    return xr.DataArray(
        loops, dims=("pixel", "DC_Offset"), coords=coords, name="loops", attrs={"units": "pm"}
    )


@pytest.fixture(scope="module")
def sho_case() -> tuple[dict[str, np.ndarray], xr.DataArray]:
    """32 x 32 pixels of known SHO parameters with 1 % noise."""
    truth = sho_truth((32, 32))
    return truth, sho_data(truth)


@pytest.fixture(scope="module")
def loop_case() -> tuple[np.ndarray, xr.DataArray]:
    """400 loops of known parameters with 2 % noise."""
    params = loop_truth(400)
    return params, loop_data(params, triangle())
