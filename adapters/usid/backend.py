"""``xr.open_dataset(path, engine="usid")`` and ``xr.open_datatree(path, engine="usid")``."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["USIDBackendEntrypoint"]


class USIDBackendEntrypoint(TreeBackendEntrypoint):
    """xarray engine for USID HDF5 files (pyUSID / pycroscopy); ``group=`` names a main dataset's path."""

    format_name = "usid"
    description = "USID HDF5 files written by pyUSID or pycroscopy, as N-D pycrox objects"
    url = "https://pycroscopy.github.io/USID/usid_model.html"
