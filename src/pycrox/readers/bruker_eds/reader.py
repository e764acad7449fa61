"""Bruker Esprit EDS files: ``.spx`` spectra and ``.bcf`` hypermaps.

``.spx`` (XML): one spectrum ``(energy,)`` in counts, energy in keV from ``CalibAbs`` /
``CalibLin``. ``.bcf`` (an SFS container, `pycrox.readers.bruker_eds._sfs`): the EDS hypermap of each
``SpectrumDataN`` as a spectrum image ``(y, x, energy)`` (node ``EDX``, ``EDX_1``, ...), plus each
non-empty SEM/STEM image of the header (``BSE``, ``SE``, ``HAADF``, ... as ``(y, x)``) with the
map's pixel size in µm. Normalised metadata: beam energy, magnification, detector elevation and
azimuth, live and real time, detector, dwell time, date and time.

Laziness: the hypermap is decoded when first indexed, line by line (`pycrox.readers.bruker_eds._bcf`); its
counts type is Esprit's own estimate from the sum spectrum (pass ``hypermap_dtype`` to override).
The header (with the images, base64 inside it) and ``.spx`` counts (XML text) are read at open.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model, provenance
from pycrox.errors import ArgumentError, FormatError
from pycrox.readers._common.values import drop_empty, iso_date, iso_time, jsonlike, number, quantity
from pycrox.readers.bruker_eds import _xml as bx
from pycrox.readers.bruker_eds._bcf import HypermapArray, estimate_dtype
from pycrox.readers.bruker_eds._sfs import SFS_MAGIC, SFSContainer
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_SPX_LIMIT = 512 * 2**20
_HEADER_LIMIT = 512 * 2**20


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file is a Bruker ``.bcf`` (SFS signature) or ``.spx`` (TRTSpectrum XML)."""
    try:
        source = open_source(filename_or_obj, storage_options)
        if source.is_dir():
            return False
        head = read_head(source, 1024)
    except (OSError, TypeError, ValueError):
        return False
    return head.startswith(SFS_MAGIC) or (head.lstrip().startswith(b"<?xml") and b"TRTSpectrum" in head)


def read_tree(
    filename_or_obj: Any, *, storage_options: dict | None = None, hypermap_dtype: Any = None, binning: int = 1
) -> xr.DataTree:
    """Read a Bruker ``.bcf`` or ``.spx`` file as a DataTree.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.
    hypermap_dtype : numpy dtype, optional
        Counts type of ``.bcf`` hypermaps; default: Esprit's estimate from the sum spectrum.
    binning : int, optional
        Sum blocks of ``binning x binning`` pixels of ``.bcf`` hypermaps (a ragged edge is dropped);
        the result is dask-backed and stays lazy. Default 1 (no binning).

    Returns
    -------
    xarray.DataTree
        ``.spx``: node ``/EDX``. ``.bcf``: ``/EDX`` (``/EDX_1``, ...) and one node per image.

    Raises
    ------
    FormatError
        If the file is neither, or is damaged.
    NotFoundError
        If nothing exists at `filename_or_obj`.
    """
    source = open_source(filename_or_obj, storage_options)
    if not isinstance(binning, int) or isinstance(binning, bool) or binning < 1:
        raise ArgumentError(f"{source.name}: binning must be a whole number >= 1, got {binning!r}")
    head = read_head(source, 1024)
    if head.startswith(SFS_MAGIC):
        return _bcf_tree(source, hypermap_dtype, binning)
    if head.lstrip().startswith(b"<?xml") or b"<TRTSpectrum" in head:
        return _spx_tree(source)
    raise FormatError(
        source.name,
        f"neither a Bruker .bcf (SFS signature {SFS_MAGIC!r}) nor an .spx XML spectrum (found {head[:8]!r})",
        where="offset 0",
    )


# ----------------------------------------------------------------------------- .spx


def _spx_tree(source: Source) -> xr.DataTree:
    size = source.size()
    if size > _SPX_LIMIT:
        raise FormatError(source.name, f"an .spx file of {size} bytes is not plausible", where="offset 0")
    with source.reading() as fh:
        root = bx.parse_xml(fh.read(), source.name, "XML")
    element = (
        root if root.get("Type") == "TRTSpectrum" else root.find(".//ClassInstance[@Type='TRTSpectrum']")
    )
    eds = bx.eds_header(element, source.name, "TRTSpectrum")
    original = {**_eds_original(eds), **{k: v for k, v in _extras(element).items() if v}}
    name = element.get("Name") if element is not None else None
    da = _spectrum(
        eds.counts,
        eds,
        name="EDX",
        title="EDX",
        source=source,
        metadata={**_eds_metadata(eds), "sample": name},
        original=original,
    )
    tree = xr.DataTree.from_dict({"/EDX": da.to_dataset()})
    tree.attrs = {"source": source.stored_name, "format": "Bruker SPX"}
    return tree


