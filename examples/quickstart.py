"""Make a spectrum image, store it as Zarr and netCDF, read it back, convert units.

Run: python examples/quickstart.py [OUTPUT_FOLDER]
"""

import sys
from pathlib import Path

import numpy as np

import pycrox

out = Path(sys.argv[1] if len(sys.argv) > 1 else "quickstart-output")
out.mkdir(exist_ok=True)

da = pycrox.from_array(
    np.random.default_rng(0).poisson(100, (32, 32, 256)).astype("float32"),
    dims=("y", "x", "energy_loss"),
    coords={
        "y": {"values": 0.2 * np.arange(32), "units": "nm"},
        "x": {"values": 0.2 * np.arange(32), "units": "nm"},
        "energy_loss": {"values": 400 + 0.5 * np.arange(256), "units": "eV"},
    },
    title="EELS map",
    quantity="Intensity",
    units="counts",
    metadata={"beam_energy": {"value": 200.0, "units": "keV"}},
)
for path, write in [(out / "map.zarr", pycrox.to_zarr), (out / "map.nc", pycrox.to_netcdf)]:
    write(da, path, mode="w")
    back = pycrox.open(path)
    pycrox.testing.assert_lossless(back.load(), da)
    print(f"{path}: {dict(back.sizes)} round trip identical")

print("x in Å:", da.pycro.to_units(x="Å").x.values[:3])
