"""MDT curve frames (type 190, Nova's "curves"): named blocks indexed by an XML table of contents.

After the 22-byte frame header: the number of blocks (``uint32``), per block its name length and
content length (two ``uint32``), the names (UTF-8), then the contents in the same order. The block
``index.xml`` (UTF-8) describes them: ``Name`` elements (a signal or axis: ``name``, ``unit``,
``bias``, ``scale``), ``Axis`` elements (a sweep: ``name`` = Name index, ``start``, ``stop``,
``count``, ``value`` = the value before the sweep), ``Data`` elements (a block ``name``, an
``offset`` and ``count`` in elements, ``type`` ``float64`` or 32-bit integers), ``Meas`` elements
(one curve: ``name`` = Name index of the signal, ``data`` = Data index, ``axis0`` = Axis index,
``inverse0`` = axis options: 1 measured from stop to start, 2 relative to the axis ``value``) and
``Point`` elements (a position ``x``, ``y`` in ``unit``, ``meas`` signals x ``exec`` passes, and a
block ``name`` + byte ``offset`` where ``meas * exec`` forward then as many backward Meas indices
are stored as ``int32``; an offset of -1 continues after the previous point of the same block).
``float64`` data are values in the signal's unit; integers are
``bias + scale * raw``. ``__xmlparams.xml`` blocks hold the UTF-16 frame parameters (as the MDA
frames' XML), whose ``Parameters/Name`` is the frame title. This is the layout Gwyddion's
``nt-mdt.c`` reads.
"""

from __future__ import annotations

import struct
import xml.etree.ElementTree as ET
from typing import Any

from pycrox.readers.ntmdt_mdt._cursor import Cursor

__all__ = ["INVERTED", "RELATIVE", "parse"]

INVERTED = 1
RELATIVE = 2
_MAX_BLOCKS = 10_000_000


