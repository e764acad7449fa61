"""FEI / Thermo Fisher TIA files: ``.ser`` data series with their ``.emi`` metadata.

Opening an ``.emi`` opens every ``<stem>_<n>.ser`` beside it, each as a node of the tree;
opening a ``.ser`` uses the ``.emi`` beside it when there is one. Each node holds one signal:
a spectrum or image, or a series of them laid out on the series dimensions (a scan map, a line
profile, frames). Data are read lazily, element by element.

Conventions (shared with the reference readers, see ``docs/formats/tia.md``): images are
flipped vertically (TIA stores rows bottom-up); lengths are in nm and reciprocal lengths in 1/nm;
the series dimensions' coordinates start at their ``CalibrationOffset``; a series with one valid
element is that element (a plain spectrum or image), whatever the series header planned.

An ``.emi`` whose binary part was zeroed (some archives strip TIA's display document) still
holds its ``<ObjectInfo>`` XML: it is read, with a warning, as long as that XML is there.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers._common.companion import base_name, sibling, siblings_matching
from pycrox.readers._common.grid import GridArray
from pycrox.readers.tia import _emi, _ser
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_EMI_MAGIC = b"JK\x00\x02"
_ZEROED = b"\x00\x00\x00\x00"
#: how far from the end of a zeroed ``.emi`` the guess looks for its XML
_EMI_TAIL = 2**20
_SER_NAME = re.compile(r"(?P<stem>.*)_(?P<number>\d+)\.ser", re.IGNORECASE)


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is a TIA ``.ser`` (by its magic) or ``.emi`` file; never raises."""
    try:
        source = open_source(filename_or_obj, storage_options)
        head = read_head(source, 4)
    except (OSError, TypeError, ValueError):
        return False
    if head == _ser.SER_MAGIC:
        return True
    if source.suffix != ".emi":
        return False
    return head == _EMI_MAGIC or (head == _ZEROED and _has_object_info(source))


