"""pycrox.analysis.stem4d against py4DSTEM 0.14 outputs stored by tests/reference/py4dstem_make.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import pycrox
from pycrox.analysis.stem4d import center_of_mass, find_disks, virtual_image

DATA = Path(__file__).resolve().parents[2] / "reference" / "data" / "py4dstem"


@pytest.fixture(scope="module")
def ref() -> dict:
    return dict(np.load(DATA / "py4dstem.npz"))


def in_pixels(values: np.ndarray):
    """4-D data with detector coordinates in pixels (no calibration warning: 'px' is explicit)."""
    coords = {
        d: {"values": np.arange(n, dtype=float), "units": "px"}
        for d, n in zip(("ky", "kx"), values.shape[2:], strict=True)
    }
    return pycrox.from_array(values, dims=("y", "x", "ky", "kx"), coords=coords)


def test_reference_was_made_with_py4dstem():
    versions = json.loads((DATA / "versions.json").read_text())
    assert versions["py4DSTEM"].startswith("0.14")


def test_virtual_images_equal_py4dstem(ref):
    da = in_pixels(ref["random"])
    centre = tuple(float(c) for c in ref["center"])
    disk = virtual_image(da, outer=float(ref["outer"]), center=centre)
    annulus = virtual_image(da, float(ref["inner"]), float(ref["outer"]), center=centre)
    np.testing.assert_allclose(disk.values, ref["disk_image"], rtol=1e-5)
    np.testing.assert_allclose(annulus.values, ref["annulus_image"], rtol=1e-5)


def test_center_of_mass_equals_py4dstem(ref):
    com = center_of_mass(in_pixels(ref["random"]))
    np.testing.assert_allclose(com.com_ky.values, ref["com_row"], rtol=1e-5)
    np.testing.assert_allclose(com.com_kx.values, ref["com_col"], rtol=1e-5)


def test_bragg_disks_match_py4dstem(ref):
    da = in_pixels(ref["lattice"][None, None])
    disks = find_disks(da, ref["probe"], threshold=0.1, max_disks=40)
    ours = np.column_stack([disks.disk_ky.values[0, 0], disks.disk_kx.values[0, 0]])
    ours = ours[np.isfinite(ours).all(axis=1)]
    theirs = np.column_stack([ref["disks_row"], ref["disks_col"]])
    assert len(ours) == len(theirs)
    distance = np.hypot(*(ours[:, None, :] - theirs[None, :, :]).transpose(2, 0, 1)).min(axis=1)
    assert distance.max() < 0.1  # pixels: parabolic refinement vs py4DSTEM's upsampled DFT (1/16 px)
