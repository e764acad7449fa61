"""TVIPS / NanoMegas blockfiles (``.blo``): 4-D STEM diffraction and the virtual bright-field image.

A blockfile starts with a 240-byte little-endian header (ID ``IMGBLO``, magic ``0x0102``, the
offsets of the virtual bright-field image and of the diffraction patterns, the pattern size
``DP_SZ``, the scan size ``NX`` x ``NY``, the scan step ``SX``/``SY`` in nm, the beam energy in V,
the detector pixel density ``SDP`` in 100 pixels per cm, the camera length in 0.1 mm, the
acquisition time as an OLE serial date and centering/distortion coefficients), then a free-text
note up to the first offset. The virtual bright-field image is ``NY x NX`` uint8 at the first
offset; the patterns follow at the second, one per scan position in row order, each a 6-byte
record header (``AA 55`` and a uint32 frame number) and ``DP_SZ x DP_SZ`` uint8.

`read_tree` gives two nodes: ``diffraction`` ``(y, x, ky, kx)`` (scan positions in nm,
detector positions in cm) memory-mapped from local files, read pattern row by pattern row from
fsspec URLs and file objects; and ``virtual_bright_field`` ``(y, x)``.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model
from pycrox._binary import RawArray, check_extent, lazy_raw
from pycrox.errors import FormatError
from pycrox.readers._common.companion import base_name, read_bytes
from pycrox.sources import Source, open_source, read_head

__all__ = ["HEADER_BYTES", "MAGIC", "FrameArray", "guess_can_open", "parse_header", "read_tree"]

MAGIC = b"IMGBLO"
HEADER_BYTES = 240
#: bytes before each pattern: ``AA 55`` and the uint32 frame number
FRAME_HEADER = 6
_FIELDS = (
    ("ID", "6s"),
    ("MAGIC", "H"),
    ("Data_offset_1", "I"),
    ("Data_offset_2", "I"),
    ("UNKNOWN1", "I"),
    ("DP_SZ", "H"),
    ("DP_rotation", "H"),
    ("NX", "H"),
    ("NY", "H"),
    ("Scan_rotation", "H"),
    ("SX", "d"),
    ("SY", "d"),
    ("Beam_energy", "I"),
    ("SDP", "H"),
    ("Camera_length", "I"),
    ("Acquisition_time", "d"),
    *((f"Centering_N{i}", "d") for i in range(8)),
    *((f"Distortion_N{i:02d}", "d") for i in range(14)),
)
_STRUCT = struct.Struct("<" + "".join(code for _, code in _FIELDS))
#: OLE automation dates count days from this moment
_OLE_EPOCH = dt.datetime(1899, 12, 30)


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts with the blockfile ID ``IMGBLO``; never raises."""
    try:
        return read_head(open_source(filename_or_obj, storage_options), 6) == MAGIC
    except (OSError, TypeError, ValueError):
        return False


def parse_header(raw: bytes, source: Source) -> dict[str, Any]:
    """The header fields (names as in the TVIPS documentation and rosettasciio) and the note.

    Raises
    ------
    FormatError
        On a wrong ID, a zero-sized scan or pattern, or offsets that overlap the header.
    """
    if len(raw) < HEADER_BYTES or raw[:6] != MAGIC:
        raise FormatError(
            source.name, f"no blockfile header: starts with {raw[:6]!r}, expected {MAGIC!r}", where="offset 0"
        )
    header: dict[str, Any] = dict(zip((n for n, _ in _FIELDS), _STRUCT.unpack_from(raw), strict=True))
    header["ID"] = header["ID"].decode("latin-1")
    for key in ("DP_SZ", "NX", "NY"):
        if header[key] == 0:
            raise FormatError(
                source.name,
                f"header field {key} is 0; a blockfile needs at least one pattern",
                where="offset 0",
            )
    first, second = header["Data_offset_1"], header["Data_offset_2"]
    if first < HEADER_BYTES or second < first + header["NX"] * header["NY"]:
        raise FormatError(
            source.name,
            f"data offsets {first} and {second} overlap the header or the {header['NY']}x{header['NX']} image",
            where="offset 8",
        )
    return header


def _note(source: Source, header: dict[str, Any]) -> str:
    raw = read_bytes(source, HEADER_BYTES, header["Data_offset_1"] - HEADER_BYTES, "the note")
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


