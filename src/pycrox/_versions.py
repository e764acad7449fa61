"""`show_versions`: what a bug report needs to say about the installation."""

from __future__ import annotations

import importlib.metadata
import platform
import sys
from typing import TextIO

__all__ = ["show_versions"]

_PACKAGES = (
    "pycrox",
    "numpy",
    "scipy",
    "xarray",
    "dask",
    "zarr",
    "h5py",
    "h5netcdf",
    "pint",
    "pint-xarray",
    "fsspec",
    "tifffile",
    "scikit-learn",
    "s3fs",
    "distributed",
)


def show_versions(file: TextIO | None = None) -> str:
    """Print (and return) the versions of Python, the platform and pycrox's dependencies."""
    lines = [f"python: {sys.version.split()[0]}", f"platform: {platform.platform()}"]
    for name in _PACKAGES:
        try:
            lines.append(f"{name}: {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{name}: not installed")
    text = "\n".join(lines)
    print(text, file=file or sys.stdout)
    return text
