"""da.pycro.plot(): rendered headless and checked by structure and by where the pixels land."""

import dask.array
import numpy as np
import pytest
from matplotlib.figure import Figure

import pycrox
from pycrox.errors import DimensionError
from pycrox.viz import ScaleBar, choose, nice_length
from tests.viz._data import asymmetric_image, nm, spectral_image


def _quadrants(fig, ax):
    """Mean grey level (0-255) of the four quadrants of `ax` as rendered: (top-left, top-right,
    bottom-left, bottom-right)."""
    fig.canvas.draw()
    grey = np.asarray(fig.canvas.buffer_rgba())[..., :3].mean(axis=-1)
    box = ax.get_window_extent()
    height = grey.shape[0]
    crop = grey[height - int(box.y1) + 2 : height - int(box.y0) - 2, int(box.x0) + 2 : int(box.x1) - 2]
    h, w = crop.shape[0] // 2, crop.shape[1] // 2
    return crop[:h, :w].mean(), crop[:h, w:].mean(), crop[h:, :w].mean(), crop[h:, w:].mean()


def _panels(fig):
    """The data panels of a figure (its colour bars left out), in drawing order."""
    return [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]


def _colour_bars(fig):
    return [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]


@pytest.mark.parametrize("dims", [("y", "x"), ("x", "y")], ids=["y-x", "sidpy-x-y"])
def test_image_row_zero_is_at_the_top_left(dims):
    fig = asymmetric_image(dims).pycro.plot()
    top_left, top_right, bottom_left, _ = _quadrants(fig, fig.axes[0])
    assert top_left > 120
    assert top_right < 40
    assert bottom_left < 40


def test_non_uniform_axes_are_honoured_and_keep_row_zero_on_top():
    x = np.array([0, 1, 3, 7, 8, 9, 10, 11, 12, 13], dtype=float)  # uneven at the start
    fig = asymmetric_image(x=x).pycro.plot()
    ax = fig.axes[0]
    assert not ax.images  # pcolormesh on the pixel edges, not imshow
    mesh = ax.collections[0]
    assert mesh.get_coordinates()[0, :4, 0].tolist() == [-0.5, 0.5, 2.0, 5.0]
    assert ax.get_xlim() == (-0.5, 13.5)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # y grows downwards: row 0 on top
    top_left, top_right, bottom_left, _ = _quadrants(fig, ax)
    # the block spans x in [-0.5, 5) of [-0.5, 13.5]: ~39 % of the width, all inside the left half
    assert top_left > 120
    assert top_right < 40
    assert bottom_left < 40


def test_image_pixel_centres_sit_on_the_coordinates():
    fig = asymmetric_image().pycro.plot()
    left, right, bottom, top = fig.axes[0].images[0].get_extent()
    assert (left, right) == (-0.25, 4.75)
    assert (top, bottom) == (-0.25, 3.75)


def test_image_axes_and_colour_bar_carry_quantity_and_units():
    fig = asymmetric_image().pycro.plot()
    (ax,), (cbar,) = _panels(fig), _colour_bars(fig)
    assert ax.get_xlabel() == "Length [nm]"
    assert ax.get_ylabel() == "Length [nm]"
    assert cbar.get_ylabel() == "Intensity [counts]"
    assert ax.get_aspect() == 1.0
    assert ax.get_title() == "asymmetric"


def test_scale_bar_has_a_round_length_in_data_units():
    values = np.random.default_rng(1).random((64, 128))
    da = pycrox.from_array(values, coords={"x": nm(np.arange(128) * 1.0), "y": nm(np.arange(64) * 1.0)})
    fig = da.pycro.plot()
    ax = fig.axes[0]
    (bar,) = [a for a in ax.artists if isinstance(a, ScaleBar)]
    assert bar.length == 20.0  # 20 % of the 128 nm field is 25.6 nm -> 20 nm
    assert bar.units == "nm"
    assert bar.txt_label.get_text() == "20 nm"
    fig.canvas.draw()
    drawn = bar.bar.get_window_extent().width
    twenty_nm = ax.transData.transform((20.0, 0.0))[0] - ax.transData.transform((0.0, 0.0))[0]
    assert drawn == pytest.approx(twenty_nm, rel=0.02)


@pytest.mark.parametrize(
    ("span", "expected"),
    [(128.0, 20.0), (3.3, 0.5), (10.0, 2.0), (0.049, 0.005), (1e4, 2000.0), (0.0, 0.0), (float("nan"), 0.0)],
)
def test_nice_length_is_one_two_or_five_times_a_power_of_ten(span, expected):
    assert nice_length(span) == expected


def test_no_scale_bar_when_axes_have_different_units():
    da = pycrox.from_array(
        np.zeros((4, 5)), coords={"x": nm(np.arange(5)), "y": {"values": np.arange(4.0), "units": "s"}}
    )
    ax = da.pycro.plot().axes[0]
    assert not [a for a in ax.artists if isinstance(a, ScaleBar)]
    assert ax.get_aspect() == "auto"


