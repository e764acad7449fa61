"""pycrox: microscopy and spectroscopy data as plain, labelled xarray objects.

Importing pycrox registers the ``.pycro`` accessor on DataArray, Dataset and DataTree. The import is
cheap: `units` (pint), `testing` and `formats` load on first use, readers and analysis when called.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

from pycrox import accessor as _accessor  # noqa: F401  (registers .pycro)
from pycrox._versions import show_versions
from pycrox.errors import (
    ArgumentError,
    CalibrationWarning,
    DimensionError,
    EELSError,
    EELSWarning,
    FitError,
    FitWarning,
    FormatError,
    ModelError,
    NotFoundError,
    PycroxError,
    PycroxWarning,
    StoreChangedError,
    UnitError,
    WriteError,
)
from pycrox.io import detect_format, open, open_tree, references, to_netcdf, to_nsid, to_usid, to_zarr
from pycrox.model import DataType, DimensionType, coordinate, from_array, uniform_coordinate, validate
from pycrox.options import set_options

_LAZY_MODULES = ("formats", "testing", "units")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        import importlib

        return importlib.import_module(f"pycrox.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ArgumentError",
    "CalibrationWarning",
    "DataType",
    "DimensionError",
    "DimensionType",
    "EELSError",
    "EELSWarning",
    "FitError",
    "FitWarning",
    "FormatError",
    "ModelError",
    "NotFoundError",
    "PycroxError",
    "PycroxWarning",
    "StoreChangedError",
    "UnitError",
    "WriteError",
    "__version__",
    "coordinate",
    "detect_format",
    "formats",
    "from_array",
    "open",
    "open_tree",
    "references",
    "set_options",
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
