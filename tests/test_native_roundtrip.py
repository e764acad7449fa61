import pytest
from hypothesis import HealthCheck, given, settings

import pycrox
from pycrox.testing import assert_lossless, strategies

ROUND_TRIPS = {".zarr": pycrox.to_zarr, ".nc": pycrox.to_netcdf}


@pytest.mark.parametrize("suffix", ROUND_TRIPS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(da=strategies.model_arrays())
def test_round_trip_is_lossless(suffix, da, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / f"obj{suffix}"
    ROUND_TRIPS[suffix](da, path)
    back = pycrox.open(path)
    assert_lossless(back.load(), da)