def test_spectrum_is_a_labelled_line():
    si = spectral_image()
    spectrum = si.isel(y=0, x=0).drop_vars(["y", "x"]).assign_attrs(data_type="SPECTRUM")
    fig = spectrum.pycro.plot(color="red")
    (ax,) = fig.axes
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), si.energy_loss.values)
    np.testing.assert_array_equal(line.get_ydata(), si.values[0, 0])
    assert ax.get_xlabel() == "Energy loss [eV]"
    assert ax.get_ylabel() == "Intensity [counts]"
    assert line.get_color() == "red"  # keyword arguments reach Axes.plot


def test_spectral_image_is_navigator_and_mean_spectrum():
    si = spectral_image()
    fig = si.pycro.plot()
    navigator, spectrum = _panels(fig)
    np.testing.assert_allclose(navigator.images[0].get_array(), si.sum("energy_loss").values)
    np.testing.assert_allclose(spectrum.lines[0].get_ydata(), si.mean(["y", "x"]).values)
    assert spectrum.get_xlabel() == "Energy loss [eV]"
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == ["Σ Intensity [counts]"]


def test_spectral_image_on_dask_gives_the_same_picture():
    si = spectral_image()
    lazy = si.copy(data=dask.array.from_array(si.values, chunks=(2, 5, 30)))
    fig = lazy.pycro.plot()
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), si.sum("energy_loss").values)


def test_image_stack_is_a_montage_with_one_colour_scale():
    frames = np.arange(20, dtype=float)[:, None, None] * np.ones((20, 6, 7))
    stack = pycrox.from_array(
        frames,
        dims=("frame", "y", "x"),
        coords={"y": nm(np.arange(6)), "x": nm(np.arange(7))},
        quantity="Intensity",
        units="counts",
    )
    assert choose(stack) == "stack"
    fig = stack.pycro.plot(cmap="magma")
    panels = [ax for ax in _panels(fig) if ax.images]
    assert len(panels) == 16
    assert panels[0].get_title() == "frame = 0"
    assert panels[-1].get_title() == "frame = 19"
    assert {p.images[0].get_clim() for p in panels} == {(0.0, 19.0)}
    assert panels[-1].images[0].get_array()[0, 0] == 19.0
    assert {p.images[0].get_cmap().name for p in panels} == {"magma"}  # kwargs reach imshow
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == ["Intensity [counts]"]


def test_4d_is_navigator_and_mean_pattern():
    values = np.random.default_rng(2).random((3, 4, 5, 6))
    k = {"values": np.arange(6) * 0.1, "units": "1/nm"}
    data = pycrox.from_array(
        values,
        dims=("y", "x", "ky", "kx"),
        coords={
            "y": nm(np.arange(3)),
            "x": nm(np.arange(4)),
            "ky": {**k, "values": np.arange(5) * 0.1},
            "kx": k,
        },
    )
    fig = data.pycro.plot()
    navigator, pattern = _panels(fig)
    np.testing.assert_allclose(navigator.images[0].get_array(), values.sum(axis=(2, 3)))
    np.testing.assert_allclose(pattern.images[0].get_array(), values.mean(axis=(0, 1)))
    assert pattern.get_xlabel() == "Reciprocal length [1/nm]"
    assert [a.length for a in pattern.artists if isinstance(a, ScaleBar)] == [0.1]


def test_complex_image_is_amplitude_and_phase():
    values = np.exp(1j * np.linspace(0, 3, 20)).reshape(4, 5) * np.arange(1, 21).reshape(4, 5)
    da = pycrox.from_array(values, coords={"x": nm(np.arange(5)), "y": nm(np.arange(4))}, quantity="Wave")
    fig = da.pycro.plot()
    amplitude, phase = _panels(fig)
    np.testing.assert_allclose(amplitude.images[0].get_array(), np.abs(values))
    np.testing.assert_allclose(phase.images[0].get_array(), np.angle(values))
    assert amplitude.get_title() == "Amplitude of Wave"
    assert [cb.get_ylabel() for cb in _colour_bars(fig)] == ["Amplitude of Wave", "Phase [rad]"]


def test_line_family_draws_one_line_each_and_an_image_when_many():
    values = np.arange(30.0).reshape(3, 10)
    family = pycrox.from_array(
        values,
        dims=("x", "bias"),
        coords={"x": nm([0, 1, 2]), "bias": {"values": np.linspace(-1, 1, 10), "units": "V"}},
    )
    assert family.attrs["data_type"] == "LINE_PLOT_FAMILY"
    ax = family.pycro.plot().axes[0]
    assert [line.get_label() for line in ax.lines] == ["x = 0 nm", "x = 1 nm", "x = 2 nm"]
    assert ax.get_xlabel() == "Voltage [V]"
    many = pycrox.from_array(np.zeros((20, 10)), dims=("x", "bias"))
    assert many.pycro.plot().axes[0].images


