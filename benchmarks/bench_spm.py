"""Scanning-probe tools: trEFM tFP per pixel, row alignment and roughness, against scipy/numpy in one run.

1. trEFM: ``64 x 64`` pixels of ``16384``-sample ring-down signals (a 279 kHz tone whose
   frequency dips after the trigger with a per-pixel time constant, plus noise).
   ``pycrox.analysis.trefm.time_to_first_peak`` (vectorised, ``method="minimum"``) against a
   per-pixel loop over FFTA's own algorithm written with numpy/scipy (``Pixel.analyze`` with
   ``fit=False``: DC removal, Blackman window, firwin + fftconvolve, Hilbert, unwrap, polyfit,
   Savitzky-Golay, smoothing spline + TNC minimum) and against the same loop without the spline
   (chain + argmin), and ``method="spline"`` (pycrox's vectorised chain, then FFTA's FITPACK
   spline per pixel: the path that agrees with FFTA to a sample). The loops and the spline
   method run on ``--loop-pixels`` pixels per round and are scaled to the
   whole map (``x pixels / loop-pixels``); the table says so.
2. ``align_rows`` (median, median_difference) and ``roughness`` of a ``4096 x 4096`` image
   against the equivalent numpy expressions.

Cases run interleaved (A B C A B C ...), ``--repeats`` rounds after one warm-up; the table gives
median and min-max seconds and the ratio to the reference within the same run.

    .venv/bin/python benchmarks/bench_spm.py [--pixels 64] [--samples 16384] [--image 4096]
                                             [--loop-pixels 64] [--repeats 5] [--skip-trefm]
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft
from _common import interleaved  # run as a script from benchmarks/
from scipy import interpolate as spi
from scipy import optimize as spo
from scipy import signal as sps

import pycrox
from pycrox.analysis import spm, trefm

FS = 10e6
DRIVE = 279e3
TRIGGER_INDEX = 4000
ROI = 4000
N_TAPS = 1499
BANDWIDTH = 5e3


def ring_signals(pixels: int, samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(pixels, pixels, samples)`` tones dipping by 150 Hz after the trigger; tau1 varies per pixel."""
    rng = np.random.default_rng(seed)
    tau1 = np.geomspace(5e-6, 1e-4, pixels * pixels).reshape(pixels, pixels)
    t = np.arange(samples) / FS
    after = np.clip(t - TRIGGER_INDEX / FS, 0, None)
    out = np.empty((pixels, pixels, samples))
    for i in range(pixels):
        shift = -150.0 * (1 - np.exp(-after / tau1[i, :, None])) * np.exp(-after / 2e-4)
        phase = 2 * np.pi * np.cumsum(DRIVE + shift, axis=-1) / FS
        out[i] = np.sin(phase) + 0.01 * rng.standard_normal((pixels, samples))
    return out, tau1


def ffta_pixel(signal: np.ndarray, spline: bool) -> tuple[float, float]:
    """FFTA 0.3.5 ``Pixel.analyze`` (Hilbert, FIR, fit=False) for one signal, numpy/scipy only."""
    n = signal.size
    sig = signal.astype(np.float64).copy()
    mid, width = n // 2, int(10e3 / (FS / n))  # remove_dc
    spectrum = np.fft.fftshift(np.fft.fft(sig))
    spectrum[: mid - width] = 0
    spectrum[mid + width :] = 0
    sig -= np.real(np.fft.ifft(np.fft.ifftshift(spectrum)))
    drive = DRIVE  # check_drive_freq
    n_fft = 2 ** int(np.log2(TRIGGER_INDEX))
    found = np.abs(np.fft.rfft(sig[:n_fft])).argmax() * FS / n_fft
    if abs(found - drive) >= FS / n_fft and found != 0:
        drive = found
    sig *= sps.get_window("blackman", n)  # apply_window
    nyquist = FS / 2
    taps = sps.firwin(
        N_TAPS,
        [(drive - BANDWIDTH / 2) / nyquist, (drive + BANDWIDTH / 2) / nyquist],
        pass_zero=False,
        window="blackman",
    )
    sig = sps.fftconvolve(sig, taps, mode="same")  # fir_filter
    tidx = TRIGGER_INDEX - (N_TAPS - 1) / 2
    phase = np.unwrap(np.angle(sps.hilbert(sig)))  # hilbert, calculate_phase
    start, end = int(0.3 * tidx), int(0.7 * tidx)
    line = np.polyfit(np.arange(start, end), phase[start:end], 1)
    phase = -(phase - (line[0] * np.arange(n) + line[1])) + np.pi / 2
    raw = sps.savgol_filter(-phase, 5, 1, deriv=1, delta=1 / FS)  # calculate_inst_freq
    index = int(tidx)
    cut = raw[index : index + ROI] - raw[index]
    if not spline:
        k = int(cut.argmin())
        return k / FS, float(cut[k])
    func = spi.UnivariateSpline(np.arange(ROI), cut, k=4, ext=3, s=2 * FS / drive)  # find_minimum
    found_x = spo.minimize(func, cut.argmin(), method="TNC", bounds=((0, ROI),)).x[0]
    return found_x / FS, float(func(found_x))


