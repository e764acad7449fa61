"""TIFF files from microscopes: FEI/Thermo, Zeiss, JEOL, TVIPS, Olympus, Hamamatsu, ImageJ, DM-saved.

Every page series of the file (as tifffile groups pages) becomes one signal node: an image
``(y, x)``, a colour image ``(y, x, rgb)`` or a stack ``(frame | z | time, y, x)``, in the
file's order. Pixel sizes, units and normalised metadata come from the vendor's tags (see
`pycrox.readers.tiff._vendors`); every tag of the series' first page is kept in
``original_metadata`` under its tifffile name. Uncompressed pixels are read lazily by byte
range, others page by page when indexed.

Detection: the TIFF signature (``II*``/``MM*`` or BigTIFF); `pycrox.io` tries this reader
last, so DM, MRC and other formats with their own reader are never claimed here.
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model, provenance
from pycrox._binary import check_extent
from pycrox.errors import FormatError
from pycrox.readers._common.values import jsonlike, unit_spelling
from pycrox.readers.tiff import _data, _vendors
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")
#: tifffile axis letter -> pycrox dimension name (S is "rgb" for colour images)
_AXIS_NAMES = {"X": "x", "Y": "y", "Z": "z", "T": "time", "C": "channel", "S": "channel"}
_RGB_PHOTOMETRIC = (2, 6)  # RGB, YCbCr (decoded to RGB)
_MANY_VALUES = 16


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts with a TIFF or BigTIFF signature; False instead of raising."""
    try:
        source = open_source(filename_or_obj, storage_options)
        if source.is_dir():
            return False
        return read_head(source, 4) in _MAGIC
    except (OSError, TypeError, ValueError):
        return False


def read_tree(
    filename_or_obj: Any, *, storage_options: dict | None = None, strict: bool = False
) -> xr.DataTree:
    """Read a TIFF file as a DataTree with one lazy signal node per page series.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.
    strict : bool, default False
        Raise a `FormatError` when the file holds fewer pages than its ImageJ (``images=``), OME
        or shaped-series metadata announce (a truncated stack); by default the pages found are read
        and a `UserWarning` says how many are missing.

    Returns
    -------
    xarray.DataTree
        Nodes ``/image`` (one series) or ``/image_0``, ``/image_1``, ... (several).

    Raises
    ------
    FormatError
        If the file is not a readable TIFF, or its tags point outside the file; with `strict`, if
        it holds fewer pages than its metadata announce.
    NotFoundError
        If nothing exists at `filename_or_obj`.
    """
    source = open_source(filename_or_obj, storage_options)
    with _open_tiff(source) as tif:
        _check_page_count(source, tif, strict)
        series = [i for i, s in enumerate(tif.series) if s.shape and all(s.shape)]
        if not series:
            raise FormatError(source.name, "holds no image data (no page series)", where="IFD chain")
        names = ["image"] if len(series) == 1 else [f"image_{i}" for i in range(len(series))]
        nodes = {
            f"/{name}": _series_dataset(source, tif, index, name)
            for name, index in zip(names, series, strict=True)
        }
        file_attrs = {
            "source": source.stored_name,
            "format": "TIFF",
            "byteorder": tif.byteorder,
            "bigtiff": bool(tif.is_bigtiff),
            "pages": len(tif.pages),
        }
    tree = xr.DataTree.from_dict(nodes)
    tree.attrs = file_attrs
    return tree


