"""``pycrox demo``: a synthetic EELS spectrum image, written to every format, read back, analysed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import xarray as xr

from pycrox import io, model
from pycrox.errors import PycroxError

__all__ = ["eels_spectrum_image", "run"]


def eels_spectrum_image(size: int = 64, n_energy: int = 512, *, seed: int = 0) -> xr.DataArray:
    """A realistic synthetic EELS spectrum image: power-law background, two edges, Poisson noise.

    Parameters
    ----------
    size : int
        Scan pixels per side (y and x), 0.25 nm apart.
    n_energy : int
        Energy-loss channels from 250 eV, 0.5 eV each.
    seed : int
        Random seed.

    Returns
    -------
    xarray.DataArray
        float32 counts with dims (y, x, energy_loss).
    """
    rng = np.random.default_rng(seed)
    energy = 250.0 + 0.5 * np.arange(n_energy)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    carbon = 0.5 + 0.5 * np.sin(2 * np.pi * xx)[..., None]  # C K edge (284 eV) strength
    oxygen = (yy > 0.5)[..., None].astype(float)  # O K edge (532 eV) in the lower half
    background = 2e8 * energy**-2.5
    edge = lambda onset, width: 1 / (1 + np.exp(-(energy - onset) / width)) * (energy / onset) ** -3
    signal = background * (1 + 0.8 * carbon * edge(284, 1.5) + 0.5 * oxygen * edge(532, 2.0))
    counts = rng.poisson(signal).astype(np.float32)
    return model.from_array(
        counts,
        dims=("y", "x", "energy_loss"),
        coords={
            "y": {"values": 0.25 * np.arange(size), "units": "nm"},
            "x": {"values": 0.25 * np.arange(size), "units": "nm"},
            "energy_loss": {"values": energy, "units": "eV"},
        },
        name="eels",
        title="Synthetic EELS spectrum image",
        quantity="Intensity",
        units="counts",
        modality="STEM EELS",
        source="pycrox demo",
        metadata={
            "beam_energy": {"value": 200.0, "units": "keV"},
            "microscope": "synthetic",
            "convergence_angle": {"value": 25.0, "units": "mrad"},
            "dwell_time": {"value": 0.01, "units": "s"},
        },
        original_metadata={"generator": {"seed": seed, "edges": ["C K", "O K"]}},
    )


def run(out: str | Path = "demo-output", *, size: int = 64) -> str:
    """Make the demo dataset, write it to each format, read it back, check it and analyse it.

    Returns
    -------
    str
        A short summary of what was written where and what the analysis found.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    da = eels_spectrum_image(size)
    lines = [f"pycrox demo: {da.attrs['title']} {dict(da.sizes)} {da.dtype}, {da.nbytes / 2**20:.1f} MiB"]
    targets = {
        "zarr": out / "eels.zarr",
        "netcdf": out / "eels.nc",
        "nsid": out / "eels_nsid.h5",
        "usid": out / "eels_usid.h5",
    }
    for fmt, path in targets.items():
        start = time.perf_counter()
        getattr(io, f"to_{fmt}")(da, path, mode="w")
        _check_identical(io.open(path).load(), da, path)
        lines.append(f"  {fmt:7s} {path}  written, read back identical ({time.perf_counter() - start:.2f} s)")
    lines.extend(_analysis(da))
    lines.append(f"  inspect any of them with: pycrox info {targets['zarr']}")
    return "\n".join(lines)


def _check_identical(back: xr.DataArray | xr.Dataset, da: xr.DataArray, path: Path) -> None:
    """Raise unless `back` (read from `path`) is `da`: values, coordinates, attrs and dtypes."""
    if not isinstance(back, xr.DataArray):
        raise PycroxError(f"{path}: read back a {type(back).__name__}, not the DataArray that was written")
    dtypes = {name: back[name].dtype == da[name].dtype for name in da.coords} | {
        "data": back.dtype == da.dtype
    }
    if not back.identical(da) or not all(dtypes.values()):
        raise PycroxError(f"{path}: read back differs from what was written (dtypes equal: {dtypes})")


def _analysis(da: xr.DataArray) -> list[str]:
    from pycrox.analysis.decomposition import decompose

    result = decompose(da, 4, dim="energy_loss", method="svd")
    ratio = result["explained_variance_ratio"].values
    labels = ", ".join(f"{r:.1%}" for r in ratio)
    return [f"  analysis: SVD along energy_loss, explained variance of the first 4 components: {labels}"]
