"""Virtual images and virtual diffraction on simulated 4-D STEM data of known content."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.analysis.stem4d import CalibrationWarning, electron_wavelength, virtual_diffraction, virtual_image
from pycrox.errors import DimensionError, UnitError
from pycrox.testing import raise_if_dask_computes
from tests.analysis.stem4d.synthetic import stem4d


@pytest.fixture
def data() -> xr.DataArray:
    rng = np.random.default_rng(1)
    return stem4d(rng.random((5, 6, 16, 16)), det_step=2.0)  # ky, kx from -16 to 14 mrad


def radius(da: xr.DataArray) -> np.ndarray:
    return np.hypot(*np.meshgrid(da.ky.values, da.kx.values, indexing="ij"))


def test_bright_field_sums_the_pixels_inside_the_disk(data):
    expected = np.einsum("ijkl,kl->ij", data.values, radius(data) < 5.0)
    result = virtual_image(data, outer=5.0)
    np.testing.assert_allclose(result.values, expected, rtol=1e-12)
    assert result.dims == ("y", "x")
    assert result.attrs["data_type"] == "IMAGE"
    assert result.attrs["virtual_detector"]["outer"] == 5.0


def test_annular_dark_field_with_radii_in_mrad_strings(data):
    r = radius(data)
    expected = np.einsum("ijkl,kl->ij", data.values, (r >= 4.0) & (r < 12.0))
    np.testing.assert_allclose(virtual_image(data, "4 mrad", "12 mrad").values, expected, rtol=1e-12)


def test_radius_in_reciprocal_angstrom_is_converted_with_the_beam_energy(data):
    wavelength = electron_wavelength(300.0)  # Å
    in_k = virtual_image(data, outer=f"{7.0e-3 / wavelength} 1/Å")
    np.testing.assert_allclose(in_k.values, virtual_image(data, outer=7.0).values)
    assert in_k.attrs["virtual_detector"]["outer"] == pytest.approx(7.0)


def test_detector_in_reciprocal_length_takes_radii_in_mrad():
    da = stem4d(np.ones((1, 1, 21, 21)), det_units="1/nm", det_step=0.5)
    wavelength_nm = electron_wavelength(300.0) / 10
    image = virtual_image(da, outer=f"{2.1 * wavelength_nm * 1e3} mrad")  # |k| < 2.1 1/nm
    assert image.values[0, 0] == np.count_nonzero(radius(da) < 2.1)


def test_angle_without_beam_energy_is_a_unit_error():
    da = stem4d(np.ones((1, 1, 8, 8)), det_units="1/nm", beam_energy=None)
    with pytest.raises(UnitError, match="beam_energy"):
        virtual_image(da, outer="10 mrad")


def test_any_mask_weights_the_detector(data):
    mask = np.zeros((16, 16))
    mask[2:5, 9:15] = 0.5
    expected = np.einsum("ijkl,kl->ij", data.values, mask)
    as_array = xr.DataArray(mask.T, dims=("kx", "ky"))  # a DataArray in another dim order
    np.testing.assert_allclose(virtual_image(data, mask=as_array).values, expected)


def test_dask_input_stays_lazy_and_streams_over_scan_chunks(data):
    lazy = data.chunk({"y": 2, "x": 3})
    with raise_if_dask_computes():
        result = virtual_image(lazy, inner=4.0, outer=12.0)
    assert result.chunks == ((5,), (3, 3))  # results merged along the scan (small), x kept
    np.testing.assert_allclose(result.values, virtual_image(data, inner=4.0, outer=12.0).values)


def test_detector_split_into_chunks_is_rechunked(data):
    lazy = data.chunk({"ky": 4})
    np.testing.assert_allclose(virtual_image(lazy, outer=6.0).values, virtual_image(data, outer=6.0).values)


def test_float32_data_give_float32_images(data):
    assert virtual_image(data.astype(np.float32), outer=5.0).dtype == np.float32
    assert virtual_image((data * 100).astype(np.uint16), outer=5.0).dtype == np.float64


def test_integer_counts_are_summed_exactly():
    counts = np.random.default_rng(2).integers(0, 4096, (3, 3, 32, 32)).astype(np.uint16)
    image = virtual_image(stem4d(counts), mask=np.ones((32, 32), dtype=bool))
    np.testing.assert_array_equal(image.values, counts.sum(axis=(2, 3)))


def test_mask_of_the_wrong_shape_is_refused(data):
    with pytest.raises(DimensionError, match=r"shape \(15, 16\).*\(16, 16\)"):
        virtual_image(data, mask=np.ones((15, 16)))


def test_mask_on_other_dims_is_refused(data):
    with pytest.raises(DimensionError, match="detector dims"):
        virtual_image(data, mask=xr.DataArray(np.ones((16, 16)), dims=("y", "x")))


def test_empty_mask_is_refused(data):
    with pytest.raises(DimensionError, match="no detector pixel"):
        virtual_image(data, mask=np.zeros((16, 16)))


def test_annulus_outside_the_detector_is_refused(data):
    with pytest.raises(DimensionError, match="holds no detector pixel"):
        virtual_image(data, inner=40.0, outer=50.0)


def test_annulus_cut_by_the_detector_edge_warns(data):
    with pytest.warns(CalibrationWarning, match="past the detector edge"):
        virtual_image(data, inner=4.0, outer=20.0)


def test_inner_not_below_outer_is_refused(data):
    with pytest.raises(ValueError, match="inner < outer"):
        virtual_image(data, inner=6.0, outer=3.0)


def test_radii_or_mask_are_required_and_exclusive(data):
    with pytest.raises(TypeError, match="inner="):
        virtual_image(data)
    with pytest.raises(TypeError, match="not both"):
        virtual_image(data, outer=3.0, mask=np.ones((16, 16)))


def test_uncalibrated_detector_works_in_pixels_with_a_warning():
    values = np.random.default_rng(3).random((2, 2, 9, 9))
    da = pycrox.from_array(values, dims=("y", "x", "ky", "kx"))  # coordinates 0..8, no units
    with pytest.warns(CalibrationWarning, match="pixels"), pytest.warns(CalibrationWarning, match="middle"):
        image = virtual_image(da, outer="2.5 px")  # the centre is assumed, and said so
    r = np.hypot(*np.meshgrid(np.arange(9) - 4.0, np.arange(9) - 4.0, indexing="ij"))
    np.testing.assert_allclose(image.values, np.einsum("ijkl,kl->ij", values, r < 2.5))


def test_physical_radius_on_an_uncalibrated_detector_is_a_unit_error():
    da = pycrox.from_array(np.ones((2, 2, 9, 9)), dims=("y", "x", "ky", "kx"))
    with pytest.warns(CalibrationWarning), pytest.raises(UnitError, match="uncalibrated"):
        virtual_image(da, outer="3 mrad", center=(4, 4))


def test_explicit_center_moves_the_detector(data):
    r = np.hypot(*np.meshgrid(data.ky.values - 4.0, data.kx.values + 2.0, indexing="ij"))
    expected = np.einsum("ijkl,kl->ij", data.values, r < 5.0)
    np.testing.assert_allclose(virtual_image(data, outer=5.0, center=(4.0, -2.0)).values, expected)


def test_data_without_two_detector_dims_is_refused():
    image = pycrox.from_array(np.ones((8, 8)), dims=("ky", "kx"))
    with pytest.raises(DimensionError, match="2 navigation"):
        virtual_image(image, outer=2.0)


def test_provenance_records_the_detector(data):
    steps = virtual_image(data, outer=5.0).attrs["provenance"]["pycrox"]
    (entry,) = steps.values()
    assert entry["function"] == "pycrox.stem4d.virtual_image"
    assert entry["parameters"]["outer"] == 5.0


def test_virtual_diffraction_mean_and_max_over_a_labelled_region(data):
    region = {"x": slice(0.05, 0.35), "y": slice(0.0, 0.25)}
    sub = data.values[0:3, 1:4]
    np.testing.assert_allclose(virtual_diffraction(data, region).values, sub.mean(axis=(0, 1)))
    np.testing.assert_allclose(virtual_diffraction(data, region, method="max").values, sub.max(axis=(0, 1)))


def test_virtual_diffraction_over_a_boolean_mask_stays_lazy(data):
    mask = np.zeros((5, 6), dtype=bool)
    mask[[0, 2, 4], [1, 3, 5]] = True
    with raise_if_dask_computes():
        mean = virtual_diffraction(data.chunk({"y": 2}), mask)
        top = virtual_diffraction(data.chunk({"y": 2}), mask, method="max")
    np.testing.assert_allclose(mean.values, data.values[mask].mean(axis=0))
    np.testing.assert_allclose(top.values, data.values[mask].max(axis=0))
    assert mean.dims == ("ky", "kx")


def test_virtual_diffraction_whole_scan_and_single_position(data):
    np.testing.assert_allclose(virtual_diffraction(data).values, data.values.mean(axis=(0, 1)))
    np.testing.assert_allclose(virtual_diffraction(data, {"x": 0.2, "y": 0.1}).values, data.values[1, 2])


def test_virtual_diffraction_bad_regions(data):
    with pytest.raises(DimensionError, match="not navigation dims"):
        virtual_diffraction(data, {"kx": slice(0, 2)})
    with pytest.raises(DimensionError, match="selects no scan position"):
        virtual_diffraction(data, np.zeros((5, 6), dtype=bool))
    with pytest.raises(DimensionError, match="boolean with the scan's shape"):
        virtual_diffraction(data, np.ones((6, 5), dtype=bool))
    with pytest.raises(ValueError, match="method"):
        virtual_diffraction(data, method="median")


def test_accessor_delegates(data):
    xr.testing.assert_identical(
        data.pycro.stem4d.virtual_image(outer=5.0).drop_attrs(), virtual_image(data, outer=5.0).drop_attrs()
    )
    xr.testing.assert_allclose(
        data.pycro.stem4d.virtual_diffraction(method="max"), virtual_diffraction(data, method="max")
    )
