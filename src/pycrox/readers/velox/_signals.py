"""Lazy pycrox DataArrays for the signals of a Velox EMD file: images, spectra and EDS cubes.

Images are stored ``(y, x, frame)`` and spectra ``(channel, spectrum)``; both keep that order
(a single frame or spectrum is dropped by a lazy index, no copy). EELS spectrum images are stored
``(x, energy_loss, y)`` (a line scan ``(x, energy_loss)``) and keep that order too. Lengths are
converted from metres to nm (reciprocal lengths to 1/nm), EDS energies from eV to keV; EELS
energy losses stay in eV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model, units
from pycrox._hdf5 import LazyH5Array, lazy_variable_data
from pycrox.errors import UnitError
from pycrox.readers.velox import _meta as meta_
from pycrox.readers.velox._spectrum import StreamCube

__all__ = ["VeloxItem", "cube_signal", "eels_signal", "image_signal", "spectrum_signal"]

#: Velox length units -> (pycrox spelling, factor)
_LENGTH_UNITS = {"m": ("nm", 1e9), "1/m": ("1/nm", 1e-9)}


@dataclass
class VeloxItem:
    """Everything read from the file at open time for one signal (no data)."""

    kind: str
    path: str
    title: str
    meta: dict[str, Any]
    detector: str | None = None
    original: dict[str, Any] = field(default_factory=dict)
    shape: tuple[int, ...] = ()
    dtype: Any = None
    streams: tuple[str, ...] = ()
    frames: int | None = None
    chunks: tuple[int, ...] | None = None
    file_name: str = ""


class ComplexH5Array(BackendArray):
    """A (real, imaginary) compound HDF5 dataset read on demand as complex numbers."""

    def __init__(self, manager: Any, h5path: str) -> None:
        self._array = LazyH5Array(manager, h5path)
        names = self._array.dtype.names
        self._real, self._imag = names[0], names[1]
        self.shape = self._array.shape
        part = self._array.dtype[self._real]
        self.dtype = np.dtype(np.complex64 if part.itemsize <= 4 else np.complex128)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        raw = self._array[key]
        out = np.empty(raw.shape, dtype=self.dtype)
        out.real, out.imag = raw[self._real], raw[self._imag]
        return out


def _length_unit(unit: str) -> tuple[str, float, bool]:
    """(pycrox spelling, factor, reciprocal) for a Velox pixel unit; ``("", 1, False)`` if unknown."""
    if unit in _LENGTH_UNITS:
        spelling, factor = _LENGTH_UNITS[unit]
        return spelling, factor, unit.startswith("1/")
    try:
        parsed = units.parse(unit)
    except UnitError:
        return "", 1.0, False
    return units.format(parsed), 1.0, dict(parsed.dimensionality) == {"[length]": -1}


def _axis(name: str, size: int, offset: Any, scale: Any, unit: str, factor: float) -> dict[str, Any]:
    step, start = meta_.number(scale), meta_.number(offset) or 0.0
    if step is None or not unit:
        return {"values": np.arange(size), "units": ""}
    values = (start + step * np.arange(size, dtype=np.float64)) * factor
    return {"values": values, "units": unit}


def spatial_axes(meta: dict[str, Any], ny: int, nx: int) -> tuple[tuple[str, str], dict[str, dict]]:
    """Dims and coordinates of a scan or image from ``BinaryResult`` (rows are y)."""
    result = meta.get("BinaryResult") or {}
    unit, factor, reciprocal = _length_unit(str(result.get("PixelUnitX", "")))
    size, offset = result.get("PixelSize") or {}, result.get("Offset") or {}
    dims = ("ky", "kx") if reciprocal else ("y", "x")
    coords = {
        dims[0]: _axis(dims[0], ny, offset.get("y"), size.get("height"), unit, factor),
        dims[1]: _axis(dims[1], nx, offset.get("x"), size.get("width"), unit, factor),
    }
    return dims, coords


def _frame_axis(item: VeloxItem, count: int) -> dict[str, Any]:
    period = meta_.number((item.meta.get("Scan") or {}).get("FrameTime"))
    if period is None:
        period = meta_.number(meta_.detector_entry(item.meta, item.detector).get("ExposureTime"))
    if period is None:
        return {"values": np.arange(count), "units": ""}
    return {"values": period * np.arange(count, dtype=np.float64), "units": "s", "quantity": "Time"}


def energy_axis(meta: dict[str, Any], detector: str | None, size: int) -> dict[str, Any]:
    """The energy coordinate (keV) from the detector's ``Dispersion`` and ``OffsetEnergy`` (eV)."""
    entry = meta_.detector_entry(meta, detector)
    dispersion, offset = meta_.number(entry.get("Dispersion")), meta_.number(entry.get("OffsetEnergy")) or 0.0
    if dispersion is None:
        return {"values": np.arange(size), "units": "", "quantity": "Channel"}
    return {"values": (offset + dispersion * np.arange(size, dtype=np.float64)) / 1000.0, "units": "keV"}


