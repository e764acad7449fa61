"""``xr.open_dataset(path, engine="nsid")`` / ``xr.open_datatree(path, engine="nsid")``: glue only."""

from __future__ import annotations

from pycrox._backend import TreeBackendEntrypoint

__all__ = ["NSIDBackendEntrypoint"]


class NSIDBackendEntrypoint(TreeBackendEntrypoint):
    """xarray engine for NSID HDF5 files (pyNSID / sidpy), read as pycrox objects.

    ``open_dataset`` returns one signal (``group=`` names its node, the HDF5 path of the main
    dataset); ``open_datatree`` the whole file. See `pycrox.adapters.nsid.reader.read_tree`.
    """

    format_name = "nsid"
    description = "NSID HDF5 files written by pyNSID or sidpy, as pycrox objects"
    url = "https://pycroscopy.github.io/pyNSID/"
