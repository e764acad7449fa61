"""pycrox DataArrays as HyperSpy signals and back, in memory and without copying data.

HyperSpy is imported inside the functions (extra ``pycrox[hyperspy]``). The signal class is
chosen by HyperSpy itself from the data type, the number of signal axes and ``signal_type``,
which pycrox sets from the modality (EELS, EDS, diffraction) when an installed HyperSpy extension
(exspy, pyxem) registers it. What HyperSpy has no place for travels in the signal's metadata
node ``pycrox`` (so a saved ``.hspy`` keeps it) and, for the way back, on the signal object
(``specs/bridges.md``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model
from pycrox._attrs import comparable, comparable_attrs
from pycrox._encoding import decode_json, encode_json
from pycrox.bridges import _common
from pycrox.bridges._memo import Axis, recall, remember, restore
from pycrox.errors import DimensionError, ModelError

__all__ = ["from_hyperspy", "signal_type", "to_hyperspy"]

#: metadata node holding what HyperSpy's own metadata has no place for
NODE = "pycrox"
#: relative tolerance between a coordinate and HyperSpy's ``offset + scale * index``
RTOL = 1e-9
_IMAGE_TYPES = ("IMAGE", "IMAGE_STACK", "IMAGE_MAP", "IMAGE_4D")
_IMAGE_DIMS = ("SPATIAL", "RECIPROCAL")
#: pycrox normalised metadata key -> (HyperSpy path below Acquisition_instrument.<TEM|SEM>)
_INSTRUMENT_KEYS = {
    "beam_energy": ("beam_energy",),
    "beam_current": ("beam_current",),
    "convergence_angle": ("convergence_angle",),
    "camera_length": ("camera_length",),
    "magnification": ("magnification",),
    "microscope": ("microscope",),
}


def _registered_types() -> set[str]:
    from hyperspy.extensions import ALL_EXTENSIONS  # type: ignore[import-untyped]

    return {str(v.get("signal_type")) for v in ALL_EXTENSIONS["signals"].values() if v.get("signal_type")}


def _dim_types(da: xr.DataArray) -> list[str]:
    return [
        _common.dimension_type(da.coords[d].attrs.get("dimension_type") if d in da.coords else None)
        for d in da.dims
    ]


def _signal_dims(da: xr.DataArray) -> list[Any]:
    """The dims that become HyperSpy signal axes: an image's two, a spectrum's spectral one.

    Images (image data types, or two trailing image dims): the last two SPATIAL/RECIPROCAL dims;
    otherwise the one SPECTRAL dim when there is exactly one, else the last dim.
    """
    if da.ndim < 2:
        return list(da.dims)
    kind = _common.data_type(da.attrs.get("data_type"))
    types = _dim_types(da)
    image = [d for d, t in zip(da.dims, types, strict=True) if t in _IMAGE_DIMS]
    if kind in _IMAGE_TYPES or (
        kind in ("UNKNOWN", "POINT_CLOUD") and all(t in _IMAGE_DIMS for t in types[-2:])
    ):
        return image[-2:] if len(image) >= 2 else list(da.dims[-2:])
    spectral = [d for d, t in zip(da.dims, types, strict=True) if t == "SPECTRAL"]
    return spectral if len(spectral) == 1 else [da.dims[-1]]


def _signal_dimension(da: xr.DataArray) -> int:
    return len(_signal_dims(da))


def signal_type(da: xr.DataArray) -> str:
    """The HyperSpy ``signal_type`` `to_hyperspy` gives `da` (``""`` for a generic signal).

    EELS and EDS (``EDS_SEM`` when the modality names SEM, else ``EDS_TEM``) for real spectra
    whose modality or ``metadata["signal"]`` names them, ``electron_diffraction`` for 2-D
    reciprocal-space signals; each only when an installed HyperSpy extension registers it.
    """
    known = _registered_types()
    if da.dtype.kind not in "iuf":
        return ""
    text = " ".join(
        str(v) for v in (da.attrs.get("modality"), (da.attrs.get("metadata") or {}).get("signal")) if v
    ).upper()
    sig = _signal_dimension(da)
    wanted = ""
    if sig == 1 and "EELS" in text:
        wanted = "EELS"
    elif sig == 1 and ("EDS" in text or "EDX" in text):
        wanted = "EDS_SEM" if "SEM" in text.replace("STEM", "") else "EDS_TEM"
    elif sig == 2 and ("DIFFRACTION" in text or all(t == "RECIPROCAL" for t in _dim_types(da)[-2:])):
        wanted = "electron_diffraction"
    return wanted if wanted in known else ""


def _quantity_text(quantity: Any, units: Any) -> str:
    quantity, units = _common.text(quantity), _common.text(units)
    return f"{quantity} ({units})" if units else quantity


def _axis_dict(da: xr.DataArray, dim: Any, navigate: bool) -> dict[str, Any]:
    values = _common.values_1d(da, dim)
    attrs = da.coords[dim].attrs if dim in da.coords else {}
    entry: dict[str, Any] = {
        "name": str(dim),
        "units": _common.text(attrs.get("units")),
        "navigate": navigate,
    }
    steps = np.diff(values)
    if values.size == 1 or (np.isfinite(values).all() and np.allclose(steps, steps[0], rtol=RTOL, atol=0)):
        entry |= {
            "size": values.size,
            "offset": float(values[0]),
            "scale": float(steps[0]) if values.size > 1 else 1.0,
        }
    elif np.isfinite(values).all() and (np.diff(values) > 0).all():
        entry["axis"] = values
    else:  # HyperSpy needs ordered axes: write the index (the memo keeps the values)
        entry |= {"size": values.size, "offset": 0.0, "scale": 1.0}
    return entry


def _node(da: xr.DataArray) -> dict[str, Any]:
    """The model's attrs (but ``original_metadata``) and each dim's quantity and dimension type."""
    node = {key: da.attrs[key] for key in model.ARRAY_ATTRS if key in da.attrs and key != "original_metadata"}
    node["dims"] = {
        str(dim): {
            key: (da.coords[dim].attrs.get(key, "") if dim in da.coords else "")
            for key in ("quantity", "dimension_type")
        }
        for dim in da.dims
    }
    return node


def _read_node(metadata: dict[str, Any]) -> dict[str, Any] | None:
    """The `_node` dict `to_hyperspy` wrote into ``metadata.pycrox``, or None."""
    text = (metadata.get(NODE) or {}).get("attrs") if isinstance(metadata.get(NODE), dict) else None
    if not isinstance(text, str):
        return None
    try:
        node = decode_json(json.loads(text))
    except (ValueError, TypeError):
        return None
    return node if isinstance(node, dict) else None


def _tree_dict(value: Any) -> Any:
    """`value` as a HyperSpy ``DictionaryTreeBrowser`` gives it back (what the signal holds)."""
    from hyperspy.misc.utils import DictionaryTreeBrowser  # type: ignore[import-untyped]

    return comparable(DictionaryTreeBrowser(_common.plain(value or {})).as_dictionary())


def _hyperspy_metadata(da: xr.DataArray, kind: str) -> dict[str, Any]:
    attrs = da.attrs
    meta: dict[str, Any] = attrs["metadata"] if isinstance(attrs.get("metadata"), dict) else {}
    microscope = "SEM" if "SEM" in _common.text(attrs.get("modality")).upper().replace("STEM", "") else "TEM"
    instrument: dict[str, Any] = {}
    for key, path in _INSTRUMENT_KEYS.items():
        value = meta.get(key)
        if isinstance(value, dict) and isinstance(value.get("value"), int | float):
            value = value["value"]  # pycrox stores these in HyperSpy's own units (keV, nA, mrad, mm)
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            instrument[path[0]] = value
    general: dict[str, Any] = {"title": _common.text(attrs.get("title"))}
    for key, target in (("date", "date"), ("time", "time"), ("operator", "authors")):
        if isinstance(meta.get(key), str):
            general[target] = meta[key]
    out: dict[str, Any] = {
        "General": general,
        "Signal": {
            "signal_type": kind,
            "quantity": _quantity_text(attrs.get("quantity"), attrs.get("units")),
        },
        NODE: {"attrs": json.dumps(encode_json(_node(da)), ensure_ascii=False)},
    }
    if instrument:
        out["Acquisition_instrument"] = {microscope: instrument}
    if isinstance(meta.get("sample"), str):
        out["Sample"] = {"description": meta["sample"]}
    return out


def to_hyperspy(da: xr.DataArray) -> Any:
    """A HyperSpy signal holding the data, axes and attrs of `da`, sharing its data.

    Parameters
    ----------
    da : xarray.DataArray
        A pycrox DataArray with at least one dim (numpy or dask backed).

    Returns
    -------
    hyperspy.signal.BaseSignal
        The class HyperSpy assigns for the data type, the signal dimension (2 for images, else 1;
        the signal dims are moved last, as HyperSpy needs, by a transposed view) and `signal_type`
        (e.g. ``exspy.signals.EELSSpectrum``); lazy for dask data (nothing computed), else
        holding the very numpy array of `da`. ``General.title``, ``Signal.quantity``
        (``"Intensity (counts)"``), the instrument values exspy reads (``beam_energy`` ...) and
        ``original_metadata`` are set; the rest of the model's attrs go to the node ``pycrox``.

    Raises
    ------
    ModelError
        If `da` is not a DataArray.
    DimensionError
        If `da` is 0-D (HyperSpy signals have at least one axis).

    Examples
    --------
    >>> from pycrox.bridges.hyperspy import from_hyperspy, to_hyperspy
    >>> signal = to_hyperspy(spectrum_image)  # doctest: +SKIP
    >>> signal.remove_background(signal_range=(400.0, 450.0))  # doctest: +SKIP
    """
    from hyperspy.io import dict2signal  # type: ignore[import-untyped]
    from hyperspy.misc.utils import DictionaryTreeBrowser  # type: ignore[import-untyped]

    da = _common.check_dataarray(da, "to_hyperspy")
    if da.ndim == 0:
        raise DimensionError(
            "HyperSpy signals have at least one axis, got a 0-D DataArray; use da.expand_dims"
        )
    kind = signal_type(da)
    sig = _signal_dims(da)
    order = [d for d in da.dims if d not in sig] + sig  # HyperSpy: signal axes last (a view)
    source, da = da, da.transpose(*order)
    nav = da.ndim - len(sig)
    data = da.variable.data
    lazy = not isinstance(data, np.ndarray)
    if lazy:
        data = _common.as_dask(da) if not hasattr(data, "dask") else data
    original = _common.plain(da.attrs.get("original_metadata") or {})
    signal = dict2signal(
        {
            "data": data,
            "axes": [_axis_dict(da, dim, index < nav) for index, dim in enumerate(da.dims)],
            "metadata": _hyperspy_metadata(da, kind),
        },
        lazy=lazy,
    )
    if isinstance(original, dict) and original:
        # HyperSpy's add_dictionary merges keys that slugify alike ("AΩ" into "A"); its
        # DictionaryTreeBrowser constructor keeps them, and `original_metadata` has no setter
        signal._original_metadata = DictionaryTreeBrowser(original)
    remember(signal, source, [str(d) for d in da.dims], signal.data, order=order)
    return signal


def _axes(signal: Any) -> list[dict[str, Any]]:
    import traits.api as t  # type: ignore[import-untyped]

    out = []
    for axis in sorted(signal.axes_manager._axes, key=lambda a: a.index_in_array):
        undefined = t.Undefined  # type: ignore[attr-defined]
        name = axis.name if isinstance(axis.name, str) and axis.name is not undefined else ""
        units = axis.units if isinstance(axis.units, str) and axis.units is not undefined else ""
        out.append(
            {
                "name": name,
                "units": units,
                "navigate": bool(axis.navigate),
                "size": int(axis.size),
                "values": np.asarray(axis.axis, dtype=np.float64),
                "kind": type(axis).__name__,
            }
        )
    return out


def from_hyperspy(signal: Any) -> xr.DataArray:
    """A pycrox DataArray from a HyperSpy signal, sharing its numpy or dask array.

    Parameters
    ----------
    signal : hyperspy.signal.BaseSignal
        Any HyperSpy signal (lazy or not): loaded by HyperSpy, made by exspy, or by `to_hyperspy`.

    Returns
    -------
    xarray.DataArray
        Dims in the data's order. For a signal made by `to_hyperspy` the dims, attrs and
        coordinates come back as they were, except values edited on the HyperSpy side; for any
        other signal the dims are named from the axes' units as pycrox's ``.hspy`` reader names
        them, the data type follows the navigation and signal axes, ``modality`` is the
        ``signal_type``, ``metadata`` holds the normalised instrument values and
        ``original_metadata`` HyperSpy's ``metadata`` and ``original_metadata`` trees.

    Raises
    ------
    ModelError
        If `signal` is not a HyperSpy signal.
    """
    from hyperspy.signal import BaseSignal  # type: ignore[import-untyped]

    from pycrox.readers.hspy import _axes as hspy_axes
    from pycrox.readers.hspy import _meta as hspy_meta
    from pycrox.readers.hspy import reader as hspy_reader

    if not isinstance(signal, BaseSignal):
        raise ModelError(f"from_hyperspy converts a HyperSpy signal, got {type(signal).__name__}")
    axes = _axes(signal)
    metadata = signal.metadata.as_dictionary()
    original = comparable(signal.original_metadata.as_dictionary())
    node = _read_node(metadata)
    data = signal.data
    names = [a["name"] or f"dim_{index}" for index, a in enumerate(axes)]
    memo = recall(signal, names, data.shape)
    quantity, units = hspy_meta.quantity_and_units(metadata)
    title = str(hspy_meta.get_path(metadata, "General", "title") or "")
    if node is not None:
        written = _quantity_text(node.get("quantity"), node.get("units"))
        if hspy_meta.get_path(metadata, "Signal", "quantity") == written:
            quantity, units = _common.text(node.get("quantity")), _common.text(node.get("units"))
        held: dict[str, Any] = {key: comparable(node[key]) for key in model.ARRAY_ATTRS if key in node}
        native = {"title": title, "quantity": quantity, "units": units, "original_metadata": original}
        # what HyperSpy always holds counts only where the source had it or it is not empty
        held |= {
            key: value for key, value in native.items() if key in node or key == "original_metadata" or value
        }
        dims_info: dict[str, Any] = node["dims"] if isinstance(node.get("dims"), dict) else {}
        bridged = [
            Axis(
                name,
                a["values"],
                {
                    "units": a["units"],
                    "quantity": str((dims_info.get(name) or {}).get("quantity", "")),
                    "dimension_type": _common.dimension_type(
                        (dims_info.get(name) or {}).get("dimension_type")
                    ),
                },
            )
            for name, a in zip(names, axes, strict=True)
        ]
        encode: dict[str, Callable[[Any], Any]] = {
            "title": _common.text,
            "quantity": _common.text,
            "units": _common.text,
            "original_metadata": _tree_dict,
            "axis.units": _common.text,
            "axis.dimension_type": _common.dimension_type,
        }
        same = memo is not None and memo.token is data
        out = restore(data, bridged, held, memo, same_data=same, encode=encode, rtol=RTOL)
        return out if memo is not None else comparable_attrs(out)
    hs_axes = [hspy_axes.Axis(a) for a in axes]
    signal_kind = hspy_meta.signal_kind(metadata)
    dims, coords = hspy_axes.dims_and_coords(hs_axes, signal_kind)
    return model.from_array(
        data,
        dims,
        coords=coords,
        title=title,
        quantity=quantity,
        units=units,
        data_type=hspy_reader._data_type(hs_axes, False),
        modality=str(hspy_meta.get_path(metadata, "Signal", "signal_type") or ""),
        source="HyperSpy",
        metadata=hspy_meta.normalised(metadata),
        original_metadata={"metadata": metadata, "original_metadata": original},
    )