def trefm_cases(args: argparse.Namespace) -> tuple[dict[str, Callable[[], Any]], dict[str, float], Callable]:
    values, _ = ring_signals(args.pixels, args.samples)
    da = pycrox.from_array(
        values,
        dims=("y", "x", "time"),
        coords={"time": {"values": np.arange(args.samples) / FS * 1e6, "units": "us"}},
    )
    kwargs = {
        "trigger": TRIGGER_INDEX / FS * 1e6 + 0.001,
        "roi": ROI / FS * 1e6,
        "drive_frequency": DRIVE,
        "filter_bandwidth": BANDWIDTH,
        "n_taps": N_TAPS,
    }
    flat = values.reshape(-1, args.samples)
    pick = np.linspace(0, flat.shape[0] - 1, args.loop_pixels).astype(int)
    scale = flat.shape[0] / args.loop_pixels

    def loop(spline: bool) -> list:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [ffta_pixel(flat[i], spline) for i in pick]

    subset = da.stack(pixel=("y", "x")).isel(pixel=pick).transpose("pixel", "time")

    cases = {
        "per-pixel loop, FFTA algorithm (scipy, spline minimum) (reference)": lambda: loop(True),
        "per-pixel loop, FFTA chain + argmin (no spline)": lambda: loop(False),
        "pycrox trefm.time_to_first_peak, method='minimum'": lambda: trefm.time_to_first_peak(da, **kwargs),
        "pycrox method='spline' (FITPACK per pixel; on the loop's pixels)": lambda: (
            trefm.time_to_first_peak(subset, method="spline", **kwargs).tfp.values
        ),
        "pycrox trefm.instantaneous_frequency (chain only)": lambda: (
            trefm.instantaneous_frequency(
                da,
                trigger=kwargs["trigger"],
                drive_frequency=DRIVE,
                filter_bandwidth=BANDWIDTH,
                n_taps=N_TAPS,
            ).values
        ),
    }
    scales = {name: (scale if "loop" in name else 1.0) for name in cases}

    def check() -> str:
        ours = trefm.time_to_first_peak(da, **kwargs).tfp.values.reshape(-1)[pick]
        spline = trefm.time_to_first_peak(subset, method="spline", **kwargs).tfp.values
        theirs = np.array([r[0] for r in loop(True)])
        return (
            f"tFP vs the loop's spline minimum on {pick.size} pixels: pycrox minimum median |diff| "
            f"{np.median(np.abs(ours - theirs)) * FS:.2f} samples, max {np.abs(ours - theirs).max() * FS:.1f}; "
            f"pycrox spline max |diff| {np.abs(spline - theirs).max() * FS:.2f} samples"
        )

    return cases, scales, check


def image_cases(size: int) -> dict[str, dict[str, Callable[[], Any]]]:
    rng = np.random.default_rng(1)
    z = rng.standard_normal((size, size)) + rng.normal(0, 3, (size, 1))
    coords = {d: {"values": np.arange(size) * 0.5, "units": "nm"} for d in ("y", "x")}
    da = pycrox.from_array(z, dims=("y", "x"), coords=coords, units="nm")

    def numpy_median_difference() -> np.ndarray:
        offsets = np.concatenate([[0.0], np.cumsum(np.median(np.diff(z, axis=0), axis=1))])
        return z - offsets[:, None]

    def numpy_roughness() -> tuple:
        d = z - z.mean()
        d2 = d * d
        sq = np.sqrt(d2.mean())
        r = z - z.mean(axis=1, keepdims=True)
        return (
            np.abs(d).mean(),
            sq,
            d.max(),
            -d.min(),
            (d2 * d).mean() / sq**3,
            (d2 * d2).mean() / sq**4,
            np.abs(r).mean(axis=1),
            np.sqrt((r * r).mean(axis=1)),
        )

    return {
        "align_rows median": {
            "numpy z - median(z, axis=1) (reference)": lambda: z - np.median(z, axis=1, keepdims=True),
            "pycrox spm.align_rows('median')": lambda: spm.align_rows(da, "median").values,
        },
        "align_rows median_difference": {
            "numpy cumsum(median(diff)) (reference)": numpy_median_difference,
            "pycrox spm.align_rows('median_difference')": lambda: (
                spm.align_rows(da, "median_difference").values
            ),
        },
        "roughness": {
            "numpy Sa..Sku + Ra, Rq (reference)": numpy_roughness,
            "pycrox spm.roughness()": lambda: spm.roughness(da).compute(),
        },
    }


def table(title: str, results: dict[str, dict], scales: dict[str, float] | None = None) -> None:
    scales = scales or {}
    print(f"\n## {title}\n")
    print("| case | median s | min-max s | speed-up vs reference (>1 = faster) |")
    print("|---|---|---|---|")
    reference = next(name for name in results if "(reference)" in name)
    ref = results[reference]["median_s"] * scales.get(reference, 1.0)
    for name, r in results.items():
        if "error" in r:
            print(f"| {name} | error: {r['error']} | | |")
            continue
        k = scales.get(name, 1.0)
        note = f" (x{k:g}, scaled from a subset)" if k != 1.0 else ""
        median = r["median_s"] * k
        print(
            f"| {name}{note} | {median:.3f} | {r['min_s'] * k:.3f}-{r['max_s'] * k:.3f} | "
            f"{ref / median:.2f} |"
            if name != reference
            else f"| {name}{note} | {median:.3f} | {r['min_s'] * k:.3f}-{r['max_s'] * k:.3f} | 1 |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", type=int, default=64)
    parser.add_argument("--samples", type=int, default=16384)
    parser.add_argument("--loop-pixels", type=int, default=64)
    parser.add_argument("--image", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--skip-trefm", action="store_true")
    args = parser.parse_args()
    scipy.fft.set_workers(1)
    if not args.skip_trefm:
        cases, scales, check = trefm_cases(args)
        results = interleaved(cases, args.repeats)
        table(f"trEFM, {args.pixels}x{args.pixels} pixels x {args.samples} samples", results, scales)
        print("\n" + check())
    for title, cases in image_cases(args.image).items():
        table(f"{title}, {args.image}x{args.image} float64", interleaved(cases, args.repeats))


if __name__ == "__main__":
    main()
