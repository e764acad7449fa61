"""Electron energy-loss spectroscopy (EELS): pure functions reached as ``da.pycro.eels.*``.

Every function works along one energy-loss dimension (``dim=None``: the single SPECTRAL dim, in
an energy unit) of one spectrum or of a whole spectrum image, returns maps per pixel, stays lazy
on dask data and records its provenance.
"""

from pycrox.analysis.eels._common import EELSError, EELSWarning
from pycrox.analysis.eels.background import background
from pycrox.analysis.eels.composition import composition
from pycrox.analysis.eels.cross_sections import effective_collection_angle, hydrogenic_k, hydrogenic_l
from pycrox.analysis.eels.deconvolution import deconvolve
from pycrox.analysis.eels.edges import edges
from pycrox.analysis.eels.kramers_kronig import kramers_kronig
from pycrox.analysis.eels.lowloss import align_zero_loss, mean_free_path, thickness

__all__ = [
    "EELSError",
    "EELSWarning",
    "align_zero_loss",
    "background",
    "composition",
    "deconvolve",
    "edges",
    "effective_collection_angle",
    "hydrogenic_k",
    "hydrogenic_l",
    "kramers_kronig",
    "mean_free_path",
    "thickness",
]
