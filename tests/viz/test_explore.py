"""The notebook viewers (``da.pycro.explore()``), driven through their callbacks and mouse events."""

import numpy as np
import pytest
from matplotlib.backend_bases import MouseButton, MouseEvent

import pycrox
from pycrox.errors import DimensionError, PycroxError
from pycrox.viz.explore import Explorer, explore
from tests.viz._data import asymmetric_image


def _cube(ny=6, nx=5, ne=80, seed=0):
    rng = np.random.default_rng(seed)
    return pycrox.from_array(
        rng.random((ny, nx, ne)),
        dims=("y", "x", "energy_loss"),
        coords={
            "y": {"values": np.arange(ny) * 0.2, "units": "nm"},
            "x": {"values": np.arange(nx) * 0.2, "units": "nm"},
            "energy_loss": {"values": 100 + np.arange(ne, dtype=float), "units": "eV"},
        },
        quantity="Intensity",
        units="counts",
    )


def _press(explorer, ax, i, j, button=MouseButton.LEFT, name="button_press_event"):
    """A real matplotlib button press (or mouse move) over pixel (i, j) of `ax`."""
    x, y = ax.transData.transform((j, i))
    event = MouseEvent(name, explorer.figure.canvas, x, y, button=button)
    explorer.figure.canvas.callbacks.process(name, event)


def test_spectrum_image_click_shows_that_pixel():
    da = _cube()
    viewer = da.pycro.explore()
    assert isinstance(viewer, Explorer)
    assert viewer.roles.kind == "spectrum_image"
    np.testing.assert_allclose(viewer.image, da.isel(energy_loss=slice(0, 64)).sum("energy_loss").values)
    for i, j in [(0, 0), (2, 4), (5, 1)]:
        shown = viewer.click(i, j)
        np.testing.assert_array_equal(shown.values, da.isel(y=i, x=j).values)
        np.testing.assert_array_equal(viewer._line.get_ydata(), da.isel(y=i, x=j).values)
        assert viewer.position == (i, j)
    with pytest.raises(PycroxError, match="outside"):
        viewer.click(6, 0)


def test_mouse_press_goes_through_the_same_callback():
    da = _cube()
    viewer = explore(da)
    viewer.figure.canvas.draw()
    _press(viewer, viewer._nav_axes, 4, 3)
    assert viewer.position == (4, 3)
    np.testing.assert_array_equal(viewer.shown.values, da.isel(y=4, x=3).values)
    _press(viewer, viewer._line_axes, 1, 1)  # outside the navigator: nothing happens
    assert viewer.position == (4, 3)
    _press(viewer, viewer._nav_axes, 1, 2, button=None, name="motion_notify_event")
    assert viewer.position == (4, 3)  # no hover unless asked


def test_hover_shows_the_pixel_under_the_mouse():
    da = _cube()
    viewer = explore(da, hover=True)
    viewer.figure.canvas.draw()
    _press(viewer, viewer._nav_axes, 1, 2, button=None, name="motion_notify_event")
    assert viewer.position == (1, 2)
    np.testing.assert_array_equal(viewer.shown.values, da.isel(y=1, x=2).values)


def test_transposed_storage_clicks_rows_and_columns():
    da = _cube().transpose("x", "energy_loss", "y")
    viewer = explore(da)
    assert viewer.roles.navigation == ("y", "x")
    assert viewer.image.shape == (6, 5)
    np.testing.assert_array_equal(viewer.click(5, 2).values, da.isel(y=5, x=2).values)


def test_region_sum_and_channel_window():
    da = _cube()
    viewer = explore(da, window=(10, 20))
    np.testing.assert_allclose(viewer.image, da.isel(energy_loss=slice(10, 20)).sum("energy_loss").values)
    summed = viewer.select_region(slice(1, 3), slice(2, 5))
    np.testing.assert_allclose(summed.values, da.isel(y=slice(1, 3), x=slice(2, 5)).sum(("y", "x")).values)
    navigator = viewer.set_window(30, 35)
    np.testing.assert_allclose(navigator, da.isel(energy_loss=slice(30, 35)).sum("energy_loss").values)
    # the span selector's callback maps energies to channels [130 eV, 134 eV] -> [30, 35)
    viewer._on_span(129.6, 134.2)
    np.testing.assert_allclose(viewer.image, navigator)


