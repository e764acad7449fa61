"""What a bridge remembers on the converted object, so the way back is lossless.

The other model (sidpy, HyperSpy) holds the values it has a place for; everything else (the
variable name, coordinate dtypes, ``long_name``, extra attrs, non-dimension coordinates, the
original numpy or dask array) stays with a shallow reference to the source DataArray kept on the
converted object (`remember`). On the way back (`restore`) the other side's values win: a value
is taken from the source only when the other side still holds exactly what the bridge wrote for
it, so edits made on the other side are kept and unedited values come back as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import dask.array
import numpy as np
import xarray as xr

from pycrox import model
from pycrox._attrs import comparable, equivalent

__all__ = ["MEMO_ATTR", "Axis", "Memo", "dask_view", "recall", "remember", "restore", "same_value"]

#: attribute of the converted object holding the `Memo`
MEMO_ATTR = "_pycrox_memo"


@dataclass(frozen=True)
class Memo:
    """The source of a conversion: the DataArray, the axis names and shape written, a data token.

    The axes written may be the source's dims in another order (HyperSpy's signal axes come
    last): ``order[i]`` is the source dim written as axis ``i`` under the name ``names[i]``.
    """

    source: xr.DataArray
    names: tuple[str, ...]
    order: tuple[Hashable, ...]
    shape: tuple[int, ...]
    token: Any


@dataclass
class Axis:
    """One axis as the other side holds it: name, values and the model's coordinate attrs."""

    name: str
    values: np.ndarray
    attrs: dict[str, Any]


def dask_view(values: np.ndarray) -> dask.array.Array:
    """A one-chunk dask array over `values` without copying them.

    ``dask.array.from_array`` copies numpy input; this graph holds `values` itself, so
    computing the result returns `values` unchanged (same memory).
    """
    name = f"pycrox-view-{id(values):x}-{dask.base.tokenize(values.shape, values.dtype.str)}"
    key = (name, *(0,) * values.ndim)
    chunks = tuple((size,) for size in values.shape)
    return dask.array.Array({key: values}, name, chunks, meta=values[(slice(0, 0),) * values.ndim])


def remember(
    target: Any,
    source: xr.DataArray,
    names: Sequence[str],
    token: Any,
    order: Sequence[Hashable] | None = None,
) -> None:
    """Keep `source` (shallow) on `target` under `MEMO_ATTR`; `order`: its dims as written."""
    dims = tuple(order) if order is not None else source.dims
    shape = tuple(source.sizes[d] for d in dims)
    object.__setattr__(target, MEMO_ATTR, Memo(source.copy(deep=False), tuple(names), dims, shape, token))


def recall(target: Any, names: Sequence[str], shape: Sequence[int]) -> Memo | None:
    """The `Memo` on `target` when the axes still have the names and sizes written, else None."""
    memo = getattr(target, MEMO_ATTR, None)
    if not isinstance(memo, Memo):
        return None
    if memo.names != tuple(names) or memo.shape != tuple(shape):
        return None
    return memo


def same_value(a: Any, b: Any) -> bool:
    """Whether two attr values are equal by the model's rules (arrays, NaN, nested dicts)."""
    return equivalent(a, b)


def _pick(held: Any, original: Any, encode: Callable[[Any], Any]) -> Any:
    """The original value when the other side holds what the bridge wrote for it, else the held one."""
    try:
        if same_value(held, encode(original)):
            return original
    except (TypeError, ValueError):
        pass
    return held


def _same_values(original: np.ndarray, held: np.ndarray, rtol: float) -> bool:
    """Whether held coordinate values are the source's, as the other side stores them."""
    if original.shape != held.shape:
        return False
    if original.dtype.kind not in "biuf":  # bridges write 0, 1, ... for values they cannot hold
        return bool(np.array_equal(held, np.arange(held.size)))
    values = original.astype(np.float64)
    steps = np.diff(values)
    ordered = np.isfinite(values).all() and ((steps > 0).all() or (steps < 0).all() or values.size < 2)
    if not ordered and np.array_equal(held, np.arange(held.size)):
        return True  # HyperSpy holds ordered axes only: the index was written
    if rtol == 0.0 or values.size == 0:
        return bool(np.array_equal(values, held, equal_nan=True))
    atol = rtol * float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 0.0
    return bool(np.allclose(values, held, rtol=rtol, atol=atol, equal_nan=True))


def restore(
    data: Any,
    axes: Sequence[Axis],
    attrs: Mapping[str, Any],
    memo: Memo | None,
    *,
    same_data: bool,
    encode: Mapping[str, Callable[[Any], Any]],
    rtol: float = 0.0,
) -> xr.DataArray:
    """The DataArray the other side's content describes, completed from `memo`.

    Parameters
    ----------
    data : array-like
        The other side's data (numpy or dask), used unless `same_data` (then the source's).
    axes : sequence of Axis
        The other side's axes, in order.
    attrs : mapping
        The model attrs the other side holds (``title``, ``units``, ...), already decoded.
    memo : Memo or None
        What `remember` kept, if it still fits.
    same_data : bool
        Whether the other side's data are still the ones written (then the source's array is used).
    encode : mapping
        For attr names (and ``"axis.<attr>"`` for coordinate attrs): how the bridge wrote a value,
        so a held value equal to the written one restores the source's value.
    rtol : float, optional
        Relative tolerance when comparing held coordinate values with the source's (0: exact),
        for sides that store a uniform axis as offset and scale.

    Returns
    -------
    xarray.DataArray
    """
    identity: Callable[[Any], Any] = lambda value: value
    if memo is None:
        coords = {
            ax.name: xr.Variable(
                (ax.name,), ax.values, {**ax.attrs, "long_name": model.long_name(ax.attrs["quantity"], "")}
            )
            for ax in axes
        }
        full = dict(attrs)
        full.setdefault("long_name", model.long_name(str(full.get("quantity", "")), ""))
        return xr.DataArray(data, dims=[ax.name for ax in axes], coords=coords, attrs=comparable(full))

    source = memo.source
    written = memo.order
    coords_out: dict[Hashable, Any] = {}
    for dim, ax in zip(written, axes, strict=True):
        original = source.coords.get(dim, None)
        if original is None:
            coords_out[dim] = xr.Variable((dim,), ax.values, ax.attrs)
            continue
        values = original.variable.data if _same_values(original.values, ax.values, rtol) else ax.values
        coord_attrs = dict(original.attrs)
        for key, held in ax.attrs.items():
            enc = encode.get(f"axis.{key}", identity)
            coord_attrs[key] = _pick(held, original.attrs[key], enc) if key in original.attrs else held
        coords_out[dim] = xr.Variable((dim,), values, coord_attrs)
    for name, coord in source.coords.items():
        if name not in source.dims:
            coords_out[name] = coord.variable
    out_attrs = dict(source.attrs)
    for key, held in attrs.items():
        enc = encode.get(key, identity)
        out_attrs[key] = _pick(held, source.attrs[key], enc) if key in source.attrs else held
    if same_data:
        return xr.DataArray(
            source.variable.data, dims=source.dims, coords=coords_out, attrs=out_attrs, name=source.name
        )
    out = xr.DataArray(data, dims=written, coords=coords_out, attrs=out_attrs, name=source.name)
    return out.transpose(*source.dims)
