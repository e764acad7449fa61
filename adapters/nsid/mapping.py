"""What the NSID file layout means in the pycrox data model: attribute names, names and dtypes.

Everything the reader and the writer must agree on lives here (specs/nsid-mapping.md explains it):

* the main dataset's string attributes <-> the model's string attrs (`MAIN_ATTRS`),
* dimension scales <-> dimension coordinates (`SCALE_ATTRS`, the ``"generic"`` placeholder for
  empty strings that sidpy refuses),
* which names may become HDF5 links, and which group names the sidpy reader cannot take
  (`SIDPY_RESERVED`),
* how a coordinate's values are stored (float64 when that is exact, as pyNSID does).

Whatever pyNSID cannot represent is kept in one JSON attribute, `SIDECAR_ATTR`, on the object it
belongs to (see `pycrox.adapters.nsid._values`).
"""

from __future__ import annotations

from typing import Any, TypeGuard

import numpy as np

from pycrox import model

__all__ = [
    "BOOKKEEPING_ATTRS",
    "DIMSCALE_ATTRS",
    "LIBVER",
    "MAIN_ATTRS",
    "MODEL_DICTS",
    "PLACEHOLDER",
    "PYNSID_VERSION",
    "SCALE_ATTRS",
    "SIDECAR_ATTR",
    "SIDPY_RESERVED",
    "coordinate_storage",
    "data_type_name",
    "default_dataset_path",
    "dimension_type_name",
    "is_attr_name",
    "is_link_name",
    "restore_coordinate",
    "unique_name",
]

