"""pycrox: microscopy and spectroscopy data as plain, labelled xarray objects.

Importing pycrox registers the ``.pycro`` accessor on DataArray, Dataset and DataTree.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pycrox import accessor as _accessor  # noqa: F401  (registers .pycro)
from pycrox import testing, units
from pycrox._versions import show_versions
from pycrox.errors import (
    DimensionError,
    FormatError,
    ModelError,
    NotFoundError,
    PycroxError,
    UnitError,
    WriteError,
)
from pycrox.io import detect_format, open, open_tree, references, to_netcdf, to_nsid, to_usid, to_zarr
from pycrox.model import DataType, DimensionType, coordinate, from_array, uniform_coordinate, validate

__all__ = [
    "DataType",
    "DimensionError",
    "DimensionType",
    "FormatError",
    "ModelError",
    "NotFoundError",
    "PycroxError",
    "UnitError",
    "WriteError",
    "__version__",
    "coordinate",
    "detect_format",
    "from_array",
    "open",
    "open_tree",
    "references",
    "show_versions",
    "testing",
    "to_netcdf",
    "to_nsid",
    "to_usid",
    "to_zarr",
    "uniform_coordinate",
    "units",
    "validate",
]
