"""Analysis results next to their source (USID/NSID results groups) and vendor -> NSID/USID/Zarr conversion."""

import h5py
import numpy as np
import pytest

import pycrox
from pycrox import cli
from pycrox.demo import eels_spectrum_image
from pycrox.testing import assert_lossless


def test_decomposition_saved_to_usid_opens_in_pyusid_as_svd_group(tmp_path):
    pyusid_hdf = pytest.importorskip("pyUSID.io.hdf_utils")
    path = tmp_path / "eels.h5"
    pycrox.to_usid(eels_spectrum_image(8, 64), path)
    source = pycrox.open(path)
    result = source.pycro.decompose(3, dim="energy_loss", method="svd")
    pycrox.to_usid(result, path, mode="a", source="/Measurement_000/Channel_000/eels")
    with h5py.File(path) as f:
        group = f["Measurement_000/Channel_000/eels-SVD_000"]
        assert group.attrs["tool"] == "SVD"
        assert group.attrs["n_components"] == 3
        assert f[group.attrs["source_000"]].name == "/Measurement_000/Channel_000/eels"
        assert pyusid_hdf.check_if_main(group["components"])
        assert pyusid_hdf.check_if_main(group["loadings"])
    tree = pycrox.open_tree(path)
    back = tree["Measurement_000/Channel_000/eels-SVD_000/components"]["components"]
    np.testing.assert_allclose(back.values, result["components"].values, rtol=1e-6)
    np.testing.assert_array_equal(
        pycrox.open(path, group="/Measurement_000/Channel_000/eels").values, source.values
    )  # the source is untouched


def test_fit_result_appended_to_nsid_keeps_the_source(tmp_path):
    path = tmp_path / "eels_nsid.h5"
    da = eels_spectrum_image(6, 64)
    pycrox.to_nsid(da, path)
    before = pycrox.open(path).load()
    components = da.pycro.decompose(2, dim="energy_loss")["components"]
    pycrox.to_nsid(components, path, mode="a")
    tree = pycrox.open_tree(path)
    signals = pycrox.model.signal_nodes(tree)
    assert len(signals) == 2
    assert_lossless(signals[next(p for p in signals if p.endswith("/eels"))].load(), before)


VENDOR_FILES = [
    "dm/EELS_SI.dm4",
    "velox_emd/Test_SI_16x16_215_kx.emd",
    "mrc/EMD-3001.mrc",
    "msa/example1.msa",
]


@pytest.mark.parametrize("rel", VENDOR_FILES)
@pytest.mark.parametrize("suffix", [".zarr", ".h5", "usid.h5"])
def test_convert_vendor_files_losslessly(shared_data, tmp_path, rel, suffix):
    src = shared_data / "vendor" / rel
    if not src.exists():
        pytest.skip(f"{rel} not in the corpus")
    tree = pycrox.open_tree(src)
    path = next(iter(pycrox.model.signal_nodes(tree)))
    dst = tmp_path / f"out{suffix}"
    args = ["convert", str(src), str(dst), "--group", path, "--quiet"]
    if suffix == "usid.h5":
        args += ["--to", "usid"]
    assert cli.main(args) == 0
    original = pycrox.open(src, group=path).load()
    assert_lossless(pycrox.open(dst).load(), original)  # original tags included
