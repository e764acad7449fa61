"""The pycrox data model: plain xarray objects with conventions in attrs.

Everything here is written down in ``specs/data-model.md``; keep the two equal. The model
imports no reader, adapter or analysis module.
"""

from __future__ import annotations

import collections
import enum
import itertools
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import xarray as xr
from xarray.indexes import PandasIndex

from pycrox._attrs import MetadataDict, comparable, comparable_attrs
from pycrox.errors import DimensionError, ModelError

__all__ = [
    "ARRAY_ATTRS",
    "COMPOUND_ATTR",
    "COORD_ATTRS",
    "DIMENSIONS",
    "METADATA_KEYS",
    "DataType",
    "DimensionType",
    "MetadataDict",
    "comparable_attrs",
    "coordinate",
    "data_type_problem",
    "dimension_for",
    "from_array",
    "guess_data_type",
    "long_name",
    "refresh_data_type",
    "select_signal",
    "signal_nodes",
    "signal_path",
    "uniform_coordinate",
    "validate",
]

T = TypeVar("T", xr.DataArray, xr.Dataset)

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
    "scan_direction": None,
    "scan_angle": "deg",
    "spring_constant": "N/m",
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
    attrs = _coordinate_attrs(name, units=units, quantity=quantity, dimension_type=dimension_type)
    return xr.DataArray(np.asarray(values), dims=(name,), attrs=attrs, name=name)


def _coordinate_attrs(
    name: Hashable,
    *,
    units: str = "",
    quantity: str | None = None,
    dimension_type: str | DimensionType | None = None,
) -> dict[str, str]:
    """The attrs `coordinate` gives a coordinate (same keywords, same defaults and errors)."""
    known_quantity, known_type = DIMENSIONS.get(str(name), ("", DimensionType.UNKNOWN))
    quantity = known_quantity if quantity is None else quantity
    dim_type = _dimension_type(known_type if dimension_type is None else dimension_type)
    return {
        "units": units,
        "quantity": quantity,
        "dimension_type": dim_type,
        "long_name": long_name(quantity, units),
    }


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
        raise ModelError(
            f"invalid data_type {value!r}; expected one of {[t.value for t in DataType]}"
        ) from None


#: the rule that links a data type to its dimension types, one row per shape a type may have:
#: ``(data type, test, guessed)``; a test takes ``(number of dims, {dimension type: count})``. A guess
#: takes the first guessed row that holds; a stored type fits when any of its rows holds. Image dims
#: are SPATIAL or RECIPROCAL, as in sidpy's image viewers.
_DATA_TYPE_RULES: tuple[tuple[str, Callable[[int, Mapping[str, int]], bool], bool], ...] = (
    ("SPECTRUM", lambda n, c: n == 1 and c["SPECTRAL"] == 1, True),
    ("LINE_PLOT", lambda n, c: n == 1, True),
    ("IMAGE", lambda n, c: n == 2 and c["SPATIAL"] + c["RECIPROCAL"] == 2, True),
    ("LINE_PLOT_FAMILY", lambda n, c: n == 2 and c["SPECTRAL"] == 1, True),
    ("SPECTRAL_IMAGE", lambda n, c: n == 3 and c["SPATIAL"] == 2 and c["SPECTRAL"] == 1, True),
    ("IMAGE_STACK", lambda n, c: n == 3 and c["SPATIAL"] == 2, True),
    ("IMAGE_4D", lambda n, c: n == 4 and c["SPATIAL"] >= 2 and c["SPATIAL"] + c["RECIPROCAL"] == 4, True),
    ("POINT_CLOUD", lambda n, c: c["POINT_CLOUD"] >= 1, True),
    # shapes a type may have that a guess does not pick
    ("SPECTRUM", lambda n, c: n == 2 and c["SPECTRAL"] == 1, False),  # sidpy: a family of spectra
    ("LINE_PLOT_FAMILY", lambda n, c: n == 2, False),
    (
        "IMAGE",
        lambda n, c: n == 3 and c["SPATIAL"] + c["RECIPROCAL"] == 2 and c["CHANNEL"] == 1,
        False,
    ),  # colour
    (
        "SPECTRAL_IMAGE",
        lambda n, c: n == 3 and c["SPATIAL"] + c["RECIPROCAL"] == 2 and c["SPECTRAL"] == 1,
        False,
    ),
    ("IMAGE_STACK", lambda n, c: n == 3 and c["SPATIAL"] + c["RECIPROCAL"] >= 2, False),  # also volumes
    ("IMAGE_MAP", lambda n, c: n in (3, 4) and c["SPATIAL"] + c["RECIPROCAL"] >= 2, False),
    ("IMAGE_4D", lambda n, c: n == 4 and c["SPATIAL"] + c["RECIPROCAL"] == 4, False),  # 4-D Fourier space
)
_KNOWN_DIMENSION_TYPES = tuple(t.value for t in DimensionType if t is not DimensionType.UNKNOWN)


