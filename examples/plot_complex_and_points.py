"""
Complex data and point clouds
=============================

Complex data are drawn as amplitude and phase side by side, here the Fourier transform of a
lattice image (``da.pycro.fft()``, reciprocal axes in 1/nm). Data measured at scattered positions
(a POINT_CLOUD dimension with per-position ``x``/``y`` coordinates) become a scatter coloured by
the summed signal, beside the mean spectrum.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

import pycrox

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())  # the docs build: no folder
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)

yy, xx = np.mgrid[0:64, 0:64] * 0.05
lattice = np.cos(2 * np.pi * xx / 0.4) + np.cos(2 * np.pi * (xx + yy) / 0.55)
image = pycrox.from_array(
    lattice,
    coords={"y": {"values": yy[:, 0], "units": "nm"}, "x": {"values": xx[0], "units": "nm"}},
    quantity="Intensity",
)
spectrum = image.pycro.fft().isel(ky=slice(16, 48), kx=slice(16, 48))
fig = spectrum.pycro.plot()
fig.savefig(out / "plot_complex.png", dpi=70)
print("complex", spectrum.dtype, "->", [ax.get_title() for ax in fig.axes if ax.get_title()])

# %%
# Band-excitation-like spectra at 40 random tip positions.
positions = rng.random((40, 2)) * 5.0
frequency = np.linspace(300, 320, 64)
centre = 305 + 2 * positions[:, :1]
spectra = 1 / (1 + ((frequency - centre) / 1.5) ** 2)
cloud = pycrox.from_array(
    spectra,
    dims=("position", "frequency"),
    coords={"frequency": {"values": frequency, "units": "kHz"}},
    title="Resonance at scattered positions",
    quantity="Amplitude",
    units="V",
)
cloud = cloud.assign_coords(
    x=("position", positions[:, 0], {"units": "µm", "quantity": "Length"}),
    y=("position", positions[:, 1], {"units": "µm", "quantity": "Length"}),
)
fig = cloud.pycro.plot()
fig.savefig(out / "plot_points.png", dpi=70)
print("wrote", out / "plot_complex.png", "and", out / "plot_points.png")