#: model attr -> attribute of the main dataset (vlen UTF-8 strings; pyNSID's check_if_main needs all)
MAIN_ATTRS: dict[str, str] = {
    "title": "main_data_name",
    "quantity": "quantity",
    "units": "units",
    "data_type": "data_type",
    "modality": "modality",
    "source": "source",
}
#: model attrs that are nested dicts, stored as groups next to the main dataset (none when empty)
MODEL_DICTS = ("metadata", "original_metadata", "provenance")
#: book-keeping attributes pyNSID / sidpy add to groups and main datasets
BOOKKEEPING_ATTRS = ("machine_id", "platform", "pyNSID_version", "sidpy_version", "timestamp")
#: pyNSID release whose layout pycrox writes; pyNSID's check_if_main requires the attribute
PYNSID_VERSION = "0.0.7.2"
#: attributes of a dimension scale dataset (non-empty strings; the reader needs all four)
SCALE_ATTRS = ("name", "units", "quantity", "dimension_type")
#: sidpy refuses empty units/quantity of a dimension: written instead (sidpy's own default)
PLACEHOLDER = "generic"
#: attributes managed by the HDF5 dimension-scale API
DIMSCALE_ATTRS = frozenset({"CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "DIMENSION_LABELS"})
#: JSON attribute holding what NSID cannot represent (written only when needed)
SIDECAR_ATTR = "pycrox_lossless"
#: file format bounds: HDF5 1.8 objects (large attributes), readable by HDF5 >= 1.10 everywhere
LIBVER = ("v108", "v110")

#: names the sidpy reader cannot take as a dict group or dimension (properties and methods of
#: ``sidpy.Dataset`` 0.12.9 besides the dict attributes); such dicts go to the sidecar only
# fmt: off
SIDPY_RESERVED = frozenset({
    "A", "T", "abs", "add_provenance", "add_structure", "adjust_axis", "all", "angle", "any", "argmax",
    "argmin", "argtopk", "astype", "axes", "blocks", "choose", "chunks", "chunksize", "clip", "compute",
    "compute_chunk_sizes", "conj", "copy", "cumprod", "cumsum", "dask", "data_descriptor", "data_type",
    "del_dimension", "dot", "dtype", "fft", "flatten", "flatten_complex", "fold", "from_array",
    "get_dimension_by_number", "get_dimension_slope", "get_dimensions_by_type", "get_dimensions_types",
    "get_extent", "get_image_dims", "get_spectral_dims", "h5_dataset", "h5_dataset_name", "h5_filename",
    "hdf_close", "imag", "itemsize", "labels", "like_data", "map_blocks", "map_overlap", "max", "mean",
    "min", "modality", "moment", "name", "nbytes", "ndim", "nonzero", "npartitions", "numblocks",
    "partitions", "persist", "plot", "prod", "quantity", "ravel", "real", "rechunk", "reduce_dims",
    "rename_dimension", "repeat", "reshape", "round", "set_dimension", "set_thumbnail", "shape", "shuffle",
    "size", "source", "squeeze", "std", "store", "structures", "sum", "swapaxes", "title", "to_backend",
    "to_dask_dataframe", "to_delayed", "to_hdf5", "to_svg", "to_tiledb", "to_zarr", "topk", "trace",
    "transpose", "unfold", "units", "var", "variance", "view", "view_metadata", "view_original_metadata",
    "vindex", "visualize", "metadata", "original_metadata", "provenance", "point_cloud"
})
# fmt: on
_DICT_GROUP_OK = frozenset({"metadata", "original_metadata", "provenance", "point_cloud"})
#: sidpy's aliases for dimension types
_DIMENSION_TYPE_ALIASES = {"FRAME": "TEMPORAL", "TIME": "TEMPORAL", "STACK": "TEMPORAL"}


def is_link_name(name: Any) -> TypeGuard[str]:
    """Whether `name` can be an HDF5 link (group or dataset) and a DataTree node name as it is."""
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\0" not in name


def is_attr_name(name: Any) -> bool:
    """Whether `name` can be an HDF5 attribute name as it is (``/`` is allowed there)."""
    return isinstance(name, str) and name != "" and "\0" not in name


def is_dict_group_name(name: Any, taken: set[str]) -> TypeGuard[str]:
    """Whether a dict attr `name` may become a group the sidpy reader accepts."""
    reserved = name in SIDPY_RESERVED and name not in _DICT_GROUP_OK
    dim_alias = isinstance(name, str) and name.startswith("dim_") and name[4:].isdigit()
    return is_link_name(name) and name not in taken and not reserved and not dim_alias


def is_scale_name(name: Any, taken: set[str]) -> TypeGuard[str]:
    """Whether a dimension may be stored under its own name (sidpy makes each dimension an attribute)."""
    return is_dict_group_name(name, taken) and name not in _DICT_GROUP_OK


def unique_name(base: Any, taken: set[str]) -> str:
    """A link name derived from `base` that is not in `taken` (``x``, ``x_1``, ``x_2``, ...)."""
    text = str(base).replace("/", "_").replace("\0", "_").strip() or "dim"
    if text in (".", ".."):
        text = "dim"
    candidate, index = text, 0
    while candidate in taken or candidate in SIDPY_RESERVED:
        index += 1
        candidate = f"{text}_{index}"
    return candidate


def default_dataset_path(name: Any, title: Any, channel: int = 0) -> tuple[str, str]:
    """``(group path, dataset name)`` pyNSID's callers use for one dataset: Measurement/Channel/name/name."""
    if is_link_name(name):
        base = name
    else:  # as pyNSID: the last part of the title, else nDim_Data
        text = str(title).split("/")[-1].strip() if isinstance(title, str) else ""
        base = text if is_link_name(text) else "nDim_Data"
    return f"/Measurement_000/Channel_{channel:03d}/{base}", base


def data_type_name(value: Any) -> str | None:
    """The `model.DataType` name `value` spells (case-insensitive, as sidpy), else None."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if not isinstance(text, str):
        return None
    upper = text.strip().upper()
    return upper if upper in model.DataType.__members__ else None


def dimension_type_name(value: Any) -> str | None:
    """The `model.DimensionType` name `value` spells (sidpy's aliases included), else None."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    if not isinstance(text, str):
        return None
    upper = _DIMENSION_TYPE_ALIASES.get(text.strip().upper(), text.strip().upper())
    return upper if upper in model.DimensionType.__members__ else None


def coordinate_storage(values: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Values to store for a coordinate and the dtype to restore on reading (None: as stored).

    pyNSID stores every dimension as float64; so does pycrox whenever that is exact (ints, bools,
    float16/32). Other values keep a type HDF5 can hold: complex and large integers natively,
    text as UTF-8 strings, datetimes as int64 counts.
    """
    values = np.asarray(values)
    kind = values.dtype.kind
    if values.dtype == np.float64:
        return values, None
    if kind in "biuf":
        as_float = values.astype(np.float64)
        if np.array_equal(as_float.astype(values.dtype), values, equal_nan=kind == "f"):
            return as_float, values.dtype.str
        return values, None
    if kind == "c":
        return values, None
    if kind in "mM":
        return values.view(np.int64), values.dtype.str
    if kind in "US":
        text = values.astype(str) if kind == "U" else np.char.decode(values, "utf-8")
        return np.array([s.encode("utf-8") for s in text.ravel()], dtype=object).reshape(
            values.shape
        ), values.dtype.str
    raise TypeError(f"cannot store coordinate values of dtype {values.dtype}")


def restore_coordinate(stored: np.ndarray, dtype: str | None) -> np.ndarray:
    """Invert `coordinate_storage`: the values in the dtype noted beside them."""
    if dtype is None:
        return stored
    target = np.dtype(dtype)
    if target.kind in "mM":
        return np.asarray(stored, dtype=np.int64).view(target)
    if target.kind in "US":
        text = [
            v.decode("utf-8") if isinstance(v, bytes) else str(v)
            for v in np.asarray(stored, dtype=object).ravel()
        ]
        if target.kind == "S":
            return np.array([t.encode("utf-8") for t in text], dtype=target).reshape(np.shape(stored))
        return np.array(text, dtype=target).reshape(np.shape(stored))
    return np.asarray(stored).astype(target)
