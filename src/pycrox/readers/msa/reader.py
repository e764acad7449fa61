"""EMSA/MSA spectra (ISO 22029): ``#KEYWORD-units: value`` header lines, then the data.

The header keywords go verbatim into ``original_metadata`` (a keyword that appears twice keeps
both values, in a list); the spectrum axis is ``OFFSET + XPERCHAN * channel`` in ``XUNITS``;
``DATATYPE`` ``Y`` lists the values, ``XY`` pairs ``x, y``: the x column is then the axis, as
stored (not necessarily uniform), and is also kept in ``original_metadata``. ``XUNITS`` may be a
label with the unit in brackets (``Energy Loss (eV)``). The file is small text and is read at once.
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np
import pint
import xarray as xr

from pycrox import model, units
from pycrox.errors import FormatError, UnitError
from pycrox.readers._common.companion import base_name, quantity, read_bytes
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

#: larger files are not spectra
MAX_BYTES = 64 * 2**20
_KEY = re.compile(r"#+\s*(?P<key>[^:]*?)\s*(?:-\s*(?P<units>[^:\s]*))?\s*:\s?(?P<value>.*)$")
#: spellings of the MSA standard's keyword units -> pint spellings
_MSA_UNITS = {
    "kV": "kV",
    "V": "V",
    "uA": "µA",
    "nA": "nA",
    "nm": "nm",
    "mR": "mrad",
    "dg": "deg",
    "deg": "deg",
    "sR": "sr",
    "s": "s",
    "ms": "ms",
    "cm": "cm",
    "eV": "eV",
}
#: keyword -> (metadata key, unit the standard prescribes, unit pycrox stores)
_NORMALISED = {
    "BEAMKV": ("beam_energy", "kV", "keV"),
    "PROBECUR": ("beam_current", "nA", "nA"),
    "CONVANGLE": ("convergence_angle", "mR", "mrad"),
    "DWELLTIME": ("dwell_time", "ms", "s"),
    "INTEGTIME": ("exposure_time", "ms", "s"),
    "LIVETIME": ("live_time", "s", "s"),
    "REALTIME": ("real_time", "s", "s"),
    "ELEVANGLE": ("elevation_angle", "dg", "deg"),
    "AZIMANGLE": ("azimuth_angle", "dg", "deg"),
}
_SIGNALS = {
    "ELS": "EELS",
    "EDS": "EDS",
    "WDS": "WDS",
    "AES": "AES",
    "PES": "PES",
    "XRF": "XRF",
    "CLS": "CL",
    "GAM": "gamma",
}


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    """Whether the file starts with an EMSA/MSA ``#FORMAT`` line; never raises."""
    try:
        head = read_head(open_source(filename_or_obj, storage_options), 256)
    except (OSError, TypeError, ValueError):
        return False
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].upper()
    return first.startswith(b"#FORMAT") and b"EMSA" in first


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    """Read an EMSA/MSA spectrum as a DataTree with one signal node.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.msa`` / ``.ems`` file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        One node named after the file holding the spectrum (float64).

    Raises
    ------
    FormatError
        If the file has no ``#SPECTRUM`` line, no data, or a value that is not a number.
    """
    source = open_source(filename_or_obj, storage_options)
    size = source.size()
    if size > MAX_BYTES:
        raise FormatError(
            source.name, f"{size} bytes is too large for an EMSA/MSA spectrum", where="offset 0"
        )
    text = read_bytes(source, 0, size, "the MSA file").decode("latin-1")
    header, lines, first_line = _split(text, source)
    values, x_column = _data(lines, first_line, header, source)
    name = base_name(source).rsplit(".", 1)[0] or "spectrum"
    signal = _signal(header, values, x_column, name)
    root = xr.Dataset(attrs={"source": "EMSA/MSA", "file": base_name(source)})
    return xr.DataTree.from_dict({"/": root, f"/{name}": xr.Dataset({name: signal})})


def _split(text: str, source: Source) -> tuple[dict[str, Any], list[str], int]:
    """Header keywords (vendor spelling) and the data lines with the line number of the first."""
    header: dict[str, Any] = {}
    lines = text.lstrip("\ufeff").splitlines()
    for number, line in enumerate(lines, start=1):
        match = _KEY.match(line.strip()) if line.startswith("#") else None
        if match is None:
            continue
        key, value = match["key"].upper(), match["value"].strip()
        if key == "SPECTRUM":
            return header, lines[number:], number + 1
        label = f"{key}-{match['units']}" if match["units"] else key
        _add(header, label, value)
    raise FormatError(source.name, "no '#SPECTRUM' line: the data section is missing")


def _add(header: dict[str, Any], key: str, value: str) -> None:
    if key not in header:
        header[key] = value
    elif key in ("TITLE", "COMMENT"):  # the standard lets these run over several lines
        header[key] = f"{header[key]} {value}".strip()
    else:
        header[key] = [*header[key], value] if isinstance(header[key], list) else [header[key], value]


