"""NSID write and read: pycrox against raw h5py on the same chunk layout, and the reference tools.

Data: a 4-D STEM dataset (default 64 x 64 x 256 x 256 float32 = 1 GiB) of integer-valued counts with
calibrated x, y (nm) and kx, ky (1/nm) dimensions and a ~60-entry nested metadata tree. With the
files in the page cache (hot cache) it times, as medians of interleaved runs (each write makes a
new file; the previous outputs are removed and dirty pages flushed before each timed call):

* writing: ``pycrox.to_nsid`` of a numpy-backed and of a dask-backed DataArray (dask blocks = the
  HDF5 chunks), against raw h5py on the same HDF5 chunk layout: ``create_dataset`` +
  ``write_direct`` of the numpy array, and ``dask.array.store`` of the dask array (target: pycrox
  within 1.25x); sidpy ``Dataset.from_array`` + pyNSID ``write_nsid_dataset`` once;
* reading: ``pycrox.open(path).values`` (open included) and raw h5py ``dset[()]`` of the same file
  (target within 1.25x); SciFiReaders ``NSIDReader(...).read()`` + ``np.asarray`` once;

and, each in a fresh process (after a one-chunk warm-up of the same case), the peak resident memory
above the baseline (targets: reading <= 1.3x the data; the dask write a few chunks).

Run ``python benchmarks/bench_nsid_io.py [--shape 64,64,256,256] [--chunks 4,4,256,256] [--runs 5]
[--no-reference] [--json OUT]``; ``--shape 16,16,128,128`` is a quick run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

try:
    from benchmarks._common import MIB, interleaved, peak_rss, run_child
except ImportError:  # run as a script
    from _common import MIB, interleaved, peak_rss, run_child

DIMS = ("x", "y", "kx", "ky")
UNITS = ("nm", "nm", "1/nm", "1/nm")


# ----------------------------------------------------------------------------------- data


def make_data(shape: tuple[int, ...]) -> np.ndarray:
    """Integer-valued float32 counts, filled frame by frame (no float64 temporaries)."""
    rng = np.random.default_rng(0)
    data = np.empty(shape, dtype=np.float32)
    for index in np.ndindex(*shape[:2]):
        data[index] = rng.integers(0, 1000, size=shape[2:], dtype=np.int32)
    return data


def metadata() -> dict:
    """A nested metadata tree of about 60 entries."""
    return {
        "microscope": {
            "name": "Nion UltraSTEM",
            "voltage": 200e3,
            "convergence_angle": 30.0,
            "aberrations": {f"C{i}{j}": 1e-9 * (i + j) for i in range(1, 4) for j in range(4)},
        },
        "detector": {
            "name": "4D camera",
            "binning": [1, 1],
            "gain": 1.5,
            "exposure_time": 1e-3,
            "flags": {"calibrated": True, "dark_subtracted": True},
        },
        "scan": {
            "dwell_time": 1e-3,
            "rotation": 0.0,
            "size": [64, 64],
            "positions": {f"p{i}": float(i) for i in range(16)},
        },
        "sample": {"name": "SrTiO3", "thickness_nm": 20.0, "notes": "λ = 2.51 pm"},
        "experiment": {"date": "2024-05-17", "time": "10:00:00", "operator": "Zoë"},
    }


def coords(shape: tuple[int, ...]) -> dict:
    return {
        d: {"values": np.arange(n) * (0.1 if u == "nm" else 0.02), "units": u}
        for d, n, u in zip(DIMS, shape, UNITS, strict=True)
    }


def model_array(data, shape):
    import pycrox

    return pycrox.model.from_array(
        data,
        DIMS,
        coords=coords(shape),
        name="STEM_4D",
        title="4D STEM",
        units="counts",
        quantity="intensity",
        metadata=metadata(),
    )


# ----------------------------------------------------------------------------------- cases


def h5py_write(path: Path, data: np.ndarray, chunks: tuple[int, ...] | None) -> None:
    """Raw h5py: the main dataset, its four dimension scales (what NSID needs, no more)."""
    import h5py

    with h5py.File(path, "w") as f:
        group = f.create_group("Measurement_000/Channel_000/STEM_4D")
        main = group.create_dataset("STEM_4D", shape=data.shape, dtype=data.dtype, chunks=chunks)
        main.write_direct(data)
        for axis, (dim, spec) in enumerate(coords(data.shape).items()):
            scale = group.create_dataset(dim, data=spec["values"])
            scale.make_scale(dim)
            main.dims[axis].attach_scale(scale)


def h5py_store(path: Path, data, chunks: tuple[int, ...] | None) -> None:
    """Raw h5py fed by ``dask.array.store`` (how a dask array usually reaches h5py), plus the scales."""
    import threading

    import dask.array as dsa
    import h5py

    with h5py.File(path, "w") as f:
        group = f.create_group("Measurement_000/Channel_000/STEM_4D")
        main = group.create_dataset("STEM_4D", shape=data.shape, dtype=data.dtype, chunks=chunks)
        dsa.store(data, main, lock=threading.Lock())
        for axis, (dim, spec) in enumerate(coords(data.shape).items()):
            scale = group.create_dataset(dim, data=spec["values"])
            scale.make_scale(dim)
            main.dims[axis].attach_scale(scale)


def h5py_read(path: Path) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        return f["Measurement_000/Channel_000/STEM_4D/STEM_4D"][()]


def pynsid_write(path: Path, data: np.ndarray) -> None:
    import h5py
    import pyNSID
    import sidpy

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = sidpy.Dataset.from_array(data, title="STEM_4D")
        dataset.units, dataset.quantity, dataset.data_type = "counts", "intensity", "IMAGE_4D"
        for axis, (dim, spec) in enumerate(coords(data.shape).items()):
            kind = "SPATIAL" if spec["units"] == "nm" else "RECIPROCAL"
            dataset.set_dimension(axis, sidpy.Dimension(spec["values"], dim, "length", spec["units"], kind))
        dataset.metadata = metadata()
        with h5py.File(path, "w") as f:
            pyNSID.hdf_io.write_nsid_dataset(
                dataset, f.create_group("Measurement_000/Channel_000"), "STEM_4D"
            )


def scifi_read(path: Path) -> np.ndarray:
    from SciFiReaders import NSIDReader

    copy = path.with_name("scifi_copy.h5")  # the reader opens files r+
    shutil.copy(path, copy)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = NSIDReader(str(copy))
        values = np.asarray(next(iter(reader.read().values())))
        reader.close()
    copy.unlink()
    return values


def write_cases(folder: Path, data: np.ndarray, chunks, reference: bool) -> dict[str, Callable]:
    import dask.array as dsa

    import pycrox

    numpy_da = model_array(data, data.shape)
    dask_data = dsa.from_array(data, chunks=chunks or (1, *data.shape[1:]))
    dask_da = model_array(dask_data, data.shape)
    cases = {
        "write pycrox numpy": lambda: pycrox.to_nsid(numpy_da, folder / "w_numpy.h5", chunks=chunks),
        "write pycrox dask": lambda: pycrox.to_nsid(dask_da, folder / "w_dask.h5", chunks=chunks),
        "write h5py": lambda: h5py_write(folder / "w_h5py.h5", data, chunks),
        "write h5py dask.store": lambda: h5py_store(folder / "w_store.h5", dask_data, chunks),
    }
    if reference:
        cases["write sidpy+pyNSID"] = lambda: pynsid_write(folder / "w_pynsid.h5", data)
    return cases


def read_cases(path: Path, reference: bool) -> dict[str, Callable]:
    import pycrox

    cases = {"read pycrox": lambda: pycrox.open(path).values, "read h5py": lambda: h5py_read(path)}
    if reference:
        cases["read SciFiReaders"] = lambda: scifi_read(path)
    return cases


ONCE = ("write sidpy+pyNSID", "read SciFiReaders")


# ----------------------------------------------------------------------------------- memory


def rss_child(name: str, shape: tuple[int, ...], chunks, folder: Path) -> None:
    """In a fresh process: the peak RSS above the baseline of one case (printed as JSON).

    The baseline is taken after the data exist and after a warm-up of the same case on one chunk
    (imports, dask's thread pool), so the figure is what the call itself allocates.
    """
    import pycrox

    if name.startswith("read"):
        pycrox.open(folder / "source.h5")  # warm-up: modules, no data
        case = read_cases(folder / "source.h5", reference=False)[name]
    else:
        small = tuple(chunks or (1, *shape[1:]))
        write_cases(folder, make_data(small), chunks, reference=False)[name]()
        data = make_data(shape)
        case = write_cases(folder, data, chunks, reference=False)[name]
    for old in folder.glob("w_*.h5"):
        old.unlink()
    print(json.dumps(peak_rss(case)))


def memory(names: list[str], args: argparse.Namespace, folder: Path) -> dict[str, dict]:
    base = ["--shape", ",".join(map(str, args.shape)), "--chunks", args.chunks_text, "--dir", str(folder)]
    return {name: run_child(__file__, ["--rss-child", name, *base]) for name in names}


# ----------------------------------------------------------------------------------- report


def report(times: dict, mem: dict, nbytes: int, chunk_bytes: int) -> list[str]:
    lines = [
        f"{'case':22s} {'median':>9s} {'min-max':>15s} {'runs':>4s} {'GB/s':>6s} {'peak RSS above baseline':>24s}"
    ]
    for name, t in times.items():
        m = mem.get(name, {})
        rss = (
            f"{m['extra_bytes'] / MIB:8.0f} MiB ({m['extra_bytes'] / nbytes:.2f}x)"
            if "extra_bytes" in m
            else ""
        )
        if "median_s" not in t:
            lines.append(f"{name:22s} failed: {t['error'][:90]}")
            continue
        spread = f"{t['min_s']:.3f}-{t['max_s']:.3f}"
        lines.append(
            f"{name:22s} {t['median_s']:8.3f}s {spread:>15s} {t['runs']:4d} "
            f"{nbytes / t['median_s'] / 1e9:6.2f} {rss:>24s}"
        )
    return [*lines, "", *verdicts(times, mem, nbytes, chunk_bytes)]


def _ratio(times: dict, a: str, b: str) -> float | None:
    if "median_s" in times.get(a, {}) and "median_s" in times.get(b, {}):
        return times[a]["median_s"] / times[b]["median_s"]
    return None


def verdicts(times: dict, mem: dict, nbytes: int, chunk_bytes: int) -> list[str]:
    out = []
    pairs = [
        ("write pycrox numpy", "write h5py"),
        ("write pycrox dask", "write h5py"),
        ("write pycrox dask", "write h5py dask.store"),
        ("read pycrox", "read h5py"),
    ]
    for ours, raw in pairs:
        ratio = _ratio(times, ours, raw)
        if ratio is not None:
            out.append(
                f"{ours} / {raw} = {ratio:.2f} (target <= 1.25): {'met' if ratio <= 1.25 else 'MISSED'}"
            )
    for ref, ours in [("write sidpy+pyNSID", "write pycrox numpy"), ("read SciFiReaders", "read pycrox")]:
        ratio = _ratio(times, ref, ours)
        if ratio is not None:
            out.append(f"{ref} takes {ratio:.1f}x the time of {ours}")
    read = mem.get("read pycrox", {})
    if "extra_bytes" in read:
        factor = read["extra_bytes"] / nbytes
        out.append(
            f"read pycrox peak RSS {factor:.2f}x data (target <= 1.3): {'met' if factor <= 1.3 else 'MISSED'}"
        )
    dask = mem.get("write pycrox dask", {})
    if "extra_bytes" in dask:
        out.append(
            f"write pycrox dask peak RSS {dask['extra_bytes'] / MIB:.0f} MiB = "
            f"{dask['extra_bytes'] / chunk_bytes:.1f} chunks of {chunk_bytes / MIB:.0f} MiB"
        )
    return out


# ----------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="64,64,256,256", help="data shape (x, y, kx, ky)")
    parser.add_argument("--chunks", default="4,4,256,256", help="HDF5 chunk shape, or 'none' (contiguous)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-reference", action="store_true", help="skip sidpy/pyNSID and SciFiReaders")
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.shape = tuple(int(n) for n in args.shape.split(","))
    args.chunks_text = args.chunks
    if args.chunks == "none":
        args.chunks = None
    else:  # clipped to the shape, so a quick run with a small shape needs no other option
        args.chunks = tuple(min(int(n), s) for n, s in zip(args.chunks.split(","), args.shape, strict=True))
        args.chunks_text = ",".join(map(str, args.chunks))
    return args


def _fresh_targets(folder: Path) -> Callable[[], None]:
    """Before each timed write: remove the previous outputs and flush dirty pages (untimed).

    Every case then writes a new file, as a user does; replacing a file would add the cost of
    freeing the old one to whichever case happens to overwrite it.
    """

    def prepare() -> None:
        for old in folder.glob("w_*.h5"):
            old.unlink()
        os.sync()

    return prepare


def run(args: argparse.Namespace, folder: Path) -> list[str]:
    import pycrox

    data = make_data(args.shape)
    nbytes = data.nbytes
    chunk_bytes = int(np.prod(args.chunks or args.shape[1:])) * data.itemsize
    pycrox.to_nsid(model_array(data, args.shape), folder / "source.h5", mode="w", chunks=args.chunks)
    reference = not args.no_reference
    times = interleaved(
        write_cases(folder, data, args.chunks, reference),
        args.runs,
        once=ONCE,
        between=_fresh_targets(folder),
    )
    del data
    times.update(interleaved(read_cases(folder / "source.h5", reference), args.runs, once=ONCE))
    mem = memory(["write pycrox numpy", "write pycrox dask", "read pycrox", "read h5py"], args, folder)
    title = (
        f"NSID I/O, shape {args.shape} float32 ({nbytes / MIB:.0f} MiB), HDF5 chunks {args.chunks}, "
        f"{args.runs} interleaved runs, hot cache"
    )
    header = [title, ""]
    lines = header + report(times, mem, nbytes, chunk_bytes)
    if args.json:
        args.json.write_text(json.dumps({"timings": times, "memory": mem, "summary": lines}, indent=1))
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.shape, args.chunks, args.dir)
        return 0
    folder = args.dir or Path(tempfile.mkdtemp(prefix="pycrox-bench-nsid-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        print("\n".join(run(args, folder)))
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
