"""4-D STEM: virtual detectors, centre of mass, DPC, Bragg disks and strain, reached as ``da.pycro.stem4d``.

4-D data have two navigation dims (SPATIAL, the scan: ``y``, ``x``) and two detector dims
(RECIPROCAL, the diffraction pattern: ``ky``, ``kx``), found by their ``dimension_type``.
Radii and positions on the detector are in its units (``mrad`` or ``1/Å``; one kind is
converted into the other with ``metadata["beam_energy"]``); an uncalibrated detector is used
in pixels with a `CalibrationWarning`. Everything is lazy on dask and streamed chunk by chunk
over the scan, except where the result needs the whole scan (`dpc`, `strain`).
"""

from __future__ import annotations

from pycrox.analysis.stem4d._geometry import CalibrationWarning, electron_wavelength
from pycrox.analysis.stem4d.com import center_of_mass, dpc
from pycrox.analysis.stem4d.disks import find_disks
from pycrox.analysis.stem4d.strain import fit_lattice, strain
from pycrox.analysis.stem4d.virtual import virtual_diffraction, virtual_image

__all__ = [
    "CalibrationWarning",
    "center_of_mass",
    "dpc",
    "electron_wavelength",
    "find_disks",
    "fit_lattice",
    "strain",
    "virtual_diffraction",
    "virtual_image",
]