def _data(
    lines: list[str], first: int, header: dict[str, Any], source: Source
) -> tuple[np.ndarray, np.ndarray]:
    numbers: list[float] = []
    for number, line in enumerate(lines, start=first):
        stripped = line.strip()
        if stripped.startswith("#"):
            if stripped.upper().startswith("#ENDOFDATA"):
                break
            continue
        for token in stripped.replace(",", " ").split():
            try:
                numbers.append(float(token))
            except ValueError:
                raise FormatError(
                    source.name, f"data value {token!r} is not a number", where=f"line {number}"
                ) from None
    if not numbers:
        raise FormatError(source.name, "the data section holds no values")
    values = np.asarray(numbers, dtype=np.float64)
    if _text(header, "DATATYPE").upper() == "XY":
        if len(values) % 2:
            raise FormatError(
                source.name, f"DATATYPE XY needs x, y pairs but the data hold {len(values)} values"
            )
        return values[1::2], values[0::2]
    return values, np.array([], dtype=np.float64)


def _text(header: dict[str, Any], key: str) -> str:
    value = header.get(key, "")
    return str(value[-1] if isinstance(value, list) else value).strip()


def _number(header: dict[str, Any], key: str) -> float | None:
    """A keyword's number; tolerates ``"2.0 E-06"`` and trailing words."""
    text = _text(header, key).replace(" E", "E").replace(" e", "e")
    match = re.match(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)
    return float(match.group()) if match else None


def _signal(header: dict[str, Any], values: np.ndarray, x_column: np.ndarray, name: str) -> xr.DataArray:
    signal_type = _SIGNALS.get(_text(header, "SIGNALTYPE").upper(), "")
    dim, axis_units = _axis(header, signal_type)
    offset, scale = _number(header, "OFFSET") or 0.0, _number(header, "XPERCHAN") or 1.0
    axis = x_column if x_column.size else offset + scale * np.arange(len(values), dtype=np.float64)
    coords = {dim: {"values": axis, "units": axis_units}}
    original: dict[str, Any] = dict(header)
    if x_column.size:
        original["x_column"] = x_column
    y_units = _units(_text(header, "YUNITS"))
    return model.from_array(
        values,
        [dim],
        coords=coords,
        name=name,
        title=_text(header, "TITLE") or name,
        quantity=_text(header, "YLABEL") or _text(header, "YUNITS"),
        units=y_units,
        data_type="SPECTRUM",
        modality=signal_type,
        source="EMSA/MSA",
        metadata=_metadata(header, signal_type),
        original_metadata=original,
    )


def _units(text: str) -> str:
    """A pycrox unit spelling for `text`, or ``""`` when it is not a unit (``"Intensity"``).

    A label with the unit in brackets (``"Energy Loss (eV)"``, ``"Energy [keV]"``) gives the
    bracketed unit.
    """
    if not text:
        return ""
    candidates = [text, *reversed(re.findall(r"[(\[]\s*([^()\[\]]+?)\s*[)\]]", text))]
    for candidate in candidates:
        try:
            return units.format(units.parse(candidate))
        except UnitError:
            continue
    return ""


def _axis(header: dict[str, Any], signal_type: str) -> tuple[str, str]:
    axis_units = _units(_text(header, "XUNITS"))
    signal = signal_type if signal_type in ("EELS", "EDS", "CL") else "spectrum"
    return model.dimension_for(axis_units, signal, spectral=True), axis_units


def _metadata(header: dict[str, Any], signal_type: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in header:
        base, _, suffix = key.partition("-")
        if base in _NORMALISED and (value := _number(header, key)) is not None:
            meta_key, standard, target = _NORMALISED[base]
            meta[meta_key] = _converted(value, suffix or standard, target)
    if (magcam := _number(header, "MAGCAM")) is not None:  # camera length (mm) in diffraction mode
        if _text(header, "OPERMODE").upper() == "DIFF":
            meta["camera_length"] = quantity(magcam, "mm")
        else:
            meta["magnification"] = magcam
    meta.update(_date_time(header))
    for key, meta_key in (("OWNER", "operator"), ("EDSDET", "detector"), ("ELSDET", "detector")):
        if _text(header, key):
            meta[meta_key] = _text(header, key)
    if signal_type:
        meta["signal"] = signal_type
    return meta


def _converted(value: float, msa_units: str, target: str) -> dict[str, Any]:
    try:
        source_units = units.parse(_MSA_UNITS.get(msa_units, msa_units))
        factor = float(units.ureg.Quantity(1.0, source_units).to(target).magnitude)
    except (UnitError, pint.errors.PintError):  # an unknown unit spelling: keep the number as it is
        factor = 1.0
    return quantity(value * factor, target)


def _date_time(header: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    date = _text(header, "DATE")
    for form in ("%d-%b-%Y", "%d-%m-%Y", "%Y-%m-%d"):
        try:
            out["date"] = _dt.datetime.strptime(date, form).date().isoformat()
            break
        except ValueError:
            continue
    time = _text(header, "TIME")
    for form in ("%H:%M:%S", "%H:%M"):
        try:
            out["time"] = _dt.datetime.strptime(time, form).time().isoformat(timespec="seconds")
            break
        except ValueError:
            continue
    return out
