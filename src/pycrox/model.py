"""The pycrox data model: plain xarray objects with conventions in attrs.

Everything here is written down in ``specs/data-model.md``; keep the two equal. The model
imports no reader, adapter or analysis module.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr

from pycrox.errors import DimensionError, ModelError

__all__ = [
    "ARRAY_ATTRS",
    "COMPOUND_ATTR",
    "COORD_ATTRS",
    "DIMENSIONS",
    "METADATA_KEYS",
    "DataType",
    "DimensionType",
    "coordinate",
    "from_array",
    "guess_data_type",
    "long_name",
    "select_signal",
    "signal_nodes",
    "signal_path",
    "uniform_coordinate",
    "validate",
]

#: attrs every pycrox DataArray carries, with their defaults
ARRAY_ATTRS: dict[str, Any] = {
    "title": "",
    "quantity": "",
    "units": "",
    "data_type": "UNKNOWN",
    "modality": "",
    "source": "",
    "metadata": {},
    "original_metadata": {},
    "provenance": {},
}
#: attrs every dimension coordinate carries
COORD_ATTRS = ("units", "quantity", "dimension_type", "long_name")
#: node attribute marking a DataTree node whose data variables are the fields of one compound dataset
COMPOUND_ATTR = "pycrox_compound"


class DataType(enum.StrEnum):
    """What a dataset is, with sidpy's ``DataType`` names."""

    UNKNOWN = "UNKNOWN"
    SPECTRUM = "SPECTRUM"
    LINE_PLOT = "LINE_PLOT"
    LINE_PLOT_FAMILY = "LINE_PLOT_FAMILY"
    IMAGE = "IMAGE"
    IMAGE_MAP = "IMAGE_MAP"
    IMAGE_STACK = "IMAGE_STACK"
    SPECTRAL_IMAGE = "SPECTRAL_IMAGE"
    IMAGE_4D = "IMAGE_4D"
    POINT_CLOUD = "POINT_CLOUD"


class DimensionType(enum.StrEnum):
    """What a dimension is, with sidpy's ``DimensionType`` names."""

    UNKNOWN = "UNKNOWN"
    SPATIAL = "SPATIAL"
    RECIPROCAL = "RECIPROCAL"
    SPECTRAL = "SPECTRAL"
    TEMPORAL = "TEMPORAL"
    CHANNEL = "CHANNEL"
    POINT_CLOUD = "POINT_CLOUD"


#: dimension names pycrox creates -> (quantity, dimension type)
DIMENSIONS: dict[str, tuple[str, DimensionType]] = {
    "x": ("Length", DimensionType.SPATIAL),
    "y": ("Length", DimensionType.SPATIAL),
    "z": ("Length", DimensionType.SPATIAL),
    "kx": ("Reciprocal length", DimensionType.RECIPROCAL),
    "ky": ("Reciprocal length", DimensionType.RECIPROCAL),
    "kz": ("Reciprocal length", DimensionType.RECIPROCAL),
    "energy_loss": ("Energy loss", DimensionType.SPECTRAL),
    "energy": ("Energy", DimensionType.SPECTRAL),
    "wavelength": ("Wavelength", DimensionType.SPECTRAL),
    "wavenumber": ("Wavenumber", DimensionType.SPECTRAL),
    "raman_shift": ("Raman shift", DimensionType.SPECTRAL),
    "frequency": ("Frequency", DimensionType.SPECTRAL),
    "bias": ("Voltage", DimensionType.SPECTRAL),
    "time": ("Time", DimensionType.TEMPORAL),
    "frame": ("Frame", DimensionType.TEMPORAL),
    "channel": ("Channel", DimensionType.CHANNEL),
    "detector": ("Detector", DimensionType.CHANNEL),
    "position": ("Position", DimensionType.POINT_CLOUD),
    "tilt": ("Angle", DimensionType.UNKNOWN),
    "rgb": ("Colour channel", DimensionType.CHANNEL),
    "window_x": ("Length", DimensionType.SPATIAL),
    "window_y": ("Length", DimensionType.SPATIAL),
    "component": ("Component", DimensionType.CHANNEL),
    "cluster": ("Cluster", DimensionType.CHANNEL),
}

