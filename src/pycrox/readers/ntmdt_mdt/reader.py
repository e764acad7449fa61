"""NT-MDT MDT files: the MDA frames (scanned images and other arrays) of an MDT container.

Each MDA frame (type 106) is one signal node named after its title (``"1F:Iprobe"``): two
dimensions and one measurand make a ``(y, x)`` image, the file's first dimension (fastest) being
``x``; one dimension makes a curve. Values are ``bias + scale * raw`` in the measurand's unit
(``nA``, ``nm``, ``V`` ... as the file calibrates), axes ``bias + scale * index`` in their units.
Rows are flipped so that row 0 is the last row stored (the file stores the image top row first,
as the reference readers show it). The XML parameters of the frame are in
``original_metadata["parameters"]`` and normalised (date, time, stiffness -> spring constant,
device); text frames are kept in the root's ``original_metadata``. Classic scanned/spectroscopy
frames (types 0-2) and curve frames (190) are listed there but not read.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
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
from pycrox.readers.ntmdt_mdt import _frames
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file starts with the MDT magic; never raises."""
    try:
        return read_head(open_source(filename_or_obj, storage_options), 4) == _frames.MAGIC
    except (OSError, TypeError, ValueError):
        return False


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an MDT file as a lazy DataTree, one node per MDA frame.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.mdt`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    FormatError
        On a wrong magic, a truncated frame or a data block that does not fit its calibrations.
    """
    source = open_source(filename_or_obj, storage_options)
    with source.reading() as fh:
        frames = _frames.parse(fh, source.name, source.size())
    used: set[str] = set()
    tree: dict[str, xr.Dataset] = {}
    for frame in frames:
        if frame["type"] == 106 and frame["measurands"]:
            for name, da in _mda_signals(source, frame, used).items():
                tree[f"/{name}"] = xr.Dataset({name: da.rename(name)})
    listing = [
        {k: v for k, v in f.items() if k in ("index", "offset", "size", "type", "kind", "version", "date")}
        for f in frames
    ]
    texts = {str(f["index"]): f["text"] for f in frames if "text" in f}
    if not tree:
        raise FormatError(
            source.name,
            f"no MDA frame with data; frames are {[f['kind'] for f in frames]} "
            "(classic scanned and curve frames are not read yet)",
        )
    root = xr.Dataset(
        attrs={
            "source": "NT-MDT",
            "file": base_name(source),
            "original_metadata": {"frames": listing, "text_frames": texts},
        }
    )
    return xr.DataTree.from_dict({"/": root, **tree})


class _Calibrated(BackendArray):
    """A raw MDA block as ``bias + scale * raw`` (float64), rows flipped for images."""

    def __init__(self, raw: RawArray, bias: float, scale: float, flip_rows: bool) -> None:
        self.raw, self.bias, self.scale, self.flip_rows = raw, bias, scale, flip_rows
        self.shape, self.dtype = raw.shape, np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        block = self.raw._read((slice(None),) * len(self.shape))
        if self.flip_rows:
            block = block[::-1]
        return np.ascontiguousarray((self.bias + self.scale * block.astype(np.float64))[key])


def _mda_signals(source: Source, frame: dict[str, Any], used: set[str]) -> dict[str, xr.DataArray]:
    dims_cal = frame["dimensions"]
    shape = tuple(c["length"] for c in reversed(dims_cal))  # C order: last dimension slowest
    names = (
        ["x", "y", "z"][: len(dims_cal)][::-1]
        if len(dims_cal) <= 3
        else [f"d{i}" for i in range(len(dims_cal))]
    )
    if len(dims_cal) == 1:
        names = [model.dimension_for(values.unit_spelling(dims_cal[0]["unit"]), None)]
    parameters = _xml(frame["xml"])
    flat = _leaves(parameters)
    metadata = spm.normalised(flat, spring_constant=_stiffness(flat))
    date = values.iso_date(str(flat.get("Date", "")))
    if not date:
        year, month, day, hour, minute, second = frame["date"]
        date = values.iso_date(f"{year:04d}-{month:02d}-{day:02d}")
        metadata["time"] = f"{hour:02d}:{minute:02d}:{second:02d}"
    if date:
        metadata["date"] = date
    if flat.get("StartTime"):
        metadata["time"] = values.iso_time(str(flat["StartTime"]))
    if flat.get("DeviceType"):
        metadata["microscope"] = str(flat["DeviceType"])
    coords = {}
    for name, cal in zip(names, reversed(dims_cal), strict=True):
        unit = values.unit_spelling(cal["unit"])
        coords[name] = {
            "values": cal["bias"] + cal["scale"] * np.arange(cal["length"], dtype=np.float64),
            "units": unit,
        }
    offset = frame["data_offset"]
    out: dict[str, xr.DataArray] = {}
    for _i, measurand in enumerate(frame["measurands"]):
        dtype = _frames.dtype_of(measurand["data_type"])
        if dtype is None:
            raise FormatError(
                source.name,
                f"MDA frame {frame['index']}: unknown data type {measurand['data_type']}",
                where=f"offset {frame['offset']}",
            )
        raw = RawArray(source, offset, dtype, shape)
        offset += int(np.prod(shape)) * dtype.itemsize
        data = indexing.LazilyIndexedArray(
            _Calibrated(raw, measurand["bias"], measurand["scale"], len(shape) == 2)
        )
        title = frame["title"] if len(frame["measurands"]) == 1 else f"{frame['title']} {measurand['name']}"
        name = spm.node_name(title, used, f"frame {frame['index']}")
        out[name] = model.from_array(
            data,
            names,
            coords=coords,
            name=name,
            title=title,
            units=values.unit_spelling(measurand["unit"]),
            data_type="IMAGE" if len(shape) == 2 else None,
            modality="SPM",
            source="NT-MDT",
            metadata=values.drop_empty(metadata),
            original_metadata={
                "frame": {k: v for k, v in frame.items() if k != "xml"},
                "parameters": parameters,
            },
        )
    return out


def _xml(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        root = ET.fromstring(text)
    except ET.ParseError:
        return {"xml": text}
    return {root.tag: values.xml_to_dict(root)}


def _leaves(tree: Any, out: dict[str, Any] | None = None) -> dict[str, Any]:
    out = {} if out is None else out
    if isinstance(tree, dict):
        for key, value in tree.items():
            if isinstance(value, dict | list):
                _leaves(value, out)
            else:
                out.setdefault(str(key), value)
    elif isinstance(tree, list):
        for value in tree:
            _leaves(value, out)
    return out


def _stiffness(flat: dict[str, Any]) -> dict[str, Any] | None:
    value = values.number(flat.get("Stiffness"))
    return None if value is None else {"value": value, "units": "N/m"}
