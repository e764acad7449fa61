"""
A spectral image: navigator and mean spectrum
=============================================

A SPECTRAL_IMAGE (two spatial dims and a spectral one) is drawn as a navigator, the sum over the
spectral dim, beside the mean spectrum over the scan. The data are the synthetic EELS spectrum
image of ``pycrox demo``: a carbon K edge that varies across x and an oxygen K edge in the lower
half of the scan.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from pycrox.demo import eels_spectrum_image

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())  # the docs build: no folder
out.mkdir(parents=True, exist_ok=True)

si = eels_spectrum_image(size=32, n_energy=640)
print(si.attrs["data_type"], dict(si.sizes))
fig = si.pycro.plot()
fig.savefig(out / "plot_spectral_image.png", dpi=80)

# %%
# One spectrum is a SPECTRUM: a line with both axes labelled. Here the oxygen-rich lower half,
# where the O K edge at 532 eV shows.
spectrum = si.isel(y=slice(16, None)).mean(["y", "x"], keep_attrs=True).assign_attrs(data_type="SPECTRUM")
fig = spectrum.pycro.plot(color="tab:red")
fig.axes[0].set_yscale("log")
fig.savefig(out / "plot_spectrum.png", dpi=80)
print("wrote", out / "plot_spectral_image.png", "and", out / "plot_spectrum.png")