#: normalised acquisition metadata keys (``attrs["metadata"]``) -> unit of their value
METADATA_KEYS: dict[str, str | None] = {
    "microscope": None,
    "detector": None,
    "signal": None,
    "date": None,
    "time": None,
    "operator": None,
    "sample": None,
    "beam_energy": "keV",
    "beam_current": "nA",
    "magnification": "",
    "camera_length": "mm",
    "convergence_angle": "mrad",
    "exposure_time": "s",
    "dwell_time": "s",
    "live_time": "s",
    "real_time": "s",
    "elevation_angle": "deg",
    "azimuth_angle": "deg",
    "bias": "V",
    "setpoint": None,
    "scan_rate": "Hz",
    "laser_wavelength": "nm",
}


def long_name(quantity: str, units: str) -> str:
    """Axis label as xarray's plotting shows it: ``"Length"`` + ``"nm"`` -> ``"Length"``.

    xarray appends ``[units]`` itself from ``attrs["units"]``, so the long name is the quantity,
    or nothing when the quantity is empty.
    """
    return quantity


def coordinate(
    name: Hashable,
    values: Any,
    *,
    units: str = "",
    quantity: str | None = None,
    dimension_type: str | DimensionType | None = None,
) -> xr.DataArray:
    """A dimension coordinate carrying the model's attrs.

    Parameters
    ----------
    name : hashable
        Dimension name, e.g. ``"x"`` or ``"energy_loss"``.
    values : array-like
        1-D coordinate values (uniform or not; any numeric dtype).
    units : str, optional
        Unit spelling, e.g. ``"nm"``.
    quantity : str, optional
        Physical quantity; defaults to the vocabulary entry of `name`, else ``""``.
    dimension_type : str or DimensionType, optional
        Defaults to the vocabulary entry of `name`, else ``UNKNOWN``.

    Returns
    -------
    xarray.DataArray
        1-D, dims ``(name,)``, with attrs ``units``, ``quantity``, ``dimension_type``, ``long_name``.

    Raises
    ------
    ModelError
        If `dimension_type` is not a `DimensionType` name.
    """
    known_quantity, known_type = DIMENSIONS.get(str(name), ("", DimensionType.UNKNOWN))
    quantity = known_quantity if quantity is None else quantity
    dim_type = _dimension_type(known_type if dimension_type is None else dimension_type)
    attrs = {"units": units, "quantity": quantity, "dimension_type": dim_type, "long_name": long_name(quantity, units)}
    return xr.DataArray(np.asarray(values), dims=(name,), attrs=attrs, name=name)


def uniform_coordinate(
    name: Hashable, size: int, *, offset: float = 0.0, scale: float = 1.0, **kwargs: Any
) -> xr.DataArray:
    """A uniform coordinate ``offset + scale * arange(size)`` in float64; see `coordinate`."""
    return coordinate(name, offset + scale * np.arange(size, dtype=np.float64), **kwargs)


def _dimension_type(value: str | DimensionType) -> str:
    try:
        return DimensionType(str(getattr(value, "value", value)).upper()).value
    except ValueError:
        raise ModelError(
            f"invalid dimension_type {value!r}; expected one of {[t.value for t in DimensionType]}"
        ) from None


def _data_type(value: str | DataType) -> str:
    try:
        return DataType(str(getattr(value, "value", value)).upper()).value
    except ValueError:
        raise ModelError(f"invalid data_type {value!r}; expected one of {[t.value for t in DataType]}") from None


def guess_data_type(dimension_types: Sequence[str]) -> str:
    """The `DataType` name that a list of dimension types suggests (``UNKNOWN`` when unclear)."""
    counts = {t: list(dimension_types).count(t) for t in set(dimension_types)}
    spatial = counts.get("SPATIAL", 0)
    n = len(dimension_types)
    rules = [
        (n == 1 and counts.get("SPECTRAL", 0) == 1, "SPECTRUM"),
        (n == 1, "LINE_PLOT"),
        (n == 2 and spatial == 2, "IMAGE"),
        (n == 2 and counts.get("SPECTRAL", 0) == 1, "LINE_PLOT_FAMILY"),
        (n == 3 and spatial == 2 and counts.get("SPECTRAL", 0) == 1, "SPECTRAL_IMAGE"),
        (n == 3 and spatial == 2, "IMAGE_STACK"),
        (n == 4 and spatial == 2 and counts.get("RECIPROCAL", 0) == 2, "IMAGE_4D"),
        (n == 4 and spatial == 2 and counts.get("SPATIAL", 0) + counts.get("RECIPROCAL", 0) == 4, "IMAGE_4D"),
        (counts.get("POINT_CLOUD", 0) >= 1, "POINT_CLOUD"),
    ]
    return next((name for ok, name in rules if ok), "UNKNOWN")


