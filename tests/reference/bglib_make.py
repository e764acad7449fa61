"""Make BGlib's reference results (SHO and loop fits) from seeded synthetic data; run once in an old-numpy venv.

BGlib does not install beside numpy 2, so this runs in a separate environment::

    python3 -m venv /work/refenv-bglib
    /work/refenv-bglib/bin/pip install "numpy<2" BGlib dask-ml "pyarrow==16.1.0" -U numpy_groupies
    /work/refenv-bglib/bin/python tests/reference/bglib_make.py

(BGlib 0.0.6 pins numpy_groupies 0.9.7, which fails on numpy 1.26: ``np.object``; sidpy needs
dask-ml, whose dask needs pyarrow >= 16.) Outputs, in ``tests/reference/data/bglib/``:

* ``bglib_sho.h5``: a BE-line USID file (``/Measurement_000/Channel_000/Raw_Data``, 6 x 8 positions
  x 64 complex frequency bins, 1 % noise), then BGlib's own ``BESHOfitter`` guess
  (``complex_gaussian``) and fit with its default solver options, written by BGlib into
  ``Raw_Data-SHO_Fit_000/{Guess, Fit}``. BGlib passes ``least_squares(_sho_error, ..., jac="cs")``:
  a complex-step Jacobian of ``1 - R²``, which goes through ``np.abs`` and so is identically zero;
  ``least_squares`` stops at once on its gradient test (one evaluation, status 1) and this
  ``Fit`` is the ``Guess``, bit for bit.
* ``bglib_sho_converged.h5``: the same raw data, guessed and fitted by the same ``BESHOfitter``
  whose fit goes through BGlib's own ``Fitter._unit_compute_fit`` with ``solver_options`` =
  `SOLVER_OPTIONS` (finite-difference Jacobian, ``x_scale="jac"``, tight tolerances), so that
  BGlib's least squares on ``1 - R²`` actually runs to its minimum.
* ``bglib_loops.h5``: 48 complex loops over a 64-step DC triangle (``Raw_Data``, written with
  pyUSID), and BGlib's loop results computed with BGlib's own functions as ``BELoopFitter`` calls
  them (``projectLoop``, ``guess_loops_hierarchically``, ``least_squares`` on ``_be_loop_err``,
  ``calc_switching_coef_vec``), written with pyUSID in BGlib's layout (``BELoopFitter`` needs a
  full BEPS file with its UDVS tables): group ``Raw_Data-Loop_Fit_000`` with ``Projected_Loops``,
  ``Loop_Metrics`` (``loop_metrics32``), ``Guess`` and ``Fit`` (``loop_fit32``) and
  ``Fit_Loop_Parameters`` (``switching32``).
  As ``BELoopFitter`` does, the fit passes ``jac="cs"``: a zero Jacobian again (``_be_loop_err``
  goes through ``abs``), so this ``Fit`` is the ``Guess``. BGlib's guess runs ``KMeans`` without a
  ``random_state``: a rerun gives other guesses (and fits) for some loops.
* ``truth.npz``: the synthetic parameters; ``versions.json``: package versions.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

import h5py
import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "bglib"
FREQ = np.linspace(290e3, 310e3, 64)
SHAPE = (6, 8)
#: least_squares options that let BGlib's SHO fit converge (its default ``{"jac": "cs"}`` never moves)
SOLVER_OPTIONS = {
    "jac": "3-point",
    "x_scale": "jac",
    "ftol": 1e-12,
    "xtol": 1e-12,
    "gtol": 1e-12,
    "max_nfev": 2000,
}


def sho(f: np.ndarray, a: np.ndarray, w0: np.ndarray, q: np.ndarray, phi: np.ndarray) -> np.ndarray:
    return a * np.exp(1j * phi) * w0**2 / (f**2 - 1j * f * w0 / q - w0**2)


def triangle(n: int = 64, vmax: float = 10.0) -> np.ndarray:
    k = np.arange(n) / n
    return vmax * np.where(k < 0.25, 4 * k, np.where(k < 0.75, 2 - 4 * k, 4 * k - 4))


def write_raw(path: Path, data: np.ndarray, spec_name: str, spec_units: str, spec_values: np.ndarray) -> None:
    import pyUSID as usid

    with h5py.File(path, "w") as h5:
        h5.attrs["data_type"] = "BELineData"
        group = h5.create_group("Measurement_000/Channel_000")
        pos = [usid.Dimension("X", "um", np.arange(SHAPE[1])), usid.Dimension("Y", "um", np.arange(SHAPE[0]))]
        spec = [usid.Dimension(spec_name, spec_units, spec_values)]
        usid.hdf_utils.write_main_dataset(group, data, "Raw_Data", "Piezoresponse", "V", pos, spec)


def make_sho(rng: np.random.Generator) -> dict[str, np.ndarray]:
    from BGlib.be.analysis.be_sho_fitter import BESHOfitter, SHOGuessFunc
    from pyUSID import USIDataset

    count = SHAPE[0] * SHAPE[1]
    truth = {
        "amplitude": rng.uniform(0.5, 1.5, count) * 1e-3,
        "resonance_frequency": rng.uniform(296e3, 304e3, count),
        "quality_factor": rng.uniform(100, 300, count),
        "phase": rng.uniform(-np.pi, np.pi, count),
    }
    z = sho(FREQ, *(v[:, None] for v in truth.values()))
    scale = (truth["amplitude"] * truth["quality_factor"])[:, None] * 0.01 / np.sqrt(2)
    z = (z + scale * (rng.standard_normal(z.shape) + 1j * rng.standard_normal(z.shape))).astype(np.complex64)
    for name, fitter_class in (
        ("bglib_sho.h5", BESHOfitter),
        ("bglib_sho_converged.h5", converging_fitter()),
    ):
        path = OUT / name
        write_raw(path, z, "Frequency", "Hz", FREQ)
        with h5py.File(path, "r+") as h5:
            main = USIDataset(h5["Measurement_000/Channel_000/Raw_Data"])
            fitter = fitter_class(main, cores=1, verbose=False)
            fitter.set_up_guess(guess_func=SHOGuessFunc.complex_gaussian, num_points=5)
            fitter.do_guess()
            fitter.set_up_fit()
            fitter.do_fit()
    return {f"sho_{k}": v for k, v in truth.items()}


def converging_fitter() -> type:
    """BGlib's ``BESHOfitter`` whose fit passes `SOLVER_OPTIONS` to BGlib's ``Fitter._unit_compute_fit``.

    ``BESHOfitter._unit_compute_fit`` hard-codes ``solver_options={"jac": "cs"}``; everything
    else (reading, guess, objective ``_sho_error``, writing) is BGlib's own.
    """
    from BGlib.be.analysis.be_sho_fitter import BESHOfitter, _sho_error
    from BGlib.be.analysis.fitter import Fitter

    class ConvergingSHOFitter(BESHOfitter):
        def _unit_compute_fit(self) -> None:
            Fitter._unit_compute_fit(
                self, _sho_error, obj_func_args=[self.freq_vec], solver_options=dict(SOLVER_OPTIONS)
            )

    return ConvergingSHOFitter


def make_loops(rng: np.random.Generator) -> dict[str, np.ndarray]:
    import pyUSID as usid
    from BGlib.be.analysis.be_loop_fitter import (
        _be_loop_err,
        guess_loops_hierarchically,
        loop_fit32,
        loop_metrics32,
        shift_vdc,
    )
    from BGlib.be.analysis.utils.be_loop import (
        calc_switching_coef_vec,
        loop_fit_function,
        projectLoop,
        switching32,
    )
    from scipy.optimize import least_squares

    count = SHAPE[0] * SHAPE[1]
    vdc = triangle()
    params = np.column_stack(
        [
            rng.uniform(-1.2, -0.8, count),
            rng.uniform(1.5, 2.5, count),
            rng.uniform(-4, -2, count),
            rng.uniform(2, 4, count),
            rng.uniform(-0.01, 0.01, count),
            *(rng.uniform(1.0, 2.0, count) for _ in range(4)),
        ]
    )
    shift, shifted = shift_vdc(vdc)
    loops = np.stack([np.roll(loop_fit_function(shifted, p), -shift) for p in params])
    loops = loops + 0.01 * rng.standard_normal(loops.shape)
    theta, offset = 0.4, 0.3
    response = loops * np.exp(1j * theta) + offset * 1j * np.exp(1j * theta)
    path = OUT / "bglib_loops.h5"
    write_raw(path, response.astype(np.complex64), "DC_Offset", "V", vdc)
    projected = np.zeros_like(loops)
    metrics = np.zeros(count, dtype=loop_metrics32)
    for i, row in enumerate(response):
        out = projectLoop(vdc, np.abs(row), np.angle(row))
        projected[i] = out["Projected Loop"]
        metrics[i] = (out["Geometric Area"], *out["Centroid"], *out["Rotation Matrix"])
    guess = guess_loops_hierarchically(vdc, projected)
    guess_mat = np.stack([guess[name] for name in loop_fit32.names[:-1]], axis=1)
    fit = np.zeros(count, dtype=loop_fit32)
    for i, (row, p0) in enumerate(zip(np.roll(projected, shift, axis=1), guess_mat, strict=True)):
        result = least_squares(_be_loop_err, p0, args=[row, shifted], jac="cs")
        fit[i] = (*result.x, 1 - result.fun[0])
    fit_mat = np.stack([fit[name] for name in loop_fit32.names[:-1]], axis=1)
    switching = calc_switching_coef_vec(fit_mat, 0.03).reshape(-1)
    with h5py.File(path, "r+") as h5:
        main = usid.USIDataset(h5["Measurement_000/Channel_000/Raw_Data"])
        group = usid.hdf_utils.create_results_group(main, "Loop_Fit")
        group.attrs["projection_method"] = "pycroscopy BE loop model"
        usid.hdf_utils.write_main_dataset(
            group,
            projected.astype(np.float32),
            "Projected_Loops",
            "Piezoresponse",
            "V",
            None,
            None,
            h5_pos_inds=main.h5_pos_inds,
            h5_pos_vals=main.h5_pos_vals,
            h5_spec_inds=main.h5_spec_inds,
            h5_spec_vals=main.h5_spec_vals,
        )
        inds, vals = usid.hdf_utils.write_reduced_anc_dsets(
            group, main.h5_spec_inds, main.h5_spec_vals, "DC_Offset", basename="Loop_Metrics"
        )
        for name, table, dtype in (
            ("Loop_Metrics", metrics, loop_metrics32),
            ("Guess", guess, loop_fit32),
            ("Fit", fit, loop_fit32),
            ("Fit_Loop_Parameters", switching, switching32),
        ):
            usid.hdf_utils.write_main_dataset(
                group,
                table.reshape(-1, 1),
                name,
                "Loop",
                "compound",
                None,
                None,
                dtype=dtype,
                h5_pos_inds=main.h5_pos_inds,
                h5_pos_vals=main.h5_pos_vals,
                h5_spec_inds=inds,
                h5_spec_vals=vals,
            )
    return {"loop_params": params, "loop_theta": np.array(theta), "loop_offset": np.array(offset)}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20240515)
    truth = {**make_sho(rng), **make_loops(rng)}
    np.savez(OUT / "truth.npz", **truth)
    packages = ["BGlib", "pyUSID", "sidpy", "numpy", "scipy", "h5py", "scikit-learn"]
    versions: dict[str, object] = {name: version(name) for name in packages}
    versions["python"] = sys.version.split()[0]
    versions["sho_fit_solver_options"] = {
        "bglib_sho.h5": {"jac": "cs"},
        "bglib_sho_converged.h5": SOLVER_OPTIONS,
    }
    versions["loop_fit_solver_options"] = {"jac": "cs"}
    (OUT / "versions.json").write_text(json.dumps(versions, indent=2) + "\n")
    print(json.dumps(versions))


if __name__ == "__main__":
    main()
