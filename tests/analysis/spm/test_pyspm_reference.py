"""SPM corrections and roughness on corpus images against pySPM's own values.

The reference files come from tests/reference/pyspm_make.py (pySPM 0.6.3 in its own venv): pySPM
reads each image with its own reader and corrects it. The corrections are closed-form float64
arithmetic in both libraries (medians, means, a least-squares plane), so they must agree to
rounding: 1e-9 of the image's value range (the plane through 65 536 points loses a few digits
in the solve). The roughness parameters are numpy's ISO 25178 / 4287 formulas on pySPM's corrected
images (pySPM has none), compared with pycrox's on pycrox's corrected images, to 1e-9 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis import filters, spm

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "data" / "pyspm"
INFO = json.loads((REFERENCE / "versions.json").read_text())
IMAGES = list(INFO["images"])
#: pycrox's group for each pySPM (file, channel): pySPM's Bruker "Height" is the retrace image
GROUPS = {"Height": "/Height Retrace", "Amplitude": "/Amplitude Retrace", "Current": "/Current forward"}
AREAL = ("Sa", "Sq", "Sp", "Sv", "Sz", "Ssk", "Sku")


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    return dict(np.load(REFERENCE / "pyspm_reference.npz"))


def read(shared_data: Path, key: str) -> xr.DataArray:
    entry = INFO["images"][key]
    da = pycrox.open(shared_data / entry["path"], group=GROUPS[entry["channel"]])
    return da.astype(np.float64)


def sub(values: np.ndarray, key: str) -> np.ndarray:
    step = INFO["images"][key]["subsample_step"]
    return values[:: step[0], :: step[1]]


def close(ours: np.ndarray, theirs: np.ndarray, scale: float) -> None:
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-9 * scale)


def test_reference_records_pyspm_version():
    assert INFO["pySPM"] == "0.6.3"
    assert set(INFO["corrections"]) == {"correct_median_diff", "correct_lines", "correct_plane", "zero_min"}


@pytest.mark.parametrize("key", IMAGES)
def test_pycrox_reads_the_same_pixels_as_pyspm(shared_data, reference, key):
    da = read(shared_data, key)
    assert list(da.shape) == INFO["images"][key]["shape"]
    raw = da.values
    scale = float(np.ptp(raw))
    close(sub(raw, key), reference[f"{key}/raw_sub"], scale)
    np.testing.assert_allclose(raw.mean(), INFO["images"][key]["raw_mean"], rtol=1e-12, atol=1e-12 * scale)


@pytest.mark.parametrize("key", IMAGES)
def test_align_rows_median_difference_equals_pyspm_correct_median_diff(shared_data, reference, key):
    da = read(shared_data, key)
    raw = da.values
    out = spm.align_rows(da, "median_difference").values
    scale = float(np.ptp(raw))
    close((raw - out)[:, 0], reference[f"{key}/correct_median_diff_rows"], scale)
    np.testing.assert_allclose(raw - out, (raw - out)[:, :1] * np.ones_like(raw), atol=1e-12 * scale)
    close(sub(out, key), reference[f"{key}/correct_median_diff_sub"], scale)


@pytest.mark.parametrize("key", IMAGES)
def test_align_rows_mean_equals_pyspm_correct_lines(shared_data, reference, key):
    da = read(shared_data, key)
    raw = da.values
    out = spm.align_rows(da, "polynomial", degree=0).values  # each row's mean
    scale = float(np.ptp(raw))
    close((raw - out)[:, 0], reference[f"{key}/correct_lines_rows"], scale)
    close(sub(out, key), reference[f"{key}/correct_lines_sub"], scale)


@pytest.mark.parametrize("key", IMAGES)
def test_level_plane_equals_pyspm_correct_plane(shared_data, reference, key):
    da = read(shared_data, key)
    raw = da.values
    out = filters.level_plane(da).values  # fitted on the physical coordinates: the same plane
    scale = float(np.ptp(raw))
    rows, cols = np.mgrid[: raw.shape[0], : raw.shape[1]]
    c0, c1, c2 = reference[f"{key}/correct_plane_plane"]
    close(raw - out, c0 + c1 * cols + c2 * rows, scale)
    close(sub(out, key), reference[f"{key}/correct_plane_sub"], scale)


@pytest.mark.parametrize("key", IMAGES)
def test_fix_zero_minimum_equals_pyspm_zero_min(shared_data, reference, key):
    da = read(shared_data, key)
    out = spm.fix_zero(da, "minimum").values
    scale = float(np.ptp(da.values))
    close((da.values - out).ravel()[:1], reference[f"{key}/zero_min_offset"], scale)
    assert out.min() == 0.0


@pytest.mark.parametrize("key", IMAGES)
@pytest.mark.parametrize(
    ("correction", "apply"),
    [
        ("correct_median_diff", lambda da: spm.align_rows(da, "median_difference")),
        ("correct_lines", lambda da: spm.align_rows(da, "polynomial", degree=0)),
        ("correct_plane", filters.level_plane),
    ],
)
def test_roughness_on_corrected_corpus_images(shared_data, reference, key, correction, apply):
    result = spm.roughness(apply(read(shared_data, key)))
    for name in AREAL:
        np.testing.assert_allclose(
            float(result[name]), reference[f"{key}/{correction}_{name}"][0], rtol=1e-9, err_msg=name
        )
    scale = float(result["Sq"])
    for name in ("Ra", "Rq"):
        np.testing.assert_allclose(
            result[name].values, reference[f"{key}/{correction}_{name}"], rtol=1e-9, atol=1e-12 * scale
        )
