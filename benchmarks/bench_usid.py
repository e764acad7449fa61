"""USID read and write: pycrox against pyUSID, SciFiReaders and raw h5py + numpy.

Builds, in a scratch folder, a band-excitation-sized USID file: 128 x 128 positions x (16 DC
steps x 2 fields x 64 frequencies) complex64, main dataset (16384, 2048) = 256 MiB, written with
raw h5py in pyUSID 0.0.12's layout (labels slowest first, uint32 indices, float32 values). With
the file in the page cache it times, as the median of interleaved runs:

* read: ``pycrox.open(path)`` without reading (target well under 0.1 s); ``pycrox.open(path).values``
  (open included) against raw h5py ``read_direct`` + numpy reshape (target within 1.25x);
  pyUSID ``USIDataset.get_n_dim_form()`` and SciFiReaders ``Usid_reader`` + ``np.asarray``;
* write: ``pycrox.to_usid`` of the N-D DataArray against raw h5py writing the same main and
  ancillary datasets (target within 1.25x) and pyUSID ``write_main_dataset``, each into a new
  file (the previous outputs are deleted and dirty pages flushed before every timed write);

and, each in a fresh process after opening the file once without reading (imports and one-time
initialisation are not counted), the peak resident memory above the process's baseline while
reading (target: pycrox <= 1.3x the data size). All N-D results are checked equal.

pyUSID 0.0.12 calls ``numpy.product``, which numpy 2 removed: this script sets
``numpy.product = numpy.prod`` before importing pyUSID (only here, for the reference writer).

Run ``python benchmarks/bench_usid.py [--runs 5] [--dir PATH] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import status_bytes  # run as a script from benchmarks/

SHAPE = (128, 128, 16, 2, 64)  # Y, X, DC_Offset, Field, Frequency (slowest first)
LABELS = ("Y", "X", "DC_Offset", "Field", "Frequency")
UNITS = ("um", "um", "V", "", "Hz")
MAIN = "/Measurement_000/Channel_000/Raw_Data"
MIB = 1 << 20


def _pyusid():
    if not hasattr(np, "product"):
        np.product = np.prod  # noqa: NPY003, NPY201  (pyUSID 0.0.12 on numpy 2; reference tools only)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyUSID

    return pyUSID


# ----------------------------------------------------------------------------------- data and layout


def coordinate_values() -> list[np.ndarray]:
    return [
        np.arange(128) * 0.05,
        np.arange(128) * 0.05,
        np.linspace(-10, 10, 16),
        np.arange(2.0),
        np.linspace(3.0e5, 3.2e5, 64),
    ]


def make_data() -> np.ndarray:
    rng = np.random.default_rng(0)
    n = int(np.prod(SHAPE))
    out = np.empty(n, dtype=np.complex64)
    view = out.view(np.float32)
    for start in range(0, view.size, 16 * MIB):
        stop = min(view.size, start + 16 * MIB)
        view[start:stop] = rng.random(stop - start, dtype=np.float32)
    return out.reshape(SHAPE)


def model_array(data: np.ndarray):
    import pycrox

    coords = {}
    for i, (label, units, values) in enumerate(zip(LABELS, UNITS, coordinate_values(), strict=True)):
        kind = "SPATIAL" if i < 2 else "SPECTRAL"
        coords[label] = {
            "values": values.astype(np.float32),
            "units": units,
            "quantity": label,
            "dimension_type": kind,
        }
    return pycrox.from_array(
        data,
        dims=LABELS,
        coords=coords,
        name="Raw_Data",
        title="Raw_Data",
        quantity="Piezoresponse",
        units="V",
    )


def _ancillary(group, prefix: str, dims: list[tuple[str, str, np.ndarray]], spectral: bool):
    sizes = [len(v) for _, _, v in dims]
    grids = np.indices(sizes).reshape(len(sizes), -1)
    inds = grids.astype(np.uint32)
    vals = np.stack([v.astype(np.float32)[g] for g, (_, _, v) in zip(grids, dims, strict=True)])
    if not spectral:
        inds, vals = inds.T, vals.T
    made = (
        group.create_dataset(prefix + "_Indices", data=inds),
        group.create_dataset(prefix + "_Values", data=vals),
    )
    for dset in made:
        dset.attrs["labels"] = np.array([label.encode() for label, _, _ in dims], dtype="S")
        dset.attrs["units"] = np.array([u.encode() for _, u, _ in dims], dtype="S")
        dset.attrs["type"] = np.zeros(len(dims), dtype=np.int64)
    return made


def write_raw(path: Path, data: np.ndarray) -> None:
    """The limit: h5py writing the main dataset and its four ancillary datasets (pyUSID layout)."""
    import h5py

    dims = list(zip(LABELS, UNITS, coordinate_values(), strict=True))
    with h5py.File(path, "w") as h5:
        chan = h5.require_group("Measurement_000/Channel_000")
        pos = _ancillary(chan, "Position", dims[:2], False)
        spec = _ancillary(chan, "Spectroscopic", dims[2:], True)
        main = chan.create_dataset("Raw_Data", data=data.reshape(128 * 128, -1))
        main.attrs["quantity"], main.attrs["units"] = "Piezoresponse", "V"
        for name, dset in zip(
            ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values"),
            (*pos, *spec),
            strict=True,
        ):
            main.attrs[name] = dset.ref


def write_pyusid(path: Path, data: np.ndarray) -> None:
    import h5py

    usid = _pyusid()
    dims = [
        usid.Dimension(label, units, values)
        for label, units, values in zip(LABELS, UNITS, coordinate_values(), strict=True)
    ]
    with h5py.File(path, "w") as h5, contextlib.redirect_stdout(None), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        chan = h5.require_group("Measurement_000/Channel_000")
        usid.hdf_utils.write_main_dataset(
            chan,
            data.reshape(128 * 128, -1),
            "Raw_Data",
            "Piezoresponse",
            "V",
            dims[:2],
            dims[2:],
            slow_to_fast=True,
        )


# ----------------------------------------------------------------------------------- the readers


def readers(path: Path) -> dict[str, Callable[[], object]]:
    import h5py

    import pycrox

    def raw() -> np.ndarray:
        with h5py.File(path, "r") as h5:
            dset = h5[MAIN]
            out = np.empty(dset.shape, dset.dtype)
            dset.read_direct(out)
        return out.reshape(SHAPE)

    def pyusid_nd() -> np.ndarray:
        usid = _pyusid()
        with h5py.File(path, "r") as h5, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray(usid.USIDataset(h5[MAIN], sort_dims=False).get_n_dim_form())

    def scifi() -> np.ndarray:
        from SciFiReaders import Usid_reader

        with contextlib.redirect_stdout(None), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = Usid_reader(str(path))
            try:
                return np.asarray(reader.read(dataset_path=MAIN))
            finally:
                reader.close()

    return {
        "pycrox open": lambda: pycrox.open(path),
        "pycrox open + values": lambda: pycrox.open(path).values,
        "h5py read + reshape": raw,
        "pyUSID get_n_dim_form": pyusid_nd,
        "SciFiReaders Usid_reader": scifi,
    }


def writers(folder: Path, data: np.ndarray) -> dict[str, Callable[[], object]]:
    import pycrox

    da = model_array(data)
    return {
        "pycrox to_usid": lambda: pycrox.to_usid(da, folder / "w_pycrox.h5", mode="w"),
        "h5py main + ancillary": lambda: write_raw(folder / "w_raw.h5", data),
        "pyUSID write_main_dataset": lambda: write_pyusid(folder / "w_pyusid.h5", data),
    }


# ----------------------------------------------------------------------------------- measuring


def _clear_outputs(folder: Path) -> None:
    """Before each timed write: delete the previous outputs and flush dirty pages (not timed)."""
    for path in folder.glob("w_*.h5"):
        path.unlink()
    os.sync()


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(64 * MIB):
            pass


def timings(
    methods: dict[str, Callable], runs: int, settle: Callable[[], None] = lambda: None
) -> dict[str, dict]:
    samples: dict[str, list[float]] = {name: [] for name in methods}
    errors: dict[str, str] = {}
    for name, method in methods.items():  # warm-up (imports, caches), not timed
        try:
            method()
        except Exception as exc:  # noqa: BLE001  (a reference tool failing is a result)
            errors[name] = f"{type(exc).__name__}: {exc}"[:200]
    for _ in range(runs):
        for name, method in methods.items():
            if name in errors:
                continue
            settle()
            start = time.perf_counter()
            result = method()
            samples[name].append(time.perf_counter() - start)
            del result
    return {
        name: (
            {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s), "runs": len(s)}
            if s
            else {"error": errors.get(name, "not run")}
        )
        for name, s in samples.items()
    }


def rss_child(name: str, path: Path) -> None:
    """In a fresh process: peak RSS above the baseline while one reader reads (printed as JSON)."""
    methods = readers(path)
    import h5py  # noqa: F401  (imports count as baseline)

    import pycrox  # noqa: F401

    warm_up(name, path)  # imports and one-time initialisation are not what the read allocates
    with contextlib.suppress(OSError):  # reset the peak (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    baseline = status_bytes("VmRSS")
    result = methods[name]()
    peak = status_bytes("VmHWM")
    print(json.dumps({"extra_bytes": peak - baseline, "result_bytes": int(np.asarray(result).nbytes)}))


def warm_up(name: str, path: Path) -> None:
    """Open `path` the way reader `name` does, without reading the main dataset."""
    import h5py

    import pycrox

    if name.startswith("pycrox"):
        pycrox.open(path)
    elif name.startswith("pyUSID"):
        usid = _pyusid()
        with h5py.File(path, "r") as h5, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usid.USIDataset(h5[MAIN], sort_dims=False)
    elif name.startswith("SciFi"):
        import SciFiReaders  # noqa: F401
    else:
        h5py.File(path, "r").close()


def memory(names: list[str], path: Path) -> dict[str, dict]:
    out = {}
    for name in names:
        cmd = [sys.executable, __file__, "--rss-child", name, "--file", str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        line = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        out[name] = (
            json.loads(line) if proc.returncode == 0 and line else {"error": proc.stderr.strip()[-300:]}
        )
    return out


def check_equal(path: Path, folder: Path) -> list[str]:
    """Every reader and every writer gives the same N-D array."""
    import pycrox

    methods = readers(path)
    expected = methods["h5py read + reshape"]()
    notes = []
    for name in ("pycrox open + values", "pyUSID get_n_dim_form", "SciFiReaders Usid_reader"):
        try:
            same = np.array_equal(np.asarray(methods[name]()), expected)
        except Exception as exc:  # noqa: BLE001
            same = f"failed: {type(exc).__name__}"
        notes.append(f"check: {name} equals h5py: {same}")
    for name in ("w_pycrox.h5", "w_raw.h5", "w_pyusid.h5"):
        if (folder / name).exists():
            back = readers(folder / name)["pyUSID get_n_dim_form"]()
            notes.append(f"check: {name} read by pyUSID equals the data: {np.array_equal(back, expected)}")
    notes.append(f"check: pycrox dims {pycrox.open(path).dims}")
    return notes


# ----------------------------------------------------------------------------------- report


def _ratio(times: dict[str, dict], a: str, b: str) -> float | None:
    if "median_s" in times.get(a, {}) and "median_s" in times.get(b, {}):
        return times[a]["median_s"] / times[b]["median_s"]
    return None


def report(read: dict, write: dict, mem: dict, checks: list[str]) -> list[str]:
    lines = [
        f"{'case':28s} {'median':>9s} {'min':>9s} {'max':>9s} {'runs':>5s} {'peak RSS above baseline':>26s}"
    ]
    for name, t in {**read, **write}.items():
        m = mem.get(name, {})
        rss = (
            f"{m['extra_bytes'] / MIB:8.0f} MiB ({m['extra_bytes'] / m['result_bytes']:.2f}x data)"
            if "extra_bytes" in m and m.get("result_bytes")
            else ""
        )
        cell = (
            f"{t['median_s']:8.4f}s {t['min_s']:8.4f}s {t['max_s']:8.4f}s {t['runs']:5d}"
            if "median_s" in t
            else f"{'failed':>9s} {t['error'][:60]}"
        )
        lines.append(f"{name:28s} {cell} {rss:>26s}")
    return [*lines, "", *targets(read, write, mem), *checks]


def targets(read: dict, write: dict, mem: dict) -> list[str]:
    lines = []
    opened = read.get("pycrox open", {}).get("median_s")
    if opened is not None:
        met = "met" if opened < 0.1 else "MISSED"
        lines.append(f"open without reading: {opened * 1e3:.1f} ms (target well under 100 ms): {met}")
    ratio = _ratio(read, "pycrox open + values", "h5py read + reshape")
    if ratio is not None:
        lines.append(
            f"read: pycrox / (h5py + reshape) = {ratio:.2f} (target <= 1.25): {'met' if ratio <= 1.25 else 'MISSED'}"
        )
    for ref in ("pyUSID get_n_dim_form", "SciFiReaders Usid_reader"):
        slower = _ratio(read, ref, "pycrox open + values")
        if slower is not None:
            lines.append(f"read: {ref} takes {slower:.2f}x pycrox's time")
    ratio = _ratio(write, "pycrox to_usid", "h5py main + ancillary")
    if ratio is not None:
        lines.append(
            f"write: pycrox / h5py = {ratio:.2f} (target <= 1.25): {'met' if ratio <= 1.25 else 'MISSED'}"
        )
    slower = _ratio(write, "pyUSID write_main_dataset", "pycrox to_usid")
    if slower is not None:
        lines.append(f"write: pyUSID write_main_dataset takes {slower:.2f}x pycrox's time")
    m = mem.get("pycrox open + values", {})
    if m.get("result_bytes"):
        factor = m["extra_bytes"] / m["result_bytes"]
        lines.append(
            f"read: pycrox peak RSS {factor:.2f}x data (target <= 1.3): {'met' if factor <= 1.3 else 'MISSED'}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--rss-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.file)
        return 0
    print("NOTE: numpy.product = numpy.prod is set for pyUSID 0.0.12 (reference writer/reader only)")
    folder = args.dir or Path(tempfile.mkdtemp(prefix="pycrox-bench-usid-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        data = make_data()
        path = folder / "be_256MiB.h5"
        write_raw(path, data)
        _warm(path)
        read = timings(readers(path), args.runs)
        write = timings(writers(folder, data), args.runs, settle=lambda: _clear_outputs(folder))
        for method in writers(folder, data).values():  # once more, untimed: every output for the checks
            with contextlib.suppress(Exception):
                method()
        mem = memory(["pycrox open + values", "h5py read + reshape", "pyUSID get_n_dim_form"], path)
        lines = report(read, write, mem, check_equal(path, folder))
        print("\n".join(lines))
        if args.json:
            args.json.write_text(
                json.dumps({"read": read, "write": write, "memory": mem, "summary": lines}, indent=1)
            )
    finally:
        if args.dir is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
