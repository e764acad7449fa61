"""``xr.open_dataset(path, engine="hspy")`` / ``xr.open_datatree(...)``: glue over `reader` only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["HSPYBackendEntrypoint"]


class HSPYBackendEntrypoint(TreeBackendEntrypoint):
    """``xr.open_dataset(path, engine="hspy", group=...)`` for HyperSpy HSPY / HDF5 files."""

    format_name = "hspy"
    description = "HyperSpy HSPY / HDF5 signals (every file format version), as pycrox objects"
    url = "https://pycrox.readthedocs.io/en/latest/formats/hspy.html"