def parse(r: Cursor) -> dict[str, Any]:
    """The block table, the parsed ``index.xml`` and the frame parameters of a curve frame.

    Raises
    ------
    FormatError
        When the block table runs past the frame, ``index.xml`` is missing or malformed, or an
        index refers to a block, data record or curve that does not exist.
    """
    (count,) = r.take("<I")
    if count > min(_MAX_BLOCKS, r.remaining() // 8):
        raise r.fail(
            f"the curve frame claims {count} blocks, more than its {r.remaining()} bytes can hold", at=0
        )
    sizes = [r.take("<II") for _ in range(count)]
    names = [r.raw(n).decode("utf-8", errors="replace") for n, _ in sizes]
    blocks: dict[str, list[tuple[int, int]]] = {}
    pos = r.pos
    for name, (_, length) in zip(names, sizes, strict=True):
        blocks.setdefault(name, []).append((pos, length))
        pos += length
    if r.base + pos > r.end:
        raise r.fail(
            f"the curve frame's blocks end at {r.base + pos}, past the frame end {r.end} (truncated?)"
        )
    if "index.xml" not in blocks:
        raise r.fail(f"the curve frame has no index.xml block; blocks are {sorted(blocks)[:10]}")
    start, length = blocks["index.xml"][0]
    text = r.block(start, length, "the index.xml block").decode("utf-8", errors="replace")
    index = _index(r, text, start)
    points = []
    running: dict[str, int] = {}  # the next free offset in each point block
    for i, point in enumerate(index["points"]):
        if point["block"] not in blocks:
            raise r.fail(
                f"point {i} names the block {point['block']!r}, which the frame does not hold", at=start
            )
        bstart, blen = blocks[point["block"]][0]
        n = point["meas"] * point["exec"]
        if point["offset"] < 0:  # -1: right after the previous point of the same block
            point["offset"] = running.get(point["block"], 0)
        running[point["block"]] = point["offset"] + 8 * n
        if n < 0 or point["offset"] + 8 * n > blen:
            raise r.fail(
                f"point {i} needs {8 * n} bytes of curve indices at {point['offset']} in "
                f"{point['block']!r}, which holds {blen}",
                at=bstart,
            )
        raw = r.block(bstart + point["offset"], 8 * n, f"the curve indices of point {i}")
        ids = struct.unpack(f"<{2 * n}i", raw)
        points.append({**point, "forward": list(ids[:n]), "backward": list(ids[n:])})
    index["points"] = points
    for i, data in index["data"].items():
        if data["block"] not in blocks:
            raise r.fail(f"data record {i} names the block {data['block']!r}, which the frame does not hold")
        bstart, blen = blocks[data["block"]][0]
        itemsize = 8 if data["type"] == "float64" else 4
        if data["offset"] < 0 or data["count"] < 0 or (data["offset"] + data["count"]) * itemsize > blen:
            raise r.fail(
                f"data record {i} claims {data['count']} values from element {data['offset']} of "
                f"{data['block']!r}, which holds {blen} bytes",
                at=bstart,
            )
        data["position"] = r.base + bstart + data["offset"] * itemsize
    parameters = ""
    if "__xmlparams.xml" in blocks:
        pstart, plen = blocks["__xmlparams.xml"][0]
        parameters = r.block(pstart, plen, "the __xmlparams.xml block").decode("utf-16", errors="replace")
    return {
        "blocks": {k: [(r.base + s, n) for s, n in v] for k, v in blocks.items()},
        "index": index,
        "index_xml": text,
        "xml": parameters.rstrip("\x00"),
    }


def _index(r: Cursor, text: str, at: int) -> dict[str, Any]:
    try:
        root = ET.fromstring(text.lstrip("\ufeff"))
    except ET.ParseError as exc:
        raise r.fail(f"index.xml is not well-formed XML ({exc})", at=at) from exc
    out: dict[str, Any] = {"names": {}, "axes": {}, "data": {}, "meas": {}, "points": [], "params": {}}
    try:
        for el in root.iter():
            a = el.attrib
            if el.tag == "Name":
                out["names"][int(a["index"])] = {
                    "name": a.get("name", ""),
                    "unit": a.get("unit", ""),
                    "bias": _float(a.get("bias", "0")),
                    "scale": _float(a.get("scale", "1")),
                }
            elif el.tag == "Axis":
                out["axes"][int(a["index"])] = {
                    "name": int(a["name"]),
                    "start": _float(a["start"]),
                    "stop": _float(a["stop"]),
                    "count": int(a["count"]),
                    "value": _float(a.get("value", "0")),
                }
            elif el.tag == "Data":
                out["data"][int(a["index"])] = {
                    "block": a["name"],
                    "offset": int(a.get("offset", "0")),
                    "count": int(a["count"]),
                    "type": a.get("type", "int32"),
                }
            elif el.tag == "Meas":
                out["meas"][int(a["index"])] = {
                    "name": int(a["name"]),
                    "data": int(a["data"]),
                    "axis": int(a["axis0"]),
                    "options": int(a.get("inverse0", "0")),
                    "pass": int(a.get("pass", "0")),
                }
            elif el.tag == "Point":
                out["points"].append(
                    {
                        "index": int(a.get("index", len(out["points"]))),
                        "block": a["name"],
                        "offset": int(a.get("offset", "-1")),
                        "x": _float(a.get("x", "nan")),
                        "y": _float(a.get("y", "nan")),
                        "z": _float(a.get("z", "nan")),
                        "unit": a.get("unit", ""),
                        "meas": int(a.get("meas", "1")),
                        "exec": int(a.get("exec", "1")),
                    }
                )
            elif el.tag == "Param" and "name" in a:
                out["params"][a["name"]] = a.get("value", "")
    except (KeyError, ValueError) as exc:
        raise r.fail(f"index.xml has an element with a missing or invalid attribute ({exc})", at=at) from exc
    out["points"].sort(key=lambda p: p["index"])
    return out


def _float(text: str) -> float:
    return float(text.replace(",", "."))