def _modality(item: VeloxItem) -> str:
    kind = meta_.detector_entry(item.meta, item.detector).get("DetectorType")
    return {"ScanningDetector": "STEM", "ImagingDetector": "TEM", "AnalyticalDetector": "EDS"}.get(
        str(kind), ""
    )


def _attrs(item: VeloxItem, name: str, source: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": item.title,
        "source": source,
        "metadata": meta_.normalised(item.meta, item.detector),
        "original_metadata": {**item.meta, **item.original},
    }


def image_signal(manager: Any, item: VeloxItem, name: str, source: str) -> xr.DataArray:
    """One image or image stack, ``(y, x)`` or ``(y, x, frame)`` (``ky``/``kx`` in reciprocal space)."""
    data_path = f"{item.path}/Data"
    compound = item.dtype is not None and np.dtype(item.dtype).names is not None
    array = ComplexH5Array(manager, data_path) if compound else None
    lazy = indexing.LazilyIndexedArray(array) if array is not None else lazy_variable_data(manager, data_path)
    ny, nx, count = lazy.shape
    plane, coords = spatial_axes(item.meta, ny, nx)
    dims: tuple[str, ...] = plane
    if count == 1:
        lazy = lazy[indexing.BasicIndexer((slice(None), slice(None), 0))]
    else:
        dims, coords = (*plane, "frame"), {**coords, "frame": _frame_axis(item, count)}
    data_type = "IMAGE" if count == 1 else "IMAGE_STACK"
    da = model.from_array(
        lazy,
        dims,
        coords=coords,
        quantity="Intensity",
        data_type=data_type,
        modality=_modality(item),
        **_attrs(item, name, source),
    )
    return _with_chunks(da, (*dims[:2], "frame"), item.chunks)


def spectrum_signal(manager: Any, item: VeloxItem, name: str, source: str) -> xr.DataArray:
    """One EDS spectrum ``(energy)``, or several ``(energy, frame)`` as stored."""
    lazy = lazy_variable_data(manager, f"{item.path}/Data")
    channels, count = lazy.shape if len(lazy.shape) == 2 else (lazy.shape[0], None)
    coords = {"energy": energy_axis(item.meta, item.detector, channels)}
    dims: tuple[str, ...] = ("energy",)
    if count == 1:
        lazy = lazy[indexing.BasicIndexer((slice(None), 0))]
    elif count is not None:
        dims, coords = ("energy", "frame"), {**coords, "frame": {"values": np.arange(count), "units": ""}}
    da = model.from_array(
        lazy,
        dims,
        coords=coords,
        quantity="X-ray counts",
        units="counts",
        data_type="SPECTRUM" if len(dims) == 1 else "LINE_PLOT_FAMILY",
        modality="EDS",
        **_attrs(item, name, source),
    )
    return _with_chunks(da, ("energy", "frame"), item.chunks)


