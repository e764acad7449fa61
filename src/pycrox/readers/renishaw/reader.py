"""Renishaw WiRE WDF files: Raman spectra, line scans, maps and time series, and the white-light image.

The spectra (``DATA``, float32) are read lazily and shaped by the measurement type of the
``WDF1`` header: ``Single`` gives one spectrum; ``Series`` one spectrum per step of the
``ORGN`` axis that varies (``time`` in s — the file stores Windows FILETIME ticks of 100 ns —,
or a stage ``z`` ...); ``Mapping`` a ``(y, x, ...)`` map from the ``WMAP`` grid (offsets and
steps in the stage units of ``ORGN``, µm), or for a line map (``WMAP`` flag ``xyline``) a
``distance`` along the line with the stage ``x``/``y`` of every point as coordinates. The
spectral axis is ``XLST``: ``raman_shift`` in 1/cm, or ``wavelength`` in nm with the Raman shift
computed from the laser as a second coordinate (``raman_shift``, 1/cm). WiRE stores the axis
descending; it is returned ascending (the spectra reversed lazily), as the reference readers do.
The white-light image (``WHTL``, a JPEG with Renishaw's EXIF field of view and origin) is a
second node ``white_light`` ``(y, x, rgb)`` in µm, decoded when read. Every metadata block
(PSET property sets) is in ``original_metadata``.
"""

from __future__ import annotations

import io
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model
from pycrox._binary import check_extent, lazy_raw
from pycrox.errors import FormatError
from pycrox.readers._common.companion import base_name, read_bytes
from pycrox.readers._common.values import iso_date, iso_time
from pycrox.readers.renishaw import _wdf
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_METADATA_BLOCKS = ("WXIS_0", "WXCS_0", "WXDA_0", "ZLDC_0", "WARP_0", "WARP_1", "WXDM_0", "MAP_0", "MAP_1")
#: EXIF tags of Renishaw's white-light JPEG: resolution unit, field of view (FocalPlaneX/YResolution),
#: origin (private tag 0xFEA0)
_EXIF_UNIT, _EXIF_FOV_X, _EXIF_FOV_Y, _EXIF_ORIGIN = 0xA210, 0xA20E, 0xA20F, 0xFEA0
_EXIF_UNITS = {2: "inch", 3: "cm", 4: "mm", 5: "µm"}


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts with a ``WDF1`` block head; never raises."""
    try:
        return read_head(open_source(filename_or_obj, storage_options), 4) == b"WDF1"
    except (OSError, TypeError, ValueError):
        return False


class JPEGArray(BackendArray):
    """An RGB JPEG embedded in a file, decoded (Pillow) at each read."""

    def __init__(self, source: Source, offset: int, size: int, shape: tuple[int, ...]) -> None:
        self.source, self.offset, self.nbytes_stored = source, offset, size
        self.shape, self.dtype = shape, np.dtype(np.uint8)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        from PIL import Image

        raw = read_bytes(self.source, self.offset, self.nbytes_stored, "the white-light image")
        with Image.open(io.BytesIO(raw)) as image:
            return np.asarray(image.convert("RGB"))[key]


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a WDF file as a lazy DataTree: the spectra and, when stored, the white-light image.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``; a node named after the file with the spectra and, when
        the file has one, ``white_light``.

    Raises
    ------
    FormatError
        On a missing ``WDF1``, ``DATA`` or ``XLST`` block, sizes that disagree, or a truncated file.
    """
    source = open_source(filename_or_obj, storage_options)
    table = _wdf.blocks(source)
    header = _wdf.parse_header(source, table["WDF1_1"])
    for needed in ("DATA_0", "XLST_0"):
        if needed not in table:
            raise FormatError(source.name, f"no {needed[:4]} block: the file holds no spectra")
    original: dict[str, Any] = {"WDF1": header}
    for key in _METADATA_BLOCKS:
        if key in table:
            original[key] = _wdf.parse_pset(source, table[key])
    if "TEXT_0" in table:
        block = table["TEXT_0"]
        original["TEXT"] = (
            read_bytes(source, block.offset, block.size, "the TEXT block")
            .decode("utf-8", "replace")
            .strip("\x00")
        )
    name = _node_name(source)
    nodes = {f"/{name}": _spectra(source, table, header, original, name).to_dataset(name=name)}
    if "WHTL_0" in table:
        nodes["/white_light"] = _white_light(source, table, original).to_dataset(name="white_light")
    root = xr.Dataset(
        attrs={
            "source": f"Renishaw WiRE {header['app_version'].replace('-', '.')}",
            "file": base_name(source),
        }
    )
    return xr.DataTree.from_dict({"/": root, **nodes})