def from_array(
    data: Any,
    dims: Sequence[Hashable] | None = None,
    *,
    coords: Mapping[Hashable, Any] | None = None,
    name: Hashable | None = None,
    title: str | None = None,
    quantity: str = "",
    units: str = "",
    data_type: str | DataType | None = None,
    modality: str = "",
    source: str = "",
    metadata: Mapping[str, Any] | None = None,
    original_metadata: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Make a valid pycrox DataArray in one line from a numpy or dask array.

    Parameters
    ----------
    data : array-like
        numpy, dask or any array; kept as it is (no copy, stays lazy).
    dims : sequence of hashable, optional
        Dimension names; default ``("y", "x")`` for 2-D, ``("y", "x", "energy")`` for 3-D and
        ``dim_<i>``-free names ``("d0", "d1", ...)`` otherwise.
    coords : mapping, optional
        ``{dim: values}`` or ``{dim: xarray.DataArray}``; `values` may also be a dict with keys
        ``values``, ``units``, ``quantity``, ``dimension_type``. Dimensions left out get
        ``arange(n)`` with an empty unit.
    name, title, quantity, units, modality, source : optional
        The model's attrs; `title` defaults to `name` (or ``""``).
    data_type : str or DataType, optional
        Guessed from the dimension types when omitted.
    metadata, original_metadata, provenance : mapping, optional
        Nested dicts.

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    ModelError
        On an invalid `data_type` or `dimension_type`.
    DimensionError
        If the number of dims or a coordinate's length does not fit `data`.

    Examples
    --------
    >>> da = from_array(np.zeros((2, 3)), coords={"x": {"values": [0.0, 0.5, 1.0], "units": "nm"}})
    >>> da.dims, da.attrs["data_type"], da.x.attrs["dimension_type"]
    (('y', 'x'), 'IMAGE', 'SPATIAL')
    """
    ndim = len(np.shape(data)) if not hasattr(data, "ndim") else data.ndim
    dims = tuple(dims) if dims is not None else _default_dims(ndim)
    if len(dims) != ndim:
        raise DimensionError(f"from_array: {ndim}-D data but {len(dims)} dims {list(dims)}")
    shape = data.shape if hasattr(data, "shape") else np.shape(data)
    coords = dict(coords or {})
    built = {}
    for axis, dim in enumerate(dims):
        built[dim] = _build_coordinate(dim, coords.pop(dim, None), shape[axis])
    extra = dict(coords)
    dim_types = [built[d].attrs["dimension_type"] for d in dims]
    attrs = {
        "title": title if title is not None else ("" if name is None else str(name)),
        "quantity": quantity,
        "units": units,
        "data_type": _data_type(data_type) if data_type is not None else guess_data_type(dim_types),
        "modality": modality,
        "source": source,
        "metadata": dict(metadata or {}),
        "original_metadata": dict(original_metadata or {}),
        "provenance": dict(provenance or {}),
    }
    return xr.DataArray(data, dims=dims, coords={**built, **extra}, name=name, attrs=attrs)


def _default_dims(ndim: int) -> tuple[str, ...]:
    defaults = {0: (), 1: ("x",), 2: ("y", "x"), 3: ("y", "x", "energy"), 4: ("y", "x", "ky", "kx")}
    return defaults.get(ndim, tuple(f"d{i}" for i in range(ndim)))


def _build_coordinate(dim: Hashable, spec: Any, size: int) -> xr.DataArray:
    if spec is None:
        coord = coordinate(dim, np.arange(size))
    elif isinstance(spec, xr.DataArray):
        coord = coordinate(dim, spec.values, **{k: spec.attrs[k] for k in ("units", "quantity", "dimension_type")
                                                   if k in spec.attrs})
    elif isinstance(spec, Mapping):
        coord = coordinate(dim, spec["values"], **{k: v for k, v in spec.items() if k != "values"})
    else:
        coord = coordinate(dim, spec)
    if coord.size != size or coord.ndim != 1:
        raise DimensionError(f"from_array: coordinate {dim!r} has shape {coord.shape} but the data axis has {size}")
    return coord


def validate(obj: xr.DataArray | xr.Dataset | xr.DataTree) -> list[str]:
    """List what keeps `obj` from being a valid pycrox object (empty when valid).

    Parameters
    ----------
    obj : xarray.DataArray, xarray.Dataset or xarray.DataTree
        A Dataset is checked variable by variable, a DataTree node by node.

    Returns
    -------
    list of str
        One readable sentence per problem.
    """
    if isinstance(obj, xr.DataTree):  # the signals; group nodes hold file content of their own
        return [f"{path}: {p}" for path, signal in signal_nodes(obj).items() for p in validate(signal)]
    if isinstance(obj, xr.Dataset):
        return [f"{name}: {p}" for name, var in obj.data_vars.items() for p in validate(var)]
    problems = [f"attr {key!r} is missing" for key in ARRAY_ATTRS if key not in obj.attrs]
    if "data_type" in obj.attrs and obj.attrs["data_type"] not in DataType.__members__:
        problems.append(f"data_type {obj.attrs['data_type']!r} is not one of {list(DataType.__members__)}")
    problems += [
        f"attr {key!r} must be a dict, not {type(obj.attrs[key]).__name__}"
        for key in ("metadata", "original_metadata", "provenance")
        if key in obj.attrs and not isinstance(obj.attrs[key], Mapping)
    ]
    for dim in obj.dims:
        if dim not in obj.coords:
            problems.append(f"dimension {dim!r} has no coordinate")
            continue
        attrs = obj[dim].attrs
        problems += [f"coordinate {dim!r} lacks attr {k!r}" for k in COORD_ATTRS if k not in attrs]
        if "dimension_type" in attrs and attrs["dimension_type"] not in DimensionType.__members__:
            problems.append(f"coordinate {dim!r} has invalid dimension_type {attrs['dimension_type']!r}")
    return problems


def signal_nodes(tree: xr.DataTree) -> dict[str, xr.DataArray | xr.Dataset]:
    """The main datasets of a tree, by node path.

    A node is a signal when one of its data variables has the node's own name (a DataArray
    signal), or when its attrs carry ``pycrox_compound`` (a compound dataset: one variable per
    field). A tree whose only data sit in the root with one variable counts that variable.
    """
    found: dict[str, xr.DataArray | xr.Dataset] = {}
    for node in tree.subtree:
        if node.name is not None and node.name in node.data_vars:
            found[node.path] = node.to_dataset()[node.name]
        elif node.attrs.get(COMPOUND_ATTR):
            found[node.path] = node.to_dataset()
    if not found and len(tree.data_vars) == 1:
        found["/"] = tree.to_dataset()[next(iter(tree.data_vars))]
    return found


def signal_path(tree: xr.DataTree, group: str | None, source: str) -> str:
    """The node path of the one signal `group` names, or of the only signal of `tree`.

    Raises
    ------
    ModelError
        When `group` names no signal, or is absent and the tree holds several or no signals.
    """
    signals = signal_nodes(tree)
    if group is not None:
        key = "/" + str(group).strip("/")
        if key in signals:
            return key
        raise ModelError(f"{source}: no signal at group {group!r}; signals are {sorted(signals)}")
    if len(signals) == 1:
        return next(iter(signals))
    if not signals:
        raise ModelError(f"{source}: holds no signal; use pycrox.open_tree() to see what it holds")
    raise ModelError(
        f"{source}: holds {len(signals)} signals {sorted(signals)}; pass group=... or use pycrox.open_tree()"
    )


def select_signal(tree: xr.DataTree, group: str | None, source: str) -> xr.DataArray | xr.Dataset:
    """The signal `group` names (or the only one): a DataArray, or a Dataset for compound data.

    Raises
    ------
    ModelError
        As `signal_path`.
    """
    return signal_nodes(tree)[signal_path(tree, group, source)]
