"""Bad input gives a clear error, or NaN with converged=False and one FitWarning: never a silent wrong answer."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pycrox.analysis import be
from pycrox.analysis.models import FitError, FitWarning
from pycrox.errors import DimensionError, UnitError
from tests.analysis.be.conftest import sho_data, sho_truth


@pytest.fixture
def small():
    return sho_data(sho_truth((4, 6)))


def test_real_data_is_refused_with_advice(small):
    with pytest.raises(FitError, match=r"holds real values .* amplitude \* np.exp\(1j \* phase\)"):
        be.sho_fit(np.abs(small))
    with pytest.raises(FitError, match="real values"):
        be.sho_guess(np.abs(small))


def test_frequency_axis_without_units_is_refused(small):
    bare = small.assign_coords(
        Frequency=("Frequency", small.Frequency.values, {"dimension_type": "SPECTRAL"})
    )
    with pytest.raises(UnitError, match=r"'Frequency' has no units; set them, e.g. .*'Hz'"):
        be.sho_fit(bare)


def test_frequency_axis_in_volts_is_refused(small):
    wrong = small.assign_coords(Frequency=small.Frequency.assign_attrs(units="V"))
    with pytest.raises(UnitError, match="not a Hz unit"):
        be.sho_fit(wrong)


def test_no_spectral_dim_needs_dim(small):
    plain = small.assign_coords(Frequency=small.Frequency.assign_attrs(dimension_type="UNKNOWN"))
    with pytest.raises(DimensionError, match="no SPECTRAL dimension; pass dim="):
        be.sho_fit(plain)
    assert be.sho_fit(plain, "Frequency").sizes == {"y": 4, "x": 6}


def test_unknown_guess_method(small):
    with pytest.raises(FitError, match="unknown guess method 'peak'"):
        be.sho_fit(small, guess="peak")


def test_guess_dataset_without_parameters(small):
    with pytest.raises(FitError, match="lacks"):
        be.sho_fit(small, guess=be.sho_guess(small).drop_vars("phase"))


def test_nan_pixels_give_nan_unconverged_and_one_warning(small):
    holes = small.copy()
    holes[0, 0, 3] = np.nan
    holes[2, 1, :] = np.nan
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = be.sho_fit(holes)
    fit_warnings = [w for w in caught if issubclass(w.category, FitWarning)]
    assert len(fit_warnings) == 1
    assert "2 of 24 pixels" in str(fit_warnings[0].message)
    assert not bool(result.converged[0, 0])
    assert not bool(result.converged[2, 1])
    assert np.isnan(result.amplitude[0, 0])
    assert np.isnan(result.resonance_frequency[2, 1])
    assert int(result.converged.sum()) == 22


def test_diverging_fits_give_nan_not_a_wrong_answer(small):
    """Pure noise and a one-iteration budget: pixels that do not converge are NaN, flagged and counted."""
    rng = np.random.default_rng(0)
    noise = small.copy(
        data=(rng.standard_normal(small.shape) + 1j * rng.standard_normal(small.shape)).astype(np.complex64)
    )
    with pytest.warns(FitWarning, match="pixels gave no result"):
        result = be.sho_fit(noise, max_iter=1)
    unconverged = ~result.converged.values
    assert unconverged.any()
    assert np.isnan(result.quality_factor.values[unconverged]).all()
    assert np.isnan(result.r2.values[unconverged]).all()


def test_loop_fit_refuses_complex_and_unitless_bias():
    from tests.analysis.be.conftest import loop_data, loop_truth, triangle

    loops = loop_data(loop_truth(4), triangle())
    with pytest.raises(FitError, match="complex; fit the projected loop"):
        be.loop_fit(loops + 0j)
    with pytest.raises(UnitError, match="'DC_Offset' has no units"):
        be.loop_fit(
            loops.assign_coords(
                DC_Offset=loops.DC_Offset.drop_attrs().assign_attrs(dimension_type="SPECTRAL")
            )
        )
    with pytest.raises(FitError, match="real values"):
        be.loop_project(loops)


def test_loop_fit_nan_loop_is_flagged():
    from tests.analysis.be.conftest import loop_data, loop_truth, triangle

    loops = loop_data(loop_truth(6), triangle())
    loops[2, 5] = np.nan
    with pytest.warns(FitWarning, match="1 of 6 pixels"):
        result = be.loop_fit(loops, guess="direct")
    assert not bool(result.converged[2])
    assert np.isnan(result.a_2[2])
    assert bool(result.converged.drop_sel(pixel=2).all())
