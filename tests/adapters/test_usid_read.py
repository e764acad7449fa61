"""USID reader: the reference corpus (manifest and pyUSID), legacy files, laziness, inputs, layouts."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox import model
from pycrox.adapters.usid import reader
from pycrox.adapters.usid.backend import USIDBackendEntrypoint
from tests.adapters.test_usid_fixtures import build_usid, exact_sha256, pyusid
from tests.readers._vendor_corpus import DOORS, CountingFile, check, manifest_files

CORPUS = sorted(
    [
        "usid_beps_multi_spec.h5", "usid_complex.h5", "usid_image.h5", "usid_int16_height.h5",
        "usid_irregular_positions.h5", "usid_line_spectra.h5", "usid_multi_channel.h5",
        "usid_sho_compound_results.h5", "usid_spectral_map.h5", "usid_svd_results.h5",
    ]
)  # fmt: skip


@pytest.fixture(scope="module")
def corpus(shared_data: Path) -> Path:
    return shared_data / "usid"


@pytest.fixture(scope="module")
def manifest(corpus: Path) -> dict:
    return json.loads((corpus / "manifest.json").read_text())["files"]


@pytest.fixture(params=["open", "open_dataset"])
def read_signal(request):
    """One signal through ``pycrox.open`` or ``xr.open_dataset(engine=USIDBackendEntrypoint)``."""

    def read(path, group):
        if request.param == "open":
            return pycrox.open(path, group=group)
        ds = xr.open_dataset(path, engine=USIDBackendEntrypoint, group=group)
        name = group.rsplit("/", 1)[-1]
        return ds if ds.attrs.get(model.COMPOUND_ATTR) else ds[name]

    return read


def _structured(ds: xr.Dataset) -> np.ndarray:
    """A compound signal back as one structured array (fields in variable order)."""
    first = next(iter(ds.data_vars.values()))
    out = np.empty(first.shape, dtype=[(k, v.dtype) for k, v in ds.data_vars.items()])
    for key, var in ds.data_vars.items():
        out[key] = var.values
    return out


def _sha_f64(values: np.ndarray) -> str:
    values = np.asarray(values)
    target = np.complex128 if values.dtype.kind == "c" else np.float64
    return hashlib.sha256(
        np.ascontiguousarray(values.astype(np.dtype(target).newbyteorder("<"))).tobytes()
    ).hexdigest()


# --------------------------------------------------------------------------- the reference corpus


@pytest.mark.parametrize("name", CORPUS)
def test_every_main_dataset_matches_the_manifest(corpus, manifest, name, read_signal):
    entry = manifest[name]
    signals = model.signal_nodes(pycrox.open_tree(corpus / name))
    assert sorted(signals) == sorted(entry["main_datasets"])
    for expected in entry["datasets"]:
        signal = read_signal(corpus / name, expected["path"])
        nd = expected["n_dim"]
        if isinstance(signal, xr.Dataset):
            array = _structured(signal)
            labels = list(next(iter(signal.data_vars.values())).dims)
        else:
            array, labels = signal.values, list(signal.dims)
        if nd["available"]:
            assert labels == nd["labels"]
            assert list(array.shape) == nd["shape"]
            assert exact_sha256(array) == nd["data"]["sha256"]
        else:  # scattered positions: (position, spectroscopic...) is the stored matrix itself
            assert labels[0] == "position"
            assert exact_sha256(array.reshape(expected["shape"])) == expected["data"]["sha256"]
        for dim in expected["pos_dims"] + expected["spec_dims"]:
            coord = signal[dim["name"]]
            assert coord.attrs["units"] == dim["units"]
            assert _sha_f64(coord.values) == dim["values"]["sha256_f64"]
        attrs = signal.attrs
        assert (attrs["quantity"], attrs["units"]) == (expected["quantity"], expected["units"])


@pytest.mark.reference
@pytest.mark.filterwarnings("ignore:This dataset does not have an N-dimensional form")
@pytest.mark.parametrize("name", CORPUS)
def test_n_dim_form_equals_pyusid(corpus, name):
    usid = pyusid()
    tree = pycrox.open_tree(corpus / name)
    with h5py.File(corpus / name, "r") as h5:
        for main in usid.hdf_utils.get_all_main(h5):
            ref = usid.USIDataset(main, sort_dims=False)
            node = tree[main.name].to_dataset()
            if ref.dtype.names:
                ours = _structured(node[list(ref.dtype.names)])
            else:
                ours = node[main.name.rsplit("/", 1)[-1]].values
            try:
                expected = ref.get_n_dim_form()
            except ValueError:  # scattered positions: pyUSID has no N-D form
                expected = ref[()].reshape(ours.shape)
            else:
                assert list(node.dims)[: len(ref.n_dim_labels)] == list(ref.n_dim_labels)
            assert ours.dtype == expected.dtype
            np.testing.assert_array_equal(ours, expected)
            for label in ref.pos_dim_labels:
                np.testing.assert_array_equal(node[label].values, ref.get_pos_values(label))
            for label in ref.spec_dim_labels:
                np.testing.assert_array_equal(node[label].values, ref.get_spec_values(label))


def test_compound_fit_is_a_dataset_of_fields(corpus):
    fit = pycrox.open(
        corpus / "usid_sho_compound_results.h5", group="/Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/Fit"
    )
    assert isinstance(fit, xr.Dataset)
    assert fit.attrs[model.COMPOUND_ATTR] is True
    assert list(fit.data_vars) == [
        "Amplitude [V]",
        "Frequency [Hz]",
        "Quality Factor",
        "Phase [rad]",
        "R2 Criterion",
    ]
    assert (fit["Amplitude [V]"].attrs["quantity"], fit["Amplitude [V]"].attrs["units"]) == ("Amplitude", "V")
    assert (fit.attrs["quantity"], fit.attrs["units"]) == ("SHO", "compound")
    with h5py.File(corpus / "usid_sho_compound_results.h5") as h5:
        raw = h5["/Measurement_000/Channel_000/Raw_Data-SHO_Fit_000/Fit"][()]
    np.testing.assert_array_equal(fit["Phase [rad]"].values.reshape(-1), raw["Phase [rad]"].reshape(-1))


def test_complex_stays_complex(corpus):
    da = pycrox.open(corpus / "usid_complex.h5")
    assert da.dtype == np.complex64
    assert da.dims == ("Y", "X", "Frequency")


def test_groups_results_and_other_datasets_are_nodes(corpus):
    tree = pycrox.open_tree(corpus / "usid_svd_results.h5")
    group = tree["/Measurement_000/Channel_000/Raw_Data-SVD_000"]
    assert group.attrs["tool"] == "SVD"
    assert group.attrs["num_components"] == 4
    assert group.attrs["source_000"] == {"$ref": "/Measurement_000/Channel_000/Raw_Data"}
    with h5py.File(corpus / "usid_svd_results.h5") as h5:
        np.testing.assert_array_equal(
            group["S"].values, h5["/Measurement_000/Channel_000/Raw_Data-SVD_000/S"][()]
        )
    assert "Position_Indices" not in tree["/Measurement_000/Channel_000"].data_vars  # ancillary: coordinates
    topo = pycrox.open_tree(corpus / "usid_spectral_map.h5")["/Measurement_000/Channel_000"]
    assert topo["Topography"].dims == ("Topography_dim_0", "Topography_dim_1")


def test_scattered_positions_become_a_position_dim(corpus):
    da = pycrox.open(corpus / "usid_irregular_positions.h5")
    assert da.dims == ("position", "Frequency")
    assert da["X"].dims == ("position",)
    assert da["X"].attrs["units"] == "um"
    assert da["position"].attrs["dimension_type"] == "POINT_CLOUD"


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("rel", manifest_files("usid/"))
def test_legacy_vendor_files_match_the_vendor_manifest(rel, door, shared_data):
    assert check(rel, door, USIDBackendEntrypoint) == []


def test_legacy_fast_first_layout_keeps_pyusid_axis_order(shared_data):
    da = pycrox.open_tree(shared_data / "vendor" / "usid" / "SingFreqPFM_0003.h5")[
        "/Measurement_000/Channel_001/Raw_Data"
    ]
    with h5py.File(shared_data / "vendor" / "usid" / "SingFreqPFM_0003.h5") as h5:
        raw = h5["/Measurement_000/Channel_001/Raw_Data"][()]
    signal = da.to_dataset()["Raw_Data"]
    assert signal.dims == ("X", "Y", "arb")  # labels [X, Y], X fastest
    np.testing.assert_array_equal(signal.values, raw.reshape(128, 128, 1).transpose(1, 0, 2))


# --------------------------------------------------------------------------- laziness and indexing


@pytest.fixture
def fast_first_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    nd = rng.standard_normal((6, 5, 3, 4)).astype(np.float32)  # Y, X, DC, F slowest first
    path = build_usid(
        tmp_path / "ff.h5",
        nd,
        [("Y", "um", np.arange(6)), ("X", "um", np.arange(5))],
        [("DC", "V", [-1, 0, 1]), ("F", "Hz", [1, 2, 3, 4])],
        fast_first=True,
    )
    return path, nd.transpose(1, 0, 3, 2)  # the N-D form in file label order: X, Y, F, DC


def test_open_reads_no_main_data_and_values_read_it(tmp_path):
    nd = np.arange(64 * 64 * 256, dtype=np.float32).reshape(64, 64, 256)
    path = build_usid(
        tmp_path / "big.h5",
        nd,
        [("Y", "um", np.arange(64)), ("X", "um", np.arange(64))],
        [("F", "Hz", np.arange(256))],
    )
    handle = CountingFile.of(path)
    da = pycrox.open(handle)
    assert handle.bytes_read() < nd.nbytes / 8
    handle.reset()
    np.testing.assert_array_equal(da.values, nd)
    assert handle.bytes_read() >= nd.nbytes


@pytest.mark.parametrize(
    "selection",
    [
        {"X": 2},
        {"Y": slice(1, 5, 2), "F": [0, 3]},
        {"X": [4, 0, 2], "DC": slice(None, None, -1)},
        {"Y": 0, "X": 0, "F": 0, "DC": 0},
        {"Y": slice(2, 2)},
    ],
)
def test_lazy_indexing_equals_numpy_on_a_fast_first_file(fast_first_file, selection):
    path, expected = fast_first_file
    da = pycrox.open(path)
    assert da.dims == ("X", "Y", "F", "DC")
    full = xr.DataArray(expected, dims=da.dims)
    np.testing.assert_array_equal(da.isel(selection).values, full.isel(selection).values)


def test_chunks_give_dask_with_the_same_values(fast_first_file):
    path, expected = fast_first_file
    da = pycrox.open(path, chunks={"X": 2})
    assert da.chunks is not None
    np.testing.assert_array_equal(da.compute().values, expected)


# --------------------------------------------------------------------------- incomplete acquisitions


def test_truncated_grid_reads_missing_positions_as_nan(tmp_path):
    nd = np.arange(4 * 5 * 3, dtype=np.int16).reshape(4, 5, 3)
    with h5py.File(tmp_path / "t.h5", "w") as h5:  # an acquisition that stopped after 13 of 20 positions
        from tests.adapters.test_usid_fixtures import ancillary, link

        chan = h5.require_group("Measurement_000/Channel_000")
        pi, pv = ancillary(chan, "Position", [("Y", "um", np.arange(4)), ("X", "um", np.arange(5))], False)
        data = {"Position_Indices": pi[:13], "Position_Values": pv[:13]}
        for key, value in data.items():
            del chan[key]
            chan.create_dataset(key, data=value).attrs.update(pi.attrs if "Ind" in key else pv.attrs)
        spec = ancillary(chan, "Spectroscopic", [("F", "Hz", [1, 2, 3])], True)
        main = chan.create_dataset("Raw_Data", data=nd.reshape(20, 3)[:13])
        main.attrs.update({"quantity": "Height", "units": "pm"})
        link(main, (chan["Position_Indices"], chan["Position_Values"]), spec)
    with pytest.warns(UserWarning, match="2 of 15 positions are missing"):
        da = pycrox.open(tmp_path / "t.h5")
    values = da.values
    assert values.dtype == np.float32
    assert values.shape == (3, 5, 3)
    np.testing.assert_array_equal(values.reshape(15, 3)[:13], nd.reshape(20, 3)[:13])
    assert np.isnan(values.reshape(15, 3)[13:]).all()


def test_results_group_with_last_pixel_reads_unfinished_positions_as_nan(tmp_path):
    nd = np.ones((2, 3, 4), dtype=np.float32)
    path = build_usid(
        tmp_path / "r.h5",
        nd,
        [("Y", "um", [0, 1]), ("X", "um", [0, 1, 2])],
        [("F", "Hz", np.arange(4))],
        group="Measurement_000/Channel_000/Raw_Data-Fit_000",
        name="Fit",
    )
    with h5py.File(path, "a") as h5:
        h5["Measurement_000/Channel_000/Raw_Data-Fit_000"].attrs["last_pixel"] = 4
    with pytest.warns(UserWarning, match="2 of 6 positions are missing"):
        da = pycrox.open(path)
    assert np.isnan(da.values[1, 1:]).all()
    assert (da.values[0] == 1).all()


# --------------------------------------------------------------------------- inputs


def test_memory_url_file_object_and_h5py_objects(corpus):
    data = (corpus / "usid_svd_results.h5").read_bytes()
    fsspec.filesystem("memory").pipe("/usid/svd.h5", data)
    expected = pycrox.open(
        corpus / "usid_svd_results.h5", group="/Measurement_000/Channel_000/Raw_Data"
    ).values
    from_url = pycrox.open("memory://usid/svd.h5", group="/Measurement_000/Channel_000/Raw_Data")
    np.testing.assert_array_equal(from_url.values, expected)
    with open(corpus / "usid_svd_results.h5", "rb") as handle:
        assert len(model.signal_nodes(pycrox.open_tree(handle))) == 3
    with h5py.File(corpus / "usid_svd_results.h5", "r") as h5:
        assert reader.guess_can_open(h5)
        assert (
            len(model.signal_nodes(reader.read_tree(h5["/Measurement_000/Channel_000/Raw_Data-SVD_000"])))
            == 2
        )
        one = reader.read_tree(h5["/Measurement_000/Channel_000/Raw_Data-SVD_000/V"])
        assert list(model.signal_nodes(one)) == ["/Measurement_000/Channel_000/Raw_Data-SVD_000/V"]
        assert h5.id.valid  # the caller's file stays open


def test_guess_can_open_claims_only_usid(corpus, shared_data, tmp_path):
    assert reader.guess_can_open(corpus / "usid_image.h5")
    assert not reader.guess_can_open(shared_data / "nsid" / "nsid_image_2d.h5")
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    assert not reader.guess_can_open(tmp_path / "junk.h5")
    assert pycrox.detect_format(corpus / "usid_image.h5") == "usid"
