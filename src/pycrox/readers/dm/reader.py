"""Gatan DigitalMicrograph DM3/DM4 files: images, spectra, spectrum images, stacks and 4-D data.

Every image of ``ImageList`` that ``Thumbnails`` does not name is a signal node, named after
the image's ``Name``. Data stay in the file and are read lazily in the file's own axis order
(C order: slowest axis first, so a spectrum image is ``(energy_loss, y, x)`` as DM stores it);
a slice reads only the bytes it covers. Dimensions are named by meaning (`_dm_axes`), units are
spelled unambiguously (DM's ``A`` on a length becomes ``Å``) and the vendor spellings stay in
``original_metadata``, which holds the tag tree (the signal's own ``ImageList`` entry plus
every other root tag; the root node holds the complete tree). Normalised metadata come from
``ImageTags`` (`_dm_metadata`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from pycrox import model
from pycrox.adapters.nsid._data import frame_chunks
from pycrox.errors import FormatError, PycroxError
from pycrox.readers.dm import _axes, _data, _metadata, _tags
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

SUFFIXES = (".dm3", ".dm4")
MAX_DIMENSIONS = 8


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is a DM3/DM4 file; never raises.

    The header must be plausible: version word 3 or 4, byte-order word 0 or 1, a root tag
    group that fits in the file and ``sorted``/``open`` flags of 0 or 1.
    """
    try:
        source = open_source(filename_or_obj, storage_options)
        return _plausible_header(read_head(source, 32), source.size())
    except (PycroxError, OSError, TypeError, ValueError):
        return False


