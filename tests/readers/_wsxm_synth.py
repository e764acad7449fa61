"""Write small WSxM files following the format (no reader code is used).

A WSxM file starts with ``WSxM file copyright UAM`` and a line naming its kind, then ``Image
header size: N`` (N counts the whole text header, from its first byte), ``[Section]`` lines and
indented ``key: value`` lines, ``[Header end]``, and the data: binary for images (``.top``,
``.stp``, ``.gsi``), ASCII columns for curve files (``.cur``, ``.iv``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

COPYRIGHT = "WSxM file copyright UAM"


def header(kind: str, sections: Mapping[str, Mapping[str, object]], *, newline: str = "\r\n") -> bytes:
    """A whole WSxM text header whose ``Image header size`` counts its own bytes."""
    body = ""
    for section, items in sections.items():
        body += f"{newline}[{section}]{newline}{newline}"
        body += "".join(f"    {key}: {value}{newline}" for key, value in items.items())
    body += f"{newline}[Header end]{newline}"
    first = f"{COPYRIGHT}{newline}{kind}{newline}"
    size = (
        len(first.encode("latin-1")) + len(f"Image header size: 0000{newline}") + len(body.encode("latin-1"))
    )
    text = f"{first}Image header size: {size:04d}{newline}{body}".encode("latin-1")
    assert len(text) == size
    return text


def cur_file(
    path: Path,
    lines: list[tuple[np.ndarray, np.ndarray]],
    *,
    spectroscopy: bool = True,
    factor: str = "2 nN",
    offset: str = "0.5 nN",
    inverted: bool = False,
    first_forward: bool = True,
    index: str = "3",
    x_unit: str = "nm",
    y_text: str = "Normal force [#y]",
    y_unit: str = "V",
    kind: str = "FZ curve file",
) -> None:
    """A ``.cur`` curve file: the header, then one text row per point with ``x y`` per line.

    `lines` are ``(x, y)`` pairs of equal length; the rows hold ``x0 y0 x1 y1 ...``. A NaN is
    written the way Windows prints it (``1.#QNAN``).
    """
    points = len(lines[0][0])
    general: dict[str, object] = {
        "Number of lines": len(lines),
        "Number of points": points,
        "X axis text": "Z [#x]",
        "X axis unit": x_unit,
        "Y axis text": y_text,
        "Y axis unit": y_unit,
    }
    sections: dict[str, dict[str, object]] = {"General Info": general}
    if spectroscopy:
        general.update(
            {
                "Channel is inverted": "Yes" if inverted else "No",
                "Conversion Factor 00": factor,
                "Conversion Offset 00": offset,
            }
        )
        sections["Control"] = {
            "Index of this Curve": index,
            "Number of Curves in this serie": 5,
            "Set Point": "1.5 V",
            "Bias": "0.25 V",
        }
        sections["Miscellaneous"] = {"First Forward": "Yes" if first_forward else "No", "Comments": ""}
    rows = []
    for i in range(points):
        cells = []
        for x, y in lines:
            cells += ["1.#QNAN" if np.isnan(v) else repr(float(v)) for v in (x[i], y[i])]
        rows.append(" ".join(cells))
    path.write_bytes(header(kind, sections) + ("\r\n".join(rows) + "\r\n").encode("latin-1"))


def stp_file(
    path: Path, raw: np.ndarray, *, direction: str = "Backward", channel: str = "Normal force"
) -> None:
    """A ``.stp`` file: an image header and ``short`` data, one curve per row."""
    rows, cols = raw.shape
    sections = {
        "Control": {"X Amplitude": "200 nm", "Y Amplitude": "0 nm"},
        "General Info": {
            "Acquisition channel": channel,
            "Image Data Type": "short",
            "Number of columns": cols,
            "Number of rows": rows,
            "X scanning direction": direction,
            "Y scanning direction": "Up",
            "Z Amplitude": "3 V",
        },
        "Miscellaneous": {"Maximum": int(raw.max()), "Minimum": int(raw.min())},
    }
    path.write_bytes(header("SxM Image file", sections) + raw.astype("<i2").tobytes())


def gsi_file(
    path: Path, topography: np.ndarray, ramp: np.ndarray, zs: np.ndarray, *, inverted: bool = False
) -> None:
    """A ``.gsi`` force volume: the topography image, then one ``short`` image per ramp point."""
    rows, cols = topography.shape
    general = {
        "Acquisition channel": "Normal force",
        "ADC to V conversion factor": "0.001 V",
        "Channel is inverted": "Yes" if inverted else "No",
        "Conversion factor 0 for input channel": "4 nN",
        "Conversion offset 0 for input channel": "1 nN",
        "Image Data Type": "short",
        "Number of columns": cols,
        "Number of points per ramp": len(zs),
        "Number of rows": rows,
        "Spectroscopy type": "Z Forward",
        "Z Amplitude": "50 nm",
    }
    sections = {
        "Control": {"X Amplitude": "2 µm", "Y Amplitude": "1 µm"},
        "General Info": general,
        "Miscellaneous": {"Maximum": int(topography.max()), "Minimum": int(topography.min())},
        "Spectroscopy images ramp value list": {f"Image {i:03d}": f"{z} nm" for i, z in enumerate(zs)},
    }
    data = topography.astype("<i2").tobytes() + ramp.astype("<i2").tobytes()
    path.write_bytes(header("SxM Image file", sections) + data)
