"""Anasys / Bruker nanoIR AXZ files: gzip-compressed UTF-16 XML with base64 float32 arrays.

Every ``HeightMap`` is one signal node named after its ``Label`` (``"Height 1"``, ``"IR Amplitude
1"``...), values in ``UnitPrefix + Units`` (``nm``; channels without units stay unitless) as
float64 (the file's float32 values, exactly). The samples are laid out as SciFiReaders (the one
reference reader) reads them: ``Resolution.X`` rows of ``Resolution.Y`` values, dims ``(x, y)``;
positions are ``Position - Size / 2 + Size / Resolution * index`` in µm (the ``Position`` being
the scan centre). Each IR spectrum (``RenderedSpectra/IRRenderedSpectra``) gives one node per data
channel (``"Spectrum 1 IR-Amplitude"``), dim ``wavenumber`` (cm⁻¹) from ``StartWavenumber`` to
``EndWavenumber``, with the spectrum's location as scalar ``x``/``y`` coordinates. The channel
``Tags`` (scan rate, setpoint, scan angle ...) are normalised; every element except the arrays is
kept in ``original_metadata``. The whole file is compressed, so it is read at open (not lazy).
"""

from __future__ import annotations

import base64
import binascii
import os
import xml.etree.ElementTree as ET
import zlib
from copy import deepcopy
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers._common import spm, values
from pycrox.readers._common.companion import base_name
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_NS = "{www.anasysinstruments.com}"


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file is gzip data named ``.axz`` (or whose XML names the Anasys namespace); never raises."""
    try:
        source = open_source(filename_or_obj, storage_options)
        head = read_head(source, 2)
        if head != b"\x1f\x8b":
            return False
        if source.suffix in (".axz", ".axd"):
            return True
        with source.reading() as fh:
            text = zlib.decompressobj(31).decompress(fh.read(4096), 4096)
        return "anasysinstruments".encode("utf-16-le") in text or b"anasysinstruments" in text
    except (OSError, TypeError, ValueError, zlib.error):
        return False


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an AXZ file as a DataTree, one node per height map and per spectrum channel.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.axz`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree

    Raises
    ------
    FormatError
        When the file is not gzip, the XML does not parse, or an array does not fit its sizes.
    """
    source = open_source(filename_or_obj, storage_options)
    key = _cache_key(source)
    if key is not None and key in _CACHE:  # the same local file again (pycrox.open(path, group=...) per node)
        return xr.DataTree.from_dict(_fresh(_CACHE[key]))
    nodes = _read_nodes(source)
    if key is not None:
        _CACHE.clear()
        _CACHE[key] = nodes
    return xr.DataTree.from_dict(_fresh(nodes))


