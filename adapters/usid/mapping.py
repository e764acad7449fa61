"""What pycrox knows about the USID layout: names, defaults, the index grid and derived attrs.

A USID main dataset is 2-D ``(positions, spectroscopic steps)``; four ancillary datasets
(``Position_Indices/Values`` of shape ``(n_positions, n_position_dims)``,
``Spectroscopic_Indices/Values`` of shape ``(n_spectroscopic_dims, n_steps)``) describe how each
row / column is one combination of the dimension indices. pycrox shows it as an N-D array whose
dims are the position labels in file order, then the spectroscopic labels in file order (pyUSID's
``USIDataset(sort_dims=False).get_n_dim_form()``).

Fastest / slowest: the dimension whose index changes most often between consecutive rows
(columns) is the *fastest*. Rows follow an odometer: the 2-D matrix is the C-order reshape of
the N-D array whose axes are ordered slowest -> fastest within each group. pyUSID 0.0.12 stores
the labels slowest first (so the N-D form is a plain reshape); older writers stored them fastest
first (the N-D form is then that reshape with each group's axes reversed). pycrox reads the
order from the indices and writes slowest first unless the object's ``pycrox_usid`` layout attr
says otherwise.

Functions here work on numpy arrays in the *spectroscopic shape* ``(n_dims, n_steps)``;
Position datasets are transposed first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from pycrox import model

__all__ = [
    "ANCILLARY",
    "INDEX_DTYPE",
    "LAYOUT_ATTR",
    "MODEL_ATTR",
    "POSITION_DIM",
    "RESERVED_MAIN_ATTRS",
    "coordinate_attrs",
    "default_ancillary_paths",
    "derived_array_attrs",
    "derived_field_attrs",
    "grid_status",
    "group_attrs_for",
    "is_scattered",
    "odometer",
    "slow_to_fast",
    "storage_kwargs",
    "unit_values",
]

#: the four object-reference attributes of a main dataset (also the default ancillary names)
ANCILLARY = ("Position_Indices", "Position_Values", "Spectroscopic_Indices", "Spectroscopic_Values")
#: JSON text attribute holding what USID cannot store natively (model attrs, dims order, ...)
MODEL_ATTR = "pycrox_model"
#: attr of pycrox objects read from USID: the file layout details that differ from the defaults
LAYOUT_ATTR = "pycrox_usid"
#: attributes of a main dataset that the mapping itself uses
RESERVED_MAIN_ATTRS = ("quantity", "units", *ANCILLARY, MODEL_ATTR, LAYOUT_ATTR)
#: what pyUSID writes for indices
INDEX_DTYPE = np.dtype("uint32")
#: pyUSID DimType values (the ``type`` attribute of ancillary datasets)
DIM_TYPE_DEFAULT, DIM_TYPE_INCOMPLETE = 0, 1
#: dim name pycrox gives scattered (non-gridded) positions
POSITION_DIM = "position"
_FIELD_UNITS = re.compile(r"^(?P<quantity>.*?)\s*\[(?P<units>[^\]]*)\]\s*$")


def change_counts(inds: np.ndarray) -> np.ndarray:
    """How often each row's index changes between consecutive steps (wrap-around included)."""
    if inds.shape[1] == 0:
        return np.zeros(inds.shape[0], dtype=np.int64)
    return np.count_nonzero(inds != np.roll(inds, 1, axis=1), axis=1)


def fast_to_slow(inds: np.ndarray) -> list[int]:
    """Row numbers ordered fastest -> slowest, as pyUSID's ``get_sort_order`` orders them."""
    return [int(i) for i in np.argsort(change_counts(inds), kind="stable")[::-1]]


def slow_to_fast(inds: np.ndarray) -> list[int]:
    """Row numbers ordered slowest -> fastest (the C-order reshape order)."""
    return fast_to_slow(inds)[::-1]


def grid_sizes(inds: np.ndarray) -> list[int]:
    """Size of each dimension: the number of distinct index values in its row."""
    return [int(np.unique(row).size) for row in inds]


def _grid_sizes_fast(inds: np.ndarray) -> list[int]:
    """``max + 1`` per row: the sizes of an odometer (checked against it by the caller)."""
    return [int(row.max()) + 1 if row.size else 0 for row in inds]


def odometer(sizes: Sequence[int], order: Sequence[int], dtype: Any = INDEX_DTYPE) -> np.ndarray:
    """Indices ``(n_dims, prod(sizes))`` of a full grid whose rows follow `order` slowest -> fastest.

    Examples
    --------
    >>> odometer([2, 3], [0, 1]).tolist()
    [[0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2]]
    >>> odometer([2, 3], [1, 0]).tolist()
    [[0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2]]
    """
    out = np.empty((len(sizes), int(np.prod(sizes, dtype=np.int64))), dtype=dtype)
    grids = np.indices([sizes[i] for i in order], dtype=np.int64).reshape(len(order), -1)
    for row, dim in zip(grids, order, strict=True):
        out[dim] = row
    return out


def grid_status(inds: np.ndarray) -> tuple[str, list[int], list[int]]:
    """Whether indices form a grid: ``(status, sizes, slow_to_fast order)``.

    ``status`` is ``"grid"`` (a full odometer), ``"truncated"`` (the first steps of a larger
    odometer: an acquisition that stopped early) or ``"invalid"``. The file order (slowest first)
    is preferred whenever it reproduces the indices (dimensions of size 1 make several orders
    equivalent); otherwise the order follows from how often each index changes.
    """
    n_dims, n = inds.shape
    if inds.size and inds.min() < 0:
        return "invalid", grid_sizes(inds), list(range(n_dims))
    sizes = _grid_sizes_fast(inds)  # an odometer prefix holds every index up to its maximum
    total = int(np.prod(sizes, dtype=np.float64))
    if n <= total <= 2 * n:  # a truncated odometer misses less than one step of its slowest dim
        status = "grid" if total == n else "truncated"
        order = list(range(n_dims))
        if np.array_equal(odometer(sizes, order, np.int64)[:, :n], inds):
            return status, sizes, order
        order = slow_to_fast(inds)
        if np.array_equal(odometer(sizes, order, np.int64)[:, :n], inds):
            return status, sizes, order
    return "invalid", grid_sizes(inds), list(range(n_dims))


