"""FFT of an image stack: pycrox.analysis.fourier.fft vs scipy.fft, numpy.fft and sidpy's Dataset.fft.

Stack ``frames x size x size`` float32 (default 64 x 1024 x 1024 = 256 MiB), transformed over
the two image dims. Cases run interleaved (A B C ... A B C ...); the table gives the median and
min-max of the repeats, the ratio to ``scipy.fft.fft2(workers=-1)`` within this run, the peak
memory on top of the input ("+MiB": process peak RSS during the call minus RSS before it) and
the largest deviation from the reference spectrum (relative to its largest magnitude). The
order of the cases rotates from one repeat to the next.

    .venv/bin/python benchmarks/bench_fft.py [--frames 64] [--size 1024] [--repeats 5] [--no-sidpy]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from collections.abc import Callable

import numpy as np
import scipy.fft
from _common import measure, reset_peak, rss_mib  # noqa: F401  (run as a script from benchmarks/)

import pycrox
from pycrox.analysis import fourier


def build_cases(stack: np.ndarray, with_sidpy: bool) -> dict[str, Callable[[], np.ndarray]]:
    da = pycrox.from_array(
        stack,
        dims=("frame", "y", "x"),
        coords={
            "y": {"values": 0.01 * np.arange(stack.shape[1]), "units": "nm"},
            "x": {"values": 0.01 * np.arange(stack.shape[2]), "units": "nm"},
        },
    )
    lazy = da.chunk({"frame": 8})
    cases: dict[str, Callable[[], np.ndarray]] = {
        "scipy.fft.fft2 workers=-1 (reference)": lambda: scipy.fft.fft2(stack, workers=-1),
        "pycrox fft shift=False": lambda: fourier.fft(da, ("y", "x"), shift=False).data,
        "pycrox fft shift=True": lambda: fourier.fft(da, ("y", "x"), shift=True).data,
        "pycrox fft real=True (half spectrum)": lambda: (
            fourier.fft(da, ("y", "x"), real=True, shift=False).data
        ),
        "pycrox fft, dask 8-frame chunks, computed": lambda: (
            fourier.fft(lazy, ("y", "x"), shift=False).values
        ),
        "numpy.fft.fft2 + fftshift": lambda: np.fft.fftshift(np.fft.fft2(stack), axes=(-2, -1)),
    }
    if with_sidpy:
        cases |= sidpy_cases(stack)
    return cases


def sidpy_cases(stack: np.ndarray) -> dict[str, Callable[[], np.ndarray]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import sidpy
    except Exception as exc:  # noqa: BLE001 - report any import failure
        print(f"NOTE: sidpy not importable ({type(exc).__name__}: {exc}); sidpy rows skipped")
        return {}

    def run(chunks: object) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dset = (
                sidpy.Dataset.from_array(stack, chunks=chunks) if chunks else sidpy.Dataset.from_array(stack)
            )
            dset.data_type = "IMAGE_STACK"
            dset.set_dimension(
                0, sidpy.Dimension(np.arange(stack.shape[0]), "frame", dimension_type="TEMPORAL")
            )
            for axis, name in ((1, "y"), (2, "x")):
                dset.set_dimension(
                    axis,
                    sidpy.Dimension(
                        0.01 * np.arange(stack.shape[axis]),
                        name,
                        units="nm",
                        quantity="Length",
                        dimension_type="SPATIAL",
                    ),
                )
            return np.asarray(dset.fft())

    return {
        "sidpy Dataset.fft(), default chunks (anchor)": lambda: run(None),
        "sidpy Dataset.fft(), chunks=(8, n, n) (anchor)": lambda: run((8, stack.shape[1], stack.shape[2])),
    }


def deviation(result: np.ndarray, reference: np.ndarray, name: str) -> str:
    if result.shape[-1] == reference.shape[-1] // 2 + 1:  # half spectrum
        reference = reference[..., : result.shape[-1]]
    if result.shape != reference.shape:
        return f"shape {result.shape}"
    if "shift=True" in name or "fftshift" in name or "sidpy" in name:
        reference = np.fft.fftshift(reference, axes=(-2, -1))
    scale = float(np.abs(reference).max())
    worst = float(np.abs(result - reference).max()) / scale
    text = f"max dev {worst:.1e}"
    rolled = np.roll(reference, reference.shape[0] // 2, axis=0)
    if worst > 1e-3 and float(np.abs(result - rolled).max()) / scale < 1e-3:
        text += " WRONG FRAME ORDER (output frame i = FFT of frame i + F/2: fftshift over the frame axis too)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=64)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-sidpy", action="store_true")
    args = parser.parse_args()

    stack = np.random.default_rng(0).random((args.frames, args.size, args.size), dtype=np.float32)
    reference = scipy.fft.fft2(stack, workers=-1)
    cases = build_cases(stack, not args.no_sidpy)
    times: dict[str, list[float]] = {name: [] for name in cases}
    memory: dict[str, list[float]] = {name: [] for name in cases}
    notes: dict[str, str] = {}
    names = list(cases)
    for repeat in range(args.repeats):
        # rotate the order every repeat: the case after a big allocation pays its page faults
        for name in names[repeat % len(names) :] + names[: repeat % len(names)]:
            case = cases[name]
            if name in notes and notes[name].startswith("FAILED"):
                continue
            try:
                seconds, extra, result = measure(case)
            except Exception as exc:  # noqa: BLE001 - an anchor failing is a result
                notes[name] = f"FAILED: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
                continue
            times[name].append(seconds)
            memory[name].append(extra)
            notes.setdefault(name, f"{deviation(result, reference, name)}, {result.dtype}")
            del result
    report(args, stack, times, memory, notes)


def report(args: argparse.Namespace, stack: np.ndarray, times: dict, memory: dict, notes: dict) -> None:
    ref = statistics.median(times["scipy.fft.fft2 workers=-1 (reference)"])
    print(
        f"FFT over (y, x) of {args.frames} x {args.size} x {args.size} float32 ({stack.nbytes / 2**20:.0f} MiB), "
        f"{args.repeats} interleaved repeats; numpy {np.__version__}, scipy {scipy.__version__}"
    )
    print("| method | median s | min-max | +MiB | x scipy | note |\n|---|---|---|---|---|---|")
    for name, runs in times.items():
        if not runs:
            print(f"| {name} | - | | | | {notes.get(name, '')} |")
            continue
        median = statistics.median(runs)
        print(
            f"| {name} | {median:.3f} | {min(runs):.3f}-{max(runs):.3f} | "
            f"{statistics.median(memory[name]):.0f} | {median / ref:.2f} | {notes.get(name, '')} |"
        )


if __name__ == "__main__":
    main()
