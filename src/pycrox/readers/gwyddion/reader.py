"""Gwyddion files: GWY (the GWYP object serialisation of Gwyddion 2) and GSF (simple field).

Every channel of a GWY container (``/N/data``, a ``GwyDataField``) is one ``(y, x)`` signal node
named after its title (``/N/data/title``), with its mask (``/N/mask``) and presentation
(``/N/show``) as separate nodes ``<title>_mask`` and ``<title>_presentation``. Graphs
(``/N/graph/graph/M``) give one 1-D node per curve, point spectra (``/sps/N``) a
``(position, x)`` node with the spectra positions as coordinates, volumes (``/brick/N``) a
``(z, y, x)`` node and XYZ surfaces (``/xyz/N``) a ``(position,)`` node with ``x``/``y``
coordinates. Pixel size is ``xreal / xres`` (Gwyddion's definition), positions start at ``xoff``;
values are in the field's SI unit (``si_unit_z``). The channel metadata (``/N/meta``) are in
``original_metadata["meta"]`` and normalised where they name the usual settings. Data fields and
volumes stay in the file until read (little-endian float64 blocks, read on demand).

GSF files hold one float32 field; the header keys (``XReal``, ``XOffset``, ``XYUnits``,
``ZUnits``, ``Title`` ...) are kept whole in ``original_metadata["header"]``.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._binary import lazy_raw
from pycrox.errors import FormatError
from pycrox.readers._common import spm, values
from pycrox.readers._common.companion import base_name
from pycrox.readers.gwyddion import _gsf, _gwy
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_CHANNEL = re.compile(r"^/(\d+)/data$")
_GRAPH = re.compile(r"^/(\d+)/graph/graph/(\d+)$")
_SPECTRA = re.compile(r"^/sps/(\d+)$")
_BRICK = re.compile(r"^/brick/(\d+)$")
_SURFACE = re.compile(r"^/xyz/(\d+)$")


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether `filename_or_obj` starts with the GWYP or the GSF magic; never raises."""
    try:
        head = read_head(open_source(filename_or_obj, storage_options), 32)
    except (OSError, TypeError, ValueError):
        return False
    return head.startswith((_gwy.MAGIC, _gsf.MAGIC))


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read a Gwyddion GWY or GSF file as a lazy DataTree, one node per channel.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.gwy`` or ``.gsf`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file`` (and, for GWY, the container's settings in
        ``original_metadata``); one child node per signal.

    Raises
    ------
    FormatError
        On a wrong magic, a truncated file or a data block that does not fit its sizes.
    """
    source = open_source(filename_or_obj, storage_options)
    head = read_head(source, 32)
    if head.startswith(_gsf.MAGIC):
        da = _read_gsf(source)
        signals, root_original = {spm.node_name(da.attrs["title"], set()): da}, {}
    elif head.startswith(_gwy.MAGIC) or head[:4] == b"GWYO":
        with source.reading() as fh:
            top = _gwy.parse(fh, source.name, source.size())
        signals, root_original = _read_gwy(source, top), {"container": _plain_container(top)}
    else:
        raise FormatError(source.name, f"not a Gwyddion file: starts with {head[:8]!r}", where="offset 0")
    if not signals:
        raise FormatError(source.name, "the GWY container holds no data field, graph, spectra or volume")
    tree: dict[str, xr.Dataset] = {
        "/": xr.Dataset(
            attrs={
                "source": "Gwyddion",
                "file": base_name(source),
                **({"original_metadata": root_original} if root_original else {}),
            }
        )
    }
    for name, da in signals.items():
        tree[f"/{name}"] = da.to_dataset(name=name)
    return xr.DataTree.from_dict(tree)


# ----------------------------------------------------------------------------------------- GSF


def _read_gsf(source: Source) -> xr.DataArray:
    header, offset = _gsf.parse_header(source)
    nx, ny = header["XRes"], header["YRes"]
    data = lazy_raw(source, offset, "<f4", (ny, nx))
    xy_units = values.unit_spelling(header.get("XYUnits", ""))
    coords = {
        axis: {
            "values": _number(header.get(f"{axis.upper()}Offset"), 0.0)
            + _number(header.get(f"{axis.upper()}Real"), float(n)) / n * np.arange(n, dtype=np.float64),
            "units": xy_units,
        }
        for axis, n in (("y", ny), ("x", nx))
    }
    title = str(header.get("Title", "") or "data")
    return model.from_array(
        data,
        ("y", "x"),
        coords=coords,
        name="data",
        title=title,
        units=values.unit_spelling(header.get("ZUnits", "")),
        data_type="IMAGE",
        modality="SPM",
        source="Gwyddion Simple Field",
        metadata=spm.normalised(header),
        original_metadata={"header": values.jsonlike(header)},
    )


def _number(value: Any, default: float) -> float:
    result = values.number(value)
    return default if result is None else result


# ----------------------------------------------------------------------------------------- GWY


def _read_gwy(source: Source, top: _gwy.GwyObject) -> dict[str, xr.DataArray]:
    if top.type_name != "GwyContainer":
        raise FormatError(
            source.name,
            f"the top object is a {top.type_name!r}, expected a GwyContainer",
            where=f"offset {top.offset}",
        )
    items = top.components
    used: set[str] = set()
    out: dict[str, xr.DataArray] = {}
    settings: dict[str, dict[str, Any]] = {}
    for key, value in items.items():
        if key.count("/") >= 2 and not isinstance(value, _gwy.GwyObject | _gwy.Block):
            settings.setdefault(key.split("/")[1], {})[key] = _plain(value)
    normalised: dict[Any, dict[str, Any]] = {}
    for key in sorted(items, key=_natural):
        value = items[key]
        if not isinstance(value, _gwy.GwyObject):
            continue
        if m := _CHANNEL.match(key):
            out.update(
                _channel(source, items, m.group(1), value, used, settings.get(m.group(1), {}), normalised)
            )
        elif m := _GRAPH.match(key):
            out.update(_graph(source, value, key, used))
        elif m := _SPECTRA.match(key):
            da = _spectra(source, value, items.get(f"{key}/title"), key)
            if da is not None:
                out[spm.node_name(da.attrs["title"], used, "spectra")] = da
        elif m := _BRICK.match(key):
            out[spm.node_name(items.get(f"{key}/title") or f"volume {m.group(1)}", used)] = _brick(
                source, value, items, key
            )
        elif m := _SURFACE.match(key):
            out[spm.node_name(items.get(f"{key}/title") or f"xyz {m.group(1)}", used)] = _surface(
                source, value, items.get(f"{key}/title"), key
            )
    return out


def _natural(key: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def _unit(obj: Any) -> str:
    if isinstance(obj, _gwy.GwyObject):
        return values.unit_spelling(obj.get("unitstr", ""))
    return ""


def _array(source: Source, value: Any, what: str) -> np.ndarray:
    """A component array read now (small arrays come inline, big ones as blocks)."""
    if isinstance(value, _gwy.Block):
        raw = source.read_at(value.offset, value.count * np.dtype(value.dtype).itemsize)
        return np.frombuffer(raw, value.dtype).astype(np.dtype(value.dtype).newbyteorder("="))
    if isinstance(value, np.ndarray):
        return value
    raise FormatError(source.name, f"{what} has no numeric data array")


def _lazy(source: Source, value: Any, shape: tuple[int, ...], what: str) -> Any:
    count = int(np.prod(shape))
    if isinstance(value, _gwy.Block):
        if value.count != count:
            raise FormatError(
                source.name,
                f"{what} holds {value.count} values but its sizes {shape} need {count}",
                where=f"offset {value.offset}",
            )
        return lazy_raw(source, value.offset, value.dtype, shape)
    array = _array(source, value, what)
    if array.size != count:
        raise FormatError(source.name, f"{what} holds {array.size} values but its sizes {shape} need {count}")
    return array.astype(np.float64).reshape(shape)


def _field(source: Source, field: _gwy.GwyObject, key: str) -> tuple[Any, dict[str, Any], str]:
    """Lazy data, coordinates and value unit of a GwyDataField."""
    if field.type_name != "GwyDataField":
        raise FormatError(
            source.name,
            f"{key} is a {field.type_name!r}, expected a GwyDataField",
            where=f"offset {field.offset}",
        )
    nx, ny = int(field.get("xres", 0)), int(field.get("yres", 0))
    if nx <= 0 or ny <= 0:
        raise FormatError(
            source.name, f"{key} has sizes xres={nx}, yres={ny}", where=f"offset {field.offset}"
        )
    data = _lazy(source, field.get("data"), (ny, nx), key)
    xy = _unit(field.get("si_unit_xy"))
    coords = {
        axis: {
            "values": float(field.get(f"{axis}off", 0.0))
            + float(field.get(f"{axis}real", n)) / n * np.arange(n, dtype=np.float64),
            "units": xy,
        }
        for axis, n in (("y", ny), ("x", nx))
    }
    return data, coords, _unit(field.get("si_unit_z"))


def _channel(
    source: Source,
    items: dict[str, Any],
    index: str,
    field: _gwy.GwyObject,
    used: set[str],
    settings: dict[str, Any],
    cache: dict[Any, dict[str, Any]],
) -> dict[str, xr.DataArray]:
    prefix = f"/{index}"
    title = str(items.get(f"{prefix}/data/title") or f"channel {index}")
    meta_obj = items.get(f"{prefix}/meta")
    meta = (
        {k: v if isinstance(v, str) else values.jsonlike(v) for k, v in meta_obj.components.items()}
        if isinstance(meta_obj, _gwy.GwyObject)
        else {}
    )
    key = tuple(meta.items()) if all(isinstance(v, str) for v in meta.values()) else None
    if key is None or key not in cache:
        found = spm.normalised(meta)
        if key is None:
            cache_value = found
        else:
            cache[key] = cache_value = found
    else:
        cache_value = cache[key]
    out: dict[str, xr.DataArray] = {}
    name = spm.node_name(title, used)
    data, coords, z_unit = _field(source, field, f"{prefix}/data")
    original = {"data_field": _plain(field), "meta": meta, "settings": settings}
    log = items.get(f"{prefix}/data/log")
    if isinstance(log, _gwy.GwyObject):
        original["log"] = list(log.get("strings", []))
    metadata = {**cache_value, "signal": title}
    out[name] = model.from_array(
        data,
        ("y", "x"),
        coords=coords,
        name=name,
        title=title,
        units=z_unit,
        data_type="IMAGE",
        modality="SPM",
        source="Gwyddion",
        metadata=metadata,
        original_metadata=original,
    )
    for suffix, label in (("mask", "mask"), ("show", "presentation")):
        extra = items.get(f"{prefix}/{suffix}")
        if not isinstance(extra, _gwy.GwyObject):
            continue
        extra_name = spm.node_name(f"{name}_{label}", used)
        data, coords, unit = _field(source, extra, f"{prefix}/{suffix}")
        out[extra_name] = model.from_array(
            data,
            ("y", "x"),
            coords=coords,
            name=extra_name,
            title=f"{title} ({label})",
            units=unit,
            data_type="IMAGE",
            modality="SPM",
            source="Gwyddion",
            metadata=metadata,
            original_metadata={"data_field": _plain(extra), "of_channel": title},
        )
    return out


def _graph(source: Source, graph: _gwy.GwyObject, key: str, used: set[str]) -> dict[str, xr.DataArray]:
    out: dict[str, xr.DataArray] = {}
    title = str(graph.get("title") or "graph")
    x_unit, y_unit = _unit(graph.get("x_unit")), _unit(graph.get("y_unit"))
    dim = model.dimension_for(x_unit, None)
    for i, curve in enumerate(graph.get("curves") or []):
        if not isinstance(curve, _gwy.GwyObject):
            continue
        x = _array(source, curve.get("xdata"), f"{key} curve {i} xdata").astype(np.float64)
        y = _array(source, curve.get("ydata"), f"{key} curve {i} ydata").astype(np.float64)
        if x.shape != y.shape:
            raise FormatError(
                source.name,
                f"{key} curve {i}: {x.size} x values but {y.size} y values",
                where=f"offset {curve.offset}",
            )
        label = str(curve.get("description") or f"curve {i}")
        name = spm.node_name(f"{title} {label}", used)
        out[name] = model.from_array(
            y,
            (dim,),
            coords={dim: {"values": x, "units": x_unit}},
            name=name,
            title=f"{title}: {label}",
            units=y_unit,
            data_type="LINE_PLOT" if dim == "x" else "SPECTRUM",
            modality="SPM",
            source="Gwyddion",
            original_metadata={"graph": _plain(graph, skip_arrays=True), "curve": _plain(curve)},
        )
    return out


def _spectra(source: Source, sps: _gwy.GwyObject, title: Any, key: str) -> xr.DataArray | None:
    lines = [d for d in (sps.get("data") or []) if isinstance(d, _gwy.GwyObject)]
    if not lines:
        return None
    arrays = [_array(source, d.get("data"), f"{key} spectrum").astype(np.float64) for d in lines]
    if len({a.size for a in arrays}) != 1:
        raise FormatError(source.name, f"{key}: spectra of different lengths", where=f"offset {sps.offset}")
    first = lines[0]
    n = arrays[0].size
    x_unit, y_unit = _unit(first.get("si_unit_x")), _unit(first.get("si_unit_y"))
    dim = model.dimension_for(x_unit, "spectrum", spectral=True)
    xy = _array(source, sps.get("coords"), f"{key} coords").astype(np.float64).reshape(-1, 2)
    xy_unit = _unit(sps.get("si_unit_xy"))
    coords = {
        dim: {
            "values": float(first.get("off", 0.0)) + float(first.get("real", n)) / n * np.arange(n),
            "units": x_unit,
        },
        "position": {"values": np.arange(len(arrays)), "units": ""},
        "x": (("position",), xy[: len(arrays), 0], {"units": xy_unit}),
        "y": (("position",), xy[: len(arrays), 1], {"units": xy_unit}),
    }
    label = str(sps.get("title") or title or "spectra")
    return model.from_array(
        np.stack(arrays),
        ("position", dim),
        coords=coords,
        name=label,
        title=label,
        units=y_unit,
        data_type="SPECTRUM",
        modality="SPM",
        source="Gwyddion",
        original_metadata={"spectra": _plain(sps, skip_arrays=True)},
    )


def _brick(source: Source, brick: _gwy.GwyObject, items: dict[str, Any], key: str) -> xr.DataArray:
    nx, ny, nz = (int(brick.get(f"{a}res", 0)) for a in "xyz")
    if min(nx, ny, nz) <= 0:
        raise FormatError(source.name, f"{key} has sizes {nx}x{ny}x{nz}", where=f"offset {brick.offset}")
    data = _lazy(source, brick.get("data"), (nz, ny, nx), key)
    coords: dict[str, Any] = {}
    for axis, n in (("x", nx), ("y", ny), ("z", nz)):
        coords[axis] = {
            "values": float(brick.get(f"{axis}off", 0.0))
            + float(brick.get(f"{axis}real", n)) / n * np.arange(n, dtype=np.float64),
            "units": _unit(brick.get(f"si_unit_{axis}")),
        }
    title = str(items.get(f"{key}/title") or key)
    return model.from_array(
        data,
        ("z", "y", "x"),
        coords=coords,
        name="volume",
        title=title,
        units=_unit(brick.get("si_unit_w")),
        modality="SPM",
        source="Gwyddion",
        original_metadata={"brick": _plain(brick)},
    )


def _surface(source: Source, surface: _gwy.GwyObject, title: Any, key: str) -> xr.DataArray:
    xyz = _array(source, surface.get("data"), key).astype(np.float64).reshape(-1, 3)
    xy_unit = _unit(surface.get("si_unit_xy"))
    coords = {
        "position": {"values": np.arange(len(xyz)), "units": ""},
        "x": (("position",), xyz[:, 0], {"units": xy_unit}),
        "y": (("position",), xyz[:, 1], {"units": xy_unit}),
    }
    label = str(title or key)
    return model.from_array(
        xyz[:, 2],
        ("position",),
        coords=coords,
        name="xyz",
        title=label,
        units=_unit(surface.get("si_unit_z")),
        modality="SPM",
        source="Gwyddion",
        original_metadata={"surface": _plain(surface)},
    )


# ------------------------------------------------------------------------------ original metadata


def _plain(value: Any, *, skip_arrays: bool = False, depth: int = 0) -> Any:
    """A JSON-like copy of a parsed GWY value (data blocks described, not read)."""
    if isinstance(value, _gwy.GwyObject):
        out: dict[str, Any] = {"type": value.type_name}
        for k, v in value.components.items():
            if skip_arrays and isinstance(v, _gwy.Block | np.ndarray):
                continue
            out[k] = _plain(v, skip_arrays=skip_arrays, depth=depth + 1)
        return out
    if isinstance(value, _gwy.Block):
        return f"{value.count} x {np.dtype(value.dtype).name} at offset {value.offset}"
    if isinstance(value, list):
        return [_plain(v, skip_arrays=skip_arrays, depth=depth + 1) for v in value]
    return values.jsonlike(value)


def _plain_container(top: _gwy.GwyObject) -> dict[str, Any]:
    """The container's components except the bulk objects read as signals (those are in their nodes)."""
    signal = (_CHANNEL, _GRAPH, _SPECTRA, _BRICK, _SURFACE)
    out: dict[str, Any] = {}
    for key, value in top.components.items():
        if any(p.match(key) for p in signal) or re.match(r"^/\d+/(mask|show|meta)$", key):
            continue
        out[key] = _plain(value, skip_arrays=True)
    return out
