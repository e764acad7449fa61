"""pycrox preview: a contact sheet of every signal in a file."""

import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from PIL import Image

import pycrox
from pycrox import cli
from pycrox.viz import contact_sheet
from tests.viz._data import asymmetric_image, spectral_image


def _tree():
    si = spectral_image().rename("si")
    img = asymmetric_image().rename("img")
    cplx = (img * (1 + 1j)).rename("cplx").assign_attrs(img.attrs)
    return xr.DataTree.from_dict({f"/{da.name}": da.to_dataset() for da in (si, img, cplx)})


def test_contact_sheet_has_one_thumbnail_per_signal():
    fig = contact_sheet(_tree(), title="three")
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>" and ax.axison]
    titles = sorted(ax.get_title().split("\n")[0] for ax in panels)
    assert titles == ["/cplx", "/img", "/si"]
    si_panel = next(ax for ax in panels if ax.get_title().startswith("/si"))
    np.testing.assert_allclose(si_panel.images[0].get_array(), spectral_image().sum("energy_loss").values)
    assert fig.get_suptitle() == "three"


def test_contact_sheet_limits_the_number_of_signals():
    fig = contact_sheet(_tree(), title="f", max_signals=2)
    assert fig.get_suptitle() == "f (first 2 of 3 signals)"
    assert len([ax for ax in fig.axes if ax.get_title()]) == 2


def test_contact_sheet_says_why_a_signal_is_not_drawn():
    fig = contact_sheet(pycrox.from_array(np.ones((1, 1)), name="dot"))
    assert "not drawn" in fig.axes[0].texts[0].get_text()


def test_cli_preview_writes_a_png(tmp_path, capsys):
    pycrox.to_zarr(_tree(), tmp_path / "t.zarr")
    out = tmp_path / "sheet.png"
    assert cli.main(["preview", str(tmp_path / "t.zarr"), "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    with Image.open(out) as png:
        assert png.format == "PNG"
        assert png.width > 300


def test_cli_preview_reports_a_missing_file(tmp_path, capsys):
    assert cli.main(["preview", str(tmp_path / "nothing.h5"), "-o", str(tmp_path / "x.png")]) == 1
    assert "pycrox preview: error" in capsys.readouterr().err


CORPUS = [
    "nsid/nsid_multi_channel.h5",
    "usid/usid_sho_compound_results.h5",
    "nsid/nsid_4d_stem.h5",
    "usid/usid_irregular_positions.h5",
    "nsid/nsid_complex.h5",
    "vendor/dm/multi_signal.dm3",
]


@pytest.mark.parametrize("name", CORPUS)
def test_preview_of_corpus_files_draws_every_signal(shared_data, name, tmp_path):
    from pycrox import model

    path = shared_data / name
    with pycrox.open_tree(path) as tree:
        expected = len(model.signal_nodes(tree))
        fig = contact_sheet(tree)
    drawn = [ax for ax in fig.axes if ax.get_title() and (ax.images or ax.lines or ax.collections)]
    assert len(drawn) == expected


def test_import_pycrox_does_not_import_matplotlib():
    code = "import sys, pycrox, xarray; xarray.DataArray([1]).pycro; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


@pytest.mark.s3
def test_preview_reads_a_url(s3_bucket, tmp_path):
    from pycrox.viz import preview

    prefix, options, _ = s3_bucket
    url = f"{prefix}/scan.h5"
    pycrox.to_nsid(spectral_image().rename("si"), url, storage_options=options)
    out = preview(url, tmp_path / "remote.png", storage_options=options)
    with Image.open(out) as png:
        assert png.format == "PNG"
