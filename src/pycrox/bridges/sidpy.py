"""pycrox DataArrays as ``sidpy.Dataset`` objects and back, in memory and without copying data.

sidpy is imported inside the functions (extra ``pycrox[sidpy]``). The attrs map one to one
(``specs/data-model.md`` lists the sidpy name of each); what sidpy cannot hold is kept on the
``sidpy.Dataset`` so `from_sidpy` restores it (``specs/bridges.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array
import numpy as np
import xarray as xr

from pycrox._attrs import comparable, comparable_attrs
from pycrox.bridges import _common
from pycrox.bridges._memo import Axis, recall, remember, restore
from pycrox.errors import DimensionError, ModelError

__all__ = ["from_sidpy", "to_sidpy"]

#: sidpy refuses empty dimension units and quantities; it writes this itself when none is given
PLACEHOLDER = "generic"
#: model str attrs and the sidpy.Dataset property holding each
_TEXT_ATTRS = ("title", "quantity", "units", "modality", "source")
_DICT_ATTRS = ("metadata", "original_metadata", "provenance")


def _placeholder(value: Any) -> str:
    return value if isinstance(value, str) and value else PLACEHOLDER


#: how `to_sidpy` writes each value (so `from_sidpy` can tell an unchanged value from an edited one)
_ENCODE: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(_TEXT_ATTRS, _common.text),
    "data_type": _common.data_type,
    **dict.fromkeys(_DICT_ATTRS, lambda value: comparable(_common.plain(value or {}))),
    "axis.units": _placeholder,
    "axis.quantity": _placeholder,
    "axis.dimension_type": _common.dimension_type,
}


def _reserved_names() -> frozenset[str]:
    import sidpy  # type: ignore[import-untyped]

    return frozenset(name for name in dir(sidpy.Dataset) if not name.startswith("__"))


def _axis_names(da: xr.DataArray) -> list[str]:
    """A name per dim that sidpy can set as an attribute without hiding a method or a ``dim_<i>``."""
    reserved = _reserved_names() | {f"dim_{i}" for i in range(da.ndim)}
    taken: set[str] = set()
    names = []
    for dim in da.dims:
        base = str(dim) if str(dim).isidentifier() else "dim"
        candidate, index = base, 0
        while candidate in reserved or candidate in taken:
            index += 1
            candidate = f"{base}_{index}"
        taken.add(candidate)
        names.append(candidate)
    return names


def to_sidpy(da: xr.DataArray) -> Any:
    """A ``sidpy.Dataset`` holding the data, dims and attrs of `da`, sharing its data.

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox DataArray (numpy or dask backed). Dims of size 0 are not possible in sidpy.

    Returns
    -------
    sidpy.Dataset
        Lazy (sidpy datasets are dask arrays): a dask-backed `da` gives its own dask array
        (nothing is computed), a numpy-backed one a one-chunk dask array over the same memory.
        ``title``, ``quantity``, ``units``, ``modality``, ``source``, ``data_type``, ``metadata``,
        ``original_metadata`` and ``provenance`` are set from the attrs; each dim becomes a
        ``sidpy.Dimension`` with its values, ``units``, ``quantity`` and ``dimension_type``.

    Raises
    ------
    ModelError
        If `da` is not a DataArray.
    DimensionError
        If a dim has size 0.

    Examples
    --------
    >>> from pycrox.bridges.sidpy import from_sidpy, to_sidpy
    >>> dataset = to_sidpy(da)  # doctest: +SKIP
    >>> dataset.plot()  # doctest: +SKIP
    >>> back = from_sidpy(dataset)  # doctest: +SKIP
    """
    import sidpy  # type: ignore[import-untyped]

    da = _common.check_dataarray(da, "to_sidpy")
    empty = [dim for dim in da.dims if da.sizes[dim] == 0]
    if empty:
        raise DimensionError(
            f"sidpy cannot hold dims of size 0, found {empty}; drop or select them before to_sidpy"
        )
    attrs = da.attrs
    dataset = sidpy.Dataset.from_array(
        _common.as_dask(da),
        title=_common.text(attrs.get("title")),
        units=_common.text(attrs.get("units")),
        quantity=_common.text(attrs.get("quantity")),
        modality=_common.text(attrs.get("modality")),
        source=_common.text(attrs.get("source")),
    )
    # after from_array, which refuses POINT_CLOUD without point coordinates (pycrox keeps them as coords)
    dataset.data_type = _common.data_type(attrs.get("data_type"))
    for key in ("metadata", "original_metadata"):
        value = _common.plain(attrs.get(key) or {})
        try:
            setattr(dataset, key, value)
        except ValueError:  # sidpy refuses dicts with more than ~2700 top-level keys
            setattr(dataset, f"_{key}", value)
    dataset.provenance = _common.plain(attrs.get("provenance") or {})
    names = _axis_names(da)
    for index, (dim, name) in enumerate(zip(da.dims, names, strict=True)):
        coord_attrs = da.coords[dim].attrs if dim in da.coords else {}
        dataset.set_dimension(
            index,
            sidpy.Dimension(
                _common.values_1d(da, dim),
                name=name,
                quantity=_placeholder(coord_attrs.get("quantity")),
                units=_placeholder(coord_attrs.get("units")),
                dimension_type=_common.dimension_type(coord_attrs.get("dimension_type")),
            ),
        )
    remember(dataset, da, names, dataset.name)
    return dataset


def from_sidpy(dataset: Any) -> xr.DataArray:
    """A pycrox DataArray from a ``sidpy.Dataset``, sharing its dask array.

    Parameters
    ----------
    dataset : sidpy.Dataset
        Any sidpy dataset: one read by pyNSID or SciFiReaders, made by sidpy, or by `to_sidpy`.

    Returns
    -------
    xarray.DataArray
        Dask-backed with the dataset's own graph (nothing is computed). A dataset made by
        `to_sidpy` whose data are unchanged gives back the original array (numpy or dask), and
        what sidpy cannot hold (variable name, coordinate dtypes, ``long_name``, other attrs and
        coordinates) comes back from the source; values edited on the sidpy side are kept.

    Raises
    ------
    ModelError
        If `dataset` is not a ``sidpy.Dataset``.
    """
    import sidpy  # type: ignore[import-untyped]

    if not isinstance(dataset, sidpy.Dataset):
        raise ModelError(f"from_sidpy converts a sidpy.Dataset, got {type(dataset).__name__}")
    axes = []
    for index in range(dataset.ndim):
        dim = dataset._axes.get(index)
        if dim is None:
            axes.append(
                Axis(
                    f"dim_{index}",
                    np.arange(dataset.shape[index], dtype=np.float64),
                    {"units": PLACEHOLDER, "quantity": PLACEHOLDER, "dimension_type": "UNKNOWN"},
                )
            )
            continue
        axes.append(
            Axis(
                str(dim.name),
                np.array(dim.values, dtype=np.float64),
                {
                    "units": str(dim.units),
                    "quantity": str(dim.quantity),
                    "dimension_type": dim.dimension_type.name,
                },
            )
        )
    names = [ax.name for ax in axes]
    if len(set(names)) != len(names):
        raise DimensionError(
            f"the sidpy dataset has dimensions with the same name {names}; rename them first"
        )
    memo = recall(dataset, names, dataset.shape)
    attrs: dict[str, Any] = {key: str(getattr(dataset, key)) for key in _TEXT_ATTRS}
    attrs["data_type"] = dataset.data_type.name
    attrs["metadata"] = comparable(_common.plain(dataset.metadata or {}))
    attrs["original_metadata"] = comparable(_common.plain(dataset.original_metadata or {}))
    provenance = getattr(dataset, "provenance", None)
    attrs["provenance"] = comparable(_common.plain(provenance if isinstance(provenance, dict) else {}))
    data = dask.array.Array(dataset.dask, dataset.name, dataset.chunks, meta=dataset._meta)
    same_data = memo is not None and memo.token == dataset.name
    out = restore(data, axes, attrs, memo, same_data=same_data, encode=_ENCODE)
    return comparable_attrs(out) if memo is None else out
