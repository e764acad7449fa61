"""Write small NT-MDT MDT files byte by byte, following the format (no reader code is used).

File header (33 bytes): ``01 B0 93 FF``, the size without the header (``uint32``), 4 reserved
bytes, the last frame index (``uint16``) and 19 reserved bytes. Frame header (22 bytes): size
(``uint32``, header included), type (``uint16``), version minor and major (two ``uint8``), year,
month, day, hour, minute, second (six ``uint16``) and the size of the scan variables (``uint16``).
The frame bodies are described where they are built.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

DATE = (2024, 5, 17, 11, 28, 39)

#: unit codes of the format used here
NM, UM, ANGSTROM, NA, V = -1, -2, 0, 1, 2


def mdt_file(frames: Sequence[bytes]) -> bytes:
    """An MDT file holding `frames` (each a whole frame, header included)."""
    body = b"".join(frames)
    head = b"\x01\xb0\x93\xff" + struct.pack("<I", len(body)) + b"\0" * 4
    head += struct.pack("<H", len(frames) - 1) + b"\0" * 19
    assert len(head) == 33
    return head + body


def frame(ftype: int, body: bytes, var_size: int = 0, date: tuple[int, ...] = DATE) -> bytes:
    """One frame: the 22-byte header, then `body`."""
    header = struct.pack("<IHBB6HH", 22 + len(body), ftype, 0, 1, *date, var_size)
    return header + body


@dataclass
class Scan:
    """The scan variables and frame mode of a classic frame (type 0, 1 or 201)."""

    x: tuple[float, float, int] = (1.5, 0.25, UM)  #: offset, step, unit code
    y: tuple[float, float, int] = (-2.0, 0.5, UM)
    z: tuple[float, float, int] = (10.0, 0.01, NM)
    channel: int = 0  #: ADC mode: 0 height
    bias: float = 0.75
    setpoint: float = 1.25
    scan_dir: int = 1 | 4
    title: str = "Height"
    xml: str = "<Parameters><Technique>1</Technique></Parameters>"
    dots: list[tuple[float, float, int, int]] = field(default_factory=list)  #: x, y, forward, backward
    dots_unit: int = NM
    var_size: int = 107  #: bytes of scan variables (Gwyddion's minimum); the unread rest is zero


def classic_frame(
    ftype: int, values: np.ndarray, scan: Scan, *, xres: int | None = None, yres: int | None = None
) -> bytes:
    """A classic frame: scan variables, frame mode, dots, ``int16`` values, title and XML.

    Scan variables: three axis scales (``float32`` offset, ``float32`` step, ``int16`` unit), then
    ADC mode and device mode (``uint8``), x/y resolution and DAC step (``uint16``), step length
    (``float32``), ADT (``uint16``), ADC gain and index, version, pass number, scan direction and
    power-of-2 flag (six ``uint8``), velocity, set point and bias (``float32``), draw flag and a
    reserved byte, x/y DAC offsets (``int32``) and the non-linearity flag (``uint8``), padded
    with zeros to `var_size`. Frame mode: mode, xres, yres, number of dots (``uint16``).
    """
    values = np.asarray(values, dtype="<i2")
    yres = yres if yres is not None else (values.shape[0] if values.ndim == 2 else 1)
    xres = xres if xres is not None else values.shape[-1]
    body = b"".join(struct.pack("<ffh", *axis) for axis in (scan.x, scan.y, scan.z))
    body += struct.pack(
        "<BBHHHfHBBBBBBfffBBiiB",
        scan.channel,
        1,
        xres,
        yres,
        1,
        2.5,
        3,
        1,
        0,
        8,
        0,
        scan.scan_dir,
        1,
        1000.0,
        scan.setpoint,
        scan.bias,
        0,
        0,
        -7,
        9,
        1,
    )
    assert len(body) == 73
    body += b"\0" * (scan.var_size - len(body))
    body += struct.pack("<HHHH", 0, xres, yres, len(scan.dots))
    if scan.dots:
        body += struct.pack("<iiih", 10, 16, 1, scan.dots_unit)
        body += b"".join(struct.pack("<ffii", *dot) for dot in scan.dots)
    body += values.tobytes()
    title = scan.title.encode("cp1251")
    body += struct.pack("<I", len(title)) + title
    xml = scan.xml.encode("utf-16-le")
    body += struct.pack("<I", len(xml)) + xml
    return frame(ftype, body, scan.var_size)


@dataclass
class Curve:
    """One curve of a curve frame (190): its values and how index.xml describes it."""

    values: np.ndarray
    point: int
    direction: int  #: 0 forward, 1 backward (the point's first or second index list)
    name: int = 1  #: Name index of the signal
    options: int = 0  #: 1 measured from stop to start, 2 relative to the axis value
    integer: bool = False  #: stored as int32 (bias + scale * raw) instead of float64
    passno: int = 0


def curves_frame(
    curves: Sequence[Curve],
    points: Sequence[tuple[float, float]],
    *,
    axis: tuple[float, float, int, float] = (-1.0, 1.0, 5, 0.25),  #: start, stop, count, value
    names: Sequence[tuple[str, str, float, float]] = (("Bias", "V", 0.0, 1.0), ("Current", "nA", 0.5, 0.01)),
    title: str = "I(V) map",
    extra_xml: str = "",
    shared_point_block: bool = False,
) -> bytes:
    """A curve frame (190): a block table, the blocks, ``index.xml`` and ``__xmlparams.xml``.

    Each curve is its own data block (``data<i>.dat``); each point its own index block
    (``point<i>.dat``: forward then backward curve indices, ``int32``), with as many entries per
    direction as the point's ``exec`` count (the largest number of passes of any point). With
    `shared_point_block`, all points' indices follow each other in one block ``points.dat`` and
    every point but the first has ``offset="-1"`` (right after the previous one).
    """
    blocks: list[tuple[str, bytes]] = [("__GUID__", bytes(range(16)))]
    xml = ['<?xml version="1.0" encoding="UTF-8"?>', "<Comment>", '  <Info version="1.0">', "    <Params/>"]
    for i, (name, unit, bias, scale) in enumerate(names):
        xml.append(f'    <Name name="{name}" unit="{unit}" bias="{bias}" scale="{scale}" index="{i}"/>')
    start, stop, count, value = axis
    xml.append(
        f'    <Axis name="0" count="{count}" value="{value}" start="{start}" stop="{stop}" index="0"/>'
    )
    for i, curve in enumerate(curves):
        raw = np.asarray(curve.values, dtype="<i4" if curve.integer else "<f8")
        blocks.append((f"data{i}.dat", raw.tobytes()))
        kind = "int32" if curve.integer else "float64"
        xml.append(f'    <Data name="data{i}.dat" offset="0" count="{raw.size}" type="{kind}" index="{i}"/>')
    for i, curve in enumerate(curves):
        xml.append(
            f'    <Meas name="{curve.name}" data="{i}" pass="{curve.passno}" axis0="0" '
            f'inverse0="{curve.options}" index="{i}"/>'
        )
    execs = max(
        [
            sum(1 for c in curves if c.point == p and c.direction == d)
            for p in range(len(points))
            for d in (0, 1)
        ]
        + [1]
    )
    for p, (x, y) in enumerate(points):
        lists = []
        for d in (0, 1):
            ids = [i for i, c in enumerate(curves) if c.point == p and c.direction == d]
            lists += ids + [-1] * (execs - len(ids))
        packed = struct.pack(f"<{len(lists)}i", *lists)
        if shared_point_block:
            shared = (blocks.pop()[1] if p else b"") + packed
            blocks.append(("points.dat", shared))
        else:
            blocks.append((f"point{p}.dat", packed))
        block, offset = (
            ("points.dat", "0" if p == 0 else "-1") if shared_point_block else (f"point{p}.dat", "0")
        )
        xml.append(
            f'    <Point name="{block}" offset="{offset}" meas="1" exec="{execs}" x="{x}" y="{y}" '
            f'z="-1" unit="um" index="{p}"/>'
        )
    xml += [extra_xml, "  </Info>", "</Comment>"]
    blocks.append(("index.xml", "\n".join(xml).encode("utf-8")))
    params = (
        '<?xml version="1.0" encoding="UTF-16"?>\n<FrameComment><Parameters><Common>'
        "<Date>17.05.2024</Date><Probe><Stiffness>3.5</Stiffness></Probe></Common>"
        f"<DeviceType>NtegraEx</DeviceType><Name>{title}</Name></Parameters></FrameComment>"
    )
    blocks.append(("__xmlparams.xml", params.encode("utf-16")))
    body = struct.pack("<I", len(blocks))
    body += b"".join(struct.pack("<II", len(n.encode()), len(b)) for n, b in blocks)
    body += b"".join(n.encode() for n, _ in blocks)
    body += b"".join(b for _, b in blocks)
    return frame(190, body)
