"""
An image stack and a 4-D STEM data set
======================================

An IMAGE_STACK is drawn as a montage of up to 16 evenly spaced frames with one colour scale; 4-D
data (IMAGE_4D: two scan dims, two pattern dims) as a navigator, the sum over each pattern,
beside the mean pattern.
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

# A drifting particle: 24 frames of 48 x 48 pixels.
yy, xx = np.mgrid[0:48, 0:48]
frames = np.stack([np.exp(-((yy - 12 - t) ** 2 + (xx - 10 - 1.2 * t) ** 2) / 30.0) for t in range(24)])
stack = pycrox.from_array(
    (100 * frames + rng.normal(0, 5, frames.shape)).astype("float32"),
    dims=("frame", "y", "x"),
    coords={
        "frame": {"values": 0.5 * np.arange(24), "units": "s", "quantity": "Time"},
        "y": {"values": 0.1 * np.arange(48), "units": "nm"},
        "x": {"values": 0.1 * np.arange(48), "units": "nm"},
    },
    title="Drifting particle",
    quantity="Intensity",
    units="counts",
)
fig = stack.pycro.plot()
fig.savefig(out / "plot_stack.png", dpi=70)
print(stack.attrs["data_type"], "montage panels:", sum(1 for ax in fig.axes if ax.images))

# %%
# 4-D STEM: a 16 x 16 scan; each diffraction pattern is a bright disk whose position follows
# a deflection field; a particle in the middle of the scan scatters more, which the navigator shows.
ky, kx = np.mgrid[-16:16, -16:16] * 0.05
scan = np.arange(16)
shift = 0.15 * np.sin(scan / 3.0)
patterns = np.exp(
    -(
        (
            (ky[None, None] - shift[:, None, None, None]) ** 2
            + (kx[None, None] - shift[None, :, None, None]) ** 2
        )
        / 0.02
    )
)
sy, sx = np.meshgrid(scan, scan, indexing="ij")
thickness = 1 + np.exp(-((sy - 8) ** 2 + (sx - 6) ** 2) / 12.0) + 0.05 * rng.random((16, 16))
data = pycrox.from_array(
    (patterns * thickness[:, :, None, None]).astype("float32"),
    dims=("y", "x", "ky", "kx"),
    coords={
        "y": {"values": 0.2 * scan, "units": "nm"},
        "x": {"values": 0.2 * scan, "units": "nm"},
        "ky": {"values": ky[:, 0], "units": "1/nm"},
        "kx": {"values": kx[0], "units": "1/nm"},
    },
    title="4-D STEM",
    quantity="Intensity",
    units="counts",
)
fig = data.pycro.plot()
fig.savefig(out / "plot_4d.png", dpi=70)
print("wrote", out / "plot_stack.png", "and", out / "plot_4d.png")
