"""Make FFTA reference outputs for pycrox's trEFM tests (run once, in an old-numpy venv).

FFTA (pip name ``FFTA``) does not install beside numpy 2, so pycrox's tests compare against
files this script writes. Run it in a separate environment, e.g.::

    python3 -m venv /work/refenv-ffta
    /work/refenv-ffta/bin/pip install "numpy<2" "torch==2.13.0" FFTA==0.3.5.1 \
        "dask<2024.9" "distributed<2024.9" "pandas<2.3" "pyarrow<16" "numpy_groupies>=0.10" "numpy==1.26.4"
    /work/refenv-ffta/bin/python tests/reference/ffta_make.py

It simulates cantilever ring-downs with FFTA's own simulator
(`ffta.simulation.mechanical_drive.MechanicalDrive`: a damped driven oscillator whose resonance
shifts by `delta_freq` with time constant `tau` after the trigger), analyses each with
`ffta.pixel.Pixel.analyze` (Hilbert method, FIR band-pass, Blackman window) both with the default
product-of-exponentials fit and with ``fit=False`` (spline minimum), and writes
``data/ffta/ffta_reference.npz`` (signals, instantaneous frequencies, tFP, shift) and
``data/ffta/versions.json``.
"""

from __future__ import annotations

import contextlib
import io
import json
import platform
import sys
import warnings
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "ffta"

CAN_PARAMS = {
    "amp_invols": 1.15e-07,
    "def_invols": 1.15e-07,
    "soft_amp": 0.3,
    "drive_freq": 279173.0,
    "res_freq": 279173.0,
    "k": 26.2,
    "q_factor": 350.0,
}
SAMPLING_RATE = 10e6
TOTAL_TIME = 8192 / SAMPLING_RATE  # 819.2 us
TRIGGER = 3e-4
ROI = 4e-4
TAUS = np.array([5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1.5e-4])
DELTA_FREQ = -200.0
FILTER_BANDWIDTH = 5000.0
N_TAPS = 1499
PERTURBATIONS = 8


def simulate(tau: float) -> np.ndarray:
    from ffta.simulation.mechanical_drive import MechanicalDrive

    force = {"es_force": 3e-9, "delta_freq": DELTA_FREQ, "tau": float(tau)}
    sim = {"trigger": TRIGGER, "total_time": TOTAL_TIME, "sampling_rate": SAMPLING_RATE}
    with contextlib.redirect_stdout(io.StringIO()):
        cantilever = MechanicalDrive(dict(CAN_PARAMS), force, sim)
        z, _ = cantilever.simulate()
    return np.asarray(z, dtype=np.float64).ravel() / CAN_PARAMS["def_invols"]


def analyze(signal: np.ndarray, fit: bool) -> tuple[float, float, np.ndarray]:
    from ffta.pixel import Pixel

    params = {
        "trigger": TRIGGER,
        "total_time": TOTAL_TIME,
        "sampling_rate": SAMPLING_RATE,
        "roi": ROI,
        "drive_freq": CAN_PARAMS["drive_freq"],
        "filter_bandwidth": FILTER_BANDWIDTH,
        "n_taps": N_TAPS,
        "window": "blackman",
        "bandpass_filter": 1,
    }
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        pixel = Pixel(signal.copy(), params=params, can_params={"Q": CAN_PARAMS["q_factor"]}, fit=fit)
        tfp, shift, inst_freq = pixel.analyze()
    return float(tfp), float(shift), np.asarray(inst_freq, dtype=np.float64)


def main() -> None:
    import ffta
    import scipy

    OUT.mkdir(parents=True, exist_ok=True)
    # analyse exactly what is stored: the float32-rounded signals, as float64
    signals = np.stack([simulate(tau) for tau in TAUS]).astype(np.float32)
    results: dict[bool, list] = {True: [], False: []}
    for signal in signals.astype(np.float64):
        for fit in (True, False):
            results[fit].append(analyze(signal, fit))
    # FFTA's TNC searches stop on flat minima, so its tFP moves with the last bits of the input:
    # record the spread over tiny (1e-9 relative) perturbations, which no reimplementation can beat
    rng = np.random.default_rng(7)
    spread: dict[bool, list] = {True: [], False: []}
    for signal in signals.astype(np.float64):
        for fit in (True, False):
            tfps = [
                analyze(signal * (1 + 1e-9 * rng.standard_normal(signal.size)), fit)[0]
                for _ in range(PERTURBATIONS)
            ]
            spread[fit].append([min(tfps), max(tfps)])
    np.savez_compressed(
        OUT / "ffta_reference.npz",
        signals=signals,
        taus=TAUS,
        tfp_fit=np.array([r[0] for r in results[True]]),
        shift_fit=np.array([r[1] for r in results[True]]),
        tfp_min=np.array([r[0] for r in results[False]]),
        shift_min=np.array([r[1] for r in results[False]]),
        inst_freq=np.stack([r[2] for r in results[True]]).astype(np.float32),
        tfp_fit_spread=np.array(spread[True]),
        tfp_min_spread=np.array(spread[False]),
    )
    ffta_version = getattr(ffta, "__version__", None)
    if ffta_version is None:
        from importlib.metadata import version

        ffta_version = version("FFTA")
    info = {
        "FFTA": ffta_version,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "script": "tests/reference/ffta_make.py",
        "parameters": {
            "can_params": CAN_PARAMS,
            "sampling_rate_Hz": SAMPLING_RATE,
            "total_time_s": TOTAL_TIME,
            "trigger_s": TRIGGER,
            "roi_s": ROI,
            "taus_s": TAUS.tolist(),
            "delta_freq_Hz": DELTA_FREQ,
            "filter_bandwidth_Hz": FILTER_BANDWIDTH,
            "n_taps": N_TAPS,
            "window": "blackman",
            "method": "hilbert",
        },
        "tfp_fit_s": [r[0] for r in results[True]],
        "shift_fit_rad_per_s": [r[1] for r in results[True]],
        "shift_min_rad_per_s": [r[1] for r in results[False]],
        "note": "FFTA's inst_freq and shift are angular (rad/s, the derivative of the phase in rad); "
        "fit=True reports the shift signed (negative dip), fit=False as a positive depth",
        "tfp_min_s": [r[0] for r in results[False]],
        "tfp_fit_spread_s": spread[True],
        "tfp_min_spread_s": spread[False],
    }
    (OUT / "versions.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    sys.exit(main())