def _with_chunks(
    da: xr.DataArray, stored_dims: tuple[str, ...], chunks: tuple[int, ...] | None
) -> xr.DataArray:
    """Record the HDF5 chunk shape as ``encoding["preferred_chunks"]`` of the dims `da` kept."""
    if chunks:
        preferred = dict(zip(stored_dims, chunks, strict=False))
        da.encoding["preferred_chunks"] = {dim: preferred[dim] for dim in da.dims if dim in preferred}
    return da


def cube_signal(manager: Any, item: VeloxItem, name: str, source: str) -> xr.DataArray:
    """An EDS spectrum image ``(y, x, energy)`` decoded from the spectrum streams on first access."""
    ny, nx, channels = item.shape
    cube = StreamCube(manager, item.streams, (ny, nx, channels), item.dtype, item.frames, item.file_name)
    dims, coords = spatial_axes(item.meta, ny, nx)
    coords["energy"] = energy_axis(item.meta, item.detector, channels)
    return model.from_array(
        indexing.LazilyIndexedArray(cube),
        (*dims, "energy"),
        coords=coords,
        quantity="X-ray counts",
        units="counts",
        data_type="SPECTRAL_IMAGE",
        modality="EDS",
        **_attrs(item, name, source),
    )


def eels_axis(acquisition: dict[str, Any], size: int) -> dict[str, Any]:
    """The energy-loss coordinate (eV) from ``AcquisitionMetadata`` ``Data.offset``/``dispersion``."""
    raw = acquisition.get("Data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    dispersion, offset = meta_.number(data.get("dispersion")), meta_.number(data.get("offset")) or 0.0
    if dispersion is None:
        return {"values": np.arange(size), "units": "", "quantity": "Channel"}
    return {"values": offset + dispersion * np.arange(size, dtype=np.float64), "units": "eV"}


def eels_signal(manager: Any, item: VeloxItem, name: str, source: str) -> xr.DataArray:
    """One EELS spectrum image, ``(x, energy_loss, y)`` as stored (a line scan ``(x, energy_loss)``).

    The spatial calibration is the ``BinaryResult`` in ``item.original["SpatialCalibration"]``
    (the spectrum image's, as Velox keeps none with the EELS data); the energy loss comes from the
    first column of ``AcquisitionMetadata`` (one column per scan line).
    """
    lazy = lazy_variable_data(manager, f"{item.path}/Data")
    calibration = item.original.get("SpatialCalibration") or {}
    acquisition = (item.original.get("AcquisitionMetadata") or [{}])[0]
    if len(lazy.shape) == 3:
        nx, channels, ny = lazy.shape
        (ydim, xdim), coords = spatial_axes({"BinaryResult": calibration.get("BinaryResult") or {}}, ny, nx)
        dims: tuple[str, ...] = (xdim, "energy_loss", ydim)
    else:
        nx, channels = lazy.shape
        (_, xdim), coords = spatial_axes({"BinaryResult": calibration.get("BinaryResult") or {}}, 1, nx)
        coords = {xdim: coords[xdim]}
        dims = (xdim, "energy_loss")
    coords["energy_loss"] = eels_axis(acquisition, channels)
    attrs = _attrs(item, name, source)
    raw = acquisition.get("Data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    exposure = meta_.number(data.get("exposureTime"))
    attrs["metadata"] = {**attrs["metadata"], "signal": "EELS"}
    if exposure:
        attrs["metadata"]["exposure_time"] = {"value": exposure, "units": "s"}
    da = model.from_array(
        lazy,
        dims,
        coords=coords,
        quantity="Electron counts",
        units="counts",
        data_type="SPECTRAL_IMAGE" if len(dims) == 3 else "LINE_PLOT_FAMILY",
        modality="EELS",
        **attrs,
    )
    return _with_chunks(da, dims, item.chunks)
