"""pycrox against BGlib's own results (tests/reference/data/bglib, made by tests/reference/bglib_make.py).

BGlib does not install beside numpy 2; its outputs on seeded synthetic data are committed. These
tests read them with pycrox, compare pycrox's answers with BGlib's, and check that pycrox writes
BE results in BGlib's layout (results group, compound dataset names and fields).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

import pycrox
from pycrox.analysis import be
from pycrox.analysis.be import _loop, _names, _sho

DATA = Path(__file__).resolve().parents[2] / "reference" / "data" / "bglib"
SHO_FILE, LOOP_FILE = DATA / "bglib_sho.h5", DATA / "bglib_loops.h5"
CONVERGED_FILE = DATA / "bglib_sho_converged.h5"
SHO_GROUP = "/Measurement_000/Channel_000/Raw_Data-SHO_Fit_000"
LOOP_GROUP = "/Measurement_000/Channel_000/Raw_Data-Loop_Fit_000"
RAW = "/Measurement_000/Channel_000/Raw_Data"
SHO_FIELDS = ["Amplitude [V]", "Frequency [Hz]", "Quality Factor", "Phase [rad]", "R2 Criterion"]
LOOP_FIELDS = [*_loop.PARAMS, "R2 Criterion"]

pytestmark = pytest.mark.skipif(not SHO_FILE.exists(), reason="BGlib reference files not generated")


def _table(ds, names) -> np.ndarray:
    return np.column_stack([ds[name].values.reshape(-1) for name in names])


@pytest.fixture(scope="module")
def sho_raw():
    return pycrox.open(SHO_FILE, group=RAW).load()


@pytest.fixture(scope="module")
def bglib_sho_converged():
    return pycrox.open(CONVERGED_FILE, group=f"{SHO_GROUP}/Fit").load()


@pytest.fixture(scope="module")
def bglib_sho():
    guess = pycrox.open(SHO_FILE, group=f"{SHO_GROUP}/Guess").load()
    fit = pycrox.open(SHO_FILE, group=f"{SHO_GROUP}/Fit").load()
    return guess, fit


def test_bglib_sho_results_read_as_compound_datasets(bglib_sho, sho_raw):
    guess, fit = bglib_sho
    assert list(fit.data_vars) == SHO_FIELDS
    assert list(guess.data_vars) == SHO_FIELDS
    assert sho_raw.dims == ("Y", "X", "Frequency")  # USID names kept; dim=None finds Frequency


def test_complex_gaussian_guess_matches_bglib(bglib_sho, sho_raw):
    ours = be.sho_guess(sho_raw)
    theirs = bglib_sho[0]
    np.testing.assert_allclose(
        ours.resonance_frequency.values.ravel(), theirs["Frequency [Hz]"].values.ravel(), rtol=1e-5
    )
    np.testing.assert_allclose(
        ours.quality_factor.values.ravel(), theirs["Quality Factor"].values.ravel(), rtol=1e-3
    )
    np.testing.assert_allclose(
        ours.amplitude.values.ravel(), theirs["Amplitude [V]"].values.ravel(), rtol=1e-3
    )
    np.testing.assert_allclose(ours.r2.values.ravel(), theirs["R2 Criterion"].values.ravel(), atol=1e-4)


def _sho_cost(raw, params: np.ndarray) -> np.ndarray:
    """Per-pixel sum of squared complex residuals of the SHO with `params` (pixels, 4) on `raw`."""
    z = raw.values.reshape(-1, raw.sizes["Frequency"]).astype(np.complex128)
    f = raw.Frequency.values.astype(np.float64)
    model = _sho.response(f, *(params[:, j : j + 1].astype(np.float64) for j in range(4)))
    return (np.abs(model - z) ** 2).sum(axis=1)


def test_sho_fit_matches_bglib_converged_fit(bglib_sho_converged, sho_raw):
    # BGlib's BESHOfitter with solver options that let its least squares on 1 - R² run (see
    # tests/reference/bglib_make.py): the agreement on every pixel with R² > 0.9
    ours = be.sho_fit(sho_raw)
    theirs = bglib_sho_converged
    good = theirs["R2 Criterion"].values.ravel() > 0.9
    assert good.mean() > 0.9
    mine = _table(ours, _sho.PARAMS)
    bglib = _table(theirs, SHO_FIELDS[:4])
    relative = np.abs(mine / bglib - 1)
    assert relative[good, 1].max() < 1e-3  # resonance within 0.1 %
    assert relative[good, 0].max() < 1e-2  # amplitude within 1 %
    assert relative[good, 2].max() < 1e-2  # Q within 1 %
    phase = np.abs(np.angle(np.exp(1j * (mine[:, 3] - bglib[:, 3]))))
    assert phase[good].max() < 0.02
    # same minimum: neither misfit is more than 0.1 % above the other
    np.testing.assert_allclose(_sho_cost(sho_raw, mine), _sho_cost(sho_raw, bglib), rtol=1e-3)


def test_bglib_default_sho_fit_is_its_guess_and_pycrox_is_never_worse(bglib_sho, sho_raw):
    # BGlib's default solver_options={"jac": "cs"}: the complex-step Jacobian of 1 - R² (through
    # np.abs) is zero, least_squares stops at its first evaluation and the Fit is the Guess
    guess, fit = bglib_sho
    np.testing.assert_array_equal(_table(fit, SHO_FIELDS[:4]), _table(guess, SHO_FIELDS[:4]))
    ours = be.sho_fit(sho_raw)
    mine = _table(ours, _sho.PARAMS)
    bglib = _table(fit, SHO_FIELDS[:4])
    # pycrox reaches the least-squares minimum: never a worse fit than BGlib's on any pixel
    assert (_sho_cost(sho_raw, mine) <= _sho_cost(sho_raw, bglib) * (1 + 1e-9)).all()
    good = fit["R2 Criterion"].values.ravel() > 0.9
    assert np.abs(mine[good, 1] / bglib[good, 1] - 1).max() < 1e-3  # the guess's resonance is close


def test_sho_fit_beats_bglib_on_the_truth(bglib_sho, sho_raw):
    truth = np.load(DATA / "truth.npz")
    ours = be.sho_fit(sho_raw)
    ours_q = np.abs(ours.quality_factor.values.ravel() / truth["sho_quality_factor"] - 1)
    bglib_q = np.abs(bglib_sho[1]["Quality Factor"].values.ravel() / truth["sho_quality_factor"] - 1)
    assert np.median(ours_q) <= np.median(bglib_q)
    assert np.abs(ours.resonance_frequency.values.ravel() / truth["sho_resonance_frequency"] - 1).max() < 1e-3


def test_bglib_field_names_work_as_a_guess(bglib_sho, sho_raw):
    result = be.sho_fit(sho_raw, guess=bglib_sho[0].squeeze(drop=True))
    assert bool(result.converged.all())


def _copy_raw(tmp_path: Path, source: Path) -> tuple[Path, object]:
    target = tmp_path / "ours.h5"
    raw = pycrox.open(source, group=RAW).load()
    pycrox.to_usid(raw, target)
    return target, pycrox.open(target, group=RAW)


@pytest.mark.reference
def test_sho_results_are_written_in_bglib_layout(tmp_path, sho_raw):
    usid = pytest.importorskip("pyUSID")
    target, raw = _copy_raw(tmp_path, SHO_FILE)
    guess, fit = be.sho_guess(raw), be.sho_fit(raw)
    pycrox.to_usid(guess, target, mode="a", source=raw)
    pycrox.to_usid(fit, target, mode="a", source=SHO_GROUP)
    with h5py.File(target) as ours, h5py.File(SHO_FILE) as theirs:
        group = ours[SHO_GROUP]
        assert group.attrs["tool"] == "SHO_Fit" == theirs[SHO_GROUP].attrs["tool"]
        assert ours[group.attrs["source_000"]].name == RAW
        assert group["Guess"].dtype == theirs[f"{SHO_GROUP}/Guess"].dtype  # exactly sho32
        assert list(group["Fit"].dtype.names[:5]) == SHO_FIELDS  # then pycrox's errors and converged
        assert group["Fit"].shape == theirs[f"{SHO_GROUP}/Fit"].shape == (48, 1)
        for name in ("Guess", "Fit"):
            assert usid.hdf_utils.check_if_main(group[name])
        np.testing.assert_allclose(
            group["Fit"]["Frequency [Hz]"].ravel(), fit.resonance_frequency.values.ravel()
        )
    back = pycrox.open(target, group=f"{SHO_GROUP}/Fit").load()
    assert list(back.data_vars)[:5] == ["amplitude", "resonance_frequency", "quality_factor", "phase", "r2"]
    np.testing.assert_array_equal(back.converged.values, fit.converged.values)


@pytest.fixture(scope="module")
def bglib_loops():
    names = ("Projected_Loops", "Loop_Metrics", "Guess", "Fit", "Fit_Loop_Parameters")
    return {name: pycrox.open(LOOP_FILE, group=f"{LOOP_GROUP}/{name}").load() for name in names}


def test_loop_projection_finds_the_axis_bglib_finds(bglib_loops):
    raw = pycrox.open(LOOP_FILE, group=RAW).load()
    truth = np.load(DATA / "truth.npz")
    ours = be.loop_project(raw)
    metrics = bglib_loops["Loop_Metrics"]
    np.testing.assert_allclose(ours.rotation, float(truth["loop_theta"]), atol=1e-6)
    # BGlib reports tan(slope) as its angle: tan(tan(0.4)) = 0.4497
    np.testing.assert_allclose(
        metrics["Rotation Angle [rad]"], np.tan(np.tan(float(truth["loop_theta"]))), atol=1e-3
    )
    np.testing.assert_allclose(ours.offset.values.ravel(), metrics["Offset"].values.ravel(), atol=1e-3)
    projected = bglib_loops["Projected_Loops"]
    assert np.corrcoef(ours.projected_loop.values.ravel(), projected.values.ravel())[0, 1] > 0.9999


def test_loop_metrics_geometry_and_switching_match_bglib(bglib_loops):
    loops = bglib_loops["Projected_Loops"]
    fit = bglib_loops["Fit"].squeeze(drop=True)
    metrics = be.loop_metrics(loops, fit=fit)
    theirs = bglib_loops["Loop_Metrics"].squeeze(drop=True)
    np.testing.assert_allclose(metrics.area, theirs["Area"], rtol=1e-5)
    np.testing.assert_allclose(metrics.centroid_x, theirs["Centroid x"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(metrics.centroid_y, theirs["Centroid y"], rtol=1e-4, atol=1e-6)
    switching = bglib_loops["Fit_Loop_Parameters"].squeeze(drop=True)
    for ours, field in _names.SWITCHING.items():
        np.testing.assert_allclose(metrics[ours], switching[field], rtol=1e-12, err_msg=ours)


def test_loop_fit_is_at_least_as_good_as_bglib(bglib_loops):
    loops = bglib_loops["Projected_Loops"]
    truth = np.load(DATA / "truth.npz")["loop_params"]
    ours = be.loop_fit(loops)
    mine = _table(ours, _loop.PARAMS)
    bglib = _table(bglib_loops["Fit"], _loop.PARAMS)
    # as for SHO, BGlib's jac="cs" on 1 - R² (through abs) is a zero Jacobian: its Fit is its Guess
    np.testing.assert_array_equal(bglib, _table(bglib_loops["Guess"], _loop.PARAMS))
    volts, values = (
        loops.DC_Offset.values.astype(np.float64),
        loops.values.reshape(-1, loops.sizes["DC_Offset"]),
    )
    assert (_loop.fit_cost(volts, values, mine) <= _loop.fit_cost(volts, values, bglib) * (1 + 1e-9)).all()
    ours_error = np.abs(mine[:, 2:4] - truth[:, 2:4])
    assert np.quantile(ours_error, 0.99) < 0.3  # coercive biases, V (DC step 0.625 V)
    assert np.median(ours_error) <= np.median(np.abs(bglib[:, 2:4] - truth[:, 2:4]))


def test_loop_results_are_written_in_bglib_layout(tmp_path, bglib_loops):
    target = tmp_path / "loops.h5"
    shutil.copy(LOOP_FILE, target)
    with h5py.File(target, "r+") as h5:
        del h5[LOOP_GROUP]
    loops = bglib_loops["Projected_Loops"]
    guess = be.loop_guess(loops)
    fit = be.loop_fit(loops, guess=guess)
    metrics = be.loop_metrics(loops, fit=fit)
    pycrox.to_usid(guess, target, mode="a", source=RAW)
    pycrox.to_usid(fit, target, mode="a", source=LOOP_GROUP)
    pycrox.to_usid(metrics, target, mode="a", source=LOOP_GROUP)
    with h5py.File(target) as ours, h5py.File(LOOP_FILE) as theirs:
        group = ours[LOOP_GROUP]
        assert group.attrs["tool"] == "Loop_Fit"
        assert group["Guess"].dtype == theirs[f"{LOOP_GROUP}/Guess"].dtype  # exactly loop_fit32
        assert list(group["Fit"].dtype.names[:10]) == LOOP_FIELDS
        assert group["Fit_Loop_Parameters"].dtype == theirs[f"{LOOP_GROUP}/Fit_Loop_Parameters"].dtype
        assert group["Loop_Metrics"].dtype == theirs[f"{LOOP_GROUP}/Loop_Metrics"].dtype
    back = pycrox.open(target, group=f"{LOOP_GROUP}/Fit").load()
    np.testing.assert_allclose(back.a_3.values, fit.a_3.values)
