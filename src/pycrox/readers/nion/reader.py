"""Nion Swift data items: ``.ndata`` (a zip of ``metadata.json`` + ``data.npy``) and ``.h5``.

A data item is one signal. Its dimensions follow Nion's description: an optional sequence axis
(``frame``), then ``collection_dimension_count`` scan axes (``y``, ``x``), then
``datum_dimension_count`` axes of each datum (an image ``y, x`` -- ``ky, kx`` when the datum is
a diffraction pattern or the data a 4-D scan --, or a spectrum ``energy_loss``). Each axis gets
``offset + scale * index`` from its ``dimensional_calibrations`` entry; the whole JSON is kept
in ``original_metadata``.

``.ndata``: the ``data.npy`` member, stored uncompressed as Nion writes it, is read lazily by
byte range; a deflated member is decompressed on first access. ``.h5``: Nion's HDF5 layout
(root dataset ``data`` with a JSON ``properties`` attribute), read lazily with h5py.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import re
import struct
import zipfile
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model, provenance
from pycrox._binary import check_extent, lazy_raw
from pycrox.errors import FormatError
from pycrox.readers._common.values import drop_empty, jsonlike, quantity, unit_spelling
from pycrox.readers.nion import _files
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_RECIPROCAL = ("1/nm", "1/Å", "1/µm", "1/m", "rad", "mrad", "µrad")


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file is a Nion Swift ``.ndata`` zip or Nion ``.h5``; False instead of raising."""
    try:
        source = open_source(filename_or_obj, storage_options)
        if source.is_dir():
            return False
        head = read_head(source, 8)
        if head.startswith(b"PK\x03\x04"):
            return source.suffix == ".ndata" or _files.zip_has_members(source)
        return _files.is_nion_h5(source)
    except (OSError, TypeError, ValueError):
        return False


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a Nion Swift data item as a DataTree with one lazy signal node.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        A ``.ndata`` or Nion ``.h5`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node, named after the data item's title.

    Raises
    ------
    FormatError
        If the file is not a Nion data item or its parts contradict each other.
    NotFoundError
        If nothing exists at `filename_or_obj`.
    """
    source = open_source(filename_or_obj, storage_options)
    head = read_head(source, 8)
    fortran = False
    if head.startswith(b"PK\x03\x04"):
        properties, closer = _ndata_parts(source), None
        data, fortran = _ndata_array(source)
    else:
        properties, data, closer = _files.h5_parts(source)
    name = _node_name(properties.get("title"))
    da = _signal(source, properties, data, name, fortran)
    tree = xr.DataTree.from_dict({f"/{name}": da.to_dataset()})
    tree.attrs = {
        "source": source.stored_name,
        "format": "Nion Swift " + ("ndata" if closer is None else "HDF5"),
    }
    if closer is not None:
        tree[name].set_close(closer)
    return tree


def _ndata_parts(source: Source) -> dict:
    """The parsed ``metadata.json`` of an ``.ndata`` zip."""
    raw = _files.zip_member_bytes(source, "metadata.json", limit=64 * 2**20)
    try:
        properties = json.loads(raw)
    except ValueError as exc:
        raise FormatError(source.name, f"metadata.json is not JSON: {exc}", where="metadata.json") from exc
    if not isinstance(properties, dict):
        raise FormatError(source.name, "metadata.json holds no JSON object", where="metadata.json")
    return properties


def _ndata_array(source: Source) -> tuple[Any, bool]:
    """Lazy data of the ``data.npy`` member, and whether it is in Fortran order (axes reversed).

    A stored member is read by byte range, a deflated one decompressed on first access.
    """
    member = _files.zip_member(source, "data.npy")
    if member.compress_type != zipfile.ZIP_STORED:
        return _files.deflated_npy(source, member), False
    start = _files.member_data_offset(source, member)
    head = _files.read_range(source, start, min(member.file_size, 4096))
    if head.startswith(b"\x93NUMPY") and len(head) >= 12:  # headers longer than 4 kB: read them whole
        length = struct.unpack_from("<H" if head[6] == 1 else "<I", head, 8)[0]
        if length + 12 > len(head):
            head = _files.read_range(source, start, min(member.file_size, length + 12))
    dtype, shape, fortran, header_size = parse_npy_header(head, source.name, start)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if header_size + nbytes > member.file_size:
        raise FormatError(
            source.name,
            f"data.npy declares {shape} {dtype} ({nbytes} bytes) but the member "
            f"holds {member.file_size - header_size}",
            where=f"offset {start}",
        )
    check_extent(source, start + header_size, nbytes, "data.npy")
    return lazy_raw(source, start + header_size, dtype, shape[::-1] if fortran else shape), fortran


def parse_npy_header(head: bytes, name: str, offset: int = 0) -> tuple[np.dtype, tuple[int, ...], bool, int]:
    """``(dtype, shape, fortran_order, header_size)`` of a ``.npy`` stream from its first bytes.

    Raises
    ------
    FormatError
        When the magic, version or header dictionary is not a valid ``.npy`` header.
    """
    if not head.startswith(b"\x93NUMPY") or len(head) < 10:
        raise FormatError(
            name,
            f"data.npy does not start with the .npy magic (found {head[:6]!r})",
            where=f"offset {offset}",
        )
    major = head[6]
    length, start = (
        (struct.unpack("<H", head[8:10])[0], 10) if major == 1 else (struct.unpack("<I", head[8:12])[0], 12)
    )
    if major not in (1, 2, 3) or start + length > len(head):
        raise FormatError(
            name,
            f".npy version {major} with a {length}-byte header is not understood",
            where=f"offset {offset}",
        )
    try:
        header = ast.literal_eval(head[start : start + length].decode("latin-1"))
        dtype = np.dtype(
            header["descr"] if isinstance(header["descr"], str) else [tuple(f) for f in header["descr"]]
        )
        shape = tuple(int(n) for n in header["shape"])
        fortran = bool(header["fortran_order"])
    except (ValueError, SyntaxError, KeyError, TypeError) as exc:
        raise FormatError(
            name, f"bad .npy header dictionary: {exc}", where=f"offset {offset + start}"
        ) from exc
    if dtype.hasobject or any(n < 0 for n in shape):
        raise FormatError(name, f".npy header declares unsupported {dtype} {shape}", where=f"offset {offset}")
    return dtype, shape, fortran, start + length


def _node_name(title: Any) -> str:
    text = re.sub(r"[^\w.+-]+", "_", str(title or "")).strip("_")
    return text or "data"


def _signal(source: Source, properties: dict, data: Any, name: str, fortran: bool) -> xr.DataArray:
    """The data item as a DataArray; Fortran-ordered data are read reversed and transposed lazily."""
    shape = tuple(data.shape)[::-1] if fortran else tuple(data.shape)
    calibrations = properties.get("dimensional_calibrations") or []
    if len(calibrations) not in (0, len(shape)):
        raise FormatError(
            source.name,
            f"{len(calibrations)} dimensional calibrations for {len(shape)}-D data {shape}",
            where="dimensional_calibrations",
        )
    calibrations = calibrations or [{}] * len(shape)
    dims = dimension_names(properties, [unit_spelling(c.get("units"), "Length") for c in calibrations])
    coords = {
        dim: {
            "values": _number(c, "offset", 0.0) + _number(c, "scale", 1.0) * np.arange(n, dtype=np.float64),
            "units": unit_spelling(c.get("units"), model.DIMENSIONS.get(dim, ("Length",))[0]),
        }
        for dim, c, n in zip(dims, calibrations, shape, strict=True)
    }
    intensity = properties.get("intensity_calibration") or {}
    plain = _number(intensity, "scale", 1.0) == 1.0 and _number(intensity, "offset", 0.0) == 0.0
    da = model.from_array(
        data,
        dims[::-1] if fortran else dims,
        coords=coords,
        name=name,
        title=str(properties.get("title") or name),
        quantity="Intensity",
        units=unit_spelling(intensity.get("units")) if plain else "",
        source="Nion Swift",
        metadata=normalised_metadata(properties),
        original_metadata=jsonlike(properties),
    )
    da = da.transpose(*dims) if fortran else da
    return provenance.record(da, "readers.nion.read_tree", source=source.stored_name)


def _number(mapping: dict, key: str, default: float) -> float:
    value = mapping.get(key, default) if isinstance(mapping, dict) else default
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def dimension_names(properties: dict, units: list[str]) -> list[str]:
    """Dimension names from Nion's sequence / collection / datum counts and the axis units."""
    ndim = len(units)
    sequence = 1 if properties.get("is_sequence") and ndim > 0 else 0
    collection = int(properties.get("collection_dimension_count") or 0)
    datum = properties.get("datum_dimension_count")
    datum = ndim - sequence - collection if datum is None else int(datum)
    if sequence + collection + datum != ndim or min(collection, datum) < 0:
        collection, datum = 0, ndim - sequence
    names = ["frame"] * sequence + {0: [], 1: ["x"], 2: ["y", "x"], 3: ["z", "y", "x"]}.get(
        collection, [f"scan{i}" for i in range(collection)]
    )
    datum_units = units[sequence + collection :]
    if datum == 1:
        names += [model.dimension_for(datum_units[0], spectral=True)]
    elif datum == 2:
        reciprocal = collection > 0 or all(u in _RECIPROCAL for u in datum_units)
        names += ["ky", "kx"] if reciprocal else ["y", "x"]
    else:
        names += ["z", "y", "x"][-datum:] if 0 < datum <= 3 else [f"datum{i}" for i in range(datum)]
    return _unique(names)


def _unique(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        candidate, i = name, 2
        while candidate in out:
            candidate, i = f"{name}{i}", i + 1
        out.append(candidate)
    return out


def normalised_metadata(properties: dict) -> dict[str, Any]:
    """`pycrox.model.METADATA_KEYS` from a data item: local date/time, beam energy, detector, ..."""
    md = properties.get("metadata")
    md = md if isinstance(md, dict) else {}
    hardware = md.get("hardware_source")
    hardware = hardware if isinstance(hardware, dict) else {}
    instrument = md.get("instrument")
    instrument = instrument if isinstance(instrument, dict) else {}
    local = _local_time(properties.get("created"), properties.get("timezone_offset"))
    pixel_time = _find(md, "pixel_time_us")
    return drop_empty(
        {
            "date": local.date().isoformat() if local else None,
            "time": local.time().replace(microsecond=0).isoformat() if local else None,
            "beam_energy": quantity(
                instrument.get("high_tension", _find(md, "high_tension")), "keV", scale=1e-3
            ),
            "detector": hardware.get("hardware_source_name") or hardware.get("hardware_source_id"),
            "exposure_time": quantity(hardware.get("exposure"), "s"),
            "dwell_time": quantity(pixel_time, "s", scale=1e-6),
        }
    )


def _find(tree: Any, key: str, depth: int = 6) -> Any:
    if depth <= 0 or not isinstance(tree, dict):
        return None
    if key in tree:
        return tree[key]
    for value in tree.values():
        found = _find(value, key, depth - 1)
        if found is not None:
            return found
    return None


def _local_time(created: Any, offset: Any) -> dt.datetime | None:
    """Nion stores ``created`` in UTC and the local ``timezone_offset`` (``"+0200"``) beside it."""
    try:
        stamp = dt.datetime.fromisoformat(str(created))
    except ValueError:
        return None
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", str(offset or ""))
    if match:
        sign = 1 if match.group(1) == "+" else -1
        stamp += sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))
    return stamp
