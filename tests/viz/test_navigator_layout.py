"""A spectrum image written by pycrox is laid out for its navigator: shards of 64-channel chunks.

`pycrox.to_zarr` stores a chunk that spans a long SPECTRAL dim as a shard of inner chunks of 64
channels, so the viewers' first picture (the sum over a 64-channel window) decodes only that
window's chunks (issue #20: the first image under 1 s at 512 x 512 x 2048, chunks (64, 64, 2048)).
"""

import re
import uuid

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.viz.explore import explore


def _si(ny=16, nx=16, ne=512, chunks=(8, 8, 512), spectral=True):
    rng = np.random.default_rng(3)
    values = rng.random((ny, nx, ne), dtype=np.float32)
    dim = "energy_loss" if spectral else "frame"
    coords = {dim: {"values": np.arange(ne, dtype=float), "units": "eV" if spectral else ""}}
    if not spectral:
        coords[dim]["dimension_type"] = "TEMPORAL"
    da = pycrox.from_array(
        dsa.from_array(values, chunks=chunks) if chunks else values,
        dims=("y", "x", dim),
        coords=coords,
        quantity="Intensity",
        units="counts",
    )
    return da, values


def test_long_spectral_chunks_are_written_as_shards_of_64_channels(tmp_path):
    da, values = _si()
    pycrox.to_zarr(da, tmp_path / "si.zarr")
    back = pycrox.open(tmp_path / "si.zarr")
    assert back.encoding["shards"] == (8, 8, 512)
    assert back.encoding["chunks"] == (8, 8, 64)
    np.testing.assert_array_equal(back.values, values)
    viewer = explore(back, window=(64, 128))
    np.testing.assert_allclose(viewer.image, values[:, :, 64:128].sum(-1), rtol=1e-5)
    np.testing.assert_array_equal(viewer.click(9, 3).values, values[9, 3])
    # plain xarray reads the store too
    plain = xr.open_zarr(tmp_path / "si.zarr", consolidated=True)
    np.testing.assert_array_equal(next(iter(plain.data_vars.values())).values, values)


@pytest.mark.parametrize(
    ("chunks", "spectral"),
    [((8, 8, 128), True), ((8, 8, 512), False), (None, True), ((8, 8, 96), True)],
    ids=["short spectral chunks", "no SPECTRAL dim", "numpy (zarr chooses chunks)", "not a multiple of 64"],
)
def test_other_layouts_are_left_alone(tmp_path, chunks, spectral):
    da, values = _si(ne=192 if chunks == (8, 8, 96) else 512, chunks=chunks, spectral=spectral)
    pycrox.to_zarr(da, tmp_path / "si.zarr")
    back = pycrox.open(tmp_path / "si.zarr")
    assert back.encoding["shards"] is None
    if chunks is not None:
        assert back.encoding["chunks"] == chunks
    np.testing.assert_array_equal(back.values, values)


def _bytes_read(app, fs, prefix):
    """Bytes the GETs of data chunks (not coordinates, not metadata) under `prefix` fetched."""
    total = 0
    for path, byte_range in app.ranges:
        if (
            prefix not in path
            or "/c/" not in path
            or any(f"/{d}/c/" in path for d in ("y", "x", "energy_loss"))
        ):
            continue
        first, last = re.fullmatch(r"bytes=(\d*)-(\d*)", byte_range or "bytes=-").groups()
        if first and last:
            total += int(last) - int(first) + 1
        elif last:  # a suffix (the shard index at the end of a shard)
            total += int(last)
        else:  # the whole object
            total += fs.size(path.lstrip("/"))
    return total


def test_navigator_fetches_only_its_window_from_s3(counting_s3):
    import s3fs

    options, app = counting_s3
    fs = s3fs.S3FileSystem(**options)
    bucket = f"pycrox-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    da, values = _si(ny=32, nx=32, ne=1024, chunks=(16, 16, 1024))
    pycrox.to_zarr(da, f"s3://{bucket}/pycrox.zarr", storage_options=options)
    # the same values and chunks, written with zarr's defaults (one zstd object per chunk, no shards)
    da.to_dataset(name="si").to_zarr(
        f"s3://{bucket}/plain.zarr", zarr_format=3, consolidated=True, storage_options=options
    )
    fs.invalidate_cache()
    read = {}
    for name in ("pycrox", "plain"):
        signal = pycrox.open(f"s3://{bucket}/{name}.zarr", storage_options=options)
        app.clear()
        viewer = explore(signal, window=(0, 64))
        np.testing.assert_allclose(viewer.image, values[:, :, :64].sum(-1), rtol=1e-5)
        read[name] = _bytes_read(app, fs, f"/{bucket}/{name}.zarr/")
    stored = values.nbytes
    assert read["plain"] > 0.5 * stored  # every chunk holds all 1024 channels: all are fetched
    assert 0 < read["pycrox"] < stored / 8  # a 64-channel window: 1/16 of the data, plus shard indexes
