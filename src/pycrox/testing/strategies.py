"""Hypothesis strategies for valid pycrox objects (used by pycrox's own round-trip tests).

`model_arrays` draws DataArrays that follow the data model: 0-D to 6-D, any numeric or bool
dtype (float16 and complex included), uniform and non-uniform coordinates with units and
dimension types, unicode titles, and nested metadata with lists, numbers, bools and None.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pycrox import model

__all__ = ["DTYPES", "attr_values", "metadata_dicts", "model_arrays", "names"]

DTYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "complex64",
    "complex128",
)
UNIT_SPELLINGS = (
    "",
    "nm",
    "µm",
    "Å",
    "1/nm",
    "eV",
    "keV",
    "s",
    "ms",
    "V",
    "Hz",
    "a.u.",
    "counts",
    "pm",
    "deg",
)
_NAME_CHARS = st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_äöüßµλΩ")
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)

names = st.text(_NAME_CHARS, min_size=1, max_size=8).filter(
    lambda s: s not in model.ARRAY_ATTRS and not s.startswith("_")
)

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    _TEXT,
)


def attr_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """JSON-like attribute values: scalars, lists of scalars, nested str-keyed dicts."""
    return st.recursive(
        _scalars,
        lambda children: st.one_of(
            st.lists(_scalars, max_size=4),
            st.dictionaries(names, children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


def metadata_dicts() -> st.SearchStrategy[dict]:
    """Nested metadata dicts (possibly empty)."""
    return st.dictionaries(names, attr_values(), max_size=5)


@st.composite
def _coordinate(draw: st.DrawFn, dim: str, size: int) -> xr.DataArray:
    dtype = draw(st.sampled_from(["float64", "float32", "int64"]))
    if draw(st.booleans()):
        offset = draw(st.floats(-1e3, 1e3, allow_nan=False))
        scale = draw(st.floats(1e-3, 1e3, allow_nan=False))
        values = (offset + scale * np.arange(size)).astype(dtype)
    else:
        values = np.sort(draw(hnp.arrays(dtype, size, elements=st.integers(-1000, 1000), unique=True)))
    return model.coordinate(
        dim,
        values,
        units=draw(st.sampled_from(UNIT_SPELLINGS)),
        quantity=draw(st.sampled_from(["", "Length", "Energy", "Time", "Voltage", "Länge"])),
        dimension_type=draw(st.sampled_from([t.value for t in model.DimensionType])),
    )


@st.composite
def model_arrays(
    draw: st.DrawFn,
    *,
    min_dims: int = 0,
    max_dims: int = 6,
    dtypes: tuple[str, ...] = DTYPES,
    max_side: int | None = None,
) -> xr.DataArray:
    """A valid pycrox DataArray with random content; see the module docstring."""
    ndim = draw(st.integers(min_dims, max_dims))
    side = max_side or (5 if ndim <= 3 else 3)
    shape = tuple(draw(st.lists(st.integers(1, side), min_size=ndim, max_size=ndim)))
    dims = draw(st.lists(names, min_size=ndim, max_size=ndim, unique=True))
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    data = draw(hnp.arrays(dtype, shape))
    coords = {dim: draw(_coordinate(dim, size)) for dim, size in zip(dims, shape, strict=True)}
    name = draw(names.filter(lambda n: n not in dims))
    return model.from_array(
        data,
        dims=dims,
        coords=coords,
        name=name,
        title=draw(_TEXT),
        quantity=draw(st.sampled_from(["", "Intensity", "Height", "Counts", "Strom"])),
        units=draw(st.sampled_from(UNIT_SPELLINGS)),
        data_type=draw(st.sampled_from([t.value for t in model.DataType])),
        modality=draw(_TEXT),
        source=draw(_TEXT),
        metadata=draw(metadata_dicts()),
        original_metadata=draw(metadata_dicts()),
        provenance=draw(st.dictionaries(names, st.dictionaries(names, _scalars, max_size=3), max_size=2)),
    )
