"""
Contact sheets of real files
============================

``pycrox preview FILE -o sheet.png`` draws one thumbnail per signal of any file pycrox reads:
here an NSID file with an image, a spectrum image and a spectrum (written by sidpy/pyNSID), and a
Digital Micrograph file with a HAADF image and a line profile. The files come from the real-file
corpus beside the repository (``../shared/data``); when it is absent, a synthetic file with the
same kinds of signals stands in.
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import xarray as xr
from matplotlib import pyplot

import pycrox
from pycrox.demo import eels_spectrum_image
from pycrox.viz import contact_sheet, preview

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())  # the docs build: no folder
out.mkdir(parents=True, exist_ok=True)
try:
    here = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs the script without __file__, from inside examples/
    here = Path.cwd()
corpus = here.parent.parent / "shared" / "data"
files = [corpus / "nsid" / "nsid_multi_channel.h5", corpus / "vendor" / "dm" / "multi_signal.dm3"]
files = [f for f in files if f.is_file()]

if not files:  # no corpus: a synthetic file with an image, a spectrum image and a spectrum
    print(f"real-file corpus not found at {corpus}; using a synthetic file")
    si = eels_spectrum_image(size=16, n_energy=256).rename("eels_si")
    image = si.sum("energy_loss", keep_attrs=True).assign_attrs(data_type="IMAGE").rename("haadf")
    spectrum = si.mean(["y", "x"], keep_attrs=True).assign_attrs(data_type="SPECTRUM").rename("spectrum")
    tree = xr.DataTree.from_dict({f"/{da.name}": da.to_dataset() for da in (image, si, spectrum)})
    files = [Path(tempfile.mkdtemp()) / "synthetic.zarr"]
    pycrox.to_zarr(tree, files[0])

for path in files:
    sheet = preview(path, out / f"preview_{path.stem}.png")
    print("wrote", sheet, "from", path.name)

# %%
# The same contact sheet drawn into a figure of the page (``pycrox.viz.contact_sheet``):
with pycrox.open_tree(files[0]) as tree:
    figure = contact_sheet(tree, title=files[0].name, figure=pyplot.figure())
print("signals drawn:", sum(1 for ax in figure.axes if ax.get_title()))