def _type_counts(dimension_types: Sequence[str]) -> collections.Counter[str]:
    return collections.Counter(str(t) for t in dimension_types)


def guess_data_type(dimension_types: Sequence[str]) -> str:
    """The `DataType` name that a list of dimension types suggests (``UNKNOWN`` when unclear).

    The first rule of the data model's table (``specs/data-model.md``, "Data types") that the
    dimension types satisfy names the type; ``UNKNOWN`` dimensions count as nothing.

    Examples
    --------
    >>> guess_data_type(["SPATIAL", "SPATIAL", "SPECTRAL"]), guess_data_type(["SPATIAL", "SPATIAL"])
    ('SPECTRAL_IMAGE', 'IMAGE')
    """
    n, counts = len(dimension_types), _type_counts(dimension_types)
    return next((name for name, test, guessed in _DATA_TYPE_RULES if guessed and test(n, counts)), "UNKNOWN")


def _fits(data_type: str, dimension_types: Sequence[str]) -> bool:
    """Whether the rule of `data_type` holds for some reading of the ``UNKNOWN`` dimensions."""
    tests = [test for name, test, _ in _DATA_TYPE_RULES if name == data_type]
    if data_type == "UNKNOWN" or not tests:
        return True
    known = [str(t) for t in dimension_types if str(t) != "UNKNOWN"]
    unknown = len(dimension_types) - len(known)
    n = len(dimension_types)
    return any(
        test(n, _type_counts([*known, *extra]))
        for extra in itertools.combinations_with_replacement(_KNOWN_DIMENSION_TYPES, unknown)
        for test in tests
    )


def _dimension_types(da: xr.DataArray) -> list[str]:
    return [
        str(da[d].attrs.get("dimension_type", "UNKNOWN")) if d in da.coords else "UNKNOWN" for d in da.dims
    ]


def data_type_problem(da: xr.DataArray) -> str | None:
    """Why ``da.attrs["data_type"]`` contradicts the dims of `da`, or None when it does not.

    A data type contradicts the dims when its rule (see `guess_data_type`) cannot hold for any
    reading of the dims whose type is ``UNKNOWN``: a ``SPECTRAL_IMAGE`` summed over its spectral
    dim, an ``IMAGE`` with three dims. ``UNKNOWN`` contradicts nothing.
    """
    stored = str(da.attrs.get("data_type", "UNKNOWN"))
    if stored not in DataType.__members__:
        return None  # reported as an invalid name
    dim_types = _dimension_types(da)
    if _fits(stored, dim_types):
        return None
    dims = ", ".join(f"{d!r} ({t})" for d, t in zip(da.dims, dim_types, strict=True)) or "none"
    return (
        f"data_type {stored!r} contradicts the dims [{dims}], which suggest {guess_data_type(dim_types)!r}; "
        "set attrs['data_type'] (pycrox.model.refresh_data_type does it)"
    )


def refresh_data_type(obj: T) -> T:
    """`obj` with a ``data_type`` that follows its dims: kept when it fits them, else guessed anew.

    Every analysis result goes through this: a reduction, a transform or a new result object must
    not keep a type its dims contradict (see `data_type_problem`).

    Parameters
    ----------
    obj : xarray.DataArray or xarray.Dataset
        A Dataset gets every data variable refreshed, and its own ``data_type`` attr (if any)
        when it holds one data variable.

    Returns
    -------
    same type as `obj`
        A shallow copy; data are not copied or computed.

    Examples
    --------
    >>> cube = from_array(np.zeros((4, 4, 16)), dims=("y", "x", "energy_loss"))
    >>> refresh_data_type(cube.sum("energy_loss", keep_attrs=True)).attrs["data_type"]
    'IMAGE'
    """
    if isinstance(obj, xr.Dataset):
        out = obj.copy(deep=False)
        for name in obj.data_vars:
            out[name] = refresh_data_type(obj[name])
        if "data_type" in obj.attrs and len(obj.data_vars) == 1:
            out.attrs["data_type"] = out[next(iter(obj.data_vars))].attrs["data_type"]
        return out
    stored = str(obj.attrs.get("data_type", "UNKNOWN"))
    dim_types = _dimension_types(obj)
    if stored != "UNKNOWN" and stored in DataType.__members__ and _fits(stored, dim_types):
        return obj
    return obj.assign_attrs(data_type=guess_data_type(dim_types))