def is_scattered(inds: np.ndarray, types: Sequence[int] | None) -> bool:
    """Whether position indices encode scattered points (pyUSID ``DimType.INCOMPLETE``).

    True when every dimension is typed INCOMPLETE, or when two or more dimensions share the same
    index column ``arange(n)`` (n > 1), which no grid can produce.
    """
    n_dims, n = inds.shape
    if types is not None and len(types) == n_dims and n_dims and all(t == DIM_TYPE_INCOMPLETE for t in types):
        return True
    return n_dims > 1 and n > 1 and all(np.array_equal(row, np.arange(n)) for row in inds)


def unit_values(inds_row: np.ndarray, vals_row: np.ndarray, size: int) -> tuple[np.ndarray, bool]:
    """Coordinate values of one grid dimension and whether every tile repeats them.

    The value at index k is taken where the index first equals k (pyUSID reads the first tile).
    """
    first = np.zeros(size, dtype=np.int64)
    steps = np.arange(inds_row.size)
    first[inds_row[::-1]] = steps[::-1]  # the last write wins: the first occurrence of each index
    values = vals_row[first] if inds_row.size else np.zeros(size, dtype=vals_row.dtype)
    consistent = np.array_equal(values[inds_row], vals_row, equal_nan=values.dtype.kind in "fc")
    return values, bool(consistent)


def default_ancillary_paths(parent: str, name: str) -> dict[str, tuple[str, str]]:
    """The two paths the writer tries for each ancillary dataset of main dataset `name` in `parent`."""
    base = parent.rstrip("/")
    return {anc: (f"{base}/{anc}", f"{base}/{name}_{anc}") for anc in ANCILLARY}


def coordinate_attrs(label: str, units: str, kind: str) -> dict[str, str]:
    """Attrs the reader gives the coordinate of a USID dimension.

    Parameters
    ----------
    label, units : str
        From the ancillary datasets.
    kind : {"position", "spectroscopic", "scattered"}
        ``position`` -> SPATIAL, ``spectroscopic`` -> SPECTRAL, ``scattered`` (the per-point
        coordinates of scattered positions) -> SPATIAL.
    """
    dim_type = "SPECTRAL" if kind == "spectroscopic" else "SPATIAL"
    return {
        "units": units,
        "quantity": label,
        "dimension_type": dim_type,
        "long_name": model.long_name(label, units),
    }


def position_dim_attrs() -> dict[str, str]:
    """Attrs of the ``position`` coordinate (0..n-1) of scattered positions."""
    quantity, dim_type = model.DIMENSIONS[POSITION_DIM]
    return {"units": "", "quantity": quantity, "dimension_type": dim_type.value, "long_name": quantity}


def dimension_types(n_position: int, n_spectroscopic: int, scattered: bool) -> list[str]:
    """The dimension types the reader gives the N-D dims (positions first)."""
    position = ["POINT_CLOUD"] if scattered else ["SPATIAL"] * n_position
    return position + ["SPECTRAL"] * n_spectroscopic


def derived_array_attrs(
    name: str, quantity: Any, units: Any, original_metadata: dict, dim_types: Sequence[str]
) -> dict[str, Any]:
    """The model attrs the reader derives for a main dataset before applying ``pycrox_model``."""
    return {
        "title": name,
        "quantity": quantity,
        "units": units,
        "data_type": model.guess_data_type(list(dim_types)),
        "modality": "",
        "source": "",
        "metadata": {},
        "original_metadata": original_metadata,
        "provenance": {},
    }


def derived_field_attrs(field: str, dim_types: Sequence[str]) -> dict[str, Any]:
    """Model attrs of one field of a compound dataset: ``"Amplitude [V]"`` -> quantity and units."""
    match = _FIELD_UNITS.match(field)
    quantity, units = (match["quantity"], match["units"]) if match else (field, "")
    return derived_array_attrs(field, quantity, units, {}, dim_types)


def group_attrs_for(layout: dict, values: dict) -> dict:
    """Group/variable attrs: the HDF5 values plus, when not empty, the layout attr."""
    return {**values, LAYOUT_ATTR: layout} if layout else dict(values)


def storage_kwargs(encoding: dict, shape: tuple[int, ...]) -> dict[str, Any]:
    """``create_dataset`` keywords (chunks, compression, ...) from ``encoding["usid_*"]``, when they fit."""
    chunks = encoding.get("usid_chunks")
    if not (
        isinstance(chunks, tuple | list)
        and len(chunks) == len(shape)
        and all(
            isinstance(c, int | np.integer) and 0 < c <= max(s, 1) for c, s in zip(chunks, shape, strict=True)
        )
    ):
        return {}
    out: dict[str, Any] = {"chunks": tuple(int(c) for c in chunks)}
    if encoding.get("usid_compression"):
        out["compression"] = encoding["usid_compression"]
        if encoding.get("usid_compression_opts") is not None:
            out["compression_opts"] = encoding["usid_compression_opts"]
    for key in ("shuffle", "fletcher32"):
        if encoding.get(f"usid_{key}"):
            out[key] = True
    return out
