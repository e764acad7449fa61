"""Time-resolved electrostatic force microscopy (FF-trEFM), reached as ``da.pycro.trefm``.

pycrox's version of FFTA's per-pixel analysis (``ffta.pixel.Pixel``), vectorised over pixels:
`instantaneous_frequency` (DC removal, window, FIR band-pass, Hilbert phase, derivative) and
`time_to_first_peak` (tFP and frequency shift per pixel). Parameters take units (``"300 us"``,
``"5 kHz"``); results carry them; dask-backed input stays lazy; provenance is recorded.
"""

from __future__ import annotations

from pycrox.analysis.trefm._core import instantaneous_frequency, time_to_first_peak

__all__ = ["instantaneous_frequency", "time_to_first_peak"]