def _extras(element: ET.Element | None) -> dict[str, Any]:
    results = bx.find_class(element, "TRTResult")
    elements = bx.find_class(element, "TRTPSEElementList")
    return {
        "Results": jsonlike(bx.to_dict(results)) if results is not None else None,
        "Selected_elements": jsonlike(bx.to_dict(elements)) if elements is not None else None,
    }


# ----------------------------------------------------------------------------- .bcf


def _bcf_tree(source: Source, hypermap_dtype: Any, binning: int = 1) -> xr.DataTree:
    container = SFSContainer(source)
    root = bx.parse_xml(
        container.read("EDSDatabase/HeaderData", limit=_HEADER_LIMIT), source.name, "EDSDatabase/HeaderData"
    )
    top = bx.find_class(root, "TRTSpectrumDatabase")
    if top is None:
        raise FormatError(
            source.name, "the header has no TRTSpectrumDatabase", where="EDSDatabase/HeaderData"
        )
    header = _BCFHeader(top, source.name)
    nodes: dict[str, xr.Dataset] = {}
    for title, image, calibrated in header.images():
        da = _image(image, title, header, source, calibrated)
        nodes[f"/{_unique(_node_name(title), nodes)}"] = da.to_dataset(name=da.name)
    for index in header.map_indexes(container):
        da = _binned(_hypermap(container, header, index, source, hypermap_dtype), binning)
        nodes[f"/{_unique(str(da.name), nodes)}"] = da.to_dataset()
    tree = xr.DataTree.from_dict(_renamed(nodes))
    tree.attrs = {
        "source": source.stored_name,
        "format": "Bruker BCF",
        "sfs_version": container.version,
        "original_metadata": jsonlike(bx.to_dict(top, skip=("Data", "Channels", "Palette"))),
    }
    return tree


