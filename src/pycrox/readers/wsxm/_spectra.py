"""WSxM spectroscopy files: curve files (``.cur``, ``.iv``), ``.stp`` curve sets, ``.gsi`` volumes.

All share the text header of the images (`_header`).

- Curve files hold ASCII data after the header: one row per point, ``x y`` per line (``Number of
  lines`` pairs of columns; NaN is written ``1.#QNAN``). Spectroscopy curves (the header has
  ``[Control] Index of this Curve``) come in approach/retract pairs and are calibrated as in
  ``.curves`` files (``Conversion Offset 00 + Conversion Factor 00 * raw``, negated factor when
  ``Channel is inverted``); other curve files (a tune, ...) are kept as written, in ``Y axis unit``.
- ``.stp`` files are an image header and binary image whose rows are curves: values ``raw * Z
  Amplitude / (Maximum - Minimum)`` (the image calibration), the ramp ``X starting offset`` +
  ``linspace(0, X Amplitude, columns)``; a ``Forward`` line (``X scanning direction``) is stored
  last point first and is reversed.
- ``.gsi`` force volumes are the topography image, then one image per ramp point (``Number of
  points per ramp``), ``Conversion offset 0 + raw * ADC to V factor * Conversion factor 0``; the
  ramp values are listed in ``[Spectroscopy images ramp value list]``. Images are flipped on both
  axes like the plain images.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr
from xarray.backends import BackendArray
from xarray.core import indexing

from pycrox import model, units
from pycrox._binary import RawArray
from pycrox.errors import FormatError, UnitError
from pycrox.readers._common import spm, values
from pycrox.readers.wsxm import _header
from pycrox.sources import Source

__all__ = ["curve_nodes", "is_text_curves", "stp", "text_curves", "volume"]

_NAN = re.compile(r"^[-+]?\d*\.?#(QNAN|SNAN|IND|INF)\w*$|^[-+]?nan$", re.IGNORECASE)


def is_text_curves(header: dict[str, Any]) -> bool:
    """Whether the header describes ASCII curve data (lines and points, no image)."""
    general = header.get("General Info", {})
    return "Number of lines" in general and "Number of points" in general and "Image Data Type" not in general


def _sweep_dim(unit: str) -> str:
    try:
        if units.parse(unit).dimensionality == units.ureg.meter.dimensionality:
            return "z"
    except (UnitError, ValueError, TypeError, AttributeError):
        pass
    return model.dimension_for(unit, "spectrum", spectral=True)


def curve_nodes(
    raw: np.ndarray,
    header: dict[str, Any],
    kind: str,
    used: set[str],
    metadata: dict[str, Any],
    default_index: str,
) -> dict[str, xr.DataArray]:
    """Approach/retract curve nodes from ``raw`` of shape ``(lines, points, 2)`` (``x, y`` pairs).

    Each pair of lines is one node ``"<Y axis channel> (<index>)"`` of dims ``(z, direction)``.
    """
    general = header.get("General Info", {})
    factor, y_unit = spm.value_unit(general.get("Conversion Factor 00"))
    y_unit = y_unit or general.get("Y axis unit", "")
    shift = spm.value_unit(general.get("Conversion Offset 00"))[0] or 0.0
    factor = (factor if factor is not None else 1.0) * (
        -1.0 if general.get("Channel is inverted") == "Yes" else 1.0
    )
    label = str(general.get("Y axis text", "curve")).split("[")[0].strip()
    index = _header.get(header, "Control", "Index of this Curve", default_index)
    order = (
        ["approach", "retract"]
        if _header.get(header, "Miscellaneous", "First Forward", "Yes") != "No"
        else ["retract", "approach"]
    )
    x_unit = values.unit_spelling(general.get("X axis unit", ""))
    lines = raw.shape[0]
    out: dict[str, xr.DataArray] = {}
    for j in range(0, lines - 1, 2) if lines >= 2 else []:
        suffix = f"{index}{chr(ord('a') + j // 2)}" if lines > 2 else f"{index}"
        y = shift + raw[j : j + 2, :, 1].T * factor
        name = spm.node_name(f"{label} ({suffix})", used)
        coords = {
            "z": {"values": raw[j, :, 0], "units": x_unit, "quantity": "Length"},
            "z_retract": (("z",), raw[j + 1, :, 0], {"units": x_unit}),
            "direction_name": (("direction",), np.array(order)),
        }
        out[name] = model.from_array(
            y,
            ("z", "direction"),
            coords=coords,
            name="curve",
            title=f"{label} ({suffix})",
            units=values.unit_spelling(y_unit),
            data_type="SPECTRUM",
            modality="SPM",
            source="WSxM",
            metadata=metadata,
            original_metadata={"kind": kind, "header": header},
        )
    return out


def text_curves(
    source: Source,
    fh: Any,
    header: dict[str, Any],
    kind: str,
    offset: int,
    used: set[str],
    metadata: dict[str, Any],
) -> dict[str, xr.DataArray]:
    """The curves of an ASCII curve file (``.cur``, ``.iv``), read at open.

    Raises
    ------
    FormatError
        When a row is not numbers, rows differ in length, or the columns are not ``x, y`` per line.
    """
    general = header.get("General Info", {})
    try:
        lines, points = int(general["Number of lines"]), int(general["Number of points"])
    except ValueError as exc:
        raise FormatError(
            source.name,
            "the header has no valid 'Number of lines'/'Number of points'",
            where="header [General Info]",
        ) from exc
    fh.seek(offset)
    text = fh.read().decode("latin-1")
    rows: list[list[float]] = []
    position = offset
    for number, line in enumerate(text.splitlines(keepends=True)):
        cells = line.split()
        if cells:
            try:
                rows.append([float("nan") if _NAN.match(c) else float(c) for c in cells])
            except ValueError as exc:
                raise FormatError(
                    source.name,
                    f"data row {number + 1} is not numbers: {line.strip()[:60]!r}",
                    where=f"offset {position}",
                ) from exc
            if len(rows[-1]) != 2 * lines:
                raise FormatError(
                    source.name,
                    f"data row {number + 1} has {len(rows[-1])} columns; {lines} lines of x, y need {2 * lines}",
                    where=f"offset {position}",
                )
        position += len(line.encode("latin-1"))
    if not rows:
        raise FormatError(
            source.name, f"no data rows after the header ({points} expected)", where=f"offset {offset}"
        )
    table = np.asarray(rows, dtype=np.float64)
    raw = table.reshape(len(rows), lines, 2).transpose(1, 0, 2)
    if "Index of this Curve" in header.get("Control", {}):
        return curve_nodes(raw, header, kind, used, metadata, "1")
    label = str(general.get("Y axis text", "curve")).split("[")[0].strip() or "curve"
    x_unit = values.unit_spelling(general.get("X axis unit", ""))
    dim = _sweep_dim(x_unit)
    name = spm.node_name(label, used)
    da = model.from_array(
        raw[:, :, 1].T,
        (dim, "line"),
        coords={dim: {"values": raw[0, :, 0], "units": x_unit}},
        name="curve",
        title=label,
        units=values.unit_spelling(general.get("Y axis unit", "")),
        modality="SPM",
        source="WSxM",
        metadata=metadata,
        original_metadata={"kind": kind, "header": header},
    )
    return {name: da}


def _number(header: dict[str, Any], section: str, key: str) -> tuple[float | None, str]:
    return spm.value_unit(_header.get(header, section, key))


def _shape(source: Source, header: dict[str, Any]) -> tuple[int, int]:
    try:
        return int(_header.get(header, "General Info", "Number of rows")), int(
            _header.get(header, "General Info", "Number of columns")
        )
    except (TypeError, ValueError) as exc:
        raise FormatError(
            source.name,
            "the header has no valid 'Number of columns'/'Number of rows'",
            where="header [General Info]",
        ) from exc


def stp(
    source: Source,
    header: dict[str, Any],
    kind: str,
    offset: int,
    used: set[str],
    metadata: dict[str, Any],
    dtype: np.dtype,
) -> dict[str, xr.DataArray]:
    """A ``.stp`` curve set: dims ``(curve, z)``, one row per curve (read at open, a few KiB)."""
    rows, cols = _shape(source, header)
    raw = RawArray(source, offset, dtype, (rows, cols))._read((slice(None), slice(None))).astype(np.float64)
    z_amp, z_unit = _number(header, "General Info", "Z Amplitude")
    zmax = values.number(_header.get(header, "Miscellaneous", "Maximum"))
    zmin = values.number(_header.get(header, "Miscellaneous", "Minimum"))
    if zmax is None or zmin is None:
        zmax, zmin = (float(raw.max()), float(raw.min())) if raw.size else (1.0, 0.0)
    scale = z_amp / (zmax - zmin) if z_amp and zmax != zmin else 1.0
    direction = str(_header.get(header, "General Info", "X scanning direction") or "")
    data = raw * scale
    if direction.lower() == "forward":
        data = data[:, ::-1]
    x_amp, x_unit = _number(header, "Control", "X Amplitude")
    start, _ = _number(header, "General Info", "X starting offset")
    x_unit = values.unit_spelling(x_unit.replace("\ufffd", "µ"))
    dim = _sweep_dim(x_unit)
    channel = str(_header.get(header, "General Info", "Acquisition channel") or "curves")
    label = f"{channel} ({direction.lower()})" if direction else channel
    meta = {**metadata, "scan_direction": direction.lower()} if direction else metadata
    da = model.from_array(
        data,
        ("curve", dim),
        coords={
            "curve": {"values": np.arange(1, rows + 1), "units": ""},
            dim: {
                "values": (start or 0.0) + np.linspace(0.0, x_amp or float(cols - 1), cols),
                "units": x_unit,
            },
        },
        name="curves",
        title=label,
        units=values.unit_spelling(z_unit),
        modality="SPM",
        source="WSxM",
        metadata=meta,
        original_metadata={"kind": kind, "header": header},
    )
    return {spm.node_name(label, used): da}


class _Volume(BackendArray):
    """Ramp images ``(ramp, y, x)`` as ``offset + scale * raw``, flipped on both image axes."""

    def __init__(self, raw: RawArray, offset: float, scale: float) -> None:
        self.raw, self.offset, self.scale = raw, offset, scale
        self.shape, self.dtype = raw.shape, np.dtype(np.float64)

    def __getitem__(self, key: indexing.ExplicitIndexer) -> np.ndarray:
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        first = key[0] if key else slice(None)
        block = self.raw._read((first, slice(None), slice(None)))
        block = block[..., ::-1, ::-1].astype(np.float64) * self.scale + self.offset
        return np.ascontiguousarray(block[(slice(None),) * (block.ndim - 2) + tuple(key[1:])])


def volume(
    source: Source,
    header: dict[str, Any],
    kind: str,
    offset: int,
    used: set[str],
    metadata: dict[str, Any],
    dtype: np.dtype,
    image_coords: dict[str, Any],
) -> dict[str, xr.DataArray]:
    """A ``.gsi`` force volume after its topography image: dims ``(z, y, x)``, lazy."""
    rows, cols = _shape(source, header)
    general = header.get("General Info", {})
    try:
        npoints = int(general["Number of points per ramp"])
    except (KeyError, ValueError) as exc:
        raise FormatError(
            source.name, "no valid 'Number of points per ramp'", where="header [General Info]"
        ) from exc
    ramp_list = header.get("Spectroscopy images ramp value list", {})
    zs, z_unit = [], ""
    for i in range(npoints):
        value, unit = spm.value_unit(ramp_list.get(f"Image {i:03d}"))
        zs.append(float("nan") if value is None else value)
        z_unit = z_unit or unit
    adc, _ = _number(header, "General Info", "ADC to V conversion factor")
    factor, unit = _number(header, "General Info", "Conversion factor 0 for input channel")
    shift, _ = _number(header, "General Info", "Conversion offset 0 for input channel")
    scale = (adc if adc is not None else 1.0) * (factor if factor is not None else 1.0)
    if general.get("Channel is inverted") == "Yes":
        scale = -scale
    raw = RawArray(source, offset, dtype, (npoints, rows, cols))
    data = indexing.LazilyIndexedArray(_Volume(raw, shift or 0.0, scale))
    z_unit = values.unit_spelling(z_unit)
    coords = {
        **image_coords,
        "z": {"values": np.asarray(zs, dtype=np.float64), "units": z_unit, "quantity": "Length"},
    }
    channel = str(general.get("Acquisition channel") or "volume")
    label = f"{channel} volume"
    da = model.from_array(
        data,
        ("z", "y", "x"),
        coords=coords,
        name="volume",
        title=label,
        units=values.unit_spelling(unit),
        modality="SPM",
        source="WSxM",
        metadata=metadata,
        original_metadata={"kind": kind, "header": header},
    )
    return {spm.node_name(label, used): da}
