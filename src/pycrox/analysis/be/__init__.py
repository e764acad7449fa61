"""Band-excitation piezoresponse analysis (BGlib's science on xarray), reached as ``da.pycro.be``.

- `sho_guess`, `sho_fit`: the simple-harmonic-oscillator model on complex responses.
- `loop_project`, `loop_fit`, `loop_metrics`: piezoresponse hysteresis loops.

``dim=None`` everywhere means the one SPECTRAL dim of the data (frequency for SHO, DC bias for
loops), so USID files from BGlib, whose dims keep their names ``Frequency`` and ``DC_Offset``,
work unchanged.
"""

from __future__ import annotations

from pycrox.analysis.be.loops import loop_fit, loop_guess, loop_metrics, loop_project
from pycrox.analysis.be.sho import sho_fit, sho_guess

__all__ = ["loop_fit", "loop_guess", "loop_metrics", "loop_project", "sho_fit", "sho_guess"]
