"""Digital Surf (MountainsMap) SUR and PRO files: profiles, surfaces, series and spectral maps.

One signal node per file, shaped by the object type: a profile ``(x,)``, a surface or image
``(y, x)``, a profile or surface series (one object each) ``(frame, x)`` / ``(frame, y, x)``,
spectra ``(position, <spectral>)`` and a hyperspectral map ``(y, x, <spectral>)``, the spectral
dim named after the T axis unit (``wavelength`` for a length). Values are
``(raw - Zmin) * Z_Spacing / Z_Unit_Ratio + Z_Offset`` in float64 (non-measured points NaN),
axes ``offset + spacing * index`` in the step units. Uncompressed (``DIGITAL SURF``) points stay
in the file until read; compressed (``DSCOMPRESSED``) ones are inflated at open. The headers of
every object and the parsed comment are in ``original_metadata``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers._common import spm, values
from pycrox.readers._common.companion import base_name
from pycrox.readers.digitalsurf import _header
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_IMAGES = (2, 3, 10, 11)
_SERIES = (4, 5, 7, 8, 12, 13, 16, 18)


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file starts with a Digital Surf signature; never raises."""
    try:
        head = read_head(open_source(filename_or_obj, storage_options), 12)
    except (OSError, TypeError, ValueError):
        return False
    return head in _header.SIGNATURES


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a SUR or PRO file as a DataTree with one signal node.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.sur`` or ``.pro`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    FormatError
        On a wrong signature, an unsupported object type or a truncated file.
    """
    source = open_source(filename_or_obj, storage_options)
    with source.reading() as fh:
        objects = _header.read_objects(fh, source.name, source.size())
    da = _signal(source, objects)
    name = spm.node_name(da.attrs["title"], set(), "data")
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs={"source": "Digital Surf", "file": base_name(source)}),
            f"/{name}": da.to_dataset(name=name),
        }
    )


class _ScaledPoints(BackendArray):
    """Raw integer points (in the file or inflated) as ``(raw - zmin) * scale + offset``, NaN where not measured."""

    def __init__(
        self, raw: Any, shape: tuple[int, ...], zmin: int, scale: float, offset: float, missing: int | None
    ) -> None:
        self.raw, self.zmin, self.scale, self.offset, self.missing = raw, zmin, scale, offset, missing
        self.shape, self.dtype = shape, np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        raw = self.raw._read(key) if isinstance(self.raw, RawArray) else self.raw[key]
        out = (raw.astype(np.float64) - self.zmin) * self.scale + self.offset
        if self.missing is not None:
            out[raw == self.missing] = np.nan
        return out


def _points(source: Source, obj: dict[str, Any], shape: tuple[int, ...]) -> Any:
    dtype = _header.dtype_of(obj)
    if "points" in obj:
        return np.frombuffer(obj["points"], dtype).astype(dtype.newbyteorder("=")).reshape(shape)
    return RawArray(source, obj["data_offset"], dtype, shape)


def _lazy(source: Source, objects: list[dict[str, Any]], shape: tuple[int, ...]) -> Any:
    """The scaled values of one object (`shape`) or of a series of objects (``(n, *shape)``)."""
    first = objects[0]
    scale = float(first["Z_Spacing"]) / float(first["Z_Unit_Ratio"] or 1.0)
    missing = first["Zmin"] - 2 if first["Special_Points"] == 1 else None
    if len(objects) == 1:
        arr = _ScaledPoints(
            _points(source, first, shape), shape, first["Zmin"], scale, first["Z_Offset"], missing
        )
        return indexing.LazilyIndexedArray(arr)
    parts = [
        _ScaledPoints(
            _points(source, o, shape),
            shape,
            o["Zmin"],
            float(o["Z_Spacing"]) / float(o["Z_Unit_Ratio"] or 1),
            o["Z_Offset"],
            o["Zmin"] - 2 if o["Special_Points"] == 1 else None,
        )[indexing.BasicIndexer(tuple(slice(None) for _ in shape))]
        for o in objects
    ]
    return np.stack(parts)


def _axis(obj: dict[str, Any], letter: str, size: int) -> dict[str, Any]:
    spacing = float(obj[f"{letter}_Spacing"]) or 1.0 if letter == "T" else float(obj[f"{letter}_Spacing"])
    return {
        "values": float(obj[f"{letter}_Offset"]) + spacing * np.arange(size, dtype=np.float64),
        "units": values.unit_spelling(obj[f"{letter}_Step_Unit"]),
    }


def _signal(source: Source, objects: list[dict[str, Any]]) -> xr.DataArray:
    first = objects[0]
    kind = first["Object_Type"]
    nx, ny, nw = first["Number_of_Points"], max(first["Number_of_Lines"], 1), max(first["W_Size"], 1)
    if nx <= 0 or nx * ny != first["Total_Nb_of_Pts"]:
        raise FormatError(
            source.name,
            f"{nx} points x {ny} lines do not make Total_Nb_of_Pts {first['Total_Nb_of_Pts']}",
            where="offset 104",
        )
    spectral_unit = values.unit_spelling(first["T_Step_Unit"])
    coords: dict[str, Any] = {}
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    if kind == 21:  # hyperspectral map: the T axis is the spectrum
        wdim = model.dimension_for(spectral_unit, "spectrum", spectral=True)
        dims, shape = ("y", "x", wdim), (ny, nx, nw)
        coords = {"y": _axis(first, "Y", ny), "x": _axis(first, "X", nx), wdim: _axis(first, "T", nw)}
        data, data_type = _lazy(source, objects[:1], shape), "SPECTRAL_IMAGE"
    elif kind == 20:  # spectra: the X axis is the spectrum
        wdim = model.dimension_for(values.unit_spelling(first["X_Step_Unit"]), "spectrum", spectral=True)
        dims, shape = ("position", wdim), (ny, nx)
        coords = {"position": {"values": np.arange(ny), "units": ""}, wdim: _axis(first, "X", nx)}
        data, data_type = _lazy(source, objects[:1], shape), "SPECTRUM"
    elif kind == 1 or (kind not in _IMAGES and kind not in _SERIES and ny == 1):
        dims, shape = ("x",), (nx,)
        coords = {"x": _axis(first, "X", nx)}
        data, data_type = _lazy(source, objects[:1], shape), "LINE_PLOT"
    elif kind in _IMAGES:
        dims, shape = ("y", "x"), (ny, nx)
        coords = {"y": _axis(first, "Y", ny), "x": _axis(first, "X", nx)}
        data, data_type = _lazy(source, objects[:1], shape), "IMAGE"
    elif kind in _SERIES:
        frames = len(objects)
        inner: tuple[str, ...] = ("x",) if kind in (4, 7) else ("y", "x")
        frame_shape: tuple[int, ...] = (nx,) if kind in (4, 7) else (ny, nx)
        shape = (frames, *frame_shape)
        dims = ("frame", *inner)
        coords = {"frame": _axis(first, "T", frames), "x": _axis(first, "X", nx)}
        if "y" in inner:
            coords["y"] = _axis(first, "Y", ny)
        data, data_type = _lazy(source, objects, frame_shape), None
    else:
        raise FormatError(
            source.name,
            f"object type {kind} ({_header.OBJECT_TYPES.get(kind, 'unknown')}) is not supported",
            where="offset 18",
        )
    for dim in dims:
        if dim in ("x", "y") and not coords[dim]["units"]:
            coords[dim]["quantity"] = ""
    comment = _header.parse_comment(first["comment"])
    title = first["Name_of_Z_Axis"] or first["Object_Name"].strip("* ") or "data"
    original = {
        "object_type": _header.OBJECT_TYPES.get(kind, str(kind)),
        "headers": [{k: v for k, v in o.items() if k not in ("points", "comment")} for o in objects],
        "comment": comment,
        "comment_text": first["comment"],
    }
    return model.from_array(
        data,
        dims,
        coords=coords,
        name="data",
        title=title,
        units=values.unit_spelling(first["Z_Step_Unit"]),
        data_type=data_type,
        modality="SPM",
        source="Digital Surf",
        metadata=_metadata(first, comment),
        original_metadata=original,
    )


def _metadata(header: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for section in comment.values() if isinstance(section, dict) for k, v in section.items()}
    out = spm.normalised(flat)
    out.pop("scan_angle", None)
    if header["Operator_Name"]:
        out["operator"] = header["Operator_Name"]
    if header["Year"] > 0 and 1 <= header["Month"] <= 12 and 1 <= header["Day"] <= 31:
        try:
            stamp = dt.datetime(
                header["Year"],
                header["Month"],
                header["Day"],
                header["Hours"],
                header["Minutes"],
                header["Seconds"],
            )
            out["date"], out["time"] = stamp.date().isoformat(), stamp.time().isoformat()
        except ValueError:
            pass
    sem = comment.get("SEM", {})
    if isinstance(sem, dict) and sem:
        energy, unit = spm.value_unit(sem.get("Beam Energy"))
        if energy is not None:
            out["beam_energy"] = values.beam_energy(energy, unit or "V")
        magnification = values.number(sem.get("Real Magnification"))
        if magnification is not None:
            out["magnification"] = magnification
        current, unit = spm.value_unit(sem.get("Beam Current"))
        if current is not None and unit:
            out["beam_current"] = values.quantity(values.convert(current, unit, "nA"), "nA")
        if any(k.startswith("Attomic") for k in sem):  # Attolight's own keys: an Attolight Allalin CL-SEM
            out["microscope"] = "Attolight Allalin"
    return values.drop_empty(out)
