"""Thermo Fisher (FEI) Velox EMD files: images, image stacks, EDS spectra, EDS and EELS spectrum images.

A Velox EMD file is HDF5 with a ``/Version`` JSON block (``"format": "Velox"``) and signals under
``/Data/<kind>/<uuid>``: ``Image`` (``Data`` stored ``(y, x, frame)``), ``Spectrum`` (``Data``
``(channel, 1)``) and ``SpectrumStream`` (one EDS event stream per detector, see
`pycrox.readers.velox._spectrum`). Every signal becomes a node of the tree named after its title
(the detector, the display label or the element of an EDS map): images keep the stored order
(a single frame is dropped lazily), spectra are ``(energy)``, and the spectrum streams of all
detectors are summed into one ``EDS`` cube ``(y, x, energy)`` that is decoded when it is read;
``EelsSpectrumImage`` groups (``Data`` stored ``(x, energy_loss, y)``, one group per energy range of
the Zebra detector) are ``EELS`` nodes in that order, with their energy offsets.
Each signal carries the JSON metadata of its frame 0 (and of every detector stream) in
``original_metadata``, the frames' differing values under ``Frames``; the file's other JSON blocks
(operations, displays, ...) are the root node's ``original_metadata``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import h5py
import xarray as xr
from xarray.backends.locks import HDF5_LOCK

from pycrox._hdf5 import H5_ERRORS, open_file_manager, probe
from pycrox.errors import FormatError, PycroxError
from pycrox.readers.velox import _meta as meta_
from pycrox.readers.velox._signals import VeloxItem, cube_signal, eels_signal, image_signal, spectrum_signal
from pycrox.readers.velox._spectrum import cube_dtype

__all__ = ["guess_can_open", "read_tree"]

#: what h5py raises on damaged files (besides our own errors)

_BUILDERS: dict[str, Callable[..., xr.DataArray]] = {
    "Image": image_signal,
    "Spectrum": spectrum_signal,
    "SpectrumStream": cube_signal,
    "EelsSpectrumImage": eels_signal,
}


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` is a Velox EMD file (HDF5 with ``/Data`` and a Velox ``/Version``)."""
    return probe(filename_or_obj, storage_options, lambda root: is_velox(root.file))


def is_velox(h5: h5py.Group) -> bool:
    """Whether an open HDF5 file has the Velox layout."""
    version = h5.get("Version")
    if not isinstance(version, h5py.Dataset) or not isinstance(h5.get("Data"), h5py.Group):
        return False
    info = meta_.json_value(version, "")
    return (
        isinstance(info, dict) and str(info.get("format", "Velox")).lower() == "velox" and "version" in info
    )


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a Velox EMD file as a lazy DataTree, one node per signal.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL, h5py.File or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``, ``file``, ``format_version`` and ``original_metadata``; one child
        node per signal.

    Raises
    ------
    FormatError
        If the file is not readable HDF5, lacks the Velox layout, or a signal group lacks its
        ``Data`` dataset or holds unreadable metadata.
    """
    manager, name = open_file_manager(filename_or_obj, storage_options)
    try:
        with HDF5_LOCK:
            h5 = manager.acquire()
            if not is_velox(h5):
                raise FormatError(
                    name,
                    "no Velox layout: expected a /Data group and a /Version block with format 'Velox'",
                    where="/Version",
                )
            root, items = _plan(h5, name)
        source = f"Velox {root['application_version']}".strip()
        nodes = {}
        for node_name, item in _named(items).items():
            nodes[f"/{node_name}"] = xr.Dataset(
                {node_name: _BUILDERS[item.kind](manager, item, node_name, source)}
            )
    except BaseException as exc:
        if not isinstance(filename_or_obj, h5py.Group):
            manager.close()
        if isinstance(exc, H5_ERRORS) and not isinstance(exc, PycroxError):
            raise FormatError(name, f"damaged HDF5 structure ({type(exc).__name__}: {exc})") from exc
        raise
    attrs = {
        "source": "Velox EMD",
        "file": _base_name(name),
        "format_version": root["version"],
        "original_metadata": root["original_metadata"],
    }
    tree = xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **nodes})
    tree.set_close(None if isinstance(filename_or_obj, h5py.Group) else manager.close)
    return tree


def _plan(h5: h5py.File, name: str) -> tuple[dict[str, Any], list[VeloxItem]]:
    """Read every signal's layout and metadata (not its data)."""
    file_meta = meta_.file_metadata(h5, name)
    titles = meta_.signal_titles(file_meta, h5, name)
    images = [_image_item(h5, path, titles, name) for path in _signal_groups(h5, "Image", name)]
    spectra = [_spectrum_item(h5, path, name) for path in _signal_groups(h5, "Spectrum", name)]
    cubes = _cube_items(h5, images, name)
    eels = [_eels_item(h5, path, images, name) for path in _signal_groups(h5, "EelsSpectrumImage", name)]
    version = meta_.as_dict(file_meta.get("Version"))
    info = meta_.as_dict(file_meta.get("Info"))
    root = {
        "version": str(version.get("version", "")),
        "application_version": str(info.get("applicationVersion", "")),
        "original_metadata": file_meta,
    }
    return root, [*images, *spectra, *cubes, *eels]