def _fresh(nodes: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Copies of `nodes` whose data and attrs can be changed without touching the cached ones."""
    out = {}
    for path, ds in nodes.items():
        copy = ds.copy(deep=False, data={name: np.array(var.values) for name, var in ds.data_vars.items()})
        copy.attrs = deepcopy(ds.attrs)
        for name in copy.data_vars:
            copy[name].attrs = deepcopy(ds[name].attrs)
        out[path] = copy
    return out


#: the nodes of the last local file read, by (path, size, mtime): a whole AXZ file is inflated and
#: parsed for any read, so opening its nodes one by one would parse it once per node
_CACHE: dict[tuple[str, int, int], dict[str, xr.Dataset]] = {}


def _cache_key(source: Source) -> tuple[str, int, int] | None:
    if source.path is None:
        return None
    try:
        stat = os.stat(source.path)
    except OSError:
        return None
    return (os.path.abspath(source.path), stat.st_size, stat.st_mtime_ns)


def _read_nodes(source: Source) -> dict[str, xr.Dataset]:
    root = _parse(source)
    used: set[str] = set()
    tree: dict[str, xr.Dataset] = {}
    for i, element in enumerate(_children(root, "HeightMaps")):
        da = _height_map(source, element, i)
        name = spm.node_name(da.attrs["title"], used, f"map {i}")
        tree[f"/{name}"] = da.to_dataset(name=name)
    for i, element in enumerate(_children(root, "RenderedSpectra")):
        for da in _spectrum(source, element, i):
            name = spm.node_name(da.attrs["title"], used, f"spectrum {i}")
            tree[f"/{name}"] = da.to_dataset(name=name)
    if not tree:
        raise FormatError(source.name, "the AXZ document holds no height map and no spectrum")
    document = {
        k: _plain(v)
        for k, v in ((c.tag.replace(_NS, ""), c) for c in root)
        if k not in ("HeightMaps", "RenderedSpectra")
    }
    root_ds = xr.Dataset(
        attrs={
            "source": "Anasys AXZ",
            "file": base_name(source),
            "original_metadata": {"attributes": dict(root.attrib), **document},
        }
    )
    return {"/": root_ds, **tree}


def _parse(source: Source) -> ET.Element:
    with source.reading() as fh:
        packed = fh.read()
    try:
        inflater = zlib.decompressobj(31)  # one gzip member, as Analysis Studio writes
        raw = inflater.decompress(packed)
        if not inflater.eof:
            raise EOFError("the compressed stream ends early")
    except (EOFError, zlib.error) as exc:
        raise FormatError(
            source.name, f"not a readable gzip stream ({exc}); it may be truncated", where="offset 0"
        ) from exc
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise FormatError(source.name, f"the XML does not parse: {exc}", where=f"XML {exc.position}") from exc


def _children(root: ET.Element, tag: str) -> list[ET.Element]:
    parent = root.find(_NS + tag)
    return [] if parent is None else list(parent)


def _text(element: ET.Element, path: str, default: str = "") -> str:
    found = element.find("/".join(_NS + p for p in path.split("/")))
    return default if found is None or found.text is None else found.text.strip()


def _floats(source: Source, element: ET.Element | None, what: str) -> np.ndarray:
    if element is None or not (element.text or "").strip():
        return np.empty(0)
    try:
        raw = base64.b64decode((element.text or "").strip(), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise FormatError(source.name, f"{what}: base64 data do not decode ({exc})", where=what) from exc
    if len(raw) % 4:
        raise FormatError(source.name, f"{what}: {len(raw)} bytes are not float32 values", where=what)
    return np.frombuffer(raw, "<f4").astype(np.float64)


def _plain(element: ET.Element) -> Any:
    """An element as nested dicts without the base64 arrays."""
    kids = [c for c in element if not c.tag.endswith("Base64")]
    if not kids:
        text = (element.text or "").strip()
        attrs = {f"@{k.split('}')[-1]}": v for k, v in element.attrib.items()}
        return (
            {**attrs, "#text": values.scalar_from_text(text)}
            if attrs and text
            else (attrs or values.scalar_from_text(text))
        )
    out: dict[str, Any] = {f"@{k.split('}')[-1]}": v for k, v in element.attrib.items()}
    for child in kids:
        key = child.tag.replace(_NS, "")
        value = _plain(child)
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def _tags(element: ET.Element) -> dict[str, str]:
    parent = element.find(_NS + "Tags")
    return {} if parent is None else {t.get("Name", ""): t.get("Value", "") for t in parent}


def _height_map(source: Source, element: ET.Element, index: int) -> xr.DataArray:
    label = element.get("Label") or f"map {index}"
    try:
        nx, ny = int(_text(element, "Resolution/X")), int(_text(element, "Resolution/Y"))
    except ValueError as exc:
        raise FormatError(
            source.name, f"height map {label!r} has no valid Resolution", where=f"HeightMap {index}"
        ) from exc
    data = _floats(source, element.find(_NS + "SampleBase64"), f"HeightMap {index} SampleBase64")
    if data.size != nx * ny:
        raise FormatError(
            source.name,
            f"height map {label!r} holds {data.size} values, its resolution {nx}x{ny} needs {nx * ny}",
            where=f"HeightMap {index}",
        )
    coords = {}
    for axis, n in (("x", nx), ("y", ny)):
        size = values.number(_text(element, f"Size/{axis.upper()}")) or float(n)
        centre = values.number(_text(element, f"Position/{axis.upper()}")) or 0.0
        coords[axis] = {
            "values": centre - size / 2 + size / n * np.arange(n, dtype=np.float64),
            "units": "µm",
        }
    tags = _tags(element)
    metadata = spm.normalised(tags, signal=label)
    stamp = _text(element, "TimeStamp")
    if stamp:
        metadata["date"], metadata["time"] = values.iso_date(stamp), values.iso_time(stamp)
    if tags.get("System"):
        metadata["microscope"] = tags["System"]
    direction = tags.get("TraceRetrace")
    if direction:
        metadata["scan_direction"] = "retrace" if "retrace" in direction.lower() else "trace"
    units = values.unit_spelling(_text(element, "UnitPrefix") + _text(element, "Units"))
    return model.from_array(
        data.reshape(nx, ny),
        ("x", "y"),
        coords=coords,
        name="map",
        title=label,
        units=units,
        data_type="IMAGE",
        modality="SPM",
        source="Anasys AXZ",
        metadata=values.drop_empty(metadata),
        original_metadata={"height_map": _plain(element), "tags": tags},
    )


def _spectrum(source: Source, element: ET.Element, index: int) -> list[xr.DataArray]:
    label = _text(element, "Label") or f"Spectrum {index + 1}"
    start = values.number(_text(element, "StartWavenumber"))
    end = values.number(_text(element, "EndWavenumber"))
    points = int(values.number(_text(element, "DataPoints")) or 0)
    position = {axis: values.number(_text(element, f"Location/{axis.upper()}")) for axis in ("x", "y")}
    original = _plain(element)
    stamp = _text(element, "TimeStamp")
    out = []
    for channel in element.findall(_NS + "DataChannels"):
        name = channel.get("Name") or channel.get("DataChannel") or "channel"
        data = _floats(source, channel.find(_NS + "SampleBase64"), f"{label} {name}")
        if not data.size:
            continue
        if points == data.size and start is not None and end is not None:
            wavenumber: np.ndarray = np.linspace(start, end, points)
        else:
            first = values.number(_text(channel, "Start")) or (start or 0.0)
            step = values.number(_text(channel, "Resolution")) or 1.0
            wavenumber = first + step * np.arange(data.size)
        coords: dict[str, Any] = {"wavenumber": {"values": wavenumber, "units": "1/cm"}}
        for axis, value in position.items():
            if value is not None:
                coords[axis] = ((), value, {"units": "µm"})
        out.append(
            model.from_array(
                data,
                ("wavenumber",),
                coords=coords,
                name="spectrum",
                title=f"{label} {name}",
                data_type="SPECTRUM",
                modality="SPM",
                source="Anasys AXZ",
                metadata=values.drop_empty(
                    {"date": values.iso_date(stamp), "time": values.iso_time(stamp), "signal": name}
                ),
                original_metadata={
                    "spectrum": original,
                    "channel": dict(channel.attrib.items()),
                },
            )
        )
    return out