def test_lazy_spectrum_image_reads_lazily_and_agrees(tmp_path):
    da = _cube()
    pycrox.to_zarr(da, tmp_path / "si.zarr", chunks={"y": 2, "x": 2, "energy_loss": 40})
    lazy = pycrox.open(tmp_path / "si.zarr", chunks={})
    viewer = explore(lazy)
    assert lazy.chunks is not None  # still lazy after the viewer was built
    np.testing.assert_allclose(viewer.click(3, 1).values, da.isel(y=3, x=1).values)


def test_stack_slider():
    values = np.stack([np.full((4, 5), float(k)) for k in range(6)])
    stack = pycrox.from_array(values, dims=("frame", "y", "x"), data_type="IMAGE_STACK")
    viewer = explore(stack)
    assert viewer.roles.kind == "stack"
    np.testing.assert_array_equal(viewer.image, values[0])
    viewer._slider.set_val(4)  # the widget's callback
    np.testing.assert_array_equal(viewer.image, values[4])
    np.testing.assert_array_equal(viewer.set_frame(2), values[2])
    with pytest.raises(PycroxError, match="nothing more on a stack"):
        viewer.click(0, 0)


def test_4d_pattern_and_virtual_detector():
    rng = np.random.default_rng(3)
    data = pycrox.from_array(rng.random((4, 5, 6, 7)), dims=("y", "x", "ky", "kx"), data_type="IMAGE_4D")
    viewer = explore(data)
    assert viewer.roles.kind == "4d"
    np.testing.assert_allclose(viewer.image, data.sum(("ky", "kx")).values)
    np.testing.assert_array_equal(viewer.click(3, 2).values, data.isel(y=3, x=2).values)
    np.testing.assert_array_equal(viewer._pattern.get_array(), data.isel(y=3, x=2).values)
    virtual = viewer.set_detector(slice(1, 4), slice(2, 6))
    np.testing.assert_allclose(virtual, data.isel(ky=slice(1, 4), kx=slice(2, 6)).sum(("ky", "kx")).values)
    np.testing.assert_allclose(viewer.set_detector(None), data.sum(("ky", "kx")).values)


def test_fit_results_map_and_model():
    x = np.linspace(-5, 5, 61)
    centres = np.linspace(-1, 1, 12).reshape(3, 4)
    values = np.exp(-0.5 * (x - centres[..., None]) ** 2)
    da = pycrox.from_array(
        values,
        dims=("y", "x", "energy"),
        coords={"energy": {"values": x, "units": "eV"}},
        data_type="SPECTRAL_IMAGE",
    )
    result = da.pycro.fit("gaussian", "energy", return_curve=True)
    viewer = da.pycro.explore(fit=result, parameter="center")
    assert viewer.roles.kind == "fit"
    np.testing.assert_allclose(viewer.image, centres, atol=1e-6)
    shown = viewer.click(2, 1)
    np.testing.assert_array_equal(shown.values, da.isel(y=2, x=1).values)
    np.testing.assert_allclose(viewer.model.values, result["fit"].isel(y=2, x=1).values)
    with pytest.raises(PycroxError, match="return_curve"):
        explore(da, fit=result.drop_vars("fit"))
    with pytest.raises(PycroxError, match="no parameter"):
        explore(da, fit=result, parameter="nope")


def test_image_line_and_refusals():
    image = asymmetric_image()
    viewer = explore(image)
    np.testing.assert_array_equal(viewer.image, image.values)
    line = explore(_cube().isel(y=0, x=0))
    assert line.roles.kind == "line"
    with pytest.raises(DimensionError, match="no viewer"):
        explore(pycrox.from_array(np.zeros((2, 2, 2, 2, 2)), dims=tuple("abcde")))
