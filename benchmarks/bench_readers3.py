"""HyperSpy, TVIPS blockfile and Renishaw WDF readers: pycrox against rosettasciio, and a virtual image.

1. Every corpus file of the three formats (``../shared/data/vendor/{hspy,blockfile,renishaw}``):
   open and read every signal into memory, pycrox (``open_tree`` + ``.values`` of each node)
   against rosettasciio's eager ``file_reader``, as medians of interleaved runs; per file the
   ratio rosettasciio / pycrox (> 1: pycrox faster) with its min-max over the runs. Every
   reader's arrays go through `read_all`, which copies memory-mapped arrays into memory
   (rosettasciio's blockfile reader returns a ``numpy.memmap`` that ``numpy.asarray`` does not
   read), so that every case reads all the bytes.
2. A synthetic blockfile of about 1 GiB (``--scan 128``: 128 x 128 patterns of 256 x 256 uint8,
   written here following the TVIPS layout) read hot from the page cache: a virtual annular
   dark-field image (sum over a detector mask) streamed chunk by chunk through pycrox's lazy
   reader and dask, against the same sum over the same chunks read with ``numpy.fromfile``
   (a raw loop over the same bytes), and ``numpy.fromfile`` of all bytes alone. Target: pycrox
   at least 0.8 x the speed of ``numpy.fromfile``.
3. Large files, open + read everything: the synthetic blockfile and a 128 MiB HSPY cube written
   with HyperSpy, pycrox against rosettasciio and ``numpy.fromfile`` of the whole file.

Run ``python benchmarks/bench_readers3.py [--runs 5] [--scan 128] [--dir PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import mmap
import shutil
import statistics
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import interleaved  # run as a script from benchmarks/

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "vendor"
FOLDERS = ("hspy", "blockfile", "renishaw")
DP = 256
ROWS_PER_CHUNK = 8


# ----------------------------------------------------------------------------------- part 1: the corpus


def read_all(array: object) -> np.ndarray:
    """`array` as a numpy array in memory: a memory-mapped one (at any depth of ``.base``) is copied."""
    out = np.asarray(array)  # lazy (dask, xarray-indexed) arrays are computed here
    base: object = out
    while base is not None:
        if isinstance(base, mmap.mmap | np.memmap):
            return np.array(out, copy=True)
        base = getattr(base, "base", None)
    return out


def _pycrox_read(path: Path) -> Callable[[], object]:
    import pycrox
    from pycrox import model

    def run() -> object:
        tree = pycrox.open_tree(path)
        return [read_all(da.values) for da in model.signal_nodes(tree).values()]

    return run


def _rsciio_read(folder: str, path: Path) -> Callable[[], object]:
    import importlib

    module = importlib.import_module(f"rsciio.{folder}")

    def run() -> object:
        return [read_all(s["data"]) for s in module.file_reader(str(path))]

    return run


def tree_floor(path: Path, runs: int) -> dict:
    """What xarray alone takes to assemble the tree pycrox returns for `path`, from its nodes' datasets.

    A floor of pycrox's fixed cost per file: ``xarray.DataTree.from_dict`` of the same nodes
    (copies and alignment checks of every node), without reading or parsing anything.
    """
    import xarray as xr

    import pycrox

    try:
        with pycrox.open_tree(path) as tree:
            nodes = {node.path: node.to_dataset(inherit=False) for node in tree.subtree}
    except Exception as exc:  # noqa: BLE001 - reported, like the cases' own errors
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    return interleaved({"floor": lambda: xr.DataTree.from_dict(nodes)}, runs)["floor"] | {"nodes": len(nodes)}


def corpus(runs: int, root: Path = CORPUS) -> list[dict]:
    rows = []
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*")):
            result = interleaved(
                {"pycrox": _pycrox_read(path), "rosettasciio": _rsciio_read(folder, path)}, runs
            )
            row = {"file": f"{folder}/{path.name}", **result, "xarray_tree_floor": tree_floor(path, runs)}
            ours, theirs = result["pycrox"], result["rosettasciio"]
            if "median_s" in ours and "median_s" in theirs:
                row["ratio"] = theirs["median_s"] / ours["median_s"]
                row["ratio_min"] = theirs["min_s"] / ours["max_s"]
                row["ratio_max"] = theirs["max_s"] / ours["min_s"]
            rows.append(row)
    return rows


# ----------------------------------------------------------------------------------- part 2: 1 GiB blockfile


def write_blockfile(path: Path, scan: int) -> int:
    """A blockfile of `scan` x `scan` patterns of DP x DP uint8 (TVIPS layout); returns the data offset."""
    first = 0x1000
    second = first + scan * scan + (-(first + scan * scan)) % 16
    when = (dt.datetime(2024, 1, 1) - dt.datetime(1899, 12, 30)) / dt.timedelta(days=1)
    head = struct.pack(
        "<6sHIIIHHHHHddIHId", b"IMGBLO", 0x0102, first, second, 131141, DP, 0, scan, scan, 0,
        2.0, 2.0, 200000, 6226, 2000, when,
    ) + bytes(8 * 22)  # fmt: skip
    rng = np.random.default_rng(0)
    record = np.zeros(scan, dtype=[("h", np.uint8, 6), ("d", np.uint8, (DP, DP))])
    record["h"][:, :2] = (0xAA, 0x55)
    with open(path, "wb") as fh:
        fh.write(head + bytes(first - len(head)))
        fh.write(rng.integers(0, 255, scan * scan, dtype=np.uint8).tobytes())
        fh.write(bytes(second - fh.tell()))
        for row in range(scan):
            record["d"] = rng.integers(0, 64, (scan, DP, DP), dtype=np.uint8)
            record["h"][:, 2:] = (
                np.arange(row * scan, (row + 1) * scan, dtype="<u4").view(np.uint8).reshape(scan, 4)
            )
            record.tofile(fh)
    return second


def annulus() -> np.ndarray:
    k = np.hypot(*np.meshgrid(np.arange(DP) - DP / 2, np.arange(DP) - DP / 2, indexing="ij"))
    return (k > DP / 8) & (k < DP / 3)


def mask_runs(mask: np.ndarray) -> list[tuple[int, int, int]]:
    """The mask as runs ``(row, first column, end column)`` of consecutive pixels."""
    runs = []
    for row in range(mask.shape[0]):
        edges = np.flatnonzero(np.diff(np.concatenate(([0], mask[row].astype(np.int8), [0]))))
        runs += [(row, int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    return runs


def masked_sum(frames: np.ndarray, runs: list[tuple[int, int, int]]) -> np.ndarray:
    """Sum of every pattern over the mask, run by run: ``(..., ky, kx) -> (...)`` uint64."""
    out = np.zeros(frames.shape[:-2], np.uint64)
    for row, first, end in runs:
        out += frames[..., row, first:end].sum(axis=-1, dtype=np.uint32)
    return out


def virtual_cases(path: Path, offset: int, scan: int) -> dict[str, Callable[[], object]]:
    import pycrox

    runs = mask_runs(annulus())
    record = np.dtype([("h", np.uint8, 6), ("d", np.uint8, (DP, DP))])

    def with_pycrox() -> np.ndarray:
        da = pycrox.open(path, group="diffraction", chunks={"y": ROWS_PER_CHUNK})
        # block by block; the pattern axes stay (length 1) so that dask concatenates nothing
        image = da.data.map_blocks(
            lambda block: masked_sum(block, runs)[..., None, None],
            dtype=np.uint64,
            chunks=(*da.data.chunks[:2], 1, 1),
        )
        return image.compute()[..., 0, 0]

    def with_fromfile() -> np.ndarray:
        out = np.empty((scan, scan), np.uint64)
        with open(path, "rb") as fh:
            fh.seek(offset)
            for start in range(0, scan, ROWS_PER_CHUNK):
                count = min(ROWS_PER_CHUNK, scan - start)
                block = np.fromfile(fh, dtype=record, count=count * scan)["d"].reshape(count, scan, DP, DP)
                out[start : start + count] = masked_sum(block, runs)
        return out

    def fromfile_only() -> int:
        with open(path, "rb") as fh:
            fh.seek(offset)
            total = 0
            for _ in range(0, scan, ROWS_PER_CHUNK):
                total += np.fromfile(fh, dtype=np.uint8, count=ROWS_PER_CHUNK * scan * record.itemsize).size
        return total

    return {
        "pycrox + dask": with_pycrox,
        "numpy.fromfile + same sum": with_fromfile,
        "numpy.fromfile alone": fromfile_only,
    }


def virtual_image(runs: int, scan: int, folder: Path) -> dict:
    path = folder / "big.blo"
    offset = write_blockfile(path, scan)
    size = path.stat().st_size
    cases = virtual_cases(path, offset, scan)
    first = {name: case() for name, case in cases.items() if name != "numpy.fromfile alone"}
    np.testing.assert_array_equal(first["pycrox + dask"], first["numpy.fromfile + same sum"])
    result = interleaved(cases, runs)
    base = result["numpy.fromfile + same sum"]
    out: dict = {"file_bytes": size, "scan": scan, "detector": DP, "cases": result}
    for name in ("pycrox + dask",):
        ours = result[name]
        out["speed_vs_fromfile_same_sum"] = base["median_s"] / ours["median_s"]
        out["speed_vs_fromfile_same_sum_min_max"] = [
            base["min_s"] / ours["max_s"],
            base["max_s"] / ours["min_s"],
        ]
        out["speed_vs_fromfile_alone"] = result["numpy.fromfile alone"]["median_s"] / ours["median_s"]
        out["pycrox_GiB_per_s"] = size / ours["median_s"] / 2**30
    return out


def large_files(runs: int, folder: Path, blockfile: Path) -> dict:
    """Open + read everything of large files: the synthetic blockfile and a 128 MiB HSPY cube."""
    import pycrox

    out: dict = {}
    try:
        import hyperspy.api as hs

        cube = folder / "cube.hspy"
        data = np.random.default_rng(0).random((64, 128, 4096), dtype=np.float32)
        hs.signals.Signal1D(data).save(cube, overwrite=True)
        del data
        files = {"blockfile": blockfile, "hspy": cube}
    except ImportError:
        files = {"blockfile": blockfile}
    for folder_name, path in files.items():
        group = "diffraction" if folder_name == "blockfile" else None
        cases = {
            "pycrox": lambda p=path, g=group: read_all(pycrox.open(p, group=g).values),
            "rosettasciio": _rsciio_read(folder_name, path),
            "numpy.fromfile": lambda p=path: np.fromfile(p, dtype=np.uint8),
        }
        result = interleaved(cases, runs)
        out[folder_name] = {"bytes": path.stat().st_size, "cases": result}
        ours = result["pycrox"]
        for other in ("rosettasciio", "numpy.fromfile"):
            out[folder_name][f"ratio_{other}"] = result[other]["median_s"] / ours["median_s"]
            out[folder_name][f"ratio_{other}_min_max"] = [
                result[other]["min_s"] / ours["max_s"],
                result[other]["max_s"] / ours["min_s"],
            ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--scan",
        type=int,
        default=128,
        help="scan size of the synthetic blockfile (128: 1 GiB; 0: the corpus only)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--skip-corpus", action="store_true")
    parser.add_argument(
        "--corpus", type=Path, default=CORPUS, help="vendor corpus folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)
    results: dict = {}
    if not args.skip_corpus and args.corpus.is_dir():
        results["corpus"] = corpus(args.runs, args.corpus)
        print(
            f"{'file':45s} {'pycrox ms':>10s} {'rsciio ms':>10s} {'ratio':>7s}  (min-max)  "
            "xarray tree floor ms (nodes)"
        )
        for row in results["corpus"]:
            if "ratio" in row:
                floor = row["xarray_tree_floor"]
                floor_text = (
                    f"{1e3 * floor['median_s']:.2f} ({floor['nodes']})" if "median_s" in floor else "-"
                )
                print(
                    f"{row['file']:45s} {1e3 * row['pycrox']['median_s']:10.2f} "
                    f"{1e3 * row['rosettasciio']['median_s']:10.2f} {row['ratio']:7.2f}  "
                    f"({row['ratio_min']:.2f}-{row['ratio_max']:.2f})  {floor_text}"
                )
            else:
                print(f"{row['file']:45s} error: {row}")
        ratios = [r["ratio"] for r in results["corpus"] if "ratio" in r]
        print(f"median ratio {statistics.median(ratios):.2f}, lowest {min(ratios):.2f}")
    if args.scan <= 0:  # the corpus only
        if args.json:
            args.json.write_text(json.dumps(results, indent=1, default=float))
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="bench_readers3_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        start = time.perf_counter()
        results["virtual_image"] = vi = virtual_image(args.runs, args.scan, folder)
        for name, case in vi["cases"].items():
            print(f"{name:28s} {case['median_s']:7.3f} s  ({case['min_s']:.3f}-{case['max_s']:.3f})")
        print(
            f"virtual image of {vi['file_bytes'] / 2**30:.2f} GiB: pycrox {vi['pycrox_GiB_per_s']:.2f} GiB/s, "
            f"{vi['speed_vs_fromfile_same_sum']:.2f}x the numpy.fromfile loop "
            f"({vi['speed_vs_fromfile_same_sum_min_max'][0]:.2f}-{vi['speed_vs_fromfile_same_sum_min_max'][1]:.2f}), "
            f"{vi['speed_vs_fromfile_alone']:.2f}x numpy.fromfile alone [{time.perf_counter() - start:.0f} s]"
        )
        results["large_files"] = large = large_files(args.runs, folder, folder / "big.blo")
        for name, entry in large.items():
            cases = ", ".join(f"{k} {v['median_s']:.3f} s" for k, v in entry["cases"].items())
            print(
                f"{name} {entry['bytes'] / 2**20:.0f} MiB open + read: {cases}; rosettasciio/pycrox "
                f"{entry['ratio_rosettasciio']:.2f} ({entry['ratio_rosettasciio_min_max'][0]:.2f}-"
                f"{entry['ratio_rosettasciio_min_max'][1]:.2f}), fromfile/pycrox {entry['ratio_numpy.fromfile']:.2f}"
            )
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