class FrameArray(BackendArray):
    """The diffraction patterns ``(NY, NX, DP_SZ, DP_SZ)`` uint8, each behind a 6-byte record header.

    A key that takes whole patterns reads the rows of patterns it covers with one ``readinto``
    (as fast as ``numpy.fromfile``) and returns a view that skips the record headers; a key that
    takes part of each pattern (a pixel, a detector window) memory-maps local files, so that only
    the pages it touches are read. Nothing stays open between reads; the array pickles.
    """

    def __init__(self, source: Source, offset: int, ny: int, nx: int, size: int) -> None:
        self.source, self.offset = source, int(offset)
        self.shape = (int(ny), int(nx), int(size), int(size))
        self.dtype = np.dtype(np.uint8)
        self._record = np.dtype([("header", np.uint8, (FRAME_HEADER,)), ("data", np.uint8, (size, size))])
        check_extent(
            source, self.offset, ny * nx * self._record.itemsize, f"the {ny}x{nx} patterns of {size}x{size}"
        )

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        ny, nx = self.shape[:2]
        whole = all(
            isinstance(k, slice) and k.indices(n) == (0, n, 1)
            for k, n in zip(key[2:], self.shape[2:], strict=False)
        )
        if self.source.path is not None and not whole:
            records = np.memmap(
                self.source.path, dtype=self._record, mode="r", offset=self.offset, shape=(ny, nx)
            )
            return np.array(records["data"][key])
        first_key = key[0]
        if isinstance(first_key, int | np.integer):
            begin, stop = int(first_key), int(first_key) + 1
            local: Any = 0
        else:
            rows = np.arange(ny)[first_key]
            if rows.size == 0:
                return np.empty((0, *self.shape[1:]), self.dtype)[(slice(None), *key[1:])]
            begin, stop = int(rows.min()), int(rows.max()) + 1
            step = int(first_key.step or 1)
            local = rows - begin if step < 0 else slice(None, None, step)
        count = stop - begin
        raw = RawArray(
            self.source, self.offset + begin * nx * self._record.itemsize, self._record, (count, nx)
        )
        block = raw[indexing.BasicIndexer((slice(None), slice(None)))]["data"]
        out = block[(local, *key[1:])]
        # a view skipping the record headers; copied when it would keep a much larger buffer alive
        return out if 2 * out.nbytes >= block.nbytes else np.array(out)


def _acquired(header: dict[str, Any]) -> dt.datetime | None:
    days = header["Acquisition_time"]
    if not math.isfinite(days) or not 0 < days < 2_958_465:  # year 9999
        return None
    return _OLE_EPOCH + dt.timedelta(days=days)


def _metadata(header: dict[str, Any]) -> dict[str, Any]:
    when = _acquired(header)
    values: dict[str, Any] = {
        "signal": "diffraction",
        "detector": "TVIPS",
        "date": when.date().isoformat() if when else None,
        "time": when.time().replace(microsecond=0).isoformat() if when else None,
        "beam_energy": {"value": header["Beam_energy"] / 1000.0, "units": "keV"}
        if header["Beam_energy"]
        else None,
        "camera_length": {"value": header["Camera_length"] / 10.0, "units": "mm"}
        if header["Camera_length"]
        else None,
    }
    return {k: v for k, v in values.items() if v is not None}


def _scan_coords(header: dict[str, Any]) -> dict[Hashable, Any]:
    return {
        "y": {"values": header["SY"] * np.arange(header["NY"], dtype=np.float64), "units": "nm"},
        "x": {"values": header["SX"] * np.arange(header["NX"], dtype=np.float64), "units": "nm"},
    }


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a blockfile as a lazy DataTree: the patterns and the virtual bright-field image.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``; nodes ``diffraction`` ``(y, x, ky, kx)`` and
        ``virtual_bright_field`` ``(y, x)``, both with the header (and its note) as
        ``original_metadata["blockfile_header"]``.

    Raises
    ------
    FormatError
        On a wrong ID, impossible sizes or offsets, or a file shorter than its patterns.
    """
    source = open_source(filename_or_obj, storage_options)
    header = parse_header(read_bytes(source, 0, HEADER_BYTES, "the blockfile header"), source)
    header["Note"] = _note(source, header)
    ny, nx, size = header["NY"], header["NX"], header["DP_SZ"]
    check_extent(source, header["Data_offset_1"], ny * nx, "the virtual bright-field image")
    frames = FrameArray(source, header["Data_offset_2"], ny, nx, size)
    pitch = 100.0 / header["SDP"] if header["SDP"] else 1.0
    detector = {
        "values": pitch * np.arange(size, dtype=np.float64),
        "units": "cm",
        "quantity": "Detector position",
    }
    attrs: dict[str, Any] = {
        "source": "TVIPS blockfile",
        "metadata": _metadata(header),
        "original_metadata": {"blockfile_header": header},
    }
    diffraction = model.from_array(
        indexing.LazilyIndexedArray(frames),
        ("y", "x", "ky", "kx"),
        coords={**_scan_coords(header), "ky": detector, "kx": detector},
        name="diffraction",
        title="diffraction",
        quantity="Intensity",
        data_type="IMAGE_4D",
        modality="4D-STEM",
        **attrs,
    )
    diffraction.encoding["preferred_chunks"] = {"y": 1, "x": nx, "ky": size, "kx": size}
    vbf = model.from_array(
        lazy_raw(source, header["Data_offset_1"], np.uint8, (ny, nx)),
        ("y", "x"),
        coords=_scan_coords(header),
        name="virtual_bright_field",
        title="virtual bright field",
        quantity="Intensity",
        data_type="IMAGE",
        modality="STEM",
        **attrs,
    )
    return xr.DataTree.from_dict(
        {
            "/": xr.Dataset(attrs={"source": "TVIPS blockfile", "file": base_name(source)}),
            "/diffraction": diffraction.to_dataset(name="diffraction"),
            "/virtual_bright_field": vbf.to_dataset(name="virtual_bright_field"),
        }
    )