def _spectra(
    source: Source, table: dict[str, _wdf.Block], header: dict[str, Any], original: dict[str, Any], name: str
) -> xr.DataArray:
    points, count = header["points_per_spectrum"], header["num_spectra"]
    if points != header["XLST_length"] or points == 0:
        raise FormatError(
            source.name,
            f"WDF1 gives {points} points per spectrum but XLST {header['XLST_length']}",
            where=f"offset {table['WDF1_1'].offset + 44}",
        )
    kind, unit_type, axis = _wdf.parse_xlst(source, table["XLST_0"], points)
    original["XLST"] = {"data_type": kind, "unit_type": _wdf.UNITS.get(unit_type, ("", str(unit_type)))[1]}
    orgn = _wdf.parse_orgn(source, table["ORGN_0"], count) if "ORGN_0" in table else {}
    original["ORGN"] = {k: {**v, "values": v["values"].tolist()} for k, v in orgn.items()}
    wmap = _wdf.parse_wmap(source, table["WMAP_0"]) if "WMAP_0" in table else None
    if wmap is not None:
        original["WMAP"] = wmap
    nav_dims, nav_shape, nav_coords = _navigation(header, orgn, wmap, count, source)
    block = table["DATA_0"]
    total = int(np.prod(nav_shape, dtype=np.int64)) * points
    check_extent(source, block.offset, total * 4, f"the DATA block of {total} float32")
    data = lazy_raw(source, block.offset, "<f4", (*nav_shape, points))
    laser_nm = 1e7 / header["laser_wavenumber"] if header["laser_wavenumber"] > 0 else None
    spectral, coords = _spectral_axis(unit_type, axis, laser_nm)
    if axis.size > 1 and axis[0] > axis[-1]:
        data = data[indexing.BasicIndexer((*(slice(None),) * len(nav_shape), slice(None, None, -1)))]
        coords = {k: {**v, "values": v["values"][::-1]} for k, v in coords.items()}
    dims = (*nav_dims, spectral)
    da = model.from_array(
        data,
        dims,
        coords={**{d: nav_coords[d] for d in nav_dims}, spectral: coords[spectral]},
        name=name,
        title=header["title"] or name,
        quantity="Intensity",
        units="counts" if header["quantity_unit"] == "counts" else "",
        data_type=_data_type(len(nav_dims)),
        modality="Raman",
        source=f"Renishaw WiRE {header['app_version'].replace('-', '.')}",
        metadata=_metadata(header, original, laser_nm),
        original_metadata=original,
    )
    extra = {k: v for k, v in {**nav_coords, **coords}.items() if k not in dims}
    for key, entry in extra.items():
        values = entry["values"]
        dim = entry.get("dim", spectral)
        da = da.assign_coords(
            {key: (dim, values, {"units": entry["units"], "quantity": entry.get("quantity", "")})}
        )
    return da


def _spectral_axis(
    unit_type: int, axis: np.ndarray, laser_nm: float | None
) -> tuple[str, dict[str, dict[str, Any]]]:
    unit = _wdf.UNITS.get(unit_type, ("", ""))[0]
    if unit == "1/cm":
        return "raman_shift", {"raman_shift": {"values": axis, "units": "1/cm"}}
    dim = model.dimension_for(unit, "Raman", spectral=True) if unit else "channel"
    coords: dict[str, dict[str, Any]] = {dim: {"values": axis, "units": unit}}
    if dim == "wavelength" and laser_nm:
        coords["raman_shift"] = {
            "values": 1e7 / laser_nm - 1e7 / axis,
            "units": "1/cm",
            "quantity": "Raman shift",
        }
    return dim, coords


def _navigation(
    header: dict[str, Any],
    orgn: dict[str, dict[str, Any]],
    wmap: dict[str, Any] | None,
    count: int,
    source: Source,
) -> tuple[tuple[str, ...], tuple[int, ...], dict[str, dict[str, Any]]]:
    """Dims, shape and coordinates of the spectra's positions (no dims for one spectrum)."""
    measurement = header["measurement_type"]
    coords: dict[str, dict[str, Any]]
    if measurement == "Mapping" and wmap is not None:
        units = next((v["units"] for k, v in orgn.items() if k in ("X", "Y")), "µm")
        (ox, oy, _), (sx, sy, _), (nx, ny, _) = wmap["offset_xyz"], wmap["scale_xyz"], wmap["size_xyz"]
        if "xyline" in wmap["flags"]:
            step = float(np.hypot(sx, sy))
            coords = {
                "distance": {
                    "values": step * np.arange(nx, dtype=np.float64),
                    "units": units,
                    "quantity": "Length",
                }
            }
            for axis in ("X", "Y"):
                if axis in orgn:
                    coords[axis.lower()] = {
                        "values": orgn[axis]["values"][:nx],
                        "units": units,
                        "dim": "distance",
                        "quantity": "Length",
                    }
            _check_count(nx, count, source)
            return ("distance",), (nx,), coords
        if nx and count // nx and count < nx * ny:  # an unfinished map: its complete rows
            ny = count // nx
        _check_count(nx * ny, count, source)
        return (
            ("y", "x"),
            (ny, nx),
            {
                "y": {"values": oy + sy * np.arange(ny, dtype=np.float64), "units": units},
                "x": {"values": ox + sx * np.arange(nx, dtype=np.float64), "units": units},
            },
        )
    if measurement == "Series" and count > 1:
        candidates = {k: v for k, v in orgn.items() if k not in ("SpectrumDataChecksum", "BitFlags")}
        varying = [k for k, v in candidates.items() if np.ptp(v["values"]) > 0]
        # time always advances: a series over a stage axis (a z or focus series) is along that axis
        stage = [k for k in varying if k != "Time"]
        key = stage[0] if stage else ("Time" if "Time" in varying else None)
        if key is not None:
            dim = {"Time": "time", "X": "x", "Y": "y", "Z": "z", "FocusTrack_Z": "z"}.get(key, key.lower())
            entry = candidates[key]
            coords = {dim: {"values": entry["values"], "units": entry["units"]}}
            if key != "Time" and "Time" in candidates:  # the acquisition times along the series
                coords["elapsed_time"] = {**candidates["Time"], "dim": dim, "quantity": "Time"}
            return (dim,), (count,), coords
        return ("frame",), (count,), {"frame": {"values": np.arange(count), "units": ""}}
    if count > 1:  # several spectra of a single measurement (accumulations kept apart)
        return ("frame",), (count,), {"frame": {"values": np.arange(count), "units": ""}}
    return (), (), {}


