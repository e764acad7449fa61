"""pycroscopy's SVD results (``U``, ``S``, ``V``) written beside pycrox's decomposition, and read back.

pycroscopy's ``SVD`` process (pycroscopy/processing/svd_utils.py) stores a group
``<source>-SVD_NNN`` with ``U`` (positions x components, float32), ``S`` (float32, 1-D) and
``V`` (components x spectroscopic steps, source dtype, units ``'a. u.'``), the data being
``U @ diag(S) @ V``.
"""

from __future__ import annotations

import h5py
import numpy as np
import pytest

import pycrox
from pycrox.adapters.usid._results import open_for_append
from pycrox.demo import eels_spectrum_image
from tests.adapters.test_usid_fixtures import pyusid

SOURCE = "/Measurement_000/Channel_000/eels"
GROUP = "Measurement_000/Channel_000/eels-SVD_000"


def _svd_file(tmp_path, n=3):
    path = tmp_path / "eels.h5"
    pycrox.to_usid(eels_spectrum_image(8, 64), path)
    source = pycrox.open(path)
    result = source.pycro.decompose(n, dim="energy_loss", method="svd")
    pycrox.to_usid(result, path, mode="a", source=SOURCE)
    return path, source.load(), result


def test_svd_group_carries_pycroscopy_u_s_v(tmp_path):
    path, _, result = _svd_file(tmp_path)
    with h5py.File(path) as f:
        group, main = f[GROUP], f[SOURCE]
        assert group.attrs["num_components"] == 3
        assert group.attrs["last_pixel"] == main.shape[0]
        assert isinstance(group.attrs["svd_method"], str)
        u, s, v = group["U"], group["S"], group["V"]
        assert (u.shape, u.dtype) == ((64, 3), np.float32)
        assert (s.shape, s.dtype) == ((3,), np.float32)
        assert (v.shape, v.dtype) == ((3, 64), main.dtype)
        assert v.attrs["units"] == "a. u."
        assert group["Component_Indices"].dtype == np.uint32
        # U shares the source's positions, V the source's spectroscopic steps
        assert f[u.attrs["Position_Indices"]] == f[main.attrs["Position_Indices"]]
        assert f[v.attrs["Spectroscopic_Values"]] == f[main.attrs["Spectroscopic_Values"]]
        assert f[u.attrs["Spectroscopic_Indices"]] == group["Component_Indices"]
        # pycroscopy's rebuild_svd: U @ diag(S) @ V
        rebuilt = u[()] @ np.diag(s[()]) @ v[()]
        expected = (result["loadings"] @ result["components"]).values.reshape(64, 64)
        np.testing.assert_allclose(rebuilt, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
        np.testing.assert_allclose(np.linalg.norm(u[()], axis=0), 1.0, rtol=1e-4)
        np.testing.assert_allclose(s[()], result["singular_values"].values, rtol=1e-6)


def test_pyusid_accepts_u_and_v(tmp_path):
    usid = pyusid()
    path, _, result = _svd_file(tmp_path)
    with h5py.File(path, "r") as f:
        u, v = f[GROUP]["U"], f[GROUP]["V"]
        assert usid.hdf_utils.check_if_main(u)
        assert usid.hdf_utils.check_if_main(v)
        u_main, v_main = usid.USIDataset(u), usid.USIDataset(v)
        assert u_main.pos_dim_labels == ["y", "x"] or set(u_main.pos_dim_labels) == {"y", "x"}
        assert v_main.spec_dim_labels == ["energy_loss"]
        np.testing.assert_allclose(v_main[()], result["components"].values, rtol=1e-6)
        assert u_main.get_n_dim_form().shape[-1] == 3


def test_pycrox_written_group_still_reads_as_before(tmp_path):
    path, source, result = _svd_file(tmp_path)
    tree = pycrox.open_tree(path)
    back = tree[f"{GROUP}/loadings"]["loadings"]
    np.testing.assert_allclose(back.values, result["loadings"].values, rtol=1e-6)
    assert "components" not in tree[GROUP].dataset.data_vars  # pycrox's own variables stay nodes
    np.testing.assert_array_equal(pycrox.open(path, group=SOURCE).values, source.values)


def _pycroscopy_only(path):
    """Remove pycrox's own datasets: the group is then what pycroscopy's SVD writes."""
    with open_for_append(str(path)) as f:  # closes pycrox's cached read-only handles first
        group = f[GROUP]
        for name in list(group):
            if name not in ("U", "S", "V") and not name.startswith("Component_"):
                del group[name]
        for name in ("tool", "method", "n_components", "dim", "random_state"):
            if name in group.attrs:
                del group.attrs[name]


def test_pycroscopy_svd_group_opens_as_a_decomposition(tmp_path):
    path, source, result = _svd_file(tmp_path)
    _pycroscopy_only(path)
    tree = pycrox.open_tree(path)
    ds = tree[GROUP].dataset
    for name in ("components", "loadings", "singular_values", "explained_variance"):
        assert ds[name].dims == result[name].dims, name
        np.testing.assert_allclose(
            ds[name].values, result[name].values, rtol=1e-4, atol=1e-4 * float(abs(result[name]).max())
        )
    np.testing.assert_array_equal(ds["component"].values, np.arange(3))
    np.testing.assert_allclose(ds["energy_loss"].values, source["energy_loss"].values)
    denoised = (ds["loadings"] @ ds["components"]).transpose(*source.dims)
    reference = (result["loadings"] @ result["components"]).transpose(*source.dims)
    np.testing.assert_allclose(denoised.values, reference.values, rtol=1e-3, atol=1e-2)


def test_legacy_pycroscopy_layout_opens(tmp_path):
    """Older pycroscopy: 1-D ``Component_Indices`` and ``S`` as the component ancillaries."""
    path, _, result = _svd_file(tmp_path)
    _pycroscopy_only(path)
    with open_for_append(str(path)) as f:
        group = f[GROUP]
        for name in [n for n in group if n.startswith("Component_")]:
            del group[name]
        inds = group.create_dataset("Component_Indices", data=np.arange(3, dtype=np.uint32))
        for key, ref in (("Spectroscopic_Indices", inds.ref), ("Spectroscopic_Values", group["S"].ref)):
            group["U"].attrs[key] = ref
        for key, ref in (("Position_Indices", inds.ref), ("Position_Values", group["S"].ref)):
            group["V"].attrs[key] = ref
        group.attrs["last_pixel"] = f[SOURCE].shape[0] - 1  # as pycroscopy writes it
    tree = pycrox.open_tree(path)
    ds = tree[GROUP].dataset
    for name in ("components", "loadings", "singular_values", "explained_variance"):
        assert ds[name].dims == result[name].dims, name
        np.testing.assert_allclose(
            ds[name].values, result[name].values, rtol=1e-4, atol=1e-4 * float(abs(result[name]).max())
        )
    np.testing.assert_allclose(ds["y"].values, result["y"].values)
    assert not np.isnan(tree[GROUP].dataset["loadings"].values).any()  # last_pixel = n - 1 masks nothing


def test_corpus_svd_group_opens_as_a_decomposition(shared_data):
    """The pyUSID-written SVD fixture of the shared corpus (``numpy.linalg.svd``, 4 components)."""
    path = shared_data / "usid" / "usid_svd_results.h5"
    if not path.exists():
        pytest.skip("usid/usid_svd_results.h5 not in the shared corpus")
    tree = pycrox.open_tree(path)
    ds = tree["/Measurement_000/Channel_000/Raw_Data-SVD_000"].dataset
    raw = tree["/Measurement_000/Channel_000/Raw_Data"]["Raw_Data"]
    assert ds["components"].dims == ("component", "Time")
    assert ds["loadings"].dims == ("Y", "X", "component")
    matrix = raw.values.reshape(-1, raw.sizes["Time"]).astype(np.float64)
    _, s, _ = np.linalg.svd(matrix, full_matrices=False)
    np.testing.assert_allclose(ds["singular_values"].values, s[:4], rtol=1e-4)
    rebuilt = (ds["loadings"] @ ds["components"]).transpose(*raw.dims).values
    np.testing.assert_allclose(rebuilt, raw.values, atol=0.05 * float(abs(raw).max()))
    assert "S" in ds.data_vars  # the file's own datasets stay


def test_rewriting_a_pycroscopy_group_adds_no_datasets(tmp_path):
    path, _, _ = _svd_file(tmp_path)
    _pycroscopy_only(path)
    target = tmp_path / "copy.h5"
    pycrox.to_usid(pycrox.open_tree(path), target)
    with h5py.File(target) as f:
        assert {"U", "S", "V"} <= set(f[GROUP])
        derived = {"components", "loadings", "singular_values", "explained_variance"}
        assert not derived & set(f[GROUP])  # views of U, S, V: not written back
    assert "loadings" in pycrox.open_tree(target)[GROUP].dataset.data_vars
