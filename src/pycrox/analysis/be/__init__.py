"""Band-excitation piezoresponse analysis (BGlib's science on xarray), reached as ``da.pycro.be``.

- `sho_guess`, `sho_fit`: the simple-harmonic-oscillator model on complex responses.
- `loop_project`, `loop_fit`, `loop_metrics`: piezoresponse hysteresis loops.
- `WORKER_PRELOAD`: a ``dask.distributed`` worker preload that keeps small workers small.

``dim=None`` everywhere means the one SPECTRAL dim of the data (frequency for SHO, DC bias for
loops), so USID files from BGlib, whose dims keep their names ``Frequency`` and ``DC_Offset``,
work unchanged.

The functions load on first use: a dask worker that only unpickles the numpy kernels
(`pycrox.analysis.be._kernels`) never imports xarray, pint or scipy through this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pycrox.analysis.be._kernels import WORKER_PRELOAD
    from pycrox.analysis.be.loops import loop_fit, loop_guess, loop_metrics, loop_project
    from pycrox.analysis.be.sho import sho_fit, sho_guess

__all__ = ["WORKER_PRELOAD", "loop_fit", "loop_guess", "loop_metrics", "loop_project", "sho_fit", "sho_guess"]

_HOME = {
    "WORKER_PRELOAD": "_kernels",
    "loop_fit": "loops",
    "loop_guess": "loops",
    "loop_metrics": "loops",
    "loop_project": "loops",
    "sho_fit": "sho",
    "sho_guess": "sho",
}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
