"""``xr.open_dataset(path, engine="ncem_emd")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["NCEMEMDBackendEntrypoint"]


class NCEMEMDBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="ncem_emd", group=...)`` for Berkeley EMD files."""

    format_name = "ncem_emd"
    description = (
        "Berkeley (NCEM) EMD files (0.2, Prismatic, EMD 1.0): every EMD data group, as pycrox objects"
    )
    url = "https://pycrox.readthedocs.io/en/latest/formats/ncem_emd.html"
