"""Nanonis ``.3ds`` grid spectroscopy: ``Key=Value`` header lines, ``:HEADER_END:``, then records.

Each grid point is one record of big-endian float32: the fixed and experiment parameters
(``Sweep Start``, ``Sweep End``, ``X (m)``, ``Y (m)``, ``Z (m)`` ...), then every channel's sweep
of ``Points`` values. Records run x fastest. Every channel is a lazy ``(y, x, <sweep>)`` array
read block-wise (`_strided`: how, and when a whole-channel read fills the other channels in the
same pass); the parameters become lazy ``(y, x)`` coordinates, all read together on first use;
the sweep coordinate spans the first point's ``Sweep Start`` to ``Sweep End`` (read at open).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
import xarray as xr
from xarray.core import indexing

from pycrox import model
from pycrox._binary import check_extent
from pycrox.errors import FormatError
from pycrox.readers._common import values
from pycrox.readers.nanonis._strided import GridChannelArray, GridFile, GridParameterArray, read_columns
from pycrox.readers.nanonis._text import identifier, read_until, split_label, value
from pycrox.sources import Source

__all__ = ["MAGIC", "read_signals"]

MAGIC = b"Grid dim="
_END = b":HEADER_END:"
_SWEEP_DIMS = {"V": "bias", "m": "z", "s": "time", "Hz": "frequency"}
_STORED = np.dtype(">f4")


def parse_header(text: str) -> dict[str, Any]:
    """``Key=Value`` lines (quotes removed) as a dict."""
    header: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition("=")
        if sep and key.strip():
            header[key.strip()] = value(rest.strip().strip('"'))
    return header


def _names(header: dict[str, Any], key: str) -> list[str]:
    text = str(header.get(key, ""))
    return [n for n in text.split(";") if n] if text else []


def read_signals(
    source: Source, *, read_together: bool | None = None
) -> tuple[dict[str, xr.DataArray], dict[str, Any], Callable[[], None]]:
    """One lazy DataArray per channel, the parsed header, and the closer that drops parked channels.

    `read_together`: see `_strided` (None: park other channels up to `_strided.PARK_BYTES`).
    """
    with source.reading() as fh:
        raw = read_until(fh, _END, limit=2**20)
    end = raw.find(_END)
    if end < 0:
        raise FormatError(
            source.name,
            "no ':HEADER_END:' line ends the header; the file is truncated or no Nanonis grid",
            where="header",
        )
    header = parse_header(raw[:end].decode("latin-1"))
    offset = end + len(_END) + (2 if raw[end + len(_END) : end + len(_END) + 2] == b"\r\n" else 0)
    layout = _layout(source, header)
    nx, ny, n_params, points, channels = layout
    record = n_params + points * len(channels)
    check_extent(source, offset, nx * ny * record * 4, f"the grid of {nx} x {ny} points of {record} values")
    grid = GridFile(
        source,
        offset,
        (ny, nx),
        record,
        [(n_params + i * points, points) for i in range(len(channels))],
        _STORED,
        read_together=read_together,
        n_params=n_params,
    )
    # the first point's parameters (sweep range, metadata); the others are read on first use
    first = (
        read_columns(source, offset, record, 0, 1, [(0, n_params)], _STORED)[0][0] if nx * ny else np.zeros(0)
    )
    labels = _names(header, "Fixed parameters") + _names(header, "Experiment parameters")
    labels += [f"parameter {i}" for i in range(len(labels), n_params)]
    sweep_name, sweep_unit = split_label(str(header.get("Sweep Signal", "sweep")))
    dim = _SWEEP_DIMS.get(sweep_unit, "sweep")
    start, stop = (float(first[i]) for i in (0, 1)) if first.size >= 2 else (0.0, points - 1.0)
    coords: dict[Hashable, Any] = {
        dim: {
            "values": np.linspace(start, stop, points),
            "units": sweep_unit,
            "dimension_type": "SPECTRAL",
            "quantity": "Length" if dim == "z" else model.DIMENSIONS.get(dim, (sweep_name,))[0],
        },
        **_lateral(header, nx, ny),
    }
    extra = _parameter_coords(grid, labels[:n_params], (dim, "x", "y"))
    common: dict[str, Any] = {
        "source": "Nanonis",
        "metadata": metadata(header, first, labels),
        "original_metadata": {"header": header},
        "data_type": "SPECTRAL_IMAGE",
    }
    signals = {}
    for index, channel in enumerate(channels):
        name, unit = split_label(channel)
        array = GridChannelArray(grid, index)
        da = model.from_array(
            indexing.LazilyIndexedArray(array),
            ("y", "x", dim),
            coords={**coords, **extra},
            name=name,
            title=channel,
            quantity=name,
            units=unit,
            **common,
        )
        da.encoding["preferred_chunks"] = {"y": 1, "x": nx, dim: points}
        signals[name.replace("/", "_")] = da
    return signals, header, grid.release


def _layout(source: Source, header: dict[str, Any]) -> tuple[int, int, int, int, list[str]]:
    try:
        nx, ny = (int(n) for n in re.findall(r"\d+", str(header["Grid dim"])))
        n_params = int(header["# Parameters (4 byte)"])
        points = int(header["Points"])
    except (KeyError, ValueError) as error:
        raise FormatError(
            source.name,
            f"the grid header lacks or garbles {error}; expected 'Grid dim', "
            "'# Parameters (4 byte)' and 'Points'",
            where="header",
        ) from None
    return nx, ny, n_params, points, _names(header, "Channels")


def _lateral(header: dict[str, Any], nx: int, ny: int) -> dict[Hashable, Any]:
    """Grid points spread over the frame ``Grid settings`` = centre x; centre y; width; height; angle."""
    settings = [values.number(v) or 0.0 for v in str(header.get("Grid settings", "")).split(";")]
    cx, cy, width, height = (settings + [0.0] * 4)[:4]
    return {
        "x": {"values": cx + np.linspace(-width / 2, width / 2, nx), "units": "m", "quantity": "Length"},
        "y": {"values": cy + np.linspace(-height / 2, height / 2, ny), "units": "m", "quantity": "Length"},
    }


def _parameter_coords(grid: GridFile, labels: list[str], taken: tuple[str, ...]) -> dict[str, xr.Variable]:
    """One lazy ``(y, x)`` coordinate per point parameter, all read together on first use."""
    coords: dict[str, xr.Variable] = {}
    for index, label in enumerate(labels):
        name = identifier(label)
        name = f"point_{name}" if name in taken or name in coords else name
        _, unit = split_label(label)
        coords[name] = xr.Variable(
            ("y", "x"),
            indexing.LazilyIndexedArray(GridParameterArray(grid, index)),
            attrs={"units": unit, "long_name": label},
        )
    return coords


def metadata(header: dict[str, Any], first_point: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Normalised metadata: the header's date and user, the first point's integration time."""
    date, _, time = str(header.get("Date", "")).partition(" ")
    first = dict(zip(labels, (float(v) for v in first_point), strict=False))
    return values.drop_empty(
        {
            "date": values.iso_date(date),
            "time": values.iso_time(time),
            "operator": header.get("User") or None,
            "exposure_time": values.quantity(first.get("Integration time (s)"), "s"),
        }
    )
