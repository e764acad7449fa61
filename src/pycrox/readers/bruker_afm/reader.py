r"""Bruker / Veeco Nanoscope files (``.spm``, ``.001`` ...): images and force curves, versions 4 to 9.

A text header (see `_header`) lists one ``\*Ciao image list`` per image channel or one
``\*Ciao force image list`` per force-curve channel, each with its ``Data offset``, ``Bytes/pixel``
and calibration. Values are little-endian integers, scaled as Bruker and pySPM do::

    value = counts * (Z scale soft value) / 256**bytes_per_pixel * (sensitivity soft value)

where ``Z scale`` is the channel's ``@<n>:Z scale`` field (volts) and the sensitivity is the
``@Sens. ...`` field it names in brackets (``nm/V`` for heights: values in nm; none: values in V).
Images are ``(y, x)`` in file order. A force curve is one signal per channel and segment
(``extend``, ``retract``) along ``z``, the Z piezo ramp in m (`ramp_size`, `ramp_positions`);
force-curve values use the ``Z scale`` hard scale (V/LSB) instead of the soft value::

    value = counts * (Z scale hard scale, V/LSB) * (sensitivity soft value)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._binary import RawArray
from pycrox.errors import FormatError
from pycrox.readers._common import values
from pycrox.readers._common.companion import base_name
from pycrox.readers._common.native import lazy_native
from pycrox.readers.bruker_afm import _header
from pycrox.sources import Source, open_source, read_head

__all__ = ["guess_can_open", "read_tree"]

_IMAGE, _FORCE = "Ciao image list", "Ciao force image list"


def guess_can_open(filename_or_obj: Any, storage_options: dict | None = None) -> bool:
    r"""Whether `filename_or_obj` starts with a Nanoscope ``\*File list`` header; never raises."""
    try:
        source = open_source(filename_or_obj, storage_options)
        return bool(_header.MAGIC.match(read_head(source, 32)))
    except Exception:  # noqa: BLE001 - a guess never raises
        return False


def read_tree(filename_or_obj: Any, *, storage_options: dict | None = None) -> xr.DataTree:
    r"""Read a Nanoscope file as a lazy DataTree with one node per image channel or force segment.

    Parameters
    ----------
    filename_or_obj : str, os.PathLike, URL or binary file object
        The ``.spm`` / ``.001`` ... file.
    storage_options : dict, optional
        fsspec options for URLs.

    Returns
    -------
    xarray.DataTree
        Root attrs ``source``/``file``; one child node per signal.

    Raises
    ------
    FormatError
        On a file without the ``\*File list`` header or its end, or data blocks beyond the file.
    """
    source = open_source(filename_or_obj, storage_options)
    if not _header.MAGIC.match(read_head(source, 32)):
        raise FormatError(
            source.name, "does not start with '\\*File list'; no Nanoscope file", where="offset 0"
        )
    sections = _header.parse(_read_header(source), source.name)
    signals: dict[str, xr.DataArray] = {}
    builders: tuple[tuple[str, Any], ...] = ((_IMAGE, _image), (_FORCE, _force))
    for kind, build in builders:
        for index, section in enumerate(_as_list(sections.get(kind))):
            for name, da in build(source, sections, section, index).items():
                while name in signals:
                    name += "_"
                signals[name] = da.rename(name).assign_attrs(title=da.attrs["title"])
    tree: dict[str, xr.Dataset] = {
        "/": xr.Dataset(attrs={"source": "Bruker Nanoscope", "file": base_name(source)})
    }
    for name, da in signals.items():
        tree[f"/{name}"] = xr.Dataset({name: da})
    return xr.DataTree.from_dict(tree)


def _read_header(source: Source) -> str:
    with source.reading() as fh:
        data = b""
        while _header.END not in data:
            chunk = fh.read(65536)
            if not chunk or len(data) > 16 * 2**20:
                raise FormatError(
                    source.name,
                    "no '\\*File list end' line ends the header; the file is truncated",
                    where="header",
                )
            data += chunk
    return data[: data.find(_header.END)].decode("latin-1")


def _as_list(item: Any) -> list[dict[str, str]]:
    return [] if item is None else item if isinstance(item, list) else [item]


def _scale(
    sections: dict[str, Any], section: dict[str, str], source: Source, bpp: int, *, hard: bool = False
) -> tuple[float, str]:
    """Counts -> physical, and the unit.

    Images: ``Z scale soft value / 256**bpp * sensitivity``. Force curves (`hard`): ``Z scale hard
    scale (V/LSB) * sensitivity`` (the soft value of a force channel is its display range).
    """
    found = _header.find(section, "Z scale")
    zscale = _header.field(found[1]) if found else None
    if zscale is None or zscale.value is None:
        raise FormatError(source.name, "a data block has no '@<n>:Z scale' calibration", where="header")
    if hard and zscale.hard is not None:
        factor, unit = zscale.hard, zscale.hard_unit.split("/")[0] or "V"
    else:
        factor, unit = zscale.value / 256.0**bpp, zscale.unit or "V"
    sens = _header.sensitivity(sections, zscale.ref) if zscale.ref else None
    if sens is not None and sens.value is not None:
        factor *= sens.value
        numerator = sens.unit.split("/")[0] if "/" in sens.unit else ""
        unit = numerator if numerator and sens.unit.endswith("/V") else unit
    return factor, values.unit_spelling(unit)


def _channel(section: dict[str, str]) -> str:
    found = _header.find(section, "Image Data")
    text = found[1] if found else ""
    quoted = text.split('"')
    return quoted[1] if len(quoted) > 2 else (text or "channel")


def _block(source: Source, section: dict[str, str], where: str) -> tuple[int, int, int]:
    try:
        offset, length = int(_header.get(section, "Data offset")), int(_header.get(section, "Data length"))
        bpp = int(_header.get(section, "Bytes/pixel", "2"))
    except ValueError as error:
        raise FormatError(
            source.name,
            f"{where} lacks or garbles its data offset, length or bytes/pixel ({error})",
            where="header",
        ) from None
    if bpp not in (2, 4):
        raise FormatError(source.name, f"{where} has {bpp} bytes per pixel; expected 2 or 4", where="header")
    return offset, length, bpp


def _image(
    source: Source, sections: dict[str, Any], section: dict[str, str], index: int
) -> dict[str, xr.DataArray]:
    offset, _, bpp = _block(source, section, f"image {index}")
    nx = int(_header.get(section, "Samps/line", "0").split()[0])
    ny = int(_header.get(section, "Number of lines", "0"))
    factor, unit = _scale(sections, section, source, bpp)
    data = lazy_native(RawArray(source, offset, f"<i{bpp}", (ny, nx)), scale=factor)
    size = _header.get(section, "Scan size") or _header.get(_first(sections, "Ciao scan list"), "Scan size")
    coords = _lateral(size, nx, ny)
    title = _channel(section)
    direction = _header.get(section, "Line direction")
    name = title if not direction or direction == "Trace" else f"{title} {direction}"
    return {
        name: model.from_array(
            data,
            ("y", "x"),
            coords=coords,
            name=name,
            title=title,
            quantity=title,
            units=unit,
            data_type="IMAGE",
            **_common(sections, section),
        )
    }


def _lateral(size: str, nx: int, ny: int) -> dict[Hashable, Any]:
    parts = size.split()
    numbers = [n for n in (values.number(p) for p in parts) if n is not None]
    unit = (
        values.unit_spelling(parts[-1].replace("~", "µ"))
        if parts and values.number(parts[-1]) is None
        else ""
    )
    sx = numbers[0] if numbers else float(nx)
    sy = numbers[1] if len(numbers) > 1 else sx * ny / max(nx, 1)
    return {
        "x": {"values": sx / nx * np.arange(nx), "units": unit, "quantity": "Length" if unit else ""},
        "y": {"values": sy / ny * np.arange(ny), "units": unit, "quantity": "Length" if unit else ""},
    }


def _force(
    source: Source, sections: dict[str, Any], section: dict[str, str], index: int
) -> dict[str, xr.DataArray]:
    offset, length, bpp = _block(source, section, f"force channel {index}")
    counts = [int(n) for n in _header.get(section, "Samps/line").split() if n.isdigit()] or [length // bpp]
    factor, unit = _scale(sections, section, source, bpp, hard=True)
    ramp = ramp_size(sections, section)
    title = _channel(section)
    out = {}
    for segment, n in zip(("extend", "retract"), counts, strict=False):
        data = lazy_native(RawArray(source, offset, f"<i{bpp}", (n,)), scale=factor)
        offset += n * bpp
        name = f"{title} {segment}"
        dim, coord = (
            ("sample", {"values": np.arange(n), "units": ""})
            if ramp is None
            else ("z", {"values": ramp_positions(ramp, n), **_Z_COORD})
        )
        out[name] = model.from_array(
            data,
            (dim,),
            coords={dim: coord},
            name=name,
            title=name,
            quantity=title,
            units=unit,
            data_type="LINE_PLOT",
            **_common(sections, section),
        )
    return out


_Z_COORD = {"units": "m", "quantity": "Length", "dimension_type": "SPECTRAL"}


def ramp_size(sections: dict[str, Any], section: dict[str, str]) -> float | None:
    r"""The Z piezo ramp of a force curve in metres, or None when the header does not give it.

    The ramp is the channel's ``\@4:Ramp size`` (else the force list's ``\@4:Ramp size Zsweep``,
    else its ``\@Z scan size``) soft value in V times the sensitivity its brackets name
    (``\@Sens. Zsens``, nm/V); a ramp field already in a length unit is taken as it is.
    """
    force_list = _first(sections, "Ciao force list")
    candidates = (
        _header.find(section, "Ramp size"),
        _header.find(force_list, "Ramp size Zsweep"),
        ("@Z scan size", force_list["@Z scan size"]) if "@Z scan size" in force_list else None,
    )
    for found in candidates:
        ramp = _header.field(found[1]) if found else None
        if ramp is None or ramp.value is None:
            continue
        sens = _header.sensitivity(sections, ramp.ref) if ramp.ref else None
        if sens is not None and sens.value is not None and sens.unit.endswith("/V"):
            size = values.convert(ramp.value * sens.value, sens.unit[: -len("/V")], "m")
        else:
            size = values.convert(ramp.value, ramp.unit, "m")
        if size is not None and size > 0:
            return size
    return None


def ramp_positions(size: float, n: int) -> np.ndarray:
    """Z of each stored sample of a segment of `n` samples over a ramp of `size` (m).

    Both segments are stored from the turnaround (the ramp's end nearest the sample) outwards: the
    extend segment in reverse time order, the retract segment in time order. Sample ``i`` sits
    ``i`` steps of ``size / n`` from the turnaround; z is measured from the retracted end of the
    ramp (as Gwyddion's abscissa): ``z[i] = (n - 1 - i) * size / n``.
    """
    return (n - 1 - np.arange(n)) * (size / n)


def _common(sections: dict[str, Any], section: dict[str, str]) -> dict[str, Any]:
    return {
        "source": "Bruker Nanoscope",
        "metadata": _metadata(sections, section),
        "original_metadata": {"header": sections, "channel": section},
    }


def _metadata(sections: dict[str, Any], section: dict[str, str]) -> dict[str, Any]:
    first = next(iter(sections.values()))
    files = first if isinstance(first, dict) else first[0]
    equipment = _first(sections, "Equipment list")
    when = _date(_header.get(files, "Date"))
    return values.drop_empty(
        {
            "date": when.strftime("%Y-%m-%d") if when else None,
            "time": when.strftime("%H:%M:%S") if when else None,
            "microscope": _header.get(equipment, "Microscope")
            or _header.get(equipment, "Description")
            or None,
            "scan_rate": values.quantity(_header.get(_first(sections, "Ciao scan list"), "Scan rate"), "Hz"),
            "spring_constant": values.quantity(_header.get(section, "Spring Constant"), "N/m"),
        }
    )


def _first(sections: dict[str, Any], name: str) -> dict[str, str]:
    return (_as_list(sections.get(name)) or [{}])[0]


def _date(text: str) -> dt.datetime | None:
    for pattern in ("%I:%M:%S %p %a %b %d %Y", "%H:%M:%S %a %b %d %Y"):
        try:
            return dt.datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
    return None
