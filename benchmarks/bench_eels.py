"""EELS on a spectrum image: pycrox.analysis.eels against a per-pixel curve_fit loop and plain numpy.

Two float32 cubes of ``size x size x 2048`` channels (default 256 x 256 x 2048, 512 MiB each):

* core loss (300-812 eV): a power law with random amplitude and exponent per pixel, a Ti-L-like
  edge at 456 eV and Gaussian noise of Poisson size. ``eels.background`` (power law, window 350-450
  eV) is timed on the whole cube against a ``scipy.optimize.curve_fit`` loop over ``--subset``
  pixels, extrapolated per pixel to the cube (the loop starts from the closed-form log-log fit of each
  pixel; both fit the same unweighted least-squares problem). The largest relative difference of
  amplitude and exponent on the subset is reported (target < 1e-4).
* low loss (-10 to 194.75 eV): a zero-loss peak plus plural plasmon scattering of known t/lambda
  per pixel. ``eels.thickness`` and ``eels.deconvolve`` (Fourier-log) are timed against the same
  computation written as plain numpy over the cube in blocks of 4096 pixels (the same threshold
  rule: first minimum after the ZLP of the 5-channel smoothed spectrum).

* cross-sections: ``eels.hydrogenic_k`` (O K) and ``eels.hydrogenic_l`` (Ti L2,3, Fe L2,3, over
  50 and 150 eV windows, 200 kV, 20 mrad, 10 mrad convergence) against exSpy's ``EELSCLEdge(...,
  GOS="hydrogenic")`` (set up and integrated over the window) and a plain scipy loop
  (``scipy.integrate.quad`` over ln q at every 0.5 eV channel, trapezoid over energy, the same GOS).
  The largest relative difference from exSpy is reported (target < 5 %).

Cases run interleaved (A B C A B C ...); the table gives the median and min-max over the repeats.

    .venv/bin/python benchmarks/bench_eels.py [--size 256] [--repeats 5] [--subset 200]
        [--part all|background|lowloss|cross_sections]
"""

from __future__ import annotations

import argparse
import functools
import json
import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.fft
import scipy.integrate
from _common import interleaved  # run as a script from benchmarks/
from scipy.ndimage import uniform_filter1d
from scipy.optimize import curve_fit

import pycrox
from pycrox.analysis import eels

CHANNELS = 2048
BLOCK = 4096