def _binned(da: xr.DataArray, binning: int) -> xr.DataArray:
    """`da` with blocks of ``binning x binning`` pixels summed (lazily); coordinates at the blocks' centres."""
    if binning == 1:
        return da
    rows = max(binning, binning * (64 // binning))
    binned = da.chunk({"y": rows, "x": -1, "energy": -1}).coarsen(y=binning, x=binning, boundary="trim").sum()
    binned.attrs = {**da.attrs, "binning": binning}
    for dim in ("y", "x"):
        binned[dim].attrs = da[dim].attrs
    return binned


class _BCFHeader:
    """The parts of ``HeaderData`` the nodes need."""

    def __init__(self, top: ET.Element, source_name: str) -> None:
        self.top, self.source_name = top, source_name
        self.name = top.get("Name")
        self.sem = _as_dict(bx.to_dict(bx.find_class(top, "TRTSEMData")))
        self.stage = _as_dict(bx.to_dict(bx.find_class(top, "TRTSEMStageData")))
        self.dsp = _as_dict(bx.to_dict(bx.find_class(top, "TRTDSPConfiguration")))
        self.date, self.time = (
            iso_date(top.findtext("Header/Date") or ""),
            iso_time(top.findtext("Header/Time") or ""),
        )
        self.image_node = next(
            (n for n in top.findall("./ClassInstance[@Type='TRTImageData']") if not n.get("Name")), None
        )
        self.width = int(number(self.image_node.findtext("Width")) or 0) if self.image_node is not None else 0
        self.height = (
            int(number(self.image_node.findtext("Height")) or 0) if self.image_node is not None else 0
        )
        self.line_counter = _int_list(top.findtext("LineCounter"))

    def calibrated(self) -> bool:
        return isinstance(self.sem.get("DX"), int | float) and isinstance(self.sem.get("DY"), int | float)

    def images(self) -> list[tuple[str, np.ndarray, bool]]:
        """``(title, pixels, calibrated)`` of the non-empty image planes.

        The map's own image (calibrated with the map's pixel size) and the overview images of
        version-2 files (uncalibrated: their pixel size is not the map's). All-zero planes are
        unused detector slots.
        """
        out = [(title, pixels, True) for title, pixels in self._planes(self.image_node)]
        overview = self.top.find(
            "./ClassInstance[@Type='TRTContainerClass']/ChildClassInstances/ClassInstance"
            "[@Name='OverviewImages']/ChildClassInstances/ClassInstance[@Type='TRTImageData']"
        )
        out += [(f"overview {title}", pixels, False) for title, pixels in self._planes(overview)]
        return out

    def _planes(self, node: ET.Element | None) -> list[tuple[str, np.ndarray]]:
        if node is None:
            return []
        item = int(number(node.findtext("ItemSize")) or 0)
        dtype = np.dtype({1: "<u1", 2: "<u2", 4: "<u4"}.get(item, "<u2"))
        shape = (int(number(node.findtext("Height")) or 0), int(number(node.findtext("Width")) or 0))
        out = []
        for plane in sorted(
            (p for p in node if re.fullmatch(r"Plane\d+", p.tag)), key=lambda p: int(p.tag[5:])
        ):
            pixels = self._plane(plane, dtype, shape)
            if pixels is not None and pixels.any():
                out.append((plane.findtext("Description") or plane.tag, pixels))
        return out

    def _plane(self, plane: ET.Element, dtype: np.dtype, shape: tuple[int, int]) -> np.ndarray | None:
        text = plane.findtext("Data")
        if not text:
            return None
        try:
            raw = base64.b64decode(text)
        except (binascii.Error, ValueError) as exc:
            raise FormatError(
                self.source_name,
                f"image {plane.tag} is not base64 ({exc})",
                where=f"EDSDatabase/HeaderData/{plane.tag}",
            ) from exc
        if len(raw) != shape[0] * shape[1] * dtype.itemsize:
            raise FormatError(
                self.source_name,
                f"image {plane.tag} holds {len(raw)} bytes but "
                f"{shape[1]} x {shape[0]} pixels of {dtype} need {shape[0] * shape[1] * dtype.itemsize}",
                where=f"EDSDatabase/HeaderData/{plane.tag}",
            )
        return np.frombuffer(raw, dtype).reshape(shape).astype(dtype.newbyteorder("="))

    def map_indexes(self, container: SFSContainer) -> list[int]:
        found = [
            int(m.group(1))
            for p in container.files
            if (m := re.fullmatch(r"EDSDatabase/SpectrumData(\d+)", p))
        ]
        return sorted(found)

    def real_time(self) -> float | None:
        """Acquisition time of the map: line counts x averages x pixel time x width (µs)."""
        line_average, pixel_average, pixel_time = (
            number(self.dsp.get(k)) for k in ("LineAverage", "PixelAverage", "PixelTime")
        )
        if not self.line_counter or line_average is None or pixel_average is None or pixel_time is None:
            return None
        return float(sum(self.line_counter) * line_average * pixel_average * pixel_time * self.width * 1e-6)

    def common_metadata(self) -> dict[str, Any]:
        return drop_empty(
            {
                "beam_energy": quantity(self.sem.get("HV"), "keV"),
                "magnification": number(self.sem.get("Mag")),
                "dwell_time": quantity(self.dsp.get("PixelTime"), "s", scale=1e-6),
                "date": self.date,
                "time": self.time,
                "sample": self.name,
            }
        )

    def common_original(self) -> dict[str, Any]:
        return jsonlike({"Microscope": self.sem, "Stage": self.stage, "DSP Configuration": self.dsp})


def _image(
    pixels: np.ndarray, title: str, header: _BCFHeader, source: Source, calibrated: bool
) -> xr.DataArray:
    coords = _spatial_coords(header, pixels.shape) if calibrated else {}
    da = model.from_array(
        pixels,
        ("y", "x"),
        coords=coords,
        name=_node_name(title),
        title=title,
        quantity="Intensity",
        data_type="IMAGE",
        modality="SEM" if (number(header.sem.get("HV")) or 0) <= 30 else "STEM",
        source="Bruker Esprit",
        metadata={**header.common_metadata(), "signal": title},
        original_metadata=header.common_original(),
    )
    return provenance.record(da, "readers.bruker_eds.read_tree", source=source.stored_name)


def _spatial_coords(header: _BCFHeader, shape: tuple[int, ...]) -> dict[str, dict]:
    if not header.calibrated():
        return {}
    return {
        dim: {"values": float(header.sem[key]) * np.arange(n, dtype=np.float64), "units": "µm"}
        for dim, key, n in (("y", "DY", shape[0]), ("x", "DX", shape[1]))
    }


def _hypermap(
    container: SFSContainer, header: _BCFHeader, index: int, source: Source, hypermap_dtype: Any
) -> xr.DataArray:
    where = f"EDSDatabase/HeaderData/SpectrumData{index}"
    eds = bx.eds_header(header.top.find(f"./SpectrumData{index}/ClassInstance"), source.name, where)
    shape = (header.height, header.width, int(eds.counts.size))
    dtype = np.dtype(hypermap_dtype) if hypermap_dtype is not None else estimate_dtype(eds.counts, *shape[:2])
    data = indexing.LazilyIndexedArray(
        HypermapArray(container, f"EDSDatabase/SpectrumData{index}", shape, dtype)
    )
    metadata = {**header.common_metadata(), **_eds_metadata(eds)}
    if "real_time" not in metadata and header.real_time() is not None:
        metadata["real_time"] = {"value": header.real_time(), "units": "s"}
    original = {**_eds_original(eds), **header.common_original(), "Line counter": header.line_counter}
    return _spectrum(
        data,
        eds,
        name="EDX" if index == 0 else f"EDX_{index}",
        title="EDX",
        source=source,
        metadata=metadata,
        original=original,
        spatial=_spatial_coords(header, shape),
    )


# ----------------------------------------------------------------------------- shared


def _spectrum(
    data: Any,
    eds: bx.EDSHeader,
    *,
    name: str,
    title: str,
    source: Source,
    metadata: dict,
    original: dict,
    spatial: dict | None = None,
) -> xr.DataArray:
    n = data.shape[-1]
    dims = ("energy",) if len(data.shape) == 1 else ("y", "x", "energy")
    coords = {
        **(spatial or {}),
        "energy": {"values": eds.offset + eds.scale * np.arange(n, dtype=np.float64), "units": "keV"},
    }
    da = model.from_array(
        data,
        dims,
        coords=coords,
        name=name,
        title=title,
        quantity="X-rays",
        units="counts",
        data_type="SPECTRUM" if len(dims) == 1 else "SPECTRAL_IMAGE",
        modality="EDS",
        source="Bruker Esprit",
        metadata=drop_empty(metadata),
        original_metadata=original,
    )
    return provenance.record(da, "readers.bruker_eds.read_tree", source=source.stored_name)


def _eds_metadata(eds: bx.EDSHeader) -> dict[str, Any]:
    a, hw = eds.analysis, eds.hardware
    return drop_empty(
        {
            "signal": "EDS",
            "beam_energy": quantity(a.get("PrimaryEnergy"), "keV"),
            "elevation_angle": quantity(a.get("ElevationAngle"), "deg"),
            "azimuth_angle": quantity(a.get("AzimutAngle"), "deg"),
            "real_time": quantity(hw.get("RealTime"), "s", scale=1e-3),
            "live_time": quantity(hw.get("LifeTime"), "s", scale=1e-3),
            "detector": eds.detector.get("Type") if isinstance(eds.detector.get("Type"), str) else None,
            "date": iso_date(str(eds.spectrum.get("Date", ""))),
            "time": iso_time(str(eds.spectrum.get("Time", ""))),
        }
    )


def _eds_original(eds: bx.EDSHeader) -> dict[str, Any]:
    return jsonlike(
        {
            "Hardware": eds.hardware,
            "Detector": eds.detector,
            "Analysis": eds.analysis,
            "Spectrum": {**eds.spectrum, "Channels": eds.counts},
        }
    )


def _as_dict(x: Any) -> dict:
    return x if isinstance(x, dict) else {}


def _int_list(text: str | None) -> list[int]:
    try:
        return [int(v) for v in (text or "").split(",") if v.strip()]
    except ValueError:
        return []


def _node_name(title: str) -> str:
    return re.sub(r"[^\w.+-]+", "_", title).strip("_") or "image"


def _unique(name: str, taken: dict) -> str:
    candidate, i = name, 1
    while f"/{candidate}" in taken:
        candidate, i = f"{name}_{i}", i + 1
    return candidate


def _renamed(nodes: dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    """Each node's variable carries the node's (possibly de-duplicated) name."""
    out = {}
    for path, ds in nodes.items():
        name = path.strip("/")
        (old,) = ds.data_vars
        out[path] = ds.rename({old: name}) if old != name else ds
    return out
