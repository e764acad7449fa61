"""Bragg disks and strain on simulated diffraction of known lattices, strains and rotations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pycrox.analysis.stem4d import CalibrationWarning, find_disks, fit_lattice, strain
from pycrox.errors import DimensionError
from pycrox.testing import raise_if_dask_computes
from tests.analysis.stem4d.synthetic import disk, stem4d

DET = 64
STEP = 0.1  # 1/nm per detector pixel
G1 = np.array([11.0, 1.0])  # (col, row) in pixels
G2 = np.array([-2.0, 12.0])
ORIGIN = np.array([32.3, 31.6])


def lattice_patterns(deformations: np.ndarray, radius: float = 3.0) -> tuple[np.ndarray, list]:
    """Patterns (..., DET, DET) of disks at ORIGIN + F^-T G0 (h, k) for each deformation F, and the true positions."""
    base = np.column_stack([G1, G2])
    values = np.zeros((*deformations.shape[:-2], DET, DET))
    truth = []
    for index in np.ndindex(deformations.shape[:-2]):
        g = np.linalg.inv(deformations[index]).T @ base
        points = []
        for h in range(-3, 4):
            for k in range(-3, 4):
                q = ORIGIN + g @ [h, k]
                if 5 < q[0] < DET - 5 and 5 < q[1] < DET - 5:
                    values[index] += (3.0 if h == k == 0 else 1.0) * disk((DET, DET), q[1], q[0], radius)
                    points.append(q)
        truth.append(np.array(points))
    return values, truth


def deformation(exx, eyy, exy, theta_deg):
    c, s = math.cos(math.radians(theta_deg)), math.sin(math.radians(theta_deg))
    return np.array([[c, -s], [s, c]]) @ np.array([[1 + exx, exy], [exy, 1 + eyy]])


@pytest.fixture(scope="module")
def strained():
    rng = np.random.default_rng(4)
    truth = rng.uniform(-0.02, 0.02, (3, 4, 4))  # exx, eyy, exy, rotation (rad)
    truth[0, 0, :] = 0.0  # the reference position
    f = np.empty((3, 4, 2, 2))
    for i, j in np.ndindex(3, 4):
        f[i, j] = deformation(*truth[i, j, :3], math.degrees(truth[i, j, 3]))
    values, points = lattice_patterns(f)
    return stem4d(values, det_units="1/nm", det_step=STEP), truth, points


@pytest.fixture(scope="module")
def template() -> np.ndarray:
    return disk((DET, DET), 20.0, 40.0, 3.0)  # a vacuum probe anywhere on the detector


def test_find_disks_gives_sub_pixel_positions(strained, template):
    da, _, points = strained
    disks = find_disks(da, template)
    kx, ky = disks.disk_kx.values[0, 1], disks.disk_ky.values[0, 1]
    found = np.column_stack([kx[np.isfinite(kx)], ky[np.isfinite(ky)]])
    true = (points[1] - DET // 2) * STEP  # detector coordinates start at -DET/2 * STEP
    assert found.shape == true.shape
    distance = np.min(np.hypot(*(found[:, None, :] - true[None, :, :]).transpose(2, 0, 1)), axis=0)
    assert distance.max() < 0.1 * STEP  # a tenth of a pixel
    np.testing.assert_allclose(found[0], (ORIGIN - DET // 2) * STEP, atol=0.05 * STEP)  # brightest first
    assert disks.disk_kx.attrs["units"] == "1/nm"


def test_find_disks_is_lazy(strained, template):
    da, *_ = strained
    with raise_if_dask_computes():
        lazy = find_disks(da.chunk({"y": 1}), template, max_disks=12)
    assert lazy.sizes["disk"] == 12
    xr.testing.assert_allclose(
        lazy.compute().drop_attrs(), find_disks(da, template, max_disks=12).drop_attrs()
    )


def test_strain_recovers_known_strain_and_rotation(strained, template):
    da, truth, _ = strained
    result = strain(find_disks(da, template), G1 * STEP, G2 * STEP, reference={"x": da.x[0], "y": da.y[0]})
    np.testing.assert_allclose(result.e_xx.values, truth[..., 0], atol=5e-4)
    np.testing.assert_allclose(result.e_yy.values, truth[..., 1], atol=5e-4)
    np.testing.assert_allclose(result.e_xy.values, truth[..., 2], atol=5e-4)
    np.testing.assert_allclose(np.radians(result.rotation.values), truth[..., 3], atol=5e-4)
    assert result.rotation.attrs["units"] == "deg"


def test_fit_lattice_indexes_every_disk(strained, template):
    da, *_ = strained
    lattice = fit_lattice(find_disks(da, template), G1 * STEP, G2 * STEP)
    assert (lattice.n_indexed.values >= 20).all()
    assert lattice.error.values.max() < 0.05 * STEP
    np.testing.assert_allclose(lattice.g1_col.values[0, 0], G1[0] * STEP, atol=1e-3)


def test_strain_in_a_rotated_frame():
    f = np.stack([np.eye(2), deformation(0.01, 0.0, 0.0, 0.0)])[None]
    values, _ = lattice_patterns(f)
    da = stem4d(values, det_units="1/nm", det_step=STEP)
    disks = find_disks(da, disk((DET, DET), 32.0, 32.0, 3.0))
    turned = strain(disks, G1 * STEP, G2 * STEP, reference=(G1 * STEP, G2 * STEP), rotation=90.0)
    assert turned.e_yy.values[0, 1] == pytest.approx(0.01, abs=5e-4)  # x strain seen along y
    assert turned.e_xx.values[0, 1] == pytest.approx(0.0, abs=5e-4)


def test_template_of_the_wrong_shape_is_refused(strained):
    da, *_ = strained
    with pytest.raises(DimensionError, match=r"template has shape \(32, 32\)"):
        find_disks(da, np.ones((32, 32)))


def test_empty_template_is_refused(strained):
    da, *_ = strained
    with pytest.raises(ValueError, match="positive total"):
        find_disks(da, np.zeros((DET, DET)))


def test_parallel_vectors_and_bad_input_are_refused(strained, template):
    da, *_ = strained
    disks = find_disks(da, template)
    with pytest.raises(ValueError, match="parallel"):
        fit_lattice(disks, [1.0, 0.0], [2.0, 0.0])
    with pytest.raises(DimensionError, match="find_disks"):
        fit_lattice(xr.Dataset(), [1.0, 0.0], [0.0, 1.0])
    with pytest.raises(ValueError, match="no pattern in the reference region"):
        strain(disks, G1 * STEP, G2 * STEP, reference=np.zeros((3, 4), dtype=bool))


def test_patterns_without_a_lattice_give_nan():
    values = np.zeros((1, 2, DET, DET))
    values[0, 0] = disk((DET, DET), 32.0, 32.0, 3.0)  # only the direct beam
    values[0, 1], _ = lattice_patterns(np.eye(2)[None, None])
    da = stem4d(values, det_units="1/nm", det_step=STEP)
    result = strain(find_disks(da, disk((DET, DET), 32.0, 32.0, 3.0)), G1 * STEP, G2 * STEP)
    assert np.isnan(result.e_xx.values[0, 0])
    assert result.e_xx.values[0, 1] == pytest.approx(0.0, abs=1e-6)


def test_accessor_strain_on_uncalibrated_data_warns(template):
    values, _ = lattice_patterns(np.eye(2)[None, None])
    da = stem4d(values, det_units="", det_step=1.0)
    with pytest.warns(CalibrationWarning, match="pixels"):
        result = da.pycro.stem4d.strain(template, G1, G2, disk_options={"threshold": 0.2})
    assert result.e_xx.values[0, 0] == pytest.approx(0.0, abs=1e-6)
