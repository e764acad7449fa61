"""`pycrox.set_options(store_paths=...)`: folders of a source path stay out of written files on request."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

import pycrox
from pycrox.options import get_options, stored_name

USER = "zq-alice-doe-secret"
WRITERS = {"nsid": pycrox.to_nsid, "usid": pycrox.to_usid, "netcdf": pycrox.to_netcdf, "zarr": pycrox.to_zarr}
SUFFIX = {"nsid": ".h5", "usid": ".h5", "netcdf": ".nc", "zarr": ".zarr"}


def _tiff(folder: Path) -> Path:
    path = folder / "image.tif"
    tifffile.imwrite(path, np.arange(64, dtype=np.uint16).reshape(8, 8))
    return path


def _ndata(folder: Path) -> Path:
    path = folder / "spectrum.ndata"
    buffer = io.BytesIO()
    np.save(buffer, np.arange(16.0).reshape(4, 4))
    properties = {
        "type": "data-item",
        "title": "synthetic",
        "created": "2021-03-04T23:30:00.000000",
        "is_sequence": False,
        "collection_dimension_count": 0,
        "datum_dimension_count": 2,
        "intensity_calibration": {"offset": 0.0, "scale": 1.0, "units": "counts"},
        "dimensional_calibrations": [{"offset": 0.0, "scale": 1.0, "units": ""}] * 2,
        "metadata": {},
    }
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("data.npy", buffer.getvalue())
        zf.writestr("metadata.json", json.dumps(properties))
    return path


def _written_bytes(target: Path) -> bytes:
    files = [target] if target.is_file() else sorted(p for p in target.rglob("*") if p.is_file())
    return b"".join(p.read_bytes() for p in files)


@pytest.fixture
def planted(tmp_path: Path) -> Path:
    folder = tmp_path / "home" / USER / "project"
    folder.mkdir(parents=True)
    return folder


@pytest.mark.parametrize("make", [_tiff, _ndata], ids=["tiff", "nion"])
@pytest.mark.parametrize("mode", ["full", "name", "none"])
def test_store_paths_keeps_folders_out_of_every_format(make, mode, planted, tmp_path) -> None:
    source = make(planted)
    with pycrox.set_options(store_paths=mode):
        da = pycrox.open(source)
    stored = {"full": str(source), "name": source.name, "none": ""}[mode]
    steps = da.attrs["provenance"]["pycrox"].values()
    assert [step["source"] for step in steps] == [stored]
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    for fmt, write in WRITERS.items():
        target = out / f"{mode}-{make.__name__}-{fmt}{SUFFIX[fmt]}"
        write(da, target)
        assert (USER.encode() in _written_bytes(target)) == (mode == "full"), fmt


def test_set_options_restores_and_validates() -> None:
    assert get_options()["store_paths"] == "full"
    with pycrox.set_options(store_paths="none"):
        assert stored_name("/home/x/a.tif") == ""
    assert stored_name("/home/x/a.tif") == "/home/x/a.tif"
    with pycrox.set_options(store_paths="name"):
        assert stored_name("s3://bucket/folder/a.tif") == "a.tif"
        assert stored_name("C:\\Users\\x\\a.tif") == "a.tif"
    with pytest.raises(ValueError, match="store_paths must be one of"):
        pycrox.set_options(store_paths="short")
    with pytest.raises(ValueError, match="unknown pycrox option"):
        pycrox.set_options(colour="red")
    assert get_options()["store_paths"] == "full"