def core_cube(size: int) -> tuple[object, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    energy = 300.0 + 0.25 * np.arange(CHANNELS)
    amplitude = rng.uniform(1e10, 3e10, (size, size, 1)).astype(np.float32)
    exponent = rng.uniform(2.6, 3.4, (size, size, 1)).astype(np.float32)
    edge = np.where(energy > 456, 0.3 * np.exp(-(energy - 456) / 80.0), 0.0).astype(np.float32)
    data = np.empty((size, size, CHANNELS), np.float32)
    for row in range(size):
        clean = amplitude[row] * energy.astype(np.float32) ** -exponent[row]
        clean = clean * (1 + edge)
        data[row] = clean + np.sqrt(clean) * rng.standard_normal(clean.shape, dtype=np.float32)
    da = pycrox.from_array(
        data, dims=("y", "x", "energy"), coords={"energy": {"values": energy, "units": "eV"}}
    )
    return da, amplitude[..., 0], exponent[..., 0]


def low_cube(size: int) -> object:
    rng = np.random.default_rng(1)
    energy = -10.0 + 0.1 * np.arange(CHANNELS)
    de = 0.1
    zlp = np.exp(-0.5 * (energy / 0.35) ** 2)
    zlp /= zlp.sum()
    shape = np.where(
        energy > 0, np.exp(-0.5 * ((energy - 16) / 3) ** 2) + 0.2 * np.exp(-0.5 * ((energy - 30) / 8) ** 2), 0
    )
    shape /= shape.sum()
    n, pad = CHANNELS, 4 * CHANNELS
    i0 = int(np.argmin(np.abs(energy)))
    zf = np.fft.rfft(np.pad(zlp, (0, pad - n)))
    sf = np.fft.rfft(np.roll(np.pad(shape, (0, pad - n)), -i0))
    levels = np.linspace(0.1, 1.5, 32)
    templates = np.stack([np.fft.irfft(zf * np.exp(t * sf), pad)[:n] for t in levels]) * 1e5
    pick = rng.integers(0, levels.size, (size, size))
    data = templates[pick].astype(np.float32)
    data += np.sqrt(np.clip(data, 0, None)) * rng.standard_normal(data.shape, dtype=np.float32)
    del de
    return pycrox.from_array(
        data, dims=("y", "x", "energy"), coords={"energy": {"values": energy, "units": "eV"}}
    )


def curve_fit_loop(values: np.ndarray, energy: np.ndarray, mask: np.ndarray) -> np.ndarray:
    x = energy[mask]
    out = np.empty((values.shape[0], 2))
    for i, y in enumerate(values[:, mask].astype(np.float64)):
        slope, intercept = np.polyfit(np.log(x), np.log(np.clip(y, 1e-3, None)), 1)
        out[i] = curve_fit(lambda e, a, r: a * e**-r, x, y, p0=[np.exp(intercept), -slope], maxfev=2000)[0]
    return out


def numpy_thickness(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(-1, values.shape[-1])
    out = np.empty(flat.shape[0])
    for start in range(0, flat.shape[0], BLOCK):
        y = flat[start : start + BLOCK]
        top = y.argmax(axis=-1)
        rising = np.diff(uniform_filter1d(y, 5, axis=-1, mode="nearest"), axis=-1) >= 0
        rising &= np.arange(rising.shape[-1]) > top[:, None]
        end = rising.argmax(axis=-1)
        cumulative = np.cumsum(y, axis=-1, dtype=np.float64)
        out[start : start + BLOCK] = np.log(cumulative[:, -1] / cumulative[np.arange(y.shape[0]), end - 1])
    return out.reshape(values.shape[:-1])


def numpy_fourier_log(values: np.ndarray) -> np.ndarray:
    flat = values.reshape(-1, values.shape[-1])
    n = flat.shape[-1]
    size = scipy.fft.next_fast_len(2 * n, real=True)
    out = np.empty(flat.shape, np.float32)
    for start in range(0, flat.shape[0], BLOCK):
        y = flat[start : start + BLOCK].astype(np.float64)
        top = y.argmax(axis=-1)
        rising = np.diff(uniform_filter1d(y, 5, axis=-1, mode="nearest"), axis=-1) >= 0
        rising &= np.arange(rising.shape[-1]) > top[:, None]
        end = rising.argmax(axis=-1)
        z = np.where(np.arange(n) < end[:, None], y, 0.0)
        zf, jf = scipy.fft.rfft(z, size, axis=-1), scipy.fft.rfft(y, size, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            sf = np.nan_to_num(zf * np.log(jf / zf))
        out[start : start + BLOCK] = scipy.fft.irfft(sf, size, axis=-1)[:, :n]
    return out.reshape(values.shape)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--subset", type=int, default=200)
    parser.add_argument("--part", choices=["all", "background", "lowloss", "cross_sections"], default="all")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    summary: dict = {"size": args.size}
    if args.part in ("all", "background"):
        summary.update(bench_background(args))
    if args.part in ("all", "lowloss"):
        summary.update(bench_lowloss(args))
    if args.part in ("all", "cross_sections"):
        summary.update(bench_cross_sections(args))
    summary["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    print(json.dumps(summary))


def bench_background(args: argparse.Namespace) -> dict:
    """Power-law background of the core-loss cube against the extrapolated curve_fit loop."""
    core, _, _ = core_cube(args.size)
    energy = core.energy.values
    mask = (energy >= 350) & (energy <= 450)
    pixels = args.size * args.size
    flat = core.values.reshape(pixels, CHANNELS)
    subset = np.random.default_rng(2).choice(pixels, min(args.subset, pixels), replace=False)

    timings = interleaved(
        {
            "pycrox eels.background (cube)": lambda: eels.background(core, (350, 450)),
            "curve_fit loop (subset)": lambda: curve_fit_loop(flat[subset], energy, mask),
        },
        args.repeats,
    )
    ours = eels.background(core, (350, 450))
    loop = curve_fit_loop(flat[subset], energy, mask)
    mine = np.stack(
        [ours.amplitude.values.reshape(-1)[subset], ours.exponent.values.reshape(-1)[subset]], axis=1
    )
    difference = float(np.max(np.abs(mine - loop) / np.abs(loop)))
    per_pixel = {
        k: {m: v / (subset.size if "subset" in k else pixels) for m, v in t.items() if m.endswith("_s")}
        for k, t in timings.items()
    }
    speedup = {
        m: per_pixel["curve_fit loop (subset)"][m] / per_pixel["pycrox eels.background (cube)"][m]
        for m in ("median_s", "min_s", "max_s")
    }
    print(f"background {args.size}x{args.size}x{CHANNELS}: pycrox {timings['pycrox eels.background (cube)']}")
    print(f"  curve_fit loop on {subset.size} px: {timings['curve_fit loop (subset)']}")
    print(
        f"  extrapolated loop / pycrox per pixel: median {speedup['median_s']:.1f}x "
        f"(ratio of the fastest runs {speedup['min_s']:.1f}x, of the slowest {speedup['max_s']:.1f}x); "
        f"max rel. difference of amplitude and exponent {difference:.2e}"
    )
    return {"background": timings, "speedup": speedup, "max_rel_diff": difference}


def bench_lowloss(args: argparse.Namespace) -> dict:
    """Thickness and Fourier-log deconvolution of the low-loss cube against plain numpy."""
    low = low_cube(args.size)
    raw = low.values
    cases = {
        "pycrox eels.thickness": lambda: eels.thickness(low, mean_free_path=100),
        "numpy thickness": lambda: numpy_thickness(raw),
        "pycrox eels.deconvolve fourier_log": lambda: eels.deconvolve(low),
        "numpy fourier_log": lambda: numpy_fourier_log(raw),
    }
    low_times = interleaved(cases, args.repeats)
    check_t = float(
        np.nanmax(np.abs(eels.thickness(low, mean_free_path=100).t_over_lambda.values - numpy_thickness(raw)))
    )
    for name, timing in low_times.items():
        print(f"{name}: {timing}")
    for ours_name, ref in [
        ("pycrox eels.thickness", "numpy thickness"),
        ("pycrox eels.deconvolve fourier_log", "numpy fourier_log"),
    ]:
        a, b = low_times[ours_name], low_times[ref]
        print(
            f"  {ours_name} / {ref}: median {a['median_s'] / b['median_s']:.2f}x "
            f"(min-min {a['min_s'] / b['min_s']:.2f}x, max-max {a['max_s'] / b['max_s']:.2f}x)"
        )
    print(f"  max |t/lambda difference| pycrox vs numpy: {check_t:.2e}")
    return {"lowloss": low_times, "max_t_over_lambda_diff": check_t}


#: the cross-section cases: (label, exSpy subshell, pycrox function, Z, L1 onset or None, window eV)
XS_CASES = [
    ("O K 50 eV", "O_K", "k", 8, None, 50.0),
    ("Ti L23 50 eV", "Ti_L3", "l", 22, 564.0, 50.0),
    ("Ti L23 150 eV", "Ti_L3", "l", 22, 564.0, 150.0),
    ("Fe L23 50 eV", "Fe_L3", "l", 26, 846.0, 50.0),
]
XS_SETUP = {"beam_energy": 200.0, "collection_angle": 20.0, "convergence_angle": 10.0}


def exspy_sigma(subshell: str, width: float) -> float:
    """exSpy's hydrogenic cross-section [nm^2] over `width` eV above its onset (set up from scratch)."""
    from exspy.components import EELSCLEdge

    edge = EELSCLEdge(subshell, GOS="hydrogenic")
    edge.set_microscope_parameters(
        E0=XS_SETUP["beam_energy"],
        alpha=XS_SETUP["convergence_angle"],
        beta=XS_SETUP["collection_angle"],
        energy_scale=0.5,
    )
    x = np.linspace(edge.onset_energy.value, edge.onset_energy.value + width, 2001)
    return float(np.trapezoid(edge.function(x), x)) * 1e-10  # barn -> nm^2


def _gos_at(kind: str, z: int, energy: float, onset: float, l1: float | None, log_q: float) -> float:
    """The GOS of the chosen shell at one energy loss and ``ln (q a0)^2`` (the scipy loop's integrand)."""
    from pycrox.analysis.eels import cross_sections as xs

    e, q = np.asarray(energy), np.asarray(np.exp(log_q))
    if kind == "k":
        return float(xs._gos_k(e, q, z - 0.5))
    return float(xs._gos_l(e, q, z, onset, np.inf if l1 is None else l1))


def scipy_sigma(kind: str, z: int, onset: float, l1: float | None, width: float) -> float:
    """The same model by a plain scipy loop: quad over ln q per 0.5 eV channel, trapezoid over energy."""
    from pycrox.analysis.eels import cross_sections as xs

    e0, beta, alpha = XS_SETUP["beam_energy"], XS_SETUP["collection_angle"], XS_SETUP["convergence_angle"]
    k0 = float(xs._wavenumber_a0(e0 * 1e3))
    _, t_ev, _ = xs.relativistic(e0)
    energies = onset + np.arange(0.0, width + 0.25, 0.5)
    dsigma = np.empty_like(energies)
    for i, e in enumerate(energies):
        k1 = float(xs._wavenumber_a0(e0 * 1e3 - e))
        b = xs.effective_collection_angle(e0, e, alpha, beta)
        q_min = (k0 - k1) ** 2
        q_max = q_min + 4 * k0 * k1 * np.sin(b * 1e-3 / 2) ** 2
        gos = functools.partial(_gos_at, kind, z, e, onset, l1)
        inner = scipy.integrate.quad(gos, np.log(q_min), np.log(q_max))[0]
        dsigma[i] = xs.FOUR_PI_A0_SQUARED * xs.RYDBERG**2 / (e * t_ev) * inner
    return float(np.trapezoid(dsigma, energies))


def bench_cross_sections(args: argparse.Namespace) -> dict:
    """Hydrogenic K and L cross-sections: pycrox against exSpy's hydrogenic GOS and a scipy loop."""
    from exspy.components import EELSCLEdge

    results: dict = {}
    for label, subshell, kind, z, l1, width in XS_CASES:
        onset = float(EELSCLEdge(subshell, GOS="hydrogenic").onset_energy.value)
        ours: Callable[[], float] = (
            functools.partial(eels.hydrogenic_k, z, onset, width, **XS_SETUP)
            if kind == "k"
            else functools.partial(eels.hydrogenic_l, z, onset, width, **XS_SETUP, l1_onset=l1)
        )
        cases: dict[str, Callable[[], float]] = {
            "pycrox": ours,
            "exSpy hydrogenic": functools.partial(exspy_sigma, subshell, width),
            "scipy quad loop": functools.partial(scipy_sigma, kind, z, onset, l1, width),
        }
        times = interleaved(cases, args.repeats)
        values = {name: case() for name, case in cases.items()}
        ratios = {
            ref: times[ref]["median_s"] / times["pycrox"]["median_s"]
            for ref in ("exSpy hydrogenic", "scipy quad loop")
        }
        spread = {  # ratio of the fastest runs and of the slowest runs
            ref: (
                times[ref]["min_s"] / times["pycrox"]["min_s"],
                times[ref]["max_s"] / times["pycrox"]["max_s"],
            )
            for ref in ratios
        }
        rel = {ref: values["pycrox"] / values[ref] - 1 for ref in ratios}
        print(
            f"{label}: pycrox {times['pycrox']['median_s'] * 1e3:.1f} ms, sigma {values['pycrox']:.4e} nm^2; "
            + "; ".join(
                f"{ref} {times[ref]['median_s'] * 1e3:.1f} ms ({ratios[ref]:.1f}x slower; fastest/slowest runs "
                f"{spread[ref][0]:.1f}x/{spread[ref][1]:.1f}x), sigma differs by {rel[ref]:+.2%}"
                for ref in ratios
            )
        )
        results[label] = {"times": times, "sigma_nm2": values, "slower_than_pycrox": ratios, "rel_diff": rel}
    worst = max(abs(r["rel_diff"]["exSpy hydrogenic"]) for r in results.values())
    print(f"  largest |pycrox / exSpy - 1|: {worst:.2%}")
    return {"cross_sections": results, "max_rel_diff_exspy": worst}


if __name__ == "__main__":
    main()
