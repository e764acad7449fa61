"""The Quantum Detectors MIB files of the shared corpus: dims, calibration warnings and sums."""

from __future__ import annotations

import numpy as np
import pytest

import pycrox
from pycrox.analysis.stem4d import CalibrationWarning, center_of_mass, virtual_diffraction, virtual_image
from pycrox.errors import DimensionError


@pytest.fixture(scope="module")
def quantumdetector(shared_data):
    folder = shared_data / "vendor" / "quantumdetector"
    if not folder.is_dir():
        pytest.skip(f"no Quantum Detectors files in {folder}")
    return folder


def test_mib_4d_scan_has_navigation_and_detector_dims(quantumdetector):
    da = pycrox.open(quantumdetector / "001_4x2_6bit.mib")
    kinds = {d: da[d].attrs["dimension_type"] for d in da.dims}
    assert kinds == {"y": "SPATIAL", "x": "SPATIAL", "ky": "RECIPROCAL", "kx": "RECIPROCAL"}
    assert da.pycro.data_type == "IMAGE_4D"


def test_mib_4d_virtual_image_and_com_in_pixels(quantumdetector):
    da = pycrox.open(quantumdetector / "001_4x2_6bit.mib", chunks={})
    values = da.values.astype(np.float64)
    with pytest.warns(CalibrationWarning, match="pixels"):
        image = virtual_image(da, mask=np.ones(values.shape[2:], dtype=bool))
    with pytest.warns(CalibrationWarning, match="pixels"):
        com = center_of_mass(da)
    np.testing.assert_array_equal(image.values, values.sum(axis=(2, 3)))
    rows = np.arange(values.shape[2])[:, None]
    expected = (values * rows).sum(axis=(2, 3)) / values.sum(axis=(2, 3))
    np.testing.assert_allclose(com.com_ky.values, expected)
    assert com.com_ky.attrs["units"] == "px"


def test_mib_4d_bright_field_centred_on_the_detector(quantumdetector):
    da = pycrox.open(quantumdetector / "001_4x2_6bit.mib")
    with pytest.warns(CalibrationWarning, match="middle"), pytest.warns(CalibrationWarning, match="pixels"):
        image = da.pycro.stem4d.virtual_image(outer=40)
    r = np.hypot(*np.meshgrid(np.arange(256) - 127.5, np.arange(256) - 127.5, indexing="ij"))
    np.testing.assert_allclose(image.values, np.einsum("ijkl,kl->ij", da.values.astype(float), r < 40))
    pattern = virtual_diffraction(da, method="max")
    np.testing.assert_array_equal(pattern.values, da.values.max(axis=(0, 1)))


def test_single_mib_frame_is_not_4d(quantumdetector):
    frame = pycrox.open(quantumdetector / "Quad_1_Frame_CounterDepth_12_Rows_256.mib")
    with pytest.raises(DimensionError, match="2 navigation"):
        frame.pycro.stem4d.center_of_mass()
