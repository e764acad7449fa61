"""``xr.open_dataset(path, engine="bruker_afm")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["BrukerAFMBackendEntrypoint"]


class BrukerAFMBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="bruker_afm")`` for Bruker / Veeco Nanoscope files (``.spm``, ``.001`` ...): images and force curves."""

    format_name = "bruker_afm"
    description = "Bruker / Veeco Nanoscope images and force curves (.spm, .001 ...)"
