import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.testing import assert_lossless
from pycrox.viz import axis_label, label, with_labels
from tests.viz._data import asymmetric_image


def test_label_is_quantity_and_units():
    da = asymmetric_image()
    assert label(da) == "Intensity [counts]"
    assert axis_label(da, "x") == "Length [nm]"


def test_label_prefers_long_name_then_quantity_then_name():
    assert (
        label(xr.DataArray(1.0, attrs={"long_name": "Counts", "quantity": "Q", "units": "1/s"}))
        == "Counts [1/s]"
    )
    assert label(xr.DataArray(1.0, name="raw", attrs={"units": ""})) == "raw"
    assert label(xr.DataArray(1.0)) == ""


def test_axis_label_without_coordinate_is_the_dim_name():
    assert axis_label(xr.DataArray(np.zeros(3), dims="pixel"), "pixel") == "pixel"


def test_with_labels_fills_long_name_without_touching_the_input():
    da = asymmetric_image()
    da.attrs.pop("long_name")
    da.x.attrs.pop("long_name")
    labelled = with_labels(da)
    assert labelled.attrs["long_name"] == "Intensity"
    assert labelled.x.attrs["long_name"] == "Length"
    assert "long_name" not in da.attrs
    assert "long_name" not in da.x.attrs


def test_with_labels_keeps_an_existing_long_name():
    da = asymmetric_image().assign_attrs(long_name="HAADF signal")
    assert with_labels(da).attrs["long_name"] == "HAADF signal"


def test_xarray_own_plot_reads_quantity_and_units():
    """xarray's .plot() builds labels from long_name + units: "Intensity [counts]", "Length [nm]"."""
    da = with_labels(asymmetric_image())
    artist = da.plot.imshow()
    assert artist.axes.get_xlabel() == "Length [nm]"
    assert artist.colorbar.ax.get_ylabel() == "Intensity [counts]"


def test_without_long_name_xarray_labels_the_colour_bar_with_units_only():
    """What the decision fixes: a signal without long_name (and no name) gets ' [counts]'-like labels."""
    bare = asymmetric_image()
    bare.attrs.pop("long_name")
    assert "Intensity" not in bare.plot.imshow().colorbar.ax.get_ylabel()
    stored = asymmetric_image()  # from_array stores long_name: xarray's own label reads "Intensity [counts]"
    assert stored.plot.imshow().colorbar.ax.get_ylabel() == "Intensity [counts]"


WRITERS = {".zarr": pycrox.to_zarr, ".nc": pycrox.to_netcdf, ".h5": pycrox.to_nsid}


@pytest.mark.parametrize("suffix", [*WRITERS, "usid"])
@pytest.mark.parametrize("long_name", ["Intensity", "HAADF signal"])
def test_data_long_name_round_trips_losslessly(suffix, long_name, tmp_path):
    da = asymmetric_image().rename("img").assign_attrs(long_name=long_name)
    path = tmp_path / ("a.h5" if suffix == "usid" else f"a{suffix}")
    (pycrox.to_usid if suffix == "usid" else WRITERS[suffix])(da, path)
    with pycrox.open(path) as back:
        assert_lossless(back.load(), da)
