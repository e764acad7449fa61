import numpy as np
import pytest

import pycrox
from pycrox import cli
from pycrox.testing import assert_lossless


@pytest.fixture
def zarr_file(tmp_path):
    da = pycrox.from_array(
        np.arange(60, dtype="float32").reshape(3, 4, 5),
        name="si",
        coords={"x": {"values": np.arange(4) * 0.5, "units": "nm"}},
        title="spectrum image",
        units="counts",
        metadata={"beam_energy": {"value": 200.0, "units": "keV"}},
    )
    pycrox.to_zarr(da, tmp_path / "si.zarr")
    return tmp_path / "si.zarr", da


def test_info_shows_dims_shapes_units_and_metadata(zarr_file, capsys):
    path, _ = zarr_file
    assert cli.main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "si: float32 (y, x, energy) 3x4x5 [counts]" in out
    assert "x: 4 values 0 .. 1.5 [nm] SPATIAL" in out
    assert "beam_energy=200.0 keV" in out
    assert "title: spectrum image" in out


def test_convert_zarr_to_netcdf_is_lossless(zarr_file, tmp_path, capsys):
    path, da = zarr_file
    assert cli.main(["convert", str(path), str(tmp_path / "si.nc"), "--quiet"]) == 0
    assert_lossless(pycrox.open(tmp_path / "si.nc").load(), da)
    capsys.readouterr()
    assert cli.main(["convert", str(path), str(tmp_path / "si.nc"), "--quiet"]) == 1
    assert "exists; pass mode='w'" in capsys.readouterr().err
    assert cli.main(["convert", str(path), str(tmp_path / "si.nc"), "--quiet", "--overwrite"]) == 0


def test_convert_refuses_unknown_output_extension(zarr_file, tmp_path, capsys):
    path, _ = zarr_file
    assert cli.main(["convert", str(path), str(tmp_path / "si.xyz")]) == 1
    assert "cannot tell the output format" in capsys.readouterr().err


def test_info_on_missing_file_is_one_clear_line(tmp_path, capsys):
    assert cli.main(["info", str(tmp_path / "missing.dm4")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("pycrox info: error:")
    assert "missing.dm4" in err