def _check_page_count(source: Source, tif: Any, strict: bool) -> None:
    """Warn (or raise, when `strict`) if fewer pages are found than the file's metadata announce."""
    expected, hint = _expected_pages(tif)
    if expected is None:
        return
    found = len(tif.pages)
    if tif.series:  # ImageJ may store one IFD for a whole contiguous stack: count what the series holds
        first = tif.series[0]
        page = math.prod(first.keyframe.shape) or 1
        found = max(found, math.prod(first.shape) // page)
    if found >= expected:
        return
    message = (
        f"holds {found} of the {expected} pages its {hint} announces (the IFD chain or page data "
        "are cut: a truncated or partly copied file)"
    )
    if strict:
        raise FormatError(source.name, message, where="IFD chain")
    warnings.warn(
        f"{source.name}: {message}; reading the {found} pages found (strict=True refuses such files)",
        UserWarning,
        stacklevel=3,
    )


def _expected_pages(tif: Any) -> tuple[int | None, str]:
    """The page count that the first page's metadata announce, and which metadata said so."""
    imagej = tif.imagej_metadata or {}
    if isinstance(imagej.get("images"), int) and imagej["images"] > 1:
        return int(imagej["images"]), f"ImageJ metadata (images={imagej['images']})"
    description = str(getattr(tif.pages.first, "description", "") or "")
    if "<OME" in description:
        planes = re.findall(r"<TiffData[^>]*PlaneCount=\"(\d+)\"", description)
        if planes:
            return sum(int(n) for n in planes), "OME metadata (TiffData PlaneCount)"
        sizes = [re.search(rf'Size{a}="(\d+)"', description) for a in "ZCT"]
        if all(sizes):
            return math.prod(int(m.group(1)) for m in sizes if m), "OME metadata (SizeZ x SizeC x SizeT)"
    shaped: tuple[Any, ...] = tuple(tif.shaped_metadata or ())
    if len(shaped) == 1 and isinstance(shaped[0], dict) and shaped[0].get("shape"):
        shape = [int(n) for n in shaped[0]["shape"]]
        page = tif.pages.first.shape
        if len(shape) > len(page) and tuple(shape[len(shape) - len(page) :]) == tuple(page):
            return math.prod(shape[: len(shape) - len(page)]), f"series shape {tuple(shape)}"
    return None, ""


@contextlib.contextmanager
def _open_tiff(source: Source) -> Iterator[Any]:
    import tifffile

    handle = source.path if source.path is not None else source.open()
    try:
        with tifffile.TiffFile(handle) as tif:
            yield tif
    except FormatError:
        raise
    except (
        tifffile.TiffFileError,
        struct.error,
        ValueError,
        KeyError,
        IndexError,
        TypeError,
        EOFError,
    ) as exc:
        raise FormatError(source.name, f"not a readable TIFF file: {exc}", where=_where(exc)) from exc
    finally:
        if source.path is None and source.fileobj is None and not isinstance(handle, str):
            handle.close()


def _where(exc: Exception) -> str:
    match = re.search(r"(?:offset|position)\D{0,3}(\d+)", str(exc))
    return f"offset {match.group(1)}" if match else "header"


def _series_dataset(source: Source, tif: Any, index: int, name: str) -> xr.Dataset:
    series = tif.series[index]
    page = series.keyframe
    info = _vendors.describe(tif, page, source.name, lambda offset, n: _read_bytes(source, offset, n))
    rgb = page.photometric in _RGB_PHOTOMETRIC and page.samplesperpixel in (3, 4)
    dims = _dim_names(series.axes, info, rgb)
    coords = {
        dim: _coordinate_spec(dim, size, info.axes.get(letter) or _stack_axis(letter, series.axes, info))
        for dim, letter, size in zip(dims, series.axes, series.shape, strict=True)
    }
    data = _data.series_data(source, tif, index)
    original = {
        **_tags(page),
        **info.original,
        "tifffile": {"series_axes": series.axes, "series_kind": series.kind, "series_index": index},
    }
    da = model.from_array(
        data,
        dims,
        coords={d: c for d, c in coords.items() if c is not None},
        name=name,
        title=info.title or _stem(source),
        quantity="Intensity",
        units=info.data_units,
        data_type=_data_type(dims),
        modality=info.modality,
        source=f"{info.vendor} TIFF".strip(),
        metadata=info.metadata,
        original_metadata=original,
    )
    da = provenance.record(
        model.refresh_data_type(da), "readers.tiff.read_tree", source=source.stored_name, series=index
    )
    return da.to_dataset()


def _data_type(dims: list[str]) -> str | None:
    """Pages are images: 2 dims (+ rgb) an IMAGE, one stack axis more an IMAGE_STACK."""
    n = len([d for d in dims if d != "rgb"])
    return {2: "IMAGE", 3: "IMAGE_STACK"}.get(n)


def _stack_axis(letter: str, axes: str, info: _vendors.VendorInfo) -> Any:
    """The vendor's "stack" calibration belongs to the one axis that is not Y, X or S."""
    stack_letters = [a for a in axes if a not in "YXS"]
    return info.axes.get("stack") if stack_letters and letter == stack_letters[0] else None


def _dim_names(axes: str, info: _vendors.VendorInfo, rgb: bool) -> list[str]:
    names: list[str] = []
    for letter in axes:
        calibration = info.axes.get(letter)
        name = (
            calibration.name
            if calibration is not None and calibration.name
            else ("rgb" if letter == "S" and rgb else _AXIS_NAMES.get(letter, "frame"))
        )
        for candidate in (name, "frame", "channel", *(f"{name}{i}" for i in range(2, 10))):
            if candidate not in names:
                names.append(candidate)
                break
    return names


def _coordinate_spec(dim: str, size: int, calibration: Any) -> dict | None:
    """``{"values", "units"}`` from a calibration; None leaves an uncalibrated index."""
    if calibration is None:
        return None
    quantity = model.DIMENSIONS.get(dim, ("", None))[0]
    units = unit_spelling(calibration.units, quantity or "Length")
    if calibration.values is not None:
        return {"values": np.asarray(calibration.values, dtype=np.float64), "units": units}
    return {
        "values": calibration.offset + calibration.scale * np.arange(size, dtype=np.float64),
        "units": units,
    }


def _tags(page: Any) -> dict[str, Any]:
    """Every tag of a page, JSON-like; long numeric tuples (strip offsets, ...) as arrays."""
    out: dict[str, Any] = {}
    for tag in page.tags.values():
        value = tag.value
        if (
            isinstance(value, tuple)
            and len(value) > _MANY_VALUES
            and all(isinstance(v, int | float) for v in value)
        ):
            value = np.asarray(value)
        out[str(tag.name)] = jsonlike(value)
    return out


def _read_bytes(source: Source, offset: int, nbytes: int) -> bytes:
    check_extent(source, offset, nbytes, "a vendor table")
    return source.read_at(offset, nbytes)


def _stem(source: Source) -> str:
    return re.sub(r"\.(ome\.)?(tiff?|btf|tf[28])$", "", source.file_name, flags=re.IGNORECASE)
