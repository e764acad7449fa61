"""Centre of mass and DPC on simulated data with known probe shifts, descan, rotation and potential."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis.stem4d import CalibrationWarning, center_of_mass, dpc
from pycrox.analysis.stem4d.com import _integrate, _remove_plane
from pycrox.errors import DimensionError
from pycrox.testing import raise_if_dask_computes
from tests.analysis.stem4d.synthetic import potential, rotate, spot, stem4d

DET = 24


@pytest.fixture(scope="module")
def shifted() -> tuple[xr.DataArray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    rows, cols = rng.uniform(-3, 3, (2, 6, 7))
    return (
        stem4d(spot((DET, DET), DET // 2 + rows, DET // 2 + cols, 1.5), det_step=0.5),
        rows * 0.5,
        cols * 0.5,
    )


def test_center_of_mass_finds_known_probe_shifts(shifted):
    da, rows, cols = shifted
    com = center_of_mass(da)
    np.testing.assert_allclose(com.com_kx.values, cols, atol=1e-9)
    np.testing.assert_allclose(com.com_ky.values, rows, atol=1e-9)
    assert com.com_kx.attrs["units"] == "mrad"
    assert com.com_kx.attrs["quantity"] == "Scattering angle"
    assert com.attrs["detector_dims"] == ["ky", "kx"]


def test_center_of_mass_is_lazy_and_equal_on_dask(shifted):
    da, rows, _ = shifted
    with raise_if_dask_computes():
        com = center_of_mass(da.chunk({"y": 2}).astype(np.float32))
    assert com.com_ky.chunks == ((6,), (7,))  # results merged along the scan (small)
    assert com.com_ky.dtype == np.float32
    np.testing.assert_allclose(com.com_ky.values, rows, atol=1e-4)


def test_center_of_mass_with_a_mask_ignores_masked_pixels():
    values = np.zeros((1, 2, 8, 8))
    values[0, :, 2, 2] = 1.0
    values[0, 1, 6, 6] = 100.0  # a hot pixel in the second pattern
    da = stem4d(values)
    mask = np.ones((8, 8), dtype=bool)
    mask[6, 6] = False
    com = center_of_mass(da, mask=mask)
    np.testing.assert_allclose(com.com_kx.values, [[-2.0, -2.0]])


def test_empty_patterns_give_nan_and_dpc_says_so():
    values = np.ones((4, 4, 6, 6))
    values[1, 2] = 0.0
    com = center_of_mass(stem4d(values))
    assert np.isnan(com.com_kx.values[1, 2])
    with pytest.warns(CalibrationWarning, match="no counts"):
        dpc(com, rotation=0.0)


def simulate(theta: float, flip: bool) -> tuple[xr.DataArray, np.ndarray, np.ndarray, np.ndarray]:
    n = 48
    phi, gx, gy = potential(n, 0.6, 0.08, 0.05)
    gx, gy = gx * 2 / np.abs(gx).max(), gy * 2 / np.abs(gx).max()
    ux, uy = rotate(gx, gy, -theta)  # detector frame: R(theta) F u = g
    if flip:
        ux, uy = uy, ux
    rows, cols = np.indices((n, n))
    ux = ux + 0.5 + 0.02 * cols - 0.01 * rows  # descan: a plane over the scan
    uy = uy - 0.3 + 0.015 * rows
    return stem4d(spot((DET, DET), DET // 2 + uy, DET // 2 + ux, 1.5), scan_step=0.05), phi, gx, gy


@pytest.mark.parametrize(("theta", "flip"), [(30.0, False), (-100.0, False), (75.0, True), (170.0, True)])
def test_dpc_calibrates_rotation_and_flip_and_integrates_the_potential(theta, flip):
    da, phi, gx, gy = simulate(theta, flip)
    out = dpc(da)
    assert out.attrs["rotation"] == pytest.approx(theta, abs=0.05)
    assert out.attrs["flip"] is flip
    assert out.attrs["curl_fraction"] < 0.01
    # the descan plane also removes the plane-like part of the true field: compare with that
    np.testing.assert_allclose(out.dpc_kx.values, _remove_plane(gx)[0], atol=2e-3)
    np.testing.assert_allclose(out.dpc_ky.values, _remove_plane(gy)[0], atol=2e-3)
    assert np.corrcoef(out.idpc.values.ravel(), phi.ravel())[0, 1] > 0.93
    assert out.idpc.attrs["units"] == "mrad*nm"


def test_dpc_with_a_given_rotation_reports_its_curl():
    da, _, gx, _ = simulate(30.0, False)
    right, wrong = dpc(da, rotation=30.0), dpc(da, rotation=80.0)
    np.testing.assert_allclose(right.dpc_kx.values, _remove_plane(gx)[0], atol=2e-3)
    assert right.attrs["curl_fraction"] < 0.01 < wrong.attrs["curl_fraction"]


def test_descan_plane_is_recovered_without_a_sample():
    rows, cols = np.indices((6, 8))
    shift_x, shift_y = 0.4 + 0.1 * cols - 0.05 * rows, -0.2 + 0.03 * rows
    da = stem4d(spot((DET, DET), DET // 2 + shift_y, DET // 2 + shift_x, 1.5))
    out = dpc(da, rotation=0.0)
    np.testing.assert_allclose(out.attrs["descan"]["com_kx"], [0.4, 0.1, -0.05], atol=1e-9)
    np.testing.assert_allclose(out.attrs["descan"]["com_ky"], [-0.2, 0.0, 0.03], atol=1e-9)
    np.testing.assert_allclose(out.dpc_kx.values, 0.0, atol=1e-9)


def test_dpc_from_com_maps_equals_dpc_from_the_data():
    da, *_ = simulate(30.0, False)
    xr.testing.assert_allclose(dpc(center_of_mass(da)).drop_attrs(), dpc(da).drop_attrs())


def test_fourier_integration_inverts_the_gradient():
    phi, gx, gy = potential(32, 0.4, 0.1, 0.05)
    back = _integrate(gx, gy, [0.05, 0.05])
    np.testing.assert_allclose(back, phi - phi.mean(), atol=1e-6)


def test_dpc_refuses_other_datasets():
    with pytest.raises(DimensionError, match="center_of_mass"):
        dpc(xr.Dataset({"a": (("y", "x"), np.zeros((3, 3)))}))


def test_dpc_on_uncalibrated_data_warns_and_uses_pixels():
    values = spot((9, 9), np.full((4, 4), 4.0), np.full((4, 4), 4.0), 1.0)
    da = pycrox.from_array(values, dims=("y", "x", "ky", "kx"))
    with pytest.warns(CalibrationWarning, match="pixels"):
        out = da.pycro.stem4d.dpc(rotation=0.0)
    assert out.dpc_kx.attrs["units"] == "px"
    np.testing.assert_allclose(out.attrs["descan"]["com_kx"][0], 4.0)