def _signal_groups(h5: h5py.File, kind: str, name: str) -> list[str]:
    group = h5.get(f"Data/{kind}")
    if not isinstance(group, h5py.Group):
        return []
    paths = []
    for key, child in group.items():
        if not isinstance(child, h5py.Group) or not isinstance(child.get("Data"), h5py.Dataset):
            raise FormatError(name, "signal group has no 'Data' dataset", where=f"/Data/{kind}/{key}")
        paths.append(child.name)
    return paths


def _image_item(h5: h5py.File, path: str, titles: dict[str, str], name: str) -> VeloxItem:
    group, dset = h5[path], h5[path]["Data"]
    if dset.ndim != 3:
        raise FormatError(name, f"image data has shape {dset.shape}; expected (y, x, frame)", where=dset.name)
    frames = meta_.read_frame_metadata(group, name)
    meta = frames[0]
    detector = (meta.get("BinaryResult") or {}).get("Detector")
    uuid = path.rsplit("/", 1)[-1]
    original = {"Frames": meta_.frame_differences(frames)} if len(frames) > 1 else {}
    return VeloxItem(
        "Image",
        path,
        titles.get(uuid) or detector or uuid[:8],
        meta,
        detector,
        original,
        shape=dset.shape,
        dtype=dset.dtype,
        chunks=dset.chunks,
    )


def _spectrum_item(h5: h5py.File, path: str, name: str) -> VeloxItem:
    meta = meta_.read_frame_metadata(h5[path], name)[0]
    detector = (meta.get("BinaryResult") or {}).get("Detector")
    title = f"EDS {detector}" if detector else "EDS"
    return VeloxItem("Spectrum", path, title, meta, detector, chunks=h5[path]["Data"].chunks)


def _eels_item(h5: h5py.File, path: str, images: list[VeloxItem], name: str) -> VeloxItem:
    """An EELS spectrum image: its metadata, energy calibration and the scan's pixel calibration."""
    group, dset = h5[path], h5[path]["Data"]
    if dset.ndim not in (2, 3):
        raise FormatError(
            name, f"EELS data has shape {dset.shape}; expected (x, energy_loss, y)", where=dset.name
        )
    meta = meta_.read_frame_metadata(group, name)[0]
    acquisition = meta_.read_frame_metadata(group, name, "AcquisitionMetadata")
    detector = (meta.get("BinaryResult") or {}).get("Detector")
    original: dict[str, Any] = {"AcquisitionMetadata": acquisition}
    if "Info" in group:
        original["Info"] = meta_.json_value(group["Info"], name)
    calibration = _scan_calibration(h5, dset.shape[0], dset.shape[2] if dset.ndim == 3 else 1, images, name)
    if calibration:
        original["SpatialCalibration"] = calibration
    return VeloxItem(
        "EelsSpectrumImage",
        path,
        "EELS",
        meta,
        detector,
        original,
        shape=dset.shape,
        dtype=dset.dtype,
        chunks=dset.chunks,
    )


def _scan_calibration(h5: h5py.File, nx: int, ny: int, images: list[VeloxItem], name: str) -> dict[str, Any]:
    """The ``BinaryResult`` with a pixel size of the spectrum image, else of an image of the scan's size."""
    group = h5.get("Data/SpectrumImage")
    for child in group.values() if isinstance(group, h5py.Group) else []:
        if isinstance(child, h5py.Group):
            result = meta_.read_frame_metadata(child, name)[0].get("BinaryResult") or {}
            if result.get("PixelSize"):
                return {"from": child.name, "BinaryResult": result}
    for image in images:
        result = image.meta.get("BinaryResult") or {}
        if image.shape[:2] == (ny, nx) and result.get("PixelSize"):
            return {"from": image.path, "BinaryResult": result}
    return {}


