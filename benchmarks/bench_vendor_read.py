"""Reading large vendor files: pycrox against the reference readers and raw numpy.

Builds, in a scratch folder, a DM4 EELS spectrum image (256 x 256 x 2048 float32, 512 MiB; written
by the minimal DM4 writer below, since nothing installed writes DM4) and an MRC movie
(64 x 1024 x 1024 float32, 256 MiB, written with mrcfile). With the files in the page cache
(hot cache) it times, as the median of interleaved runs:

* opening without reading (pycrox; target < 0.2 s),
* opening and reading everything into memory: pycrox (``.values``), rosettasciio (eager),
  ``numpy.fromfile`` of the same bytes (target: pycrox within 1.5x), SciFiReaders ``DMReader``
  (once; target: pycrox >= 20x faster) and mrcfile for the MRC file,

and, each in a fresh process, the peak resident memory above the process's baseline while
reading (target: pycrox <= 1.3x the data size).

Run ``python benchmarks/bench_vendor_read.py [--runs 5] [--dir PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from _common import status_bytes  # run as a script from benchmarks/

SI_SHAPE = (2048, 256, 256)  # C order: energy_loss, y, x (DM Dimensions 256, 256, 2048)
MOVIE_SHAPE = (64, 1024, 1024)
MIB = 1 << 20


# ----------------------------------------------------------------------------------- a minimal DM4 writer


class Block:
    """A large array written in chunks by `fill(fh)`, `nbytes` long, without holding it in memory."""

    def __init__(self, nbytes: int, fill: Callable) -> None:
        self.nbytes, self.fill = nbytes, fill


def _size(parts: list) -> int:
    return sum(p.nbytes if isinstance(p, Block) else len(p) for p in parts)


def _group(tags: dict) -> list:
    parts: list = [b"\0\0" + struct.pack(">Q", len(tags))]
    for name, value in tags.items():
        kind, body = (20, _group(value)) if isinstance(value, dict) else (21, [b"%%%%", *_data(value)])
        raw = b"" if name.startswith("#") else name.encode("latin-1")
        parts += [bytes([kind]) + struct.pack(">H", len(raw)) + raw + struct.pack(">Q", _size(body)), *body]
    return parts


def _data(value) -> list:
    if isinstance(value, Block):  # float32 array
        info, payload = [20, 6, value.nbytes // 4], value
    elif isinstance(value, int):
        info, payload = [3], struct.pack("<i", value)
    elif isinstance(value, float):
        info, payload = [7], struct.pack("<d", value)
    else:  # text: an array of UTF-16 code units
        info, payload = [20, 4, len(value)], value.encode("utf-16-le")
    return [struct.pack(">Q", len(info)) + b"".join(struct.pack(">Q", w) for w in info), payload]


def write_dm4(path: Path, tags: dict) -> None:
    """Write a DM4 file (little-endian values); `Block` leaves are streamed."""
    root = _group(tags)
    with open(path, "wb") as fh:
        fh.write(struct.pack(">I", 4) + struct.pack(">Q", _size(root)) + struct.pack(">I", 1))
        for part in root:
            part.fill(fh) if isinstance(part, Block) else fh.write(part)
        fh.write(b"\0" * 8)


def _random_float32(shape: tuple[int, ...]) -> Block:
    count = int(np.prod(shape))

    def fill(fh) -> None:
        rng = np.random.default_rng(0)
        for start in range(0, count, 4 * MIB):
            rng.random(min(4 * MIB, count - start), dtype=np.float32).tofile(fh)

    return Block(count * 4, fill)


def build_dm4(path: Path) -> None:
    energy, ny, nx = SI_SHAPE
    calibration = {
        "#0": {"Origin": 0.0, "Scale": 2.0, "Units": "nm"},
        "#1": {"Origin": 0.0, "Scale": 2.0, "Units": "nm"},
        "#2": {"Origin": -200.0, "Scale": 0.5, "Units": "eV"},
    }
    image = {
        "ImageData": {
            "Calibrations": {
                "Brightness": {"Origin": 0.0, "Scale": 1.0, "Units": "counts"},
                "Dimension": calibration,
            },
            "Data": _random_float32(SI_SHAPE),
            "DataType": 2,
            "Dimensions": {"#0": nx, "#1": ny, "#2": energy},
            "PixelDepth": 4,
        },
        "ImageTags": {
            "Meta Data": {"Format": "Spectrum image", "Signal": "EELS"},
            "Microscope Info": {"Voltage": 200000.0},
        },
        "Name": "bench_SI",
    }
    write_dm4(path, {"ImageList": {"#0": image}})


def build_mrc(path: Path) -> None:
    import mrcfile

    rng = np.random.default_rng(1)
    with mrcfile.new_mmap(path, shape=MOVIE_SHAPE, mrc_mode=2, overwrite=True) as mrc:
        for i in range(MOVIE_SHAPE[0]):
            mrc.data[i] = rng.random(MOVIE_SHAPE[1:], dtype=np.float32)
        mrc.voxel_size = 1.5


def data_block(path: Path) -> tuple[int, int]:
    """Offset and size of the spectrum image's data block, from the tag tree (pycrox's parser)."""
    from pycrox.readers.dm import _tags
    from pycrox.sources import open_source

    block = _tags.read_tags(open_source(path)).tags["ImageList"]["TagGroup0"]["ImageData"]["Data"]
    return block.offset, block.nbytes


# ----------------------------------------------------------------------------------- the readers


def readers(dm4: Path, mrc: Path) -> dict[str, Callable[[], object]]:
    import mrcfile

    import pycrox

    offset, _ = data_block(dm4)
    with mrcfile.open(mrc, header_only=True) as m:
        mrc_offset = 1024 + int(m.header.nsymbt)

    def rsciio_dm() -> np.ndarray:
        from rsciio.digitalmicrograph import file_reader

        return np.asarray(file_reader(str(dm4))[0]["data"])

    def rsciio_mrc() -> np.ndarray:
        from rsciio.mrc import file_reader

        return np.asarray(file_reader(str(mrc))[0]["data"])

    def scifi_dm() -> np.ndarray:
        from SciFiReaders import DMReader

        return np.asarray(next(iter(DMReader(str(dm4), verbose=False).read().values())))

    def mrcfile_read() -> np.ndarray:
        return mrcfile.read(mrc)

    return {
        "dm4 pycrox open": lambda: pycrox.open(dm4),
        "dm4 pycrox read": lambda: pycrox.open(dm4).values,
        "dm4 numpy.fromfile": lambda: np.fromfile(dm4, "<f4", int(np.prod(SI_SHAPE)), offset=offset).reshape(
            SI_SHAPE
        ),
        "dm4 rosettasciio": rsciio_dm,
        "dm4 SciFiReaders": scifi_dm,
        "mrc pycrox open": lambda: pycrox.open(mrc),
        "mrc pycrox read": lambda: pycrox.open(mrc).values,
        "mrc numpy.fromfile": lambda: np.fromfile(mrc, "<f4", int(np.prod(MOVIE_SHAPE)), offset=mrc_offset),
        "mrc mrcfile": mrcfile_read,
        "mrc rosettasciio": rsciio_mrc,
    }


ONCE = ("dm4 SciFiReaders",)


# ----------------------------------------------------------------------------------- measuring


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 * MIB):
            pass


def timings(methods: dict[str, Callable], runs: int) -> dict[str, dict]:
    samples: dict[str, list[float]] = {name: [] for name in methods}
    errors: dict[str, str] = {}
    for name, method in methods.items():  # warm-up run (imports, caches), not timed
        if name in ONCE:
            continue
        try:
            method()
        except Exception as exc:  # noqa: BLE001  (a reference reader failing is a result, not a crash)
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
    for _ in range(runs):
        for name, method in methods.items():
            if name in errors or (name in ONCE and samples[name]):
                continue
            start = time.perf_counter()
            try:
                result = method()
            except Exception as exc:  # noqa: BLE001  (reported in the table)
                errors[name] = f"{type(exc).__name__}: {exc}"[:200]
                continue
            samples[name].append(time.perf_counter() - start)
            del result
    return {
        name: {"median_s": statistics.median(s), "runs": len(s)}
        if s
        else {"error": errors.get(name, "not run")}
        for name, s in samples.items()
    }


def rss_child(name: str, dm4: Path, mrc: Path) -> None:
    """In a fresh process: peak RSS above the baseline while one reader reads (printed as JSON)."""
    methods = readers(dm4, mrc)
    import rsciio.digitalmicrograph
    import rsciio.mrc  # noqa: F401

    import pycrox  # noqa: F401  (imports count as baseline)

    with contextlib.suppress(OSError):  # reset the peak (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    baseline = status_bytes("VmRSS")
    result = methods[name]()
    peak = status_bytes("VmHWM")
    print(json.dumps({"extra_bytes": peak - baseline, "result_bytes": int(np.asarray(result).nbytes)}))


def memory(names: list[str], dm4: Path, mrc: Path) -> dict[str, dict]:
    out = {}
    for name in names:
        cmd = [sys.executable, __file__, "--rss-child", name, "--dm4", str(dm4), "--mrc", str(mrc)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        out[name] = (
            json.loads(line) if proc.returncode == 0 and line else {"error": proc.stderr.strip()[-300:]}
        )
    return out


# ----------------------------------------------------------------------------------- report


def report(times: dict[str, dict], mem: dict[str, dict]) -> list[str]:
    lines = [f"{'reader':24s} {'median':>10s} {'runs':>5s} {'peak RSS above baseline':>26s}"]
    for name, t in times.items():
        m = mem.get(name, {})
        rss = (
            f"{m['extra_bytes'] / MIB:8.0f} MiB ({m['extra_bytes'] / m['result_bytes']:.2f}x data)"
            if ("extra_bytes" in m and m.get("result_bytes"))
            else ""
        )
        cell = (
            f"{t['median_s']:9.3f}s {t['runs']:5d}"
            if "median_s" in t
            else f"{'failed':>10s} {t['error'][:60]}"
        )
        lines.append(f"{name:24s} {cell} {rss:>26s}")
    lines += ["", *targets(times, mem)]
    return lines


def _ratio(times: dict[str, dict], a: str, b: str) -> float | None:
    if "median_s" in times.get(a, {}) and "median_s" in times.get(b, {}):
        return times[a]["median_s"] / times[b]["median_s"]
    return None


def targets(times: dict[str, dict], mem: dict[str, dict]) -> Iterator[str]:
    for kind in ("dm4", "mrc"):
        opened = times.get(f"{kind} pycrox open", {}).get("median_s")
        if opened is not None:
            yield f"{kind}: open without reading {opened:.3f} s (target < 0.2 s): {'met' if opened < 0.2 else 'MISSED'}"
        ratio = _ratio(times, f"{kind} pycrox read", f"{kind} numpy.fromfile")
        if ratio is not None:
            yield f"{kind}: pycrox / numpy.fromfile = {ratio:.2f} (target <= 1.5): {'met' if ratio <= 1.5 else 'MISSED'}"
        for ref in ("rosettasciio", "SciFiReaders", "mrcfile"):
            slower = _ratio(times, f"{kind} {ref}", f"{kind} pycrox read")
            if slower is not None:
                goal = (
                    f" (target >= 20): {'met' if slower >= 20 else 'MISSED'}" if ref == "SciFiReaders" else ""
                )
                yield f"{kind}: {ref} takes {slower:.2f}x pycrox's time{goal}"
        m = mem.get(f"{kind} pycrox read", {})
        if m.get("result_bytes"):
            factor = m["extra_bytes"] / m["result_bytes"]
            yield f"{kind}: pycrox peak RSS {factor:.2f}x data (target <= 1.3): {'met' if factor <= 1.3 else 'MISSED'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--dm4", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--mrc", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.dm4, args.mrc)
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="pycrox-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        dm4, mrc = folder / "bench_SI.dm4", folder / "bench_movie.mrc"
        if not dm4.exists():
            build_dm4(dm4)
        if not mrc.exists():
            build_mrc(mrc)
        _warm(dm4)
        _warm(mrc)
        methods = readers(dm4, mrc)
        if not _has_mrc_reader():
            methods = {k: v for k, v in methods.items() if not k.startswith("mrc pycrox")}
        times = timings(methods, args.runs)
        mem = memory([n for n in methods if not n.endswith("open") and n not in ONCE], dm4, mrc)
        lines = report(times, mem)
        print("\n".join(lines))
        if args.json:
            args.json.write_text(json.dumps({"timings": times, "memory": mem, "summary": lines}, indent=1))
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _has_mrc_reader() -> bool:
    import importlib.util

    return importlib.util.find_spec("pycrox.readers.mrc") is not None


if __name__ == "__main__":
    sys.exit(main())
