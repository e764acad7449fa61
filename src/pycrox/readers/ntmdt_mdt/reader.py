"""NT-MDT MDT files: every data frame of an MDT container (images, spectra, curves).

Each MDA frame (type 106) is one signal node named after its title (``"1F:Iprobe"``): two
dimensions and one measurand make a ``(y, x)`` image, the file's first dimension (fastest) being
``x``; one dimension makes a curve. Values are ``bias + scale * raw`` in the measurand's unit
(``nA``, ``nm``, ``V`` ... as the file calibrates), axes ``bias + scale * index`` in their units.
Rows are flipped so that row 0 is the last row stored (the file stores the image top row first,
as the reference readers show it). Classic scanned frames (type 0) are ``(y, x)`` images the same
way (``z offset + z step * raw`` of ``int16`` data, axes ``offset + |step| * index``); classic
spectroscopy frames (type 1) are curves along their x axis; point-curve frames (201) and curve
frames (190) are ``(position, ...)`` curve sets with the positions as ``x``/``y`` coordinates
(see `_curve_frame`). The XML parameters of a frame are in ``original_metadata["parameters"]``
and normalised (date, time, stiffness -> spring constant, device; bias, set point and scan
direction of classic scans); text frames are kept in the root's ``original_metadata``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model, units
from pycrox._binary import RawArray
from pycrox.errors import FormatError, UnitError
from pycrox.readers._common import spm, values
from pycrox.readers._common.companion import base_name
from pycrox.readers.ntmdt_mdt import _classic, _curves, _frames
from pycrox.readers.ntmdt_mdt._arrays import Calibrated, Gathered, Segment
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file starts with the MDT magic; never raises."""
    try:
        return read_head(open_source(filename_or_obj, storage_options), 4) == _frames.MAGIC
    except (OSError, TypeError, ValueError):
        return False


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an MDT file as a lazy DataTree: one node per signal of its scan, curve and MDA frames.

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
        if frame["type"] == 106 and frame["measurands"] and frame["dimensions"]:
            signals = _mda_signals(source, frame, used)
        elif frame["type"] in _classic.KINDS:
            signals = _classic_signals(source, frame, used)
        elif frame["type"] == 190:
            signals = _curve_frame(source, frame, used)
        else:
            continue
        for name, da in signals.items():
            tree[f"/{name}"] = xr.Dataset({name: da.rename(name)})
    listing = [
        {
            k: v
            for k, v in f.items()
            if k in ("index", "offset", "size", "type", "kind", "version", "date", "var_size")
        }
        for f in frames
    ]
    texts = {str(f["index"]): f["text"] for f in frames if "text" in f}
    if not tree:
        raise FormatError(
            source.name,
            f"no frame with data; frames are {[f['kind'] for f in frames]} "
            "(old MDA and palette frames are not read)",
        )
    root = xr.Dataset(
        attrs={
            "source": "NT-MDT",
            "file": base_name(source),
            "original_metadata": {"frames": listing, "text_frames": texts},
        }
    )
    return xr.DataTree.from_dict({"/": root, **tree})


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
    parameters, metadata = _metadata(frame)
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
            Calibrated(raw, measurand["bias"], measurand["scale"], len(shape) == 2)
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