def _has_object_info(source: Source) -> bool:
    """Whether the last MiB of a (zeroed) ``.emi`` holds an ``<ObjectInfo>`` XML block."""
    try:
        size = source.size()
        tail = source.read_at(max(0, size - _EMI_TAIL), _EMI_TAIL)
    except (OSError, TypeError, ValueError):
        return False
    return b"<ObjectInfo>" in tail


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a TIA ``.emi`` (all its ``.ser`` files) or one ``.ser`` file as a lazy DataTree.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.emi`` or ``.ser`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node per ``.ser`` file, named after it (``"<stem>_1"``), holding one signal.

    Raises
    ------
    FormatError
        If the file is not a TIA file, an ``.emi`` has no ``.ser`` beside it, or a header
        claims more than the file holds.
    """
    source = open_source(filename_or_obj, storage_options)
    sers, emi = _members(source)
    objects = _emi.read_objects(emi) if emi is not None else []
    zeroed = emi is not None and read_head(emi, 4) == _ZEROED
    if zeroed:
        _check_zeroed(emi, objects)  # type: ignore[arg-type]
    nodes: dict[str, Any] = {"/": xr.Dataset(attrs={"source": "FEI TIA", "file": base_name(source)})}
    for ser in sers:
        name = _node_name(ser)
        info = _object_for(ser, objects)
        signal = _signal(ser, info, name)
        if zeroed:
            signal.attrs["original_metadata"]["emi_binary_header"] = "zeroed"
        nodes[f"/{name}"] = xr.Dataset({name: signal})
    return xr.DataTree.from_dict(nodes)


def _check_zeroed(emi: Source, objects: list[dict[str, Any]]) -> None:
    """Warn that an ``.emi``'s binary part is zeroed; refuse it when its XML is gone too."""
    if not objects:
        raise FormatError(
            emi.name,
            "the .emi's binary header is zeroed and it holds no <ObjectInfo> XML: nothing to read; "
            "open its <stem>_<n>.ser files instead",
            where="offset 0",
        )
    warnings.warn(
        f"{emi.name}: the binary header of this .emi is zeroed (no 'JK' magic): TIA's display "
        "document (display settings, the window layout) is missing; the data come from the .ser "
        "files and the metadata from the .emi's intact <ObjectInfo> XML",
        UserWarning,
        stacklevel=4,
    )


def _members(source: Source) -> tuple[list[Source], Source | None]:
    """The ``.ser`` files and the ``.emi`` of the acquisition `source` belongs to."""
    head = read_head(source, 4)
    if head == _ser.SER_MAGIC:
        match = _SER_NAME.fullmatch(base_name(source))
        emi = sibling(source, f"{match['stem']}.emi") if match else None
        return [source], emi
    if source.suffix != ".emi" or head not in (_EMI_MAGIC, _ZEROED):
        raise FormatError(
            source.name,
            f"not a TIA file: starts with {head!r}, expected {_ser.SER_MAGIC!r} "
            f"(.ser) or {_EMI_MAGIC!r} (.emi)",
            where="offset 0",
        )
    stem = re.escape(base_name(source)[: -len(".emi")])
    sers = siblings_matching(source, rf"{stem}_\d+\.ser")
    if not sers:
        raise FormatError(
            source.name, "no <stem>_<n>.ser data file beside this .emi; TIA keeps the data there"
        )
    return sorted(sers, key=_ser_number), source


def _ser_number(ser: Any) -> int:
    match = _SER_NAME.fullmatch(base_name(ser))
    return int(match["number"]) if match else 0


def _node_name(ser: Source) -> str:
    name = base_name(ser)
    return name[: -len(".ser")] if name.lower().endswith(".ser") else name or "data"


def _object_for(ser: Source, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The ObjectInfo of ``<stem>_<n>.ser``: the n-th block of the ``.emi`` (as TIA writes them)."""
    match = _SER_NAME.fullmatch(base_name(ser))
    index = int(match["number"]) - 1 if match else 0
    return objects[index] if 0 <= index < len(objects) else {}


def _signal(ser_source: Source, info: dict[str, Any], name: str) -> xr.DataArray:
    ser = _ser.parse_ser(ser_source)
    reciprocal = ser.is_image and _is_reciprocal(ser)
    element_dims = _element_coords(ser, info, reciprocal)
    series_dims = _series_coords(ser)
    data = _lazy_data(ser_source, ser, [d for d, _ in series_dims])
    dims = [d for d, _ in series_dims] + [d for d, _ in element_dims]
    return model.from_array(
        data,
        dims,
        coords=dict(series_dims + element_dims),
        name=name,
        title=name,
        data_type=_data_type(series_dims, ser),
        modality=_modality(info, ser),
        source="FEI TIA",
        metadata=_emi.normalise(info),
        original_metadata={"ObjectInfo": info, "ser_header": _header_metadata(ser)},
    )


def _lazy_data(source: Source, ser: _ser.SerFile, series_dims: list[str]) -> Any:
    if len(series_dims) == 0:  # one element: its rows are the records
        start = int(ser.offsets[0]) + ser.element_header
        lazy = indexing.LazilyIndexedArray(RawArray(source, start, ser.dtype, ser.shape))
        return _flipped(lazy) if ser.is_image else lazy
    flat = _ser.lazy_elements(source, ser)
    grid = _grid_shape(ser)
    if len(grid) == 1 and grid[0] == flat.shape[0]:
        lazy = indexing.LazilyIndexedArray(flat)
    else:
        lazy = indexing.LazilyIndexedArray(GridArray(flat, grid))
    return _flipped(lazy) if ser.is_image else lazy


def _flipped(lazy: indexing.LazilyIndexedArray) -> indexing.LazilyIndexedArray:
    """Images upside down, lazily: TIA stores their rows bottom-up."""
    flip = (slice(None),) * (len(lazy.shape) - 2) + (slice(None, None, -1), slice(None))
    return lazy[indexing.BasicIndexer(flip)]


def _grid_shape(ser: _ser.SerFile) -> tuple[int, ...]:
    """Series shape, slowest first; the valid elements only for 1-D series and odd headers.

    One valid element is no series (``()``): the element itself is the signal.
    """
    header = ser.header
    if header["ValidNumberElements"] == 1:
        return ()
    sizes = tuple(d["DimensionSize"] for d in reversed(ser.dimensions))
    if len(sizes) <= 1 or int(np.prod(sizes)) != header["TotalNumberElements"]:
        return (header["ValidNumberElements"],)
    return sizes


def _series_coords(ser: _ser.SerFile) -> list[tuple[str, dict[str, Any]]]:
    """Coordinates of the series dims, slowest first: scan positions in nm, else frame indices.

    As in the reference readers, a scan dimension starts at its ``CalibrationOffset`` (the
    ``CalibrationElement`` of series dimensions is kept in ``original_metadata`` only).
    """
    if ser.header["TotalNumberElements"] == 1 or ser.header["ValidNumberElements"] == 1:
        return []
    grid = _grid_shape(ser)
    stored = list(reversed(ser.dimensions)) if len(grid) == len(ser.dimensions) else [{}]
    n_spatial = sum(1 for d in stored if d.get("Units") == "meters")
    spatial = ["y", "x"][2 - min(n_spatial, 2) :]
    out = []
    for size, dim in zip(grid, stored, strict=True):
        if dim.get("Units") == "meters" and spatial:
            values = (dim["CalibrationOffset"] + dim["CalibrationDelta"] * np.arange(size)) * 1e9
            out.append((spatial.pop(0), {"values": values, "units": "nm"}))
        else:
            out.append(("frame", {"values": np.arange(size), "units": ""}))
    return out


def _is_reciprocal(ser: _ser.SerFile) -> bool:
    """Image calibrations are in 1/m (diffraction) when a pixel measures more than one unit.

    A real-space pixel is far below a metre; a diffraction pixel is ~1e7..1e10 per metre.
    """
    return abs(ser.calibrations[-1]["CalibrationDelta"]) >= 1.0


def _element_coords(ser: _ser.SerFile, info: dict[str, Any], reciprocal: bool) -> list[tuple[str, dict]]:
    def axis(cal: dict[str, Any], size: int, factor: float) -> np.ndarray:
        index = np.arange(size) - cal["CalibrationElement"]
        return (cal["CalibrationOffset"] + cal["CalibrationDelta"] * index) * factor

    if ser.is_image:
        names, units, factor = (("ky", "kx"), "1/nm", 1e-9) if reciprocal else (("y", "x"), "nm", 1e9)
        return [
            (n, {"values": axis(c, s, factor), "units": units})
            for n, c, s in zip(names, ser.calibrations, ser.shape, strict=True)
        ]
    name = "energy_loss" if _is_eels(info) else "energy"
    return [(name, {"values": axis(ser.calibrations[0], ser.shape[0], 1.0), "units": "eV"})]


def _is_eels(info: dict[str, Any]) -> bool:
    return str((info.get("ExperimentalDescription") or {}).get("Filter mode", "")).strip() == "Spectroscopy"


def _data_type(series: list[tuple[str, Any]], ser: _ser.SerFile) -> str:
    n = len(series)
    if ser.is_image:
        return {0: "IMAGE", 1: "IMAGE_STACK"}.get(n, "IMAGE_4D")
    return {0: "SPECTRUM", 1: "LINE_PLOT_FAMILY"}.get(n, "SPECTRAL_IMAGE")


def _modality(info: dict[str, Any], ser: _ser.SerFile) -> str:
    mode = _emi.mode(info)
    parts = ["STEM" if "STEM" in mode else "TEM"] if mode else []
    if not ser.is_image:
        parts.append("EELS" if _is_eels(info) else "spectroscopy")
    return " ".join(parts)


def _header_metadata(ser: _ser.SerFile) -> dict[str, Any]:
    return {
        **ser.header,
        "Dimensions": ser.dimensions,
        "ElementCalibrations": ser.calibrations,
        "DataType": ser.dtype.str,
        "ElementShape": list(ser.shape),
        "FirstTag": ser.first_tag,
    }
