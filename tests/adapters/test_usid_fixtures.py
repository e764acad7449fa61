"""Hand-built USID files for the USID adapter tests, and a check that pyUSID accepts them.

`build_usid` is an independent h5py-only writer (the construction of usid-format-facts section
13): an N-D array whose axes are ``[position dims slowest..fastest, spectroscopic dims
slowest..fastest]`` becomes its C-order reshape, with ancillary datasets listing labels slowest
first, or fastest first with ``fast_first=True`` (the older pycroscopy layout).
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

Dim = tuple[str, str, Any]  # label, units, values


def pyusid() -> Any:
    """pyUSID, imported quietly (reading needs no numpy shim), or skip."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pytest.importorskip("pyUSID")


def ancillary(
    group: h5py.Group,
    prefix: str,
    dims: list[Dim],
    spectral: bool,
    *,
    fast_first: bool = False,
    index_dtype: Any = np.uint32,
) -> tuple[h5py.Dataset, h5py.Dataset]:
    """Indices/Values datasets for `dims` given slowest first (stored reversed with `fast_first`)."""
    sizes = [len(v) for _, _, v in dims]
    grids = np.meshgrid(*[np.arange(n) for n in sizes], indexing="ij")
    inds = np.stack([g.ravel() for g in grids]) if dims else np.zeros((0, 1))
    vals = np.stack([np.asarray(v, float)[g.ravel()] for g, (_, _, v) in zip(grids, dims, strict=True)])
    order = list(reversed(range(len(dims)))) if fast_first else list(range(len(dims)))
    inds, vals, labelled = inds[order], vals[order], [dims[i] for i in order]
    if not spectral:
        inds, vals = inds.T, vals.T
    index = group.create_dataset(prefix + "_Indices", data=inds.astype(index_dtype))
    value = group.create_dataset(prefix + "_Values", data=vals.astype(np.float32))
    for dset in (index, value):
        dset.attrs["labels"] = np.array([label.encode() for label, _, _ in labelled], dtype="S")
        dset.attrs["units"] = np.array([u.encode() for _, u, _ in labelled], dtype="S")
        dset.attrs["type"] = np.zeros(len(dims), dtype=np.int64)
    return index, value


def link(
    main: h5py.Dataset, pos: tuple[h5py.Dataset, h5py.Dataset], spec: tuple[h5py.Dataset, h5py.Dataset]
) -> None:
    """Point the four ancillary references of `main` at the given datasets."""
    for name, dset in zip(
        ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values"),
        (*pos, *spec),
        strict=True,
    ):
        main.attrs[name] = dset.ref


def build_usid(
    path: Path,
    data: np.ndarray,
    pos_dims: list[Dim],
    spec_dims: list[Dim],
    *,
    fast_first: bool = False,
    name: str = "Raw_Data",
    quantity: str = "Amplitude",
    units: str = "V",
    group: str = "Measurement_000/Channel_000",
    **create: Any,
) -> Path:
    """Write `data` (axes: positions slowest..fastest, then spectroscopic) as a USID main dataset."""
    n_pos = int(np.prod([len(v) for _, _, v in pos_dims]))
    with h5py.File(path, "a") as h5:
        chan = h5.require_group(group)
        pos = ancillary(chan, "Position", pos_dims, False, fast_first=fast_first)
        spec = ancillary(chan, "Spectroscopic", spec_dims, True, fast_first=fast_first)
        main = chan.create_dataset(name, data=np.asarray(data).reshape(n_pos, -1), **create)
        main.attrs["quantity"], main.attrs["units"] = quantity, units
        link(main, pos, spec)
    return path


def exact_sha256(array: np.ndarray) -> str:
    """SHA-256 of C-order little-endian bytes, compound fields packed (the manifests' ``data.sha256``)."""
    array = np.asarray(array)

    def little(dtype: np.dtype) -> np.dtype:
        if dtype.names:
            return np.dtype([(n, little(dtype.fields[n][0])) for n in dtype.names])
        return dtype.newbyteorder("<") if dtype.byteorder == ">" else dtype

    out = np.empty(array.shape, dtype=little(array.dtype))
    if array.dtype.names:
        for n in array.dtype.names:
            out[n] = array[n]
    else:
        out[...] = array
    return hashlib.sha256(np.ascontiguousarray(out).tobytes()).hexdigest()


# --------------------------------------------------------------------------- the builder itself


@pytest.mark.parametrize("fast_first", [False, True])
def test_built_file_is_what_pyusid_reshapes(tmp_path, fast_first):
    usid = pyusid()
    rng = np.random.default_rng(1)
    nd = rng.random((3, 4, 2, 5)).astype(np.float32)  # Y, X, DC, F (slowest first)
    dims = [("Y", "um", [0, 1, 2]), ("X", "um", [0, 1, 2, 3])]
    spec = [("DC", "V", [-1, 1]), ("F", "kHz", [10, 11, 12, 13, 14])]
    build_usid(tmp_path / "f.h5", nd, dims, spec, fast_first=fast_first)
    with h5py.File(tmp_path / "f.h5") as h5:
        dset = usid.USIDataset(h5["/Measurement_000/Channel_000/Raw_Data"])
        expected = nd.transpose(1, 0, 3, 2) if fast_first else nd
        np.testing.assert_array_equal(dset.get_n_dim_form(), expected)
        assert list(dset.n_dim_labels) == (["X", "Y", "F", "DC"] if fast_first else ["Y", "X", "DC", "F"])