def test_point_cloud_is_a_scatter_at_the_positions():
    rng = np.random.default_rng(3)
    px, py = rng.random(15), rng.random(15)
    cloud = pycrox.from_array(rng.random((15, 8)), dims=("position", "frequency"))
    cloud = cloud.assign_coords(
        x=("position", px, {"units": "µm", "quantity": "Length"}),
        y=("position", py, {"units": "µm", "quantity": "Length"}),
    )
    assert choose(cloud) == "points"
    fig = cloud.pycro.plot()
    scatter = fig.axes[0].collections[0]
    np.testing.assert_allclose(scatter.get_offsets(), np.column_stack([px, py]))
    np.testing.assert_allclose(scatter.get_array(), cloud.sum("frequency").values)
    assert fig.axes[0].get_xlabel() == "Length [µm]"
    assert fig.axes[0].yaxis_inverted()


def test_rgb_image_is_drawn_in_colour_without_colour_bar():
    rgb = pycrox.from_array(np.zeros((4, 5, 3), dtype=np.uint8), dims=("y", "x", "rgb"), data_type="IMAGE")
    fig = rgb.pycro.plot()
    assert len(fig.axes) == 1
    assert fig.axes[0].images[0].get_array().shape == (4, 5, 3)


def test_length_one_dims_are_dropped_before_choosing():
    spectrum = spectral_image().isel(y=[0], x=[0]).assign_attrs(data_type="SPECTRUM")
    assert spectrum.ndim == 3
    assert spectrum.pycro.plot().axes[0].lines


def test_five_dims_fall_back_to_navigator_and_summed_signal():
    values = np.ones((2, 3, 2, 5, 8))
    coords = {"y": nm([0, 1]), "x": nm([0, 1, 2])}
    da = pycrox.from_array(values, dims=("y", "x", "cycle", "bias", "frequency"), coords=coords)
    fig = da.pycro.plot()
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), np.full((2, 3), 80.0))
    assert _panels(fig)[1].images[0].get_array().shape == (5, 8)


def test_scalar_raises_dimension_error():
    with pytest.raises(DimensionError, match="single value"):
        pycrox.from_array(np.ones((1, 1))).pycro.plot()


def test_plot_draws_into_a_given_figure_and_returns_it():
    fig = Figure()
    assert asymmetric_image().pycro.plot(figure=fig) is fig
    assert fig.axes[0].images


@pytest.mark.parametrize(
    ("data_type", "kind"),
    [("IMAGE", "image"), ("SPECTRAL_IMAGE", "navigator"), ("IMAGE_STACK", "stack"), ("UNKNOWN", "navigator")],
)
def test_choose_follows_data_type_when_it_fits_the_dims(data_type, kind):
    si = spectral_image().assign_attrs(data_type=data_type)
    if data_type == "IMAGE":
        si = si.isel(energy_loss=0, drop=True)
    assert choose(si) == kind


def test_image_with_repeated_coordinate_values_is_drawn_by_index():
    da = pycrox.from_array(
        np.arange(6.0).reshape(2, 3), dims=("y", "x"), coords={"y": nm([0.0, 0.0]), "x": nm([0.0, 1.0, 2.0])}
    )
    fig = da.pycro.plot()
    fig.canvas.draw()
    _, _, bottom, top = fig.axes[0].images[0].get_extent()
    assert (top, bottom) == (-0.5, 1.5)


def test_scale_bar_label_switches_to_a_readable_unit_but_keeps_data_units():
    um = {"values": np.arange(3) * 0.001, "units": "µm"}
    da = pycrox.from_array(np.zeros((3, 3)), coords={"x": um, "y": um})
    (bar,) = [a for a in da.pycro.plot().axes[0].artists if isinstance(a, ScaleBar)]
    assert bar.length == 0.0005  # in the axes' µm
    assert bar.bar.get_width() == 0.0005
    assert bar.txt_label.get_text() == "0.5 nm"


@pytest.mark.parametrize(
    ("length", "units", "text"),
    [
        (0.0005, "µm", "0.5 nm"),
        (2000.0, "nm", "2 µm"),
        (20.0, "nm", "20 nm"),
        (0.01, "1/nm", "0.01 1/nm"),
        (0.01, "weird", "0.01 weird"),
    ],
)
def test_bar_text(length, units, text):
    from pycrox.viz._scalebar import bar_text

    assert bar_text(length, units) == text


def test_image_with_a_leading_colour_channel_is_drawn_in_colour():
    values = np.zeros((3, 4, 5), dtype=np.uint8)
    values[0] = 255  # red everywhere
    da = pycrox.from_array(values, dims=("channel", "y", "x"), data_type="IMAGE")
    fig = da.pycro.plot()
    drawn = fig.axes[0].images[0].get_array()
    assert drawn.shape == (4, 5, 3)
    assert drawn[..., 0].min() == 255
    assert drawn[..., 1].max() == 0
