"""Small signals of known content for the picture tests."""

import numpy as np

import pycrox


def nm(values):
    return {"values": np.asarray(values, dtype=float), "units": "nm"}


def asymmetric_image(dims=("y", "x"), x=None, y=None):
    """8 rows x 10 columns of zeros with a bright block at rows 0-2, columns 0-3 (top left)."""
    values = np.zeros((8, 10))
    values[:3, :4] = 1.0
    x = np.arange(10) * 0.5 if x is None else x
    y = np.arange(8) * 0.5 if y is None else y
    if dims == ("x", "y"):  # sidpy's order: the same picture, stored transposed
        values = values.T
    return pycrox.from_array(
        values,
        dims=dims,
        coords={"x": nm(x), "y": nm(y)},
        quantity="Intensity",
        units="counts",
        title="asymmetric",
    )


def spectral_image():
    rng = np.random.default_rng(0)
    values = rng.random((4, 5, 30))
    return pycrox.from_array(
        values,
        dims=("y", "x", "energy_loss"),
        coords={
            "y": nm(np.arange(4)),
            "x": nm(np.arange(5)),
            "energy_loss": {"values": 100 + np.arange(30.0), "units": "eV"},
        },
        quantity="Intensity",
        units="counts",
        title="SI",
    )
