"""Quantum Detectors Merlin ``.mib`` files: frames of a Medipix detector, each after its own header.

Every frame is an ASCII header (``MQ1,<sequence>,<header bytes>,<chips>,<width>,<height>,
<pixel type>,...``) followed by the pixels, big-endian, as the counter depth was stored
(``U08`` for 1- and 6-bit, ``U16`` for 12-bit, ``U32`` for 24-bit counters). The frames are
one strided lazy read. A scan (4-D STEM) gives ``(y, x, ky, kx)`` when its line length is known,
from the ``.hdr`` beside the file (frames per trigger) or from the frame time stamps (a longer
gap at each line end); otherwise the frames are ``(frame, ky, kx)``. Like the reference reader,
frames are flipped vertically (row 0 of the file is the bottom row of the detector).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import re
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers._common.companion import base_name, quantity, read_bytes, sibling
from pycrox.readers._common.grid import GridArray
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

MAGIC = b"MQ1,"
_PIXEL_TYPES = {"U08": ">u1", "U16": ">u2", "U32": ">u4"}
_NAMED_FIELDS = (
    "Header ID",
    "Acquisition sequence number",
    "Data offset",
    "Number of chips",
    "Pixel dimension X",
    "Pixel dimension Y",
    "Pixel depth",
    "Sensor layout",
    "Chip select",
    "Time stamp",
    "Shutter open time (s)",
    "Counter",
    "Colour mode",
    "Gain mode",
)
_ISO_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?)Z?")
#: frames whose time stamps are compared to find the scan line length
STAMP_FRAMES = 4096


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts with a Merlin frame header (``MQ1,``); never raises."""
    try:
        head = read_head(open_source(filename_or_obj, storage_options), 64)
    except (OSError, TypeError, ValueError):
        return False
    return head.startswith(MAGIC) and head[4:10].isdigit()


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a Merlin ``.mib`` file (and its ``.hdr`` when present) as a lazy DataTree.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.mib`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node named after the file holding ``(y, x, ky, kx)``, ``(frame, ky, kx)`` or
        ``(ky, kx)`` counts.

    Raises
    ------
    FormatError
        If the first header is not a Merlin header, the pixel type is raw or unknown, or the
        frames do not follow each other at the spacing the header implies.
    """
    source = open_source(filename_or_obj, storage_options)
    frame = _first_header(source)
    hdr_source = sibling(source, base_name(source).rsplit(".", 1)[0] + ".hdr")
    hdr = _read_hdr(hdr_source) if hdr_source is not None else {}
    count = _frame_count(source, frame)
    grid = _scan_grid(source, frame, hdr, count)
    name = base_name(source).rsplit(".", 1)[0] or "data"
    signal = _signal(source, frame, hdr, grid, name)
    root = xr.Dataset(attrs={"source": "Quantum Detectors Merlin", "file": base_name(source)})
    return xr.DataTree.from_dict({"/": root, f"/{name}": xr.Dataset({name: signal})})


def _first_header(source: Source) -> dict[str, Any]:
    head = read_head(source, 64)
    if not head.startswith(MAGIC):
        raise FormatError(
            source.name,
            f"not a Merlin MIB file: starts with {head[:8]!r}, expected {MAGIC!r}",
            where="offset 0",
        )
    fields = head.decode("latin-1").split(",")
    try:
        size = int(fields[2])
    except (IndexError, ValueError):
        raise FormatError(
            source.name, f"header size field {fields[2:3]} is not a number", where="offset 11"
        ) from None
    if not 64 <= size <= 65536:
        raise FormatError(source.name, f"header size {size} bytes is implausible", where="offset 11")
    text = read_bytes(source, 0, size, "the first frame header").decode("latin-1")
    return _parse_frame_header(text.split(","), size, source)


def _parse_frame_header(fields: list[str], size: int, source: Source) -> dict[str, Any]:
    fields = [f.strip() for f in fields]
    try:
        width, height = int(fields[4]), int(fields[5])
    except (IndexError, ValueError):
        raise FormatError(
            source.name, f"pixel dimensions {fields[4:6]} are not numbers", where="offset 20"
        ) from None
    pixel = fields[6] if len(fields) > 6 else ""
    if pixel == "R64":
        raise FormatError(
            source.name,
            "raw (R64) frames are not supported; save processed frames (U08/U16/U32) from Merlin",
            where="offset 28",
        )
    if pixel not in _PIXEL_TYPES or width < 1 or height < 1:
        raise FormatError(
            source.name,
            f"pixel type {pixel!r} of {width}x{height} pixels is not a processed "
            f"Merlin frame; expected one of {sorted(_PIXEL_TYPES)}",
            where="offset 28",
        )
    named = dict(zip(_NAMED_FIELDS, fields, strict=False))
    header: dict[str, Any] = {
        "size": size,
        "width": width,
        "height": height,
        "dtype": np.dtype(_PIXEL_TYPES[pixel]),
        "fields": [f for f in fields if f],
        "named": named,
    }
    if "MQ1A" in fields:
        ext = fields[fields.index("MQ1A") + 1 : fields.index("MQ1A") + 4]
        header["named"].update(
            zip(("Time stamp (UTC)", "Shutter open time (ns)", "Counter depth"), ext, strict=False)
        )
    return header


def _frame_count(source: Source, frame: dict[str, Any]) -> int:
    record = frame["size"] + frame["width"] * frame["height"] * frame["dtype"].itemsize
    count = source.size() // record
    if count < 1:
        raise FormatError(
            source.name,
            f"file of {source.size()} bytes holds no complete frame of {record} bytes",
            where="offset 0",
        )
    last = read_bytes(source, (count - 1) * record, 4, "the last frame header")
    if last != MAGIC:
        raise FormatError(
            source.name,
            f"frame {count} does not start with {MAGIC!r} (found {last!r}): the "
            "header sizes do not match the file",
            where=f"offset {(count - 1) * record}",
        )
    return count


def _read_hdr(source: Source) -> dict[str, str]:
    """The ``.hdr`` text: ``Key:<tab>value`` lines between ``HDR,`` and ``End``."""
    text = read_bytes(source, 0, min(source.size(), 1 << 20), "the .hdr file").decode("latin-1")
    out: dict[str, str] = {}
    for line in text.replace("\x00", "").splitlines():
        key, sep, value = line.partition("\t")
        if not sep or key.startswith("HDR") or key.strip() == "End":
            continue
        out[key.strip().rstrip(":")] = value.strip()
    return out


def _int(text: str | None) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        return 0


def _scan_grid(source: Source, frame: dict[str, Any], hdr: dict[str, str], count: int) -> tuple[int, ...]:
    """``(rows, line)`` of a scan (complete lines only), or ``(count,)`` when the line length is unknown."""
    line = _int(hdr.get("Frames per Trigger (Number)"))
    if line <= 1:
        line = _line_from_stamps(source, frame, count)
    expected = _int(hdr.get("Frames in Acquisition (Number)")) or count
    if line > 1 and expected % line == 0 and count >= line:
        return (min(expected, count) // line, line)
    return (count,) if count > 1 else ()


def _line_from_stamps(source: Source, frame: dict[str, Any], count: int) -> int:
    """Frames per scan line: the period of the longer gaps between frame time stamps (0 if none)."""
    stamps = _time_stamps(source, frame, min(count, STAMP_FRAMES))
    if len(stamps) < 3:
        return 0
    gaps = np.diff(stamps).astype(np.float64)
    long = gaps > gaps.mean()
    if not long.any():
        return 0
    line = int(np.flatnonzero(long)[0]) + 1
    pattern = (np.arange(1, len(gaps) + 1) % line) == 0
    return line if np.array_equal(long, pattern) else 0


def _time_stamps(source: Source, frame: dict[str, Any], count: int) -> np.ndarray:
    record = frame["size"] + frame["width"] * frame["height"] * frame["dtype"].itemsize
    stamps = []
    fh = source.open()
    try:
        for i in range(count):
            fh.seek(i * record)
            fields = fh.read(frame["size"]).decode("latin-1").split(",")
            if "MQ1A" not in fields:
                return np.array([], dtype="datetime64[ns]")
            match = _ISO_STAMP.fullmatch(fields[fields.index("MQ1A") + 1].strip())
            if match is None:
                return np.array([], dtype="datetime64[ns]")
            stamps.append(np.datetime64(match[1], "ns"))
    except (ValueError, IndexError):
        return np.array([], dtype="datetime64[ns]")
    finally:
        if source.fileobj is None:
            fh.close()
    return np.array(stamps, dtype="datetime64[ns]")


def _signal(
    source: Source, frame: dict[str, Any], hdr: dict[str, str], grid: tuple[int, ...], name: str
) -> xr.DataArray:
    shape = (frame["height"], frame["width"])
    record = frame["size"] + shape[0] * shape[1] * frame["dtype"].itemsize
    frames = int(np.prod(grid)) if grid else 1
    flat = RawArray(source, frame["size"], frame["dtype"], (frames, *shape), record_stride=record)
    backend: Any = GridArray(flat, grid) if len(grid) == 2 else flat
    lazy = indexing.LazilyIndexedArray(backend)
    flip = (0,) if not grid else (slice(None),) * len(grid)
    lazy = lazy[indexing.BasicIndexer((*flip, slice(None, None, -1), slice(None)))]
    dims = {2: ["y", "x"], 1: ["frame"], 0: []}[len(grid)] + ["ky", "kx"]
    coords = {d: {"values": np.arange(n), "units": ""} for d, n in zip(dims, lazy.shape, strict=True)}
    data_type = {4: "IMAGE_4D", 3: "IMAGE_STACK", 2: "IMAGE"}[len(dims)]
    return model.from_array(
        lazy,
        dims,
        coords=coords,
        name=name,
        title=name,
        quantity="Counts",
        data_type=data_type,
        modality="4D-STEM" if len(grid) == 2 else "electron diffraction",
        source=f"Quantum Detectors Merlin {hdr.get('Software Version', '')}".strip(),
        metadata=_metadata(frame, hdr),
        original_metadata={
            "frame_header": frame["named"],
            "frame_header_fields": frame["fields"],
            "hdr": hdr,
        },
    )


def _metadata(frame: dict[str, Any], hdr: dict[str, str]) -> dict[str, Any]:
    named = frame["named"]
    meta: dict[str, Any] = {
        "detector": hdr.get("Readout System") or f"Merlin {named.get('Sensor layout', '')}"
    }
    with contextlib.suppress(KeyError, ValueError):
        meta["exposure_time"] = quantity(float(named["Shutter open time (s)"]), "s")
    stamp = named.get("Time stamp (UTC)", "").rstrip("Z")
    try:  # the UTC stamp of the extended header, as the reference reader reports it
        moment = _dt.datetime.fromisoformat(stamp[:26])
    except ValueError:
        return meta
    meta["date"], meta["time"] = moment.date().isoformat(), moment.time().isoformat(timespec="seconds")
    return meta
