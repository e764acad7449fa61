"""Truncated TIFF stacks: fewer pages than announced warn by default and raise with strict=True."""

import warnings

import numpy as np
import pytest
import tifffile

import pycrox

STACK = np.arange(10 * 64 * 64, dtype="uint16").reshape(10, 64, 64)


@pytest.fixture
def cut_imagej(tmp_path):
    whole = tmp_path / "whole.tif"
    tifffile.imwrite(whole, STACK, imagej=True)
    cut = tmp_path / "cut.tif"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])  # the IFD chain and half the page data are gone
    return cut


def test_truncated_imagej_stack_warns_with_pages_found_and_expected(cut_imagej):
    with pytest.warns(UserWarning, match=r"cut\.tif: holds 1 of the 10 pages .*images=10"):
        tree = pycrox.open_tree(cut_imagej)
    np.testing.assert_array_equal(tree["image"]["image"].values, STACK[0])


def test_truncated_imagej_stack_refused_when_strict(cut_imagej):
    with pytest.raises(pycrox.FormatError, match=r"1 of the 10 pages"):
        pycrox.open_tree(cut_imagej, strict=True)


def test_whole_stacks_open_without_warning_also_when_strict(tmp_path):
    for name, kwargs in [("imagej", {"imagej": True}), ("ome", {"ome": True}), ("plain", {})]:
        path = tmp_path / f"{name}.tif"
        tifffile.imwrite(path, STACK, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tree = pycrox.open_tree(path, strict=True)
        assert tree["image"]["image"].shape == STACK.shape


def test_truncated_page_data_is_never_read_silently(tmp_path):
    whole = tmp_path / "plain.tif"
    tifffile.imwrite(whole, STACK)  # shaped metadata announce (10, 64, 64)
    cut = tmp_path / "cut.tif"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(pycrox.FormatError, match=r"cut\.tif"):
            pycrox.open_tree(cut)