def _check_count(expected: int, count: int, source: Source) -> None:
    if expected > count:
        raise FormatError(
            source.name, f"the map grid needs {expected} spectra but WDF1 counts {count}", where="WMAP block"
        )


def _data_type(nav: int) -> str:
    return {0: "SPECTRUM", 1: "LINE_PLOT_FAMILY", 2: "SPECTRAL_IMAGE"}.get(nav, "UNKNOWN")


def _find(tree: Any, key: str) -> Any:
    if isinstance(tree, dict):
        if key in tree and not isinstance(tree[key], dict):
            return tree[key]
        for value in tree.values():
            found = _find(value, key)
            if found is not None:
                return found
    return None


def _metadata(header: dict[str, Any], original: dict[str, Any], laser_nm: float | None) -> dict[str, Any]:
    start = header["time_start"] or ""
    wxdm = original.get("WXDM_0", {})
    exposure, accumulations = _find(wxdm, "Exposure Time"), _find(wxdm, "Accumulations")
    values: dict[str, Any] = {
        "signal": "Raman",
        "date": iso_date(start) if start else None,
        "time": iso_time(start.split("T", 1)[-1]) if start else None,
        "operator": header["username"] or None,
        "detector": _find(original.get("WXCS_0", {}), "CCD"),
        "laser_wavelength": {"value": float(laser_nm), "units": "nm"} if laser_nm else None,
    }
    if isinstance(exposure, int | float) and isinstance(accumulations, int | float):
        values["exposure_time"] = {"value": exposure * accumulations / 1000.0, "units": "s"}
    return {k: v for k, v in values.items() if v is not None}


def _white_light(source: Source, table: dict[str, _wdf.Block], original: dict[str, Any]) -> xr.DataArray:
    from PIL import Image

    block = table["WHTL_0"]
    raw = read_bytes(source, block.offset, block.size, "the white-light image")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            width, height = image.size
            exif = image.getexif()
            tags = {**dict(exif), **dict(exif.get_ifd(0x8769))}
    except OSError as exc:
        raise FormatError(
            source.name,
            f"the white-light image is not a readable JPEG ({exc})",
            where=f"offset {block.offset}",
        ) from None
    unit = _EXIF_UNITS.get(int(tags.get(_EXIF_UNIT, 0) or 0), "")
    fov_x, fov_y = float(tags.get(_EXIF_FOV_X, width)), float(tags.get(_EXIF_FOV_Y, height))
    origin = tags.get(_EXIF_ORIGIN, (0.0, 0.0))
    ox, oy = (float(origin[0]), float(origin[1])) if len(origin) == 2 else (0.0, 0.0)
    exif_meta = {str(k): (str(v) if not isinstance(v, int | float) else v) for k, v in tags.items()}
    coords: dict[Hashable, Any] = {
        "y": {"values": oy + fov_y / height * np.arange(height, dtype=np.float64), "units": unit},
        "x": {"values": ox + fov_x / width * np.arange(width, dtype=np.float64), "units": unit},
        "rgb": {"values": np.array(["R", "G", "B"]), "units": ""},
    }
    return model.from_array(
        indexing.LazilyIndexedArray(JPEGArray(source, block.offset, block.size, (height, width, 3))),
        ("y", "x", "rgb"),
        coords=coords,
        name="white_light",
        title="white light image",
        quantity="Intensity",
        data_type="IMAGE",
        modality="optical",
        source="Renishaw WiRE",
        metadata={},
        original_metadata={"exif": exif_meta, "WMAP": original.get("WMAP", {})},
    )


#: names the spectra node cannot take (its dims and coordinates, the image node)
_TAKEN = {"x", "y", "z", "time", "frame", "distance", "wavelength", "raman_shift", "elapsed_time", "channel",
          "white_light", "rgb"}  # fmt: skip


def _node_name(source: Source) -> str:
    stem = base_name(source).rsplit(".", 1)[0]
    name = "".join(c if c.isalnum() or c in "_-" else "_" for c in stem) or "spectra"
    return f"{name}_spectra" if name.lower() in _TAKEN else name
