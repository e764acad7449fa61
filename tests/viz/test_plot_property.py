"""Any valid pycrox object is drawn, or refused with a DimensionError: never another error."""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from matplotlib import pyplot

from pycrox.errors import DimensionError
from pycrox.testing import strategies
from pycrox.viz import contact_sheet


@pytest.mark.filterwarnings("ignore:Glyph")  # random unicode titles the font lacks
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays(min_dims=0, max_dims=5))
def test_plot_draws_any_model_array(da):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NaN/inf data: numpy's own warnings
            warnings.filterwarnings("ignore", "Glyph", UserWarning)  # random unicode titles
            fig = da.pycro.plot()
            fig.canvas.draw()
    except DimensionError:
        assert da.squeeze().ndim == 0  # only a single value is refused
        return
    finally:
        pyplot.close("all")
    assert fig.axes
    sheet = contact_sheet(da)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", "Glyph", UserWarning)
        sheet.canvas.draw()
    assert sheet.axes[0].get_title()