def _metadata(frame: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The frame's XML parameters as nested dicts, and the normalised metadata they give."""
    parameters = _xml(frame.get("xml", ""))
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
    return parameters, metadata


def _sweep_dim(unit: str, signal: str = "spectrum") -> str:
    """The dim of a curve axis in `unit`: ``z`` for a length (a piezo sweep), else by `dimension_for`."""
    try:
        if units.parse(unit).dimensionality == units.ureg.meter.dimensionality:
            return "z"
    except (UnitError, ValueError, TypeError, AttributeError):
        pass
    return model.dimension_for(unit, signal, spectral=True)


def _scan_direction(bits: int) -> str:
    """The classic scan direction byte as words (1 horizontal, 2 left, 4 bottom, 128 double pass)."""
    text = ", ".join(
        (
            "horizontal" if bits & 1 else "vertical",
            "from left" if bits & 2 else "from right",
            "from bottom" if bits & 4 else "from top",
        )
    )
    return text + (", double pass" if bits & 128 else "")


def _classic_signals(source: Source, frame: dict[str, Any], used: set[str]) -> dict[str, xr.DataArray]:
    """A classic frame as one signal: a scanned image (0), a spectrum (1) or point curves (201)."""
    parameters, metadata = _metadata(frame)
    axes, scan, mode, dots = frame["axes"], frame["scan"], frame["frame_mode"], frame["dots"]
    xres, yres = mode["xres"], mode["yres"]
    z = axes["z"]
    z_unit = values.unit_spelling(z["unit"])
    original = {"frame": {k: v for k, v in frame.items() if k != "xml"}, "parameters": parameters}
    title = frame["title"] or scan["adc_mode"]
    name = spm.node_name(title, used, f"frame {frame['index']}")
    common: dict[str, Any] = {
        "name": name,
        "title": title,
        "units": z_unit,
        "modality": "SPM",
        "source": "NT-MDT",
        "original_metadata": original,
    }
    x_unit = values.unit_spelling(axes["x"]["unit"])
    if frame["type"] == 0:
        metadata["bias"] = {"value": float(scan["bias_V"]), "units": "V"}
        metadata["setpoint"] = float(scan["setpoint_nA"])
        metadata["scan_direction"] = _scan_direction(scan["scan_dir"])
        raw = RawArray(source, frame["data_offset"], "<i2", (yres, xres))
        coords: dict[str, Any] = {
            axis: {
                "values": axes[axis]["offset"] + abs(axes[axis]["step"]) * np.arange(n, dtype=np.float64),
                "units": values.unit_spelling(axes[axis]["unit"]),
            }
            for axis, n in (("x", xres), ("y", yres))
        }
        data = indexing.LazilyIndexedArray(Calibrated(raw, z["offset"], z["step"], True))
        da = model.from_array(
            data, ("y", "x"), coords=coords, data_type="IMAGE", metadata=values.drop_empty(metadata), **common
        )
        return {name: da}
    dim = _sweep_dim(x_unit)
    step = abs(axes["x"]["step"]) or 1.0
    if frame["type"] == 1:
        shape: tuple[int, ...] = (xres,) if yres <= 1 else (yres, xres)
        dims: tuple[str, ...] = (dim,) if yres <= 1 else ("curve", dim)
        raw = RawArray(source, frame["data_offset"], "<i2", shape)
        data = indexing.LazilyIndexedArray(Calibrated(raw, z["offset"], z["step"], False))
        coords = {dim: {"values": axes["x"]["offset"] + step * np.arange(xres), "units": x_unit}}
        da = model.from_array(data, dims, coords=coords, metadata=values.drop_empty(metadata), **common)
        return {name: da}
    lengths = [(f, b) for f, b in zip(dots.get("forward", []), dots.get("backward", []), strict=True)]
    n = max([max(f, b) for f, b in lengths] + [1])
    segments, position = [], frame["data_offset"]
    for p, pair in enumerate(lengths):
        for d, count in enumerate(pair):
            segments.append(Segment(2 * p + d, position, "<i2", count, False, z["offset"], z["step"]))
            position += 2 * count
    xy_unit = values.unit_spelling(dots.get("unit", ""))
    coords = {
        "position": {"values": np.arange(len(lengths)), "units": ""},
        "x": (("position",), np.asarray(dots.get("x", []), dtype=np.float64), {"units": xy_unit}),
        "y": (("position",), np.asarray(dots.get("y", []), dtype=np.float64), {"units": xy_unit}),
        "direction_name": (("direction",), np.array(["forward", "backward"])),
        dim: {"values": axes["x"]["offset"] + step * np.arange(n), "units": x_unit},
    }
    data = indexing.LazilyIndexedArray(Gathered(source, (len(lengths), 2, n), segments))
    da = model.from_array(
        data, ("position", "direction", dim), coords=coords, metadata=values.drop_empty(metadata), **common
    )
    return {name: da}


def _curve_frame(source: Source, frame: dict[str, Any], used: set[str]) -> dict[str, xr.DataArray]:
    """A curve frame (190): one node per signal and sweep axis, dims (position, cycle, direction, sweep).

    Each position holds, per direction (the point's forward then backward curve lists), one curve
    per pass (``cycle``). Curves are put in the axis order, ``start`` to ``stop`` (a curve with the
    inverted option was measured from ``stop`` and is reversed); the sweep coordinate is
    ``linspace(start, stop, count)``, less the axis ``value`` when the curves are relative to it.
    Positions without a curve for some pass or direction are NaN there.
    """
    index = frame["index"]
    parameters, metadata = _metadata(frame)
    comment = parameters.get("FrameComment")
    settings = comment.get("Parameters") if isinstance(comment, dict) else None
    frame_title = settings.get("Name") if isinstance(settings, dict) else None
    title = str(frame_title or index["params"].get("Name") or f"curves {frame['index']}")
    groups: dict[tuple[int, int], dict[tuple[int, int], list[int]]] = {}
    for p, point in enumerate(index["points"]):
        for d, key in enumerate(("forward", "backward")):
            for meas_id in point[key]:
                meas = index["meas"].get(meas_id)
                if meas is None:
                    continue
                groups.setdefault((meas["name"], meas["axis"]), {}).setdefault((p, d), []).append(meas_id)
    out: dict[str, xr.DataArray] = {}
    npoints = len(index["points"])
    where = f"offset {frame['offset']}"
    for (name_id, axis_id), curves in groups.items():
        axis = index["axes"].get(axis_id)
        signal = index["names"].get(name_id)
        if axis is None or signal is None or axis["name"] not in index["names"]:
            raise FormatError(
                source.name,
                f"curve frame {frame['index']}: a curve names signal {name_id} and axis {axis_id}, "
                "which index.xml does not define",
                where=where,
            )
        npass = max(len(v) for v in curves.values())
        segments, relative = [], True
        n = axis["count"]
        for (p, d), ids in curves.items():
            for c, meas_id in enumerate(ids):
                meas = index["meas"][meas_id]
                record = index["data"].get(meas["data"])
                if record is None:
                    raise FormatError(
                        source.name,
                        f"curve frame {frame['index']}: curve {meas_id} names data record "
                        f"{meas['data']}, which index.xml does not define",
                        where=where,
                    )
                double = record["type"] == "float64"
                n = max(n, record["count"])
                relative &= bool(meas["options"] & _curves.RELATIVE)
                segments.append(
                    Segment(
                        (p * npass + c) * 2 + d,
                        record["position"],
                        "<f8" if double else "<i4",
                        record["count"],
                        bool(meas["options"] & _curves.INVERTED),
                        0.0 if double else signal["bias"],
                        1.0 if double else signal["scale"],
                    )
                )
        sweep = index["names"][axis["name"]]
        sweep_unit = values.unit_spelling(sweep["unit"])
        dim = _sweep_dim(sweep_unit)
        steps = np.arange(n, dtype=np.float64) / max(axis["count"] - 1, 1)
        sweep_values = axis["start"] + (axis["stop"] - axis["start"]) * steps
        if relative:
            sweep_values = sweep_values - axis["value"]
        xy_unit = values.unit_spelling(index["points"][0]["unit"]) if npoints else ""
        coords: dict[str, Any] = {
            "position": {"values": np.arange(npoints), "units": ""},
            "x": (
                ("position",),
                np.array([q["x"] for q in index["points"]], dtype=np.float64),
                {"units": xy_unit},
            ),
            "y": (
                ("position",),
                np.array([q["y"] for q in index["points"]], dtype=np.float64),
                {"units": xy_unit},
            ),
            "cycle": {"values": np.arange(npass), "units": ""},
            "direction_name": (("direction",), np.array(["forward", "backward"])),
            dim: {"values": sweep_values, "units": sweep_unit, "quantity": sweep["name"]},
        }
        label = title if len(groups) == 1 else f"{title} {signal['name']}"
        name = spm.node_name(label, used, f"frame {frame['index']}")
        data = indexing.LazilyIndexedArray(Gathered(source, (npoints, npass, 2, n), segments))
        out[name] = model.from_array(
            data,
            ("position", "cycle", "direction", dim),
            coords=coords,
            name=name,
            title=label,
            quantity=signal["name"],
            units=values.unit_spelling(signal["unit"]),
            modality="SPM",
            source="NT-MDT",
            metadata=values.drop_empty(metadata),
            original_metadata={
                "frame": {k: v for k, v in frame.items() if k not in ("xml", "index_xml", "index")},
                "index": frame["index_xml"],
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
