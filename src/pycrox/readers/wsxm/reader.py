"""WSxM (Nanotec Electronica) files: images and force/spectroscopy curves.

An image file (``.top``, ``.ch1``, ``.adh`` ...) is one channel ``(y, x)``; WSxM keeps every
channel of a measurement in its own file named ``<base>_NNNN<channel ext>``, and reading one
reads all of them (each its own node, named after ``Acquisition channel``; ``.gsi`` files are
skipped). Image values: integer data are ``raw * Z Amplitude / (Maximum - Minimum)``, floating
data are in the Z unit already; the image is flipped on both axes relative to the file order
(WSxM writes the last row and column first), so that ``y`` and ``x`` increase from index 0.
Lateral coordinates are ``offset + amplitude / n * index`` in the header's unit.

A curves file (``.curves``) holds the image it was taken on (a node named after its channel)
and a series of curves, each a node ``"<channel> (<index>)"`` of dims ``(z, direction)``: the
approach and retract lines (``direction`` 0/1, the names in the ``direction_name`` coordinate,
in the file's order given by ``First Forward``), values ``offset + factor * raw`` (negated when
``Channel is inverted``), ``z`` the first line's piezo positions (the second line's in
``z_retract``). Headers are kept whole in ``original_metadata["header"]``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model
from pycrox._binary import RawArray, check_extent
from pycrox.errors import FormatError
from pycrox.readers._common import spm, values
from pycrox.readers._common.companion import base_name, siblings_matching
from pycrox.readers.wsxm import _header, _spectra
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_TYPES = {
    "short": "<i2",
    "short-data": "<i2",
    "unsignedshort": "<u2",
    "integer-data": "<i4",
    "signedinteger": "<i4",
    "float-data": "<f4",
    "float": "<f4",
    "double": "<f8",
}


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file starts with the WSxM copyright line; never raises."""
    try:
        head = read_head(open_source(filename_or_obj, storage_options), len(_header.MAGIC))
    except (OSError, TypeError, ValueError):
        return False
    return head == _header.MAGIC


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a WSxM file (and the other channel files of its measurement) as a DataTree.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The WSxM file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node per channel image and per curve.

    Raises
    ------
    FormatError
        On a wrong magic, an unknown data type or a truncated file.
    """
    source = open_source(filename_or_obj, storage_options)
    if read_head(source, len(_header.MAGIC)) != _header.MAGIC:
        raise FormatError(
            source.name,
            f"expected the WSxM line {_header.MAGIC.decode()!r}, found {read_head(source, 24)!r}",
            where="offset 0",
        )
    used: set[str] = set()
    signals = _read_file(source, used)
    for other in _measurement_siblings(source):
        if read_head(other, len(_header.MAGIC)) == _header.MAGIC:
            signals.update(_read_file(other, used))
    tree: dict[str, xr.Dataset] = {"/": xr.Dataset(attrs={"source": "WSxM", "file": base_name(source)})}
    for name, da in signals.items():
        tree[f"/{name}"] = xr.Dataset({name: da.rename(name)})
    return xr.DataTree.from_dict(tree)


def _measurement_siblings(source: Source) -> list[Source]:
    """The other files of the measurement: same name up to ``_NNNN`` (WSxM's numbering), no ``.gsi``."""
    name = source.file_name
    match = re.search(r"_\d{4}", name)
    if not name or not match:
        return []
    common = re.escape(name[: match.end()])
    return [
        s
        for s in siblings_matching(source, common + r".*")
        if s.file_name != name and not s.file_name.lower().endswith(".gsi")
    ]


def _read_file(source: Source, used: set[str]) -> dict[str, xr.DataArray]:
    size = source.size()
    with source.reading() as fh:
        header, kind, offset = _header.read_header(fh, source.name, 0, size)
        if _spectra.is_text_curves(header):
            return _spectra.text_curves(source, fh, header, kind, offset, used, _metadata(header))
        if source.suffix.lower() == ".stp":
            dtype = _data_dtype(source, header)
            return _spectra.stp(source, header, kind, offset, used, _metadata(header), dtype)
        out: dict[str, xr.DataArray] = {}
        image, offset = _image(source, header, kind, offset)
        channel = str(_header.get(header, "General Info", "Acquisition channel") or "image")
        out[spm.node_name(channel, used)] = image
        if "Number of points per ramp" in header.get("General Info", {}):
            coords = {
                axis: {"values": image[axis].values, "units": image[axis].attrs["units"]} for axis in "xy"
            }
            dtype = _data_dtype(source, header)
            out.update(_spectra.volume(source, header, kind, offset, used, _metadata(header), dtype, coords))
        elif "curve" in kind.lower():
            out.update(_curves(source, fh, header, offset, size, used))
    return out


class _Flipped(BackendArray):
    """A raw image block read whole, scaled and flipped on both axes, then indexed."""

    def __init__(self, raw: RawArray, scale: float | None) -> None:
        self.raw, self.scale = raw, scale
        self.shape = raw.shape
        self.dtype = np.dtype(np.float64) if scale is not None else raw.dtype.newbyteorder("=")

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        block = self.raw._read((slice(None),) * len(self.shape))[::-1, ::-1]
        block = block * self.scale if self.scale is not None else block.astype(self.dtype)
        return np.ascontiguousarray(block[key])


def _data_dtype(source: Source, header: dict[str, Any]) -> np.dtype:
    text = str(_header.get(header, "General Info", "Image Data Type", "short")).strip().lower()
    if text not in _TYPES:
        raise FormatError(
            source.name, f"unknown Image Data Type {text!r} (known: {sorted(_TYPES)})", where="header"
        )
    return np.dtype(_TYPES[text])


def _image(source: Source, header: dict[str, Any], kind: str, offset: int) -> tuple[xr.DataArray, int]:
    dtype = _data_dtype(source, header)
    try:
        ncols = int(_header.get(header, "General Info", "Number of columns"))
        nrows = int(_header.get(header, "General Info", "Number of rows"))
    except (TypeError, ValueError) as exc:
        raise FormatError(
            source.name,
            "the header has no valid 'Number of columns'/'Number of rows'",
            where="header [General Info]",
        ) from exc
    nbytes = nrows * ncols * dtype.itemsize
    check_extent(source, offset, nbytes, f"the {nrows}x{ncols} image of {dtype.name}")
    z_amp, z_unit = spm.value_unit(_header.get(header, "General Info", "Z Amplitude"))
    scale: float | None = None
    if dtype.kind in "iu":
        zmax = values.number(_header.get(header, "Miscellaneous", "Maximum"))
        zmin = values.number(_header.get(header, "Miscellaneous", "Minimum"))
        scale = (
            (z_amp / (zmax - zmin))
            if z_amp and zmax is not None and zmin is not None and zmax != zmin
            else 1.0
        )
    data = indexing.LazilyIndexedArray(_Flipped(RawArray(source, offset, dtype, (nrows, ncols)), scale))
    coords = {}
    for axis, n in (("x", ncols), ("y", nrows)):
        amp, unit = spm.value_unit(_header.get(header, "Control", f"{axis.upper()} Amplitude"))
        start, start_unit = spm.value_unit(
            _header.get(header, "General Info", f"{axis.upper()} starting offset")
        )
        unit = values.unit_spelling(unit.replace("\ufffd", "µ"))
        if start is not None and start_unit and unit:
            start = (
                values.convert(start, values.unit_spelling(start_unit.replace("\ufffd", "µ")), unit) or 0.0
            )
        coords[axis] = {
            "values": (start or 0.0) + (amp or float(n)) / n * np.arange(n, dtype=np.float64),
            "units": unit if amp else "",
        }
    channel = str(_header.get(header, "General Info", "Acquisition channel") or "image")
    direction = _header.get(header, "General Info", "X scanning direction")
    metadata = _metadata(header)
    if direction:
        metadata["scan_direction"] = str(direction).lower()
    da = model.from_array(
        data,
        ("y", "x"),
        coords=coords,
        name="image",
        title=channel,
        units=values.unit_spelling(z_unit),
        data_type="IMAGE",
        modality="SPM",
        source="WSxM",
        metadata=metadata,
        original_metadata={"kind": kind, "header": header},
    )
    return da, offset + nbytes


def _curves(
    source: Source, fh: Any, image_header: dict[str, Any], offset: int, size: int, used: set[str]
) -> dict[str, xr.DataArray]:
    dtype = _data_dtype(source, image_header)
    out: dict[str, xr.DataArray] = {}
    while offset < size:
        header, kind, offset = _header.read_header(fh, source.name, offset, size)
        general = header.get("General Info", {})
        try:
            points, lines = int(general["Number of points"]), int(general["Number of lines"])
        except (KeyError, ValueError) as exc:
            raise FormatError(
                source.name,
                "a curve header has no valid 'Number of points'/'Number of lines'",
                where=f"offset {offset}",
            ) from exc
        nbytes = points * lines * 2 * dtype.itemsize
        check_extent(source, offset, nbytes, f"a curve of {lines} lines x {points} points")
        fh.seek(offset)
        raw = np.frombuffer(fh.read(nbytes), dtype).astype(np.float64).reshape(lines, points, 2)
        offset += nbytes
        if points == 0:
            continue
        index = str(_header.get(header, "Control", "Index of this Curve", str(len(out) + 1)))
        out.update(
            _spectra.curve_nodes(raw, header, kind, used, _metadata({**image_header, **header}), index)
        )
    return out


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    flat = {k: v for section in header.values() if isinstance(section, dict) for k, v in section.items()}
    flat.pop("Angle", None)
    out = spm.normalised({k: v for k, v in flat.items() if k not in ("Acquisition time",)})
    stamp = flat.get("Acquisition time")
    if isinstance(stamp, str):
        if m := re.match(r"\s*(\d{1,2})/(\d{1,2})/(\d{4})", stamp):  # WSxM writes day/month/year
            out["date"] = f"{int(m.group(3)):04d}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
        if clock := values.iso_time(stamp.split(",")[-1]):
            out["time"] = clock
    angle = spm.value_unit(_header.get(header, "Control", "Angle"))[0]
    if angle is not None:
        out["scan_angle"] = {"value": angle, "units": "deg"}
    return values.drop_empty(out)
