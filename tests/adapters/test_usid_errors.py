"""Bad USID input: every problem is a FormatError naming the file, the HDF5 path and what was wrong."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

import pycrox
from pycrox.errors import FormatError
from tests.adapters.test_usid_fixtures import build_usid

MAIN = "/Measurement_000/Channel_000/Raw_Data"
CHAN = "/Measurement_000/Channel_000"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    nd = np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5)
    return build_usid(
        tmp_path / "good.h5",
        nd,
        [("Y", "um", [0, 1, 2]), ("X", "um", [0, 1, 2, 3])],
        [("F", "Hz", [1, 2, 3, 4, 5])],
    )


def _damaged(path: Path, damage: Callable[[h5py.File], None]) -> Path:
    with h5py.File(path, "a") as h5:
        damage(h5)
    return path


def _replace(h5: h5py.File, name: str, data: np.ndarray, **attrs) -> None:
    old = h5[f"{CHAN}/{name}"]
    kept = dict(old.attrs.items())
    del h5[f"{CHAN}/{name}"]
    new = h5.create_dataset(f"{CHAN}/{name}", data=data)
    new.attrs.update({**kept, **attrs})
    h5[MAIN].attrs[name] = new.ref


def _fails(path: Path, match: str, where: str = MAIN) -> FormatError:
    with pytest.raises(FormatError, match=match) as info:
        pycrox.open_tree(path, engine="usid")
    assert info.value.where == where
    assert path.name in str(info.value)
    return info.value


def test_missing_ancillary_reference(good):
    _damaged(good, lambda h5: h5[MAIN].attrs.__delitem__("Spectroscopic_Values"))
    _fails(good, "'Spectroscopic_Values' of the main dataset is missing")


def test_reference_to_a_group(good):
    _damaged(good, lambda h5: h5[MAIN].attrs.__setitem__("Position_Values", h5[CHAN].ref))
    _fails(good, "points to a group")


def test_dangling_reference(good):
    def damage(h5: h5py.File) -> None:
        h5[MAIN].attrs["Position_Values"] = h5.create_dataset("/gone", data=[1]).ref
        del h5["/gone"]

    _damaged(good, damage)
    _fails(good, "points nowhere")


def test_position_indices_of_another_size(good):
    _damaged(good, lambda h5: _replace(h5, "Position_Indices", np.zeros((7, 2), np.uint32)))
    _fails(good, "describes 7 positions .* but the main dataset .* has 12", where=f"{CHAN}/Position_Indices")


def test_indices_and_values_of_different_shapes(good):
    _damaged(
        good,
        lambda h5: _replace(
            h5,
            "Spectroscopic_Values",
            np.zeros((2, 5), np.float32),
            labels=np.array([b"F", b"G"]),
            units=np.array([b"Hz", b"Hz"]),
        ),
    )
    _fails(good, "Spectroscopic_Indices has shape \\(1, 5\\) but Spectroscopic_Values has \\(2, 5\\)")


def test_labels_that_do_not_fit_the_dimensions(good):
    _damaged(good, lambda h5: h5[f"{CHAN}/Position_Indices"].attrs.__setitem__("labels", np.array([b"Y"])))
    _fails(good, "1 labels and 2 units for 2 dimensions", where=f"{CHAN}/Position_Indices")


def test_labels_that_differ_between_indices_and_values(good):
    _damaged(
        good, lambda h5: h5[f"{CHAN}/Position_Values"].attrs.__setitem__("labels", np.array([b"Y", b"Z"]))
    )
    _fails(good, "labels of the Values dataset differ", where=f"{CHAN}/Position_Values")


def test_indices_that_do_not_form_a_grid(good):
    def damage(h5: h5py.File) -> None:
        inds = h5[f"{CHAN}/Position_Indices"][()]
        _replace(h5, "Position_Indices", inds[np.r_[1, 0, 2:12]])  # same counts, wrong order

    _damaged(good, damage)
    _fails(good, "Position_Indices \\['Y', 'X'\\] do not form a grid")


def test_text_indices(good):
    _damaged(
        good, lambda h5: _replace(h5, "Spectroscopic_Indices", np.array([[b"a", b"b", b"c", b"d", b"e"]]))
    )
    _fails(good, "has dtype \\|S1; expected numbers", where=f"{CHAN}/Spectroscopic_Indices")


def test_text_main_dataset_and_missing_quantity(tmp_path, good):
    _damaged(good, lambda h5: h5[MAIN].attrs.__delitem__("quantity"))
    _fails(good, "'quantity' is missing; expected a string")
    path = build_usid(tmp_path / "s.h5", np.array([[b"ab", b"cd"]]), [("X", "", [0])], [("F", "", [0, 1])])
    _fails(path, "main dataset has dtype \\|S2; expected numbers")


def test_three_d_main_dataset(tmp_path):
    with h5py.File(tmp_path / "3d.h5", "w") as h5:
        dset = h5.create_dataset("Raw_Data", data=np.zeros((2, 2, 2)))
        dset.attrs["Position_Indices"] = dset.ref
    _fails(tmp_path / "3d.h5", "must be 2-D", where="/Raw_Data")


def test_lying_ancillary_shape_is_refused_before_reading(tmp_path):
    huge = 2**31
    with h5py.File(tmp_path / "lie.h5", "w") as h5:
        chan = h5.create_group("c")
        main = chan.create_dataset("Raw_Data", shape=(huge, 1), dtype="f4", chunks=(1024, 1))
        main.attrs.update({"quantity": "q", "units": "u"})
        for name, shape in (
            ("Position_Indices", (huge, 2)),
            ("Position_Values", (huge, 2)),
            ("Spectroscopic_Indices", (1, 1)),
            ("Spectroscopic_Values", (1, 1)),
        ):
            anc = chan.create_dataset(name, shape=shape, dtype="u4", chunks=(min(shape[0], 1024), shape[1]))
            anc.attrs.update(
                {"labels": np.array([b"a", b"b"][: shape[1]]), "units": np.array([b""] * shape[1])}
            )
            main.attrs[name] = anc.ref
    _fails(tmp_path / "lie.h5", "far more than the file holds", where="/c/Position_Indices")


def test_unreadable_pycrox_model_attribute(good):
    _damaged(good, lambda h5: h5[MAIN].attrs.__setitem__("pycrox_model", "{not json"))
    _fails(good, "'pycrox_model' is not valid JSON")


@pytest.mark.parametrize("cut", [0.5, 0.05])
def test_truncated_and_garbage_files(tmp_path, good, cut):
    data = good.read_bytes()
    (tmp_path / "cut.h5").write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(FormatError, match=r"cut\.h5"):
        pycrox.open_tree(tmp_path / "cut.h5", engine="usid")
    (tmp_path / "junk.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(FormatError, match=r"junk\.h5"):
        pycrox.open(tmp_path / "junk.h5", engine="usid")
