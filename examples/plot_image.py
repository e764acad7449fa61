"""
An image: row 0 at the top, physical axes, a scale bar
=======================================================

``da.pycro.plot()`` draws an IMAGE as a microscope shows it: the first row at the top, equal aspect,
axes in the coordinates' units, a scale bar of round length and a colour bar labelled
"quantity [units]". The synthetic lattice below has a bright marker in its top-left corner so
the orientation can be seen. xarray's own ``plot.imshow`` puts row 0 at the bottom.
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

# A 128 x 160 pixel lattice of Gaussian "atomic columns", 0.04 nm per pixel, with a marker at row 0.
ny, nx, pixel = 128, 160, 0.04
yy, xx = np.mgrid[0:ny, 0:nx] * pixel
lattice = sum(
    np.exp(-((yy - (j + 0.5) * 0.4) ** 2 + (xx - (i + 0.5) * 0.4) ** 2) / (2 * 0.06**2))
    for j in range(13)
    for i in range(16)
)
lattice[:12, :20] += 1.5  # the marker: top left
noisy = np.random.default_rng(0).poisson(200 * lattice + 20).astype("float32")
image = pycrox.from_array(
    noisy,
    dims=("y", "x"),
    coords={
        "y": {"values": pixel * np.arange(ny), "units": "nm"},
        "x": {"values": pixel * np.arange(nx), "units": "nm"},
    },
    title="Synthetic HAADF lattice",
    quantity="Intensity",
    units="counts",
)

fig = image.pycro.plot()
fig.savefig(out / "plot_image.png", dpi=80)
ax = fig.axes[0]
print("x axis:", ax.get_xlabel(), "| colour bar:", fig.axes[1].get_ylabel())

# %%
# Keyword arguments reach the drawing call (``imshow`` here):
fig = image.pycro.plot(cmap="inferno", vmin=0, vmax=400)
fig.savefig(out / "plot_image_inferno.png", dpi=80)
print("wrote", out / "plot_image.png", "and", out / "plot_image_inferno.png")