def _plausible_header(head: bytes, size: int) -> bool:
    if len(head) < 24 or head[:3] != b"\x00\x00\x00" or head[3] not in (3, 4):
        return False
    width = 4 if head[3] == 3 else 8
    root_length = int.from_bytes(head[4 : 4 + width], "big")
    order_end = 8 + width
    byte_order = int.from_bytes(head[4 + width : order_end], "big")
    flags = head[order_end : order_end + 2]
    return byte_order in (0, 1) and root_length <= size - order_end and all(f in (0, 1) for f in flags)


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a DM3/DM4 file as a lazy DataTree with one node per image.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``, ``file``, ``format_version`` and ``original_metadata`` (the complete
        tag tree); one child node per image, named after it.

    Raises
    ------
    FormatError
        If the file is not a DM3/DM4 file, is truncated, holds unknown tag types or an image
        whose data do not fit its dimensions.
    """
    source = open_source(filename_or_obj, storage_options)
    parsed = _tags.read_tags(source)
    nodes: dict[str, xr.Dataset] = {}
    for index, key, image in _images(parsed.tags, source):
        signal = _signal(source, parsed, key, image)
        name = _node_name(signal, index, nodes)
        nodes[f"/{name}"] = signal.rename(name).to_dataset()
    root = {
        "source": "Gatan DigitalMicrograph",
        "file": source.file_name,
        "format_version": f"DM{parsed.version}",
        "original_metadata": _tags.jsonable(parsed.tags),
    }
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=root), **nodes})


def _images(tags: dict[str, Any], source: Source) -> list[tuple[int, str, Mapping[str, Any]]]:
    """``(index, key, image group)`` of every ``ImageList`` entry that is not a thumbnail."""
    image_list = tags.get("ImageList")
    if not isinstance(image_list, Mapping) or not image_list:
        raise FormatError(source.name, "holds no ImageList tag group, so no image", where="/ImageList")
    thumbnails = tags.get("Thumbnails")
    skip: set[Any] = (  # the file's ImageIndex values, whatever their type
        {entry.get("ImageIndex") for entry in thumbnails.values() if isinstance(entry, Mapping)}
        if isinstance(thumbnails, Mapping)
        else set()
    )
    images = [
        (i, key, image)
        for i, (key, image) in enumerate(image_list.items())
        if i not in skip and isinstance(image, Mapping)
    ]
    if not images:
        raise FormatError(
            source.name, f"ImageList holds only thumbnails (entries {sorted(skip)})", where="/ImageList"
        )
    return images


def _signal(source: Source, parsed: _tags.TagFile, key: str, image: Mapping[str, Any]) -> xr.DataArray:
    """One image as a lazy pycrox DataArray."""
    where = f"/ImageList/{key}/ImageData"
    image_data, data_type, dm_shape = _image_data(image, source, where)
    data = _data.lazy_image(
        source, image_data["Data"], data_type, dm_shape, parsed.little_endian, f"{where}/Data"
    )
    roots = _metadata.tag_roots(image.get("ImageTags") or {})
    kind = _metadata.signal_kind(roots)
    calibrations = image_data.get("Calibrations")
    calibrations = calibrations if isinstance(calibrations, Mapping) else {}
    axes = _axes.image_axes(dm_shape, calibrations.get("Dimension"), kind, _metadata.spectrum_format(roots))
    if axes is None:
        problem = f"{len(dm_shape)}-D image {dm_shape}: no dimension names for this layout"
        raise FormatError(source.name, problem, where=f"{where}/Dimensions")
    quantity, units = _intensity(calibrations.get("Brightness"))
    name = image.get("Name")
    title = name if isinstance(name, str) and name else _stem(source)
    da = model.from_array(
        data,
        [a.name for a in axes] + (["rgb"] if data_type in _data.RGB_TYPES else []),
        coords=_coordinates(axes, data_type),
        name=title,
        title=title,
        quantity=quantity,
        units=units,
        data_type=_axes.data_type(axes),
        modality=_modality(roots, kind),
        source=f"Gatan DigitalMicrograph (DM{parsed.version})",
        metadata=_metadata.metadata(roots),
        original_metadata=_original_metadata(parsed.tags, key),
    )
    da = da.isel(rgb=[2, 1, 0, 3]) if "rgb" in da.dims else da  # file order B, G, R, A -> R, G, B, A
    chunks = frame_chunks(da.variable)  # whole frames or row tiles of a few MiB: chunks={} streams
    if chunks:
        da.encoding["preferred_chunks"] = dict(zip(da.dims, chunks, strict=True))
    return da


def _image_data(
    image: Mapping[str, Any], source: Source, where: str
) -> tuple[Mapping[str, Any], int, list[int]]:
    """``ImageData``, its ``DataType`` and ``Dimensions``, checked."""
    image_data = image.get("ImageData")
    if not isinstance(image_data, Mapping) or not isinstance(image_data.get("Data"), _tags.DataBlock):
        raise FormatError(source.name, "image has no ImageData/Data array", where=where)
    data_type = image_data.get("DataType")
    if not isinstance(data_type, int) or isinstance(data_type, bool):
        problem = f"DataType is {data_type!r}; expected an integer"
        raise FormatError(source.name, problem, where=f"{where}/DataType")
    return image_data, data_type, _dimensions(image_data.get("Dimensions"), source, f"{where}/Dimensions")


def _dimensions(value: Any, source: Source, where: str) -> list[int]:
    sizes = list(value.values()) if isinstance(value, Mapping) else None
    if (
        not sizes
        or len(sizes) > MAX_DIMENSIONS
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in sizes)
    ):
        raise FormatError(
            source.name, f"Dimensions is {value!r}; expected 1 to {MAX_DIMENSIONS} sizes >= 0", where=where
        )
    return sizes


def _coordinates(axes: list[_axes.Axis], data_type: int) -> dict[str, xr.DataArray]:
    coords = {a.name: model.uniform_coordinate(a.name, a.size, **a.coordinate_spec()) for a in axes}
    if data_type in _data.RGB_TYPES:
        coords["rgb"] = model.coordinate("rgb", list(_data.RGB_CHANNELS))
    return coords


def _intensity(brightness: Any) -> tuple[str, str]:
    """Quantity and unit of the values from ``Calibrations/Brightness/Units``."""
    vendor = brightness.get("Units") if isinstance(brightness, Mapping) else ""
    vendor = vendor.strip() if isinstance(vendor, str) else ""
    if vendor.lower() in ("e", "e-", "electrons"):
        return "Electrons", "counts"
    return "Intensity", _axes.normalised_units(vendor, quantity=None)


def _modality(roots: list[Mapping[str, Any]], kind: str | None) -> str:
    mode = str(_metadata.lookup(roots, ("Microscope Info", "Illumination Mode")) or "").upper()
    technique = next((name for name in ("STEM", "SEM", "TEM") if name in mode), "")
    return " ".join(part for part in (technique, kind or "") if part)


def _original_metadata(tags: dict[str, Any], key: str) -> dict[str, Any]:
    """The tag tree with ``ImageList`` narrowed to this image's own entry."""
    tree = {name: value for name, value in tags.items() if name != "ImageList"}
    tree["ImageList"] = {key: tags["ImageList"][key]}
    return _tags.jsonable(tree)


def _node_name(signal: xr.DataArray, index: int, nodes: Mapping[str, Any]) -> str:
    name = str(signal.name).replace("/", "_").strip() or f"image{index}"
    if name in (".", ".."):  # a title, not a path: never the node itself or its parent
        name = f"image{index}"
    if f"/{name}" in nodes or name in signal.dims or name in signal.coords:
        name = f"{name}_{index}"
    return name


def _stem(source: Source) -> str:
    return source.stem or "image"