def _cube_items(h5: h5py.File, images: list[VeloxItem], name: str) -> list[VeloxItem]:
    """One summed EDS cube per channel count over the streams of a scan (none for spot spectra)."""
    streams = [_stream(h5, path, name) for path in _signal_groups(h5, "SpectrumStream", name)]
    streams = [s for s in streams if s.scanned]
    if not streams or not images:
        return []
    frames = _frame_count(h5, name)
    groups: dict[int, list[_Stream]] = {}
    for stream in streams:
        groups.setdefault(stream.channels, []).append(stream)
    return [
        _cube_item(members, _scan_shape(members[0].meta, images), frames, name) for members in groups.values()
    ]


class _Stream(NamedTuple):
    """One detector's spectrum stream: its Data path, frame-0 metadata, settings and sizes."""

    path: str
    meta: dict[str, Any]
    settings: dict[str, Any]
    channels: int
    length: int

    @property
    def detector(self) -> str:
        return str((self.meta.get("BinaryResult") or {}).get("Detector", ""))

    @property
    def scanned(self) -> bool:
        size = (self.meta.get("Scan") or {}).get("ScanSize") or {}
        return (meta_.number(size.get("width")) or 0) > 0


def _stream(h5: h5py.File, path: str, name: str) -> _Stream:
    group = h5[path]
    settings = meta_.json_value(group["AcquisitionSettings"], name) if "AcquisitionSettings" in group else {}
    settings = settings if isinstance(settings, dict) else {}
    channels = int(meta_.number(settings.get("bincount")) or 0)
    if channels <= 0 or channels >= 65535:
        raise FormatError(
            name,
            f"spectrum stream has bincount {settings.get('bincount')!r}; expected 1..65534",
            where=f"{path}/AcquisitionSettings",
        )
    meta = meta_.read_frame_metadata(group, name)[0]
    return _Stream(f"{path}/Data", meta, settings, channels, int(group["Data"].shape[0]))


def _cube_item(members: list[_Stream], shape: tuple[int, int], frames: int | None, name: str) -> VeloxItem:
    first = members[0]
    streams = {
        s.detector or s.path: {
            "BinaryResult": s.meta.get("BinaryResult"),
            "AcquisitionSettings": s.settings,
            "Detector": meta_.detector_entry(s.meta, s.detector),
        }
        for s in members
    }
    detector = "+".join(sorted(s.detector for s in members if s.detector)) or None
    encoding = str(first.settings.get("StreamEncoding", "uint16"))
    return VeloxItem(
        "SpectrumStream",
        first.path.rsplit("/", 1)[0],
        "EDS",
        first.meta,
        detector,
        {"Streams": streams, "SpectrumImageSettings": {"endFramePosition": frames}},
        shape=(*shape, first.channels),
        dtype=cube_dtype(encoding, [s.length for s in members]),
        streams=tuple(s.path for s in members),
        frames=frames,
        file_name=name,
    )


def _scan_shape(stream_meta: dict[str, Any], images: list[VeloxItem]) -> tuple[int, int]:
    """(ny, nx) of the scan: the image recorded with the same scan settings, else the first image."""
    same = [i for i in images if i.meta.get("Scan") == stream_meta.get("Scan")]
    image = (same or images)[0]
    return int(image.shape[0]), int(image.shape[1])


def _frame_count(h5: h5py.File, name: str) -> int | None:
    group = h5.get("Data/SpectrumImage")
    for child in group.values() if isinstance(group, h5py.Group) else []:
        if isinstance(child, h5py.Group) and "SpectrumImageSettings" in child:
            settings = meta_.json_value(child["SpectrumImageSettings"], name)
            end = meta_.number(settings.get("endFramePosition")) if isinstance(settings, dict) else None
            return int(end) if end and end > 0 else None
    return None


def _named(items: list[VeloxItem]) -> dict[str, VeloxItem]:
    """Items by unique node name: the title, other characters than letters, digits, ``.+-`` as ``_``."""
    named: dict[str, VeloxItem] = {}
    for item in items:
        base = re.sub(r"[^\w.+-]+", "_", item.title).strip("_") or "signal"
        node, count = base, 1
        while node in named:
            count += 1
            node = f"{base}_{count}"
        named[node] = item
    return named


def _base_name(name: str) -> str:
    return os.path.basename(name.split("::")[-1].rstrip("/")) or name