def from_array(
    data: Any,
    dims: Sequence[Hashable] | None = None,
    *,
    coords: Mapping[Any, Any] | None = None,
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
        ``arange(n)`` with an empty unit. Another pycrox signal's ``.coords`` on the same dims
        are taken as they are, indexes included (readers of many channels on one grid pass the
        first channel's to the others: the same result, built faster).
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
    ready = _ready_coordinates(coords, dims, shape)
    if ready is not None:  # e.g. another channel's ``.coords``: used as they are
        built: Mapping[Hashable, Any] = ready
        extra: dict[Hashable, Any] = {}
    else:
        coords = dict(coords or {})
        built = {
            dim: _build_coordinate(dim, coords.pop(dim, None), shape[axis]) for axis, dim in enumerate(dims)
        }
        extra = dict(coords)
    dim_types = [built[d].attrs["dimension_type"] for d in dims]
    attrs = {
        "title": title if title is not None else ("" if name is None else str(name)),
        "quantity": quantity,
        "long_name": long_name(quantity, units),
        "units": units,
        "data_type": _data_type(data_type) if data_type is not None else guess_data_type(dim_types),
        "modality": modality,
        "source": source,
        "metadata": comparable(dict(metadata or {})),
        "original_metadata": comparable(dict(original_metadata or {})),
        "provenance": comparable(dict(provenance or {})),
    }
    if ready is not None:
        return xr.DataArray(data, dims=dims, coords=ready, name=name, attrs=attrs)
    if extra:  # other coordinates: xarray builds and aligns everything
        return xr.DataArray(data, dims=dims, coords={**built, **extra}, name=name, attrs=attrs)
    # dimension coordinates only: their indexes are built here, once each (as xarray's defaults)
    indexes = {dim: PandasIndex.from_variables({dim: var}, options={}) for dim, var in built.items()}
    variables = {dim: indexes[dim].create_variables({dim: var})[dim] for dim, var in built.items()}
    return xr.DataArray(
        data, dims=dims, coords=xr.Coordinates(variables, indexes=indexes), name=name, attrs=attrs
    )


def _ready_coordinates(
    coords: Any, dims: tuple[Hashable, ...], shape: tuple[int, ...]
) -> xr.Coordinates | None:
    """`coords` itself when it is an `xarray.Coordinates` that `from_array` would build anew unchanged.

    That is: exactly one indexed coordinate per dim, of the data's length, whose attrs are the
    model's (``coordinate`` gives them). Readers of many channels on one grid pass the first
    channel's ``.coords`` to the next ones, which saves building the same indexes again.
    """
    if not isinstance(coords, xr.Coordinates) or len(coords) != len(dims) or set(coords) != set(dims):
        return None
    indexes = coords.xindexes
    for axis, dim in enumerate(dims):
        variable = coords.variables[dim]
        if (
            variable.dims != (dim,)
            or variable.shape[0] != shape[axis]
            or type(indexes.get(dim)) is not PandasIndex
        ):
            return None
        attrs = variable.attrs
        try:
            expected = _coordinate_attrs(dim, **{k: attrs[k] for k in _COORD_SPEC_ATTRS if k in attrs})
        except (ModelError, TypeError):
            return None
        if attrs != expected:
            return None
    return coords


#: attrs of a coordinate that `from_array` keeps from a given ``xarray.DataArray`` coordinate
_COORD_SPEC_ATTRS = ("units", "quantity", "dimension_type")


def _default_dims(ndim: int) -> tuple[str, ...]:
    defaults = {0: (), 1: ("x",), 2: ("y", "x"), 3: ("y", "x", "energy"), 4: ("y", "x", "ky", "kx")}
    return defaults.get(ndim, tuple(f"d{i}" for i in range(ndim)))


def _build_coordinate(dim: Hashable, spec: Any, size: int) -> xr.Variable:
    """The variable of dimension coordinate `dim`, with the attrs `coordinate` gives it."""
    if spec is None:
        values, attrs = np.arange(size), _coordinate_attrs(dim)
    elif isinstance(spec, xr.DataArray):
        values = spec.values
        attrs = _coordinate_attrs(dim, **{k: spec.attrs[k] for k in _COORD_SPEC_ATTRS if k in spec.attrs})
    elif isinstance(spec, Mapping):
        values = spec["values"]
        attrs = _coordinate_attrs(dim, **{k: v for k, v in spec.items() if k != "values"})
    else:
        values, attrs = spec, _coordinate_attrs(dim)
    values = np.asarray(values)
    if values.size != size or values.ndim != 1:
        raise DimensionError(
            f"from_array: coordinate {dim!r} has shape {values.shape} but the data axis has {size}"
        )
    return xr.Variable((dim,), values, attrs)


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
    problem = data_type_problem(obj) if "data_type" in obj.attrs else None
    return [*problems, problem] if problem else problems


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


#: signals whose axis in a length unit is a wavelength (spectra), not a position
_SPECTRAL_SIGNALS = frozenset({"CL", "PL", "Raman", "optical", "spectrum"})
_ENERGY_LOSS_SIGNALS = frozenset({"EELS"})
_ENERGY_SIGNALS = frozenset({"EDS", "EDX", "XRF", "WDS"})


def dimension_for(unit: str, signal: str | None = None, *, spectral: bool = False) -> str:
    """The pycrox dimension name for an axis in `unit` of a `signal` (the one rule every reader uses).

    Parameters
    ----------
    unit : str
        The axis unit, any spelling `pycrox.units.parse` reads (``""`` for none).
    signal : str, optional
        What the data are: ``"EELS"``, ``"EDS"`` (``"EDX"``, ``"XRF"``), ``"CL"``, ``"PL"``,
        ``"Raman"``, ``"optical"`` or ``"spectrum"`` (any other spectrum), ``"image"``,
        ``"diffraction"``; None when unknown.
    spectral : bool, optional
        The axis is known to be the spectral axis of the data (a length is then a wavelength, a
        reciprocal length a wavenumber, and an axis without units is named after the signal).

    Returns
    -------
    str
        A name from the vocabulary in ``specs/data-model.md``: an energy is ``energy_loss`` for
        EELS (and for a plain ``eV`` axis of an unknown signal), ``energy`` otherwise; a length
        is ``wavelength`` for a spectrum, ``x`` for an image; a reciprocal length is
        ``raman_shift`` for Raman, ``wavenumber`` for other spectra, ``kx`` otherwise; an angle is
        ``kx`` in diffraction, ``tilt`` otherwise; time, frequency and voltage give ``time``,
        ``frequency`` and ``bias``; anything else ``channel``.

    Examples
    --------
    >>> dimension_for("nm", "CL"), dimension_for("nm", "image"), dimension_for("eV")
    ('wavelength', 'x', 'energy_loss')
    >>> dimension_for("keV"), dimension_for("1/cm", "Raman"), dimension_for("mrad", "diffraction")
    ('energy', 'raman_shift', 'kx')
    """
    kind = _dimensionality(unit)
    spectral = spectral or signal in _SPECTRAL_SIGNALS | _ENERGY_SIGNALS | _ENERGY_LOSS_SIGNALS
    if kind == "energy":
        if signal in _ENERGY_LOSS_SIGNALS:
            return "energy_loss"
        if signal in _ENERGY_SIGNALS:
            return "energy"
        return "energy_loss" if signal is None and unit.strip() in ("eV", "meV") else "energy"
    if kind == "length":
        return "wavelength" if spectral else "x"
    if kind == "reciprocal length":
        if signal == "Raman":
            return "raman_shift"
        return "wavenumber" if spectral else "kx"
    if kind == "angle":
        return "kx" if signal == "diffraction" else "tilt"
    if not kind and spectral:
        return {"EELS": "energy_loss", "EDS": "energy", "EDX": "energy", "CL": "wavelength"}.get(
            signal or "", "channel"
        )
    return {"time": "time", "frequency": "frequency", "voltage": "bias"}.get(kind, "channel")


_KINDS = {
    "energy": "eV",
    "length": "m",
    "reciprocal length": "1/m",
    "time": "s",
    "frequency": "Hz",
    "voltage": "V",
}


def _dimensionality(unit: str) -> str:
    """What `unit` measures: a key of `_KINDS`, ``"angle"``, or ``""`` (no unit, or another kind)."""
    from pycrox import units
    from pycrox.errors import UnitError

    if not unit or not unit.strip():
        return ""
    try:
        parsed = units.parse(unit)
    except (UnitError, ValueError):
        return ""
    if parsed.dimensionless:
        root = units.ureg.get_root_units(parsed)[1]
        return "angle" if str(root) in ("radian", "rad") else ""
    return next(
        (
            kind
            for kind, ref in _KINDS.items()
            if parsed.dimensionality == units.ureg.parse_units(ref).dimensionality
        ),
        "",
    )
