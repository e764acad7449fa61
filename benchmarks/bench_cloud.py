"""Cloud benchmark: bytes and requests to read from a loopback S3 server (moto), by format.

moto loads a whole object to answer a ranged GET, so its times are inflated; bytes and request
counts are the portable figures. Reading one 1 MiB frame of a 128x512x512 float32 stack:
Zarr (frame chunks), NSID through `pycrox.references()` (Zarr over byte ranges), NSID through
fsspec + h5py (tuned blocks), USID through fsspec + h5py; and a full read of NSID through
references vs Zarr. Targets: <= 2x the frame's bytes and <= 10 requests for Zarr and
references; <= 4x the bytes for fsspec + h5py; full read: concurrent, <= 2x Zarr's requests.

Run: python benchmarks/bench_cloud.py [--frames 128] [--side 512]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import dask.array as dsa
import numpy as np
import s3fs

import pycrox
from pycrox import references

try:
    from benchmarks._s3 import start
except ImportError:  # run as a script
    from _s3 import start


def _stack(frames: int, side: int):
    data = dsa.random.default_rng(0).random((frames, side, side), chunks=(1, side, side), dtype="float32")
    return pycrox.from_array(
        data,
        dims=("frame", "y", "x"),
        name="stack",
        title="stack",
        units="counts",
        coords={
            "x": {"values": 0.1 * np.arange(side), "units": "nm"},
            "y": {"values": 0.1 * np.arange(side), "units": "nm"},
        },
    )


def _measure(server, label, func):
    server.counter.reset()
    start = time.perf_counter()
    value = func()
    elapsed = time.perf_counter() - start
    stats = server.counter.snapshot()
    return {"case": label, **stats, "seconds": round(elapsed, 3)}, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=128)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()
    server, options = start()
    fs = s3fs.S3FileSystem(**options)
    fs.mkdir("bench")
    da = _stack(args.frames, args.side)
    frame_bytes = args.side * args.side * 4
    with tempfile.TemporaryDirectory() as tmp:
        local_h5 = Path(tmp) / "stack.h5"
        pycrox.to_nsid(da, local_h5, chunks={"frame": 1})
        fs.put(str(local_h5), "bench/stack.h5")
        usid_h5 = Path(tmp) / "stack_usid.h5"
        in_memory = da.compute()
        # USID keeps frames as a spectroscopic column of its 2-D dataset: chunk one column per frame
        in_memory.encoding["usid_chunks"] = (args.side * args.side, 1)
        pycrox.to_usid(in_memory, usid_h5)
        fs.put(str(usid_h5), "bench/stack_usid.h5")
        pycrox.to_zarr(da, "s3://bench/stack.zarr", storage_options=options)
        references("s3://bench/stack.h5", "s3://bench/stack.refs.json", storage_options=options)
    rows = []

    def frame(url, **kw):
        return lambda: pycrox.open(url, storage_options=options, **kw).isel(frame=7).values

    cases = [
        ("zarr: one frame", frame("s3://bench/stack.zarr", chunks={})),
        ("nsid via references: one frame", frame("s3://bench/stack.refs.json", chunks={})),
        ("nsid via fsspec+h5py: one frame", frame("s3://bench/stack.h5")),
        ("usid via fsspec+h5py: one frame", frame("s3://bench/stack_usid.h5")),
        (
            "zarr: full read",
            lambda: pycrox.open("s3://bench/stack.zarr", storage_options=options, chunks={}).values,
        ),
        (
            "nsid via references: full read",
            lambda: pycrox.open("s3://bench/stack.refs.json", storage_options=options, chunks={}).values,
        ),
    ]
    for label, func in cases:
        row, value = _measure(server, label, func)
        row["bytes_per_frame"] = round(row["bytes"] / frame_bytes, 2)
        rows.append(row)
        assert value.dtype == np.float32
    server.stop()
    print(json.dumps({"frame_bytes": frame_bytes, "rows": rows}, indent=1))
    print(f"\n{'case':40s} {'requests':>9s} {'GETs':>6s} {'bytes/frame':>12s} {'max conc.':>9s}")
    for r in rows:
        print(
            f"{r['case']:40s} {r['requests']:9d} {r['by_method'].get('GET', 0):6d} {r['bytes_per_frame']:12.2f} "
            f"{r['max_concurrent']:9d}"
        )


if __name__ == "__main__":
    main()
