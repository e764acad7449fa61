"""Peak memory of streaming conversions and of a lazy FFT of one frame, each in a fresh process.

Data: a synthetic MRC stack (default 256 x 1024 x 1024 float32 = 1 GiB) and the same data as a
contiguous NSID file (written with h5py, no chunks, as pyNSID writes small data). Each case runs
in its own process (``python -c`` under a parent that reports ``ru_maxrss`` of its children), so
a peak is that of the case alone, interpreter and imports included:

* ``pycrox convert stack.mrc out.h5 --to nsid`` and ``--to zarr``;
* ``pycrox convert stack_nsid.h5 out.zarr --to zarr`` (contiguous HDF5 source);
* ``pycrox.open(stack.mrc, chunks={}).pycro.fft(...).isel(frame=0)`` computed;
* a raw numpy reference: ``np.fromfile`` of the whole data block (what a non-streaming convert holds).

Target: each convert <= 0.5 GiB + a few chunks (4 MiB each) whatever the data size, and the one-frame
FFT about one chunk above the baseline. Medians of ``--runs`` interleaved runs (default 5) with
min-max.

Run ``python benchmarks/bench_convert_memory.py [--frames 256] [--runs 5] [--json OUT]``;
``--frames 32`` (128 MiB) is a quick run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

NY, NX = 1024, 1024


def write_sources(folder: Path, frames: int) -> tuple[Path, Path]:
    """A float32 MRC stack and the same data as contiguous NSID, written frame by frame."""
    import mrcfile

    mrc = folder / "stack.mrc"
    with mrcfile.new_mmap(mrc, shape=(frames, NY, NX), mrc_mode=2, overwrite=True) as m:
        m.voxel_size = 0.5  # angstrom: calibrated, uniform coordinates
        ramp = np.arange(NX, dtype="f4")
        for i in range(frames):
            m.data[i] = ramp + i
    nsid = folder / "stack_nsid.h5"
    import pycrox

    # the same data, streamed from the MRC into one contiguous HDF5 dataset (chunks=False)
    pycrox.to_nsid(pycrox.open(mrc, chunks={}), nsid, chunks=False)
    with h5py.File(nsid, "r") as h5:
        assert all(d.chunks is None for _, d in _datasets(h5) if d.ndim == 3)
    return mrc, nsid


def _datasets(h5: h5py.File) -> list[tuple[str, h5py.Dataset]]:
    found: list[tuple[str, h5py.Dataset]] = []
    h5.visititems(lambda n, o: found.append((n, o)) if isinstance(o, h5py.Dataset) else None)
    return found


def peak_of(code: str) -> int:
    """Peak RSS in bytes of ``python -c code`` run as the only child of a fresh parent."""
    parent = (
        "import resource, subprocess, sys\n"
        "proc = subprocess.run([sys.executable, '-c', sys.argv[1]], capture_output=True, text=True)\n"
        "if proc.returncode: sys.exit(proc.stderr[-800:])\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)\n"
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run(
        [sys.executable, "-c", parent, code], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode:
        raise RuntimeError(f"case failed:\n{code}\n{out.stderr[-800:]}")
    return int(out.stdout.strip().splitlines()[-1])


def cases(folder: Path, mrc: Path, nsid: Path) -> dict[str, str]:
    def convert(src: Path, to: str) -> str:
        dst = folder / f"out.{to}"
        return (
            "import shutil, os\n"
            f"p = {str(dst)!r}\n"
            "shutil.rmtree(p, ignore_errors=True) if os.path.isdir(p) else (os.path.exists(p) and os.remove(p))\n"
            "from pycrox.cli import main\n"
            f"raise SystemExit(main(['convert', {str(src)!r}, p, '--to', {to!r}, '--quiet']))\n"
        )

    return {
        "imports only": "import pycrox, pycrox.cli, dask.array, h5py, zarr",
        "raw np.fromfile (whole block)": f"import numpy as np; a = np.fromfile({str(mrc)!r}, 'f4', offset=1024)",
        "convert MRC -> NSID": convert(mrc, "nsid"),
        "convert MRC -> Zarr": convert(mrc, "zarr"),
        "convert NSID (contiguous) -> Zarr": convert(nsid, "zarr"),
        "open(MRC, chunks={}).fft.isel(0)": (
            "import numpy as np, pycrox\n"
            f"da = pycrox.open({str(mrc)!r}, chunks={{}})\n"
            "frame = da.dims[0]\n"
            "out = da.pycro.fft(('y', 'x')).isel({frame: 0}).values\n"
            "assert out.shape == (1024, 1024)\n"
        ),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table and optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=256)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="pycrox-bench-mem-"))
    try:
        mrc, nsid = write_sources(folder, args.frames)
        data_mib = args.frames * NY * NX * 4 / 2**20
        todo = cases(folder, mrc, nsid)
        peaks: dict[str, list[int]] = {name: [] for name in todo}
        for _ in range(args.runs):  # interleaved
            for name, code in todo.items():
                peaks[name].append(peak_of(code))
        print(f"data: {args.frames} x {NY} x {NX} float32 = {data_mib:.0f} MiB; {args.runs} runs")
        print(f"{'case':40s} {'peak MiB median':>16s} {'min-max':>14s}")
        rows = {}
        for name, values in peaks.items():
            mib = [v / 2**20 for v in values]
            rows[name] = {"median_mib": statistics.median(mib), "min_mib": min(mib), "max_mib": max(mib)}
            print(f"{name:40s} {statistics.median(mib):16.0f} {min(mib):6.0f}-{max(mib):<7.0f}")
        if args.json:
            Path(args.json).write_text(json.dumps({"data_mib": data_mib, "cases": rows}, indent=1))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
