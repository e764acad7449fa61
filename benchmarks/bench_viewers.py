"""Viewer benchmark: time from the call to the first picture and from a click to its spectrum.

A spectrum image of ``side x side x channels`` float32 in Zarr with chunks (64, 64, channels), hot
cache (every case runs once untimed first). The navigator is the sum over a 64-channel window.
Targets (issue #20, at 512 x 512 x 2048): first image < 1 s, click to spectrum < 0.2 s.

Cases, first picture:
* ``explore``: `pycrox.viz.explore.explore` on ``pycrox.open(path)`` (matplotlib figure, drawn with Agg)
* ``ipywidgets Image``: the same navigator PNG-encoded into an ``ipywidgets.Image`` (the other frontend)
* ``web``: `pycrox.viz.web.Viewer` open + navigator PNG (what ``pycrox view`` serves)
* ``raw zarr``: ``zarr.open_array(...)[:, :, 0:64].sum(-1)`` (the floor: the chunks must be decoded)
Cases, click (the handler until the spectrum is in the figure; ipympl redraws asynchronously, so the
canvas draw is left out, and timed apart with Agg's synchronous draw): ``explore.click`` in a tile (64 x 64 positions, one chunk column) not read yet and in the
tile just read (kept by `pycrox.viz._roles.TileCache`), a new tile plus a full Agg redraw, ``web spectrum``
(JSON), ``raw zarr`` pixel read (decodes the whole chunk).

Run: python benchmarks/bench_viewers.py [--side 512] [--channels 2048] [--runs 5] [--channel-chunk 256]
(``--channel-chunk 256`` stores chunks (64, 64, 256): a 64-channel navigator then decodes an eighth.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import dask.array as dsa
import matplotlib
import numpy as np
import zarr

matplotlib.use("Agg")
from matplotlib import pyplot

import pycrox
from pycrox.viz.explore import explore
from pycrox.viz.web import Viewer
from pycrox.viz.web._png import encode, to_grey

try:
    from benchmarks._common import interleaved
except ImportError:  # run as a script
    from _common import interleaved


def _write(path: Path, side: int, channels: int, along: int) -> None:
    """Smooth spectra (a decaying background and a peak moving across the scan) plus noise."""
    if (path / "zarr.json").exists():
        return
    energy = np.arange(channels, dtype=np.float32)
    rng = dsa.random.default_rng(0)
    noise = rng.random((side, side, channels), chunks=(64, 64, channels), dtype="float32")
    ramp = dsa.arange(side, chunks=64, dtype="float32")[:, None, None] / side
    data = (
        100 * np.exp(-energy / 500) + 50 * dsa.exp(-0.5 * ((energy - 300 - 800 * ramp) / 20) ** 2) + 5 * noise
    )
    data = data.astype("float32").rechunk((64, 64, along))
    da = pycrox.from_array(
        data,
        dims=("y", "x", "energy_loss"),
        coords={
            "y": {"values": 0.5 * np.arange(side), "units": "nm"},
            "x": {"values": 0.5 * np.arange(side), "units": "nm"},
            "energy_loss": {"values": 100 + 0.25 * energy, "units": "eV"},
        },
        quantity="Intensity",
        units="counts",
        title="bench SI",
    )
    pycrox.to_zarr(da, path, mode="w")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--side", type=int, default=512)
    parser.add_argument("--channels", type=int, default=2048)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--channel-chunk", type=int, default=0, help="chunk along the spectrum (default: all)"
    )
    parser.add_argument("--folder", default=os.path.join(tempfile.gettempdir(), "pycrox-bench-viewers"))
    args = parser.parse_args()
    along = args.channel_chunk or args.channels
    suffix = "" if along == args.channels else f"_c{along}"
    path = Path(args.folder) / f"si_{args.side}x{args.side}x{args.channels}{suffix}.zarr"
    path.parent.mkdir(parents=True, exist_ok=True)
    _write(path, args.side, args.channels, along)
    variable = next(
        p.parent.name for p in path.glob("*/zarr.json") if p.parent.name not in ("x", "y", "energy_loss")
    )
    raw = zarr.open_array(path / variable, mode="r")

    def first_explore() -> None:
        viewer = explore(pycrox.open(path), window=(0, 64))
        viewer.figure.canvas.draw()
        pyplot.close(viewer.figure)

    def first_ipywidgets() -> None:
        import ipywidgets

        da = pycrox.open(path)
        navigator = np.asarray(da.isel(energy_loss=slice(0, 64)).values).sum(-1)
        ipywidgets.Image(value=encode(to_grey(navigator)[0]), format="png")

    def first_web() -> None:
        viewer = Viewer.open(path)
        encode(to_grey(viewer.picture(next(iter(viewer.signals)), {"start": "0", "stop": "64"})[0])[0])

    def first_raw() -> None:
        np.asarray(raw[:, :, 0:64]).sum(-1)

    first = interleaved(
        {
            "explore": first_explore,
            "ipywidgets Image": first_ipywidgets,
            "web": first_web,
            "raw zarr": first_raw,
        },
        args.runs,
    )
    viewer = explore(pycrox.open(path), window=(0, 64))
    web = Viewer.open(path)
    signal = next(iter(web.signals))
    rng = np.random.default_rng(1)
    pixels = [tuple(int(v) for v in rng.integers(0, args.side, 2)) for _ in range(3 * args.runs + 3)]
    counter = iter(pixels * 4)

    last = [(0, 0)]
    draw_idle = viewer.figure.canvas.draw_idle

    def click_explore_new_tile() -> None:
        viewer._tiles._tiles.clear()  # a pixel in a tile not read yet
        last[0] = next(counter)
        viewer.click(*last[0])

    def click_explore_same_tile() -> None:
        i, j = last[0]
        viewer.click(i - i % 64 + (i + 1) % 64, j)  # a neighbour in the tile just read

    def click_explore_draw() -> None:
        viewer._tiles._tiles.clear()
        viewer.figure.canvas.draw_idle = draw_idle
        try:
            viewer.click(*next(counter))
        finally:
            viewer.figure.canvas.draw_idle = lambda: None

    # Agg's draw_idle draws at once; ipympl's only asks the browser to redraw later: time the handler
    # up to the spectrum being in the figure, and (separately) with a full synchronous Agg draw
    viewer.figure.canvas.draw_idle = lambda: None

    def click_web() -> None:
        web._tile_caches.clear()
        i, j = next(counter)
        json.dumps(web.spectrum(signal, {"i": str(i), "j": str(j)}))

    def click_raw() -> None:
        i, j = next(counter)
        np.asarray(raw[i, j, :])

    click = interleaved(
        {
            "explore.click (new tile)": click_explore_new_tile,
            "explore.click (same tile)": click_explore_same_tile,
            "explore.click (new tile) + Agg draw": click_explore_draw,
            "web spectrum (new tile)": click_web,
            "raw zarr": click_raw,
        },
        args.runs,
    )
    report = {
        "shape": [args.side, args.side, args.channels],
        "chunks": [64, 64, along],
        "first_picture": first,
        "click_to_spectrum": click,
    }
    for name, results in (("first_picture", first), ("click_to_spectrum", click)):
        base = results["raw zarr"]["median_s"]
        report[f"{name}_ratio_to_raw"] = {
            k: {"median": v["median_s"] / base, "min": v["min_s"] / base, "max": v["max_s"] / base}
            for k, v in results.items()
            if "median_s" in v
        }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
