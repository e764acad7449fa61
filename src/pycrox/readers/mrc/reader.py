"""MRC / MRC2014 files: images, image stacks and movies, volumes and volume stacks.

The data block is read lazily (a slice of frames reads only those frames). Dimensions follow
the header: one section is an image ``(y, x)``; with space group ``ISPG == 0`` the sections are
frames ``(frame, y, x)``; ``ISPG`` 1-230 makes a volume ``(z, y, x)``; 401-630 a stack of
volumes ``(frame, z, y, x)`` of ``MZ`` sections each. Coordinates are the voxel size
``CELLA / (MX, MY, MZ)`` in ångström from ``ORIGIN``; the axis mapping ``MAPC/MAPR/MAPS`` is kept
in ``original_metadata`` and not applied (as mrcfile and the reference readers do). FEI1/FEI2
extended headers (Thermo Fisher Velox, EPU) add their first record's metadata. The old FEI extended
header (no EXTTYP, 1024 records of 128 bytes, one per image) gives the pixel size (``x``, ``y`` in
nm), the alpha tilt of every image (a ``tilt`` dim in degrees) and the first image's
magnification, exposure time and high tension; all records are in ``original_metadata``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._binary import check_extent, lazy_raw
from pycrox.readers._common.companion import base_name, read_bytes
from pycrox.readers.mrc import _header
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

SUFFIXES = (".mrc", ".mrcs", ".rec", ".st", ".ali", ".map", ".ccp4")


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is an MRC file; never raises.

    A file with an MRC extension needs a plausible header (``"MAP "`` at byte 208, or sizes that
    add up to the file size); any other file needs both.
    """
    try:
        source = open_source(filename_or_obj, storage_options)
        head = read_head(source, _header.HEADER_BYTES)
        if not _header.plausible(head, source.size()):
            return False
    except (OSError, TypeError, ValueError, ArithmeticError):
        return False
    return source.suffix in SUFFIXES or head[208:212] == b"MAP "


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an MRC file as a lazy DataTree with one signal node named after the file.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``; one child node holding the data.

    Raises
    ------
    FormatError
        On an unsupported mode, impossible sizes, or a data block larger than the file.
    """
    source = open_source(filename_or_obj, storage_options)
    name = _node_name(source)
    signal = read_signal(source, name)
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs={"source": "MRC", "file": base_name(source)}),
            f"/{name}": xr.Dataset({name: signal}),
        }
    )


def read_signal(source: Source, name: str) -> xr.DataArray:
    """The data of one MRC file as a lazy pycrox DataArray."""
    header = _header.parse_header(read_bytes(source, 0, _header.HEADER_BYTES, "the MRC header"), source)
    dtype = _header.mode_dtype(header, source)
    check_extent(source, _header.HEADER_BYTES, header["NSYMBT"], "the extended header (NSYMBT)")
    fei = _header.read_fei_record(source, header)
    legacy = _header.read_fei_legacy(source, header) if fei is None else None
    dims, shape = _layout(header)
    if legacy is not None:  # one record per image: the sections are images, never volumes
        shape = (header["NZ"], header["NY"], header["NX"]) if header["NZ"] > 1 else shape
    offset = _header.HEADER_BYTES + header["NSYMBT"]
    check_extent(source, offset, math.prod(shape) * dtype.itemsize, f"the data block {shape} of {dtype.name}")
    data = lazy_raw(source, offset, dtype, shape)
    original: dict[str, Any] = {"header": header}
    if fei is not None:
        original[f"{header['EXTTYP'].lower()}_extended_header"] = fei
    if legacy is not None:
        original["fei_extended_header"] = legacy
        dims, coords = _legacy_layout(header, legacy, shape)
        metadata, source_name = _header.fei_legacy_metadata(legacy), "MRC (FEI extended header)"
    else:
        coords = _coords(header, dims, shape)
        metadata, source_name = _header.fei_metadata(fei or {}), _source_name(fei)
    da = model.from_array(
        data,
        dims,
        coords=coords,
        name=name,
        title=name,
        data_type=_data_type(dims),
        source=source_name,
        metadata=metadata,
        original_metadata=original,
    )
    return _with_preferred_chunks(da)


def _with_preferred_chunks(da: xr.DataArray) -> xr.DataArray:
    """Record whole frames (or row tiles) of a few MiB as ``encoding["preferred_chunks"]``.

    ``pycrox.open(..., chunks={})`` and ``pycrox convert`` then read the data block chunk by chunk
    instead of as one array; data up to 8 MiB stay one chunk.
    """
    from pycrox.adapters.nsid._data import frame_chunks

    chunks = frame_chunks(da.variable)
    if chunks:
        da.encoding["preferred_chunks"] = dict(zip(da.dims, chunks, strict=True))
    return da


def _legacy_layout(
    header: dict[str, Any], legacy: dict[str, list[float]], shape: tuple[int, ...]
) -> tuple[list[str], dict[str, dict[str, Any]]]:
    """Dims and coordinates of a file with the old FEI extended header: one record per image.

    The pixel size of the first record (metres) calibrates ``x`` and ``y`` in nm (CELLA holds
    the pixel counts, not lengths, in these files); the sections are a ``tilt`` series with the
    records' alpha tilts (deg) when those are all different and ordered, else ``frame``s.
    """
    ny, nx = shape[-2:]
    pixel_nm = legacy["pixel_size"][0] * 1e9
    origin = dict(zip("xyz", header["ORIGIN"], strict=True))
    coords: dict[str, dict[str, Any]] = {
        axis: {
            "values": origin[axis] / 10 + pixel_nm * np.arange(size, dtype=np.float64),
            "units": "nm",
            "quantity": "Length",
        }
        for axis, size in (("y", ny), ("x", nx))
    }
    if header["NZ"] == 1:
        return ["y", "x"], coords
    nz = header["NZ"]
    tilts = np.asarray(legacy["a_tilt"][:nz], dtype=np.float64)
    steps = np.diff(tilts)
    if tilts.size == nz and (np.all(steps > 0) or np.all(steps < 0)):
        coords["tilt"] = {"values": tilts, "units": "deg", "quantity": "Angle"}
        return ["tilt", "y", "x"], coords
    coords["frame"] = {"values": np.arange(nz), "units": ""}
    return ["frame", "y", "x"], coords


def _node_name(source: Source) -> str:
    name = base_name(source)
    stem, dot, _ = name.rpartition(".")
    return (stem if dot else name) or "data"


def _layout(header: dict[str, Any]) -> tuple[list[str], tuple[int, ...]]:
    """Dims and C-order shape from NX, NY, NZ, ISPG and MZ."""
    nx, ny, nz, ispg, mz = header["NX"], header["NY"], header["NZ"], header["ISPG"], header["MZ"]
    if nz == 1:
        return ["y", "x"], (ny, nx)
    if 401 <= ispg <= 630 and mz > 0 and nz % mz == 0 and nz > mz:
        return ["frame", "z", "y", "x"], (nz // mz, mz, ny, nx)
    if 1 <= ispg <= 630:
        return ["z", "y", "x"], (nz, ny, nx)
    return ["frame", "y", "x"], (nz, ny, nx)


def _voxel(header: dict[str, Any]) -> dict[str, float]:
    cell = header["CELLA"]
    grid = (header["MX"], header["MY"], header["MZ"])
    return {
        axis: (float(np.float32(c) / np.float32(m)) if m else 0.0)
        for axis, c, m in zip("xyz", cell, grid, strict=True)
    }


def _coords(header: dict[str, Any], dims: list[str], shape: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    voxel, origin = _voxel(header), dict(zip("xyz", header["ORIGIN"], strict=True))
    coords: dict[str, dict[str, Any]] = {}
    for dim, size in zip(dims, shape, strict=True):
        axis = "z" if dim == "frame" and "z" not in dims else dim
        if axis not in voxel:  # frames of a volume stack
            coords[dim] = {"values": np.arange(size), "units": ""}
            continue
        values = origin[axis] + voxel[axis] * np.arange(size, dtype=np.float64)
        coords[dim] = {"values": values, "units": "Å", "quantity": "Length"}
    return coords


def _data_type(dims: list[str]) -> str:
    return {2: "IMAGE", 3: "IMAGE_STACK"}.get(len(dims), "UNKNOWN") if "z" not in dims else "UNKNOWN"


def _source_name(fei: dict[str, Any] | None) -> str:
    if fei and fei.get("Application"):
        return f"{fei['Application']} {fei.get('Application version', '')}".strip()
    return "MRC"
