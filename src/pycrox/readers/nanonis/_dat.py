"""Nanonis ``.dat`` spectra: ``key<TAB>value`` header lines, ``[DATA]``, then a table of columns.

The first column is the sweep (``Bias calc (V)``, ``Z rel (m)`` ...) and becomes the coordinate of
every other column; each other column (forward, ``[bwd]``, ``[filt]`` ...) is one signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox.errors import FormatError
from pycrox.readers._common import values
from pycrox.readers.nanonis._text import split_label, value
from pycrox.sources import Source

__all__ = ["read_signals"]

_SWEEP_DIMS = {"V": "bias", "m": "z", "s": "time", "Hz": "frequency"}


def read_signals(source: Source) -> tuple[dict[str, xr.DataArray], dict[str, Any]]:
    """One DataArray per data column (the table is text: parsed at open), and the header."""
    with source.reading() as fh:
        text = fh.read().decode("latin-1")
    head, marker, body = text.partition("[DATA]")
    if not marker:
        raise FormatError(
            source.name, "no [DATA] line; the file is truncated or no Nanonis spectrum", where="header"
        )
    header = {}
    for line in head.splitlines():
        key, _, rest = line.partition("\t")
        if key.strip():
            header[key.strip()] = value(rest.rstrip("\t"))
    lines = body.strip("\r\n").split("\n", 1)
    columns = list(lines[0].rstrip("\r\t").split("\t"))
    table = _table(source, lines[1] if len(lines) > 1 else "", len(columns))
    sweep_name, sweep_unit = split_label(columns[0])
    dim = _SWEEP_DIMS.get(sweep_unit, "sweep")
    coords: Any = {
        dim: {
            "values": table[:, 0],
            "units": sweep_unit,
            "quantity": "Length" if dim == "z" else model.DIMENSIONS.get(dim, (sweep_name,))[0],
            "dimension_type": "SPECTRAL",
        }
    }
    common: dict[str, Any] = {
        "source": "Nanonis",
        "metadata": metadata(header),
        "original_metadata": {"header": header, "columns": columns},
    }
    signals: dict[str, xr.DataArray] = {}
    for index, column in enumerate(columns[1:], start=1):
        name, unit = split_label(column)
        name = name.replace("/", "_")
        while name in signals:
            name += "_"
        signals[name] = model.from_array(
            table[:, index].copy(),
            (dim,),
            coords=coords,
            name=name,
            title=column,
            quantity=name,
            units=unit,
            data_type="SPECTRUM",
            **common,
        )
        coords = signals[name].coords  # every column has the same sweep: its index is built once
    return signals, header


def _table(source: Source, body: str, ncols: int) -> np.ndarray:
    try:
        numbers = np.array(body.split(), dtype=np.float64)
    except ValueError as error:
        raise FormatError(
            source.name, f"the data table holds a non-number ({error})", where="[DATA]"
        ) from None
    if ncols == 0 or numbers.size % ncols:
        raise FormatError(
            source.name,
            f"{numbers.size} numbers do not fill rows of {ncols} columns; the file may be truncated",
            where="[DATA]",
        )
    return numbers.reshape(-1, ncols)


def metadata(header: dict[str, Any]) -> dict[str, Any]:
    """Normalised metadata of a spectrum header."""
    date, _, time = str(header.get("Date", "")).partition(" ")
    return values.drop_empty(
        {
            "date": values.iso_date(date),
            "time": values.iso_time(time),
            "bias": values.quantity(header.get("Bias>Bias (V)"), "V"),
            "setpoint": values.number(header.get("Z-Controller>Setpoint")),
            "exposure_time": values.quantity(header.get("Integration time (s)"), "s"),
            "operator": header.get("User") or None,
        }
    )
