"""pycroscopy-era conventions of USID files that pycrox meets when appending results.

`find_source`: the main dataset a result's ``source=`` object was read from, when the object
no longer carries its HDF5 path (a dtype conversion, ``astype``, drops xarray's encoding): the
one main dataset of the file with the object's name and as many values as it has.

`write_svd`, `split_legacy_svd`, `svd_dataset`: pycroscopy's SVD results (``U``, ``S``, ``V`` in
``<source>-SVD_NNN``) written beside pycrox's decomposition, and read as pycrox's decomposition
variables (``specs/usid-mapping.md`` section 5b).
"""

from __future__ import annotations

import math
from typing import Any

import h5py
import numpy as np
import xarray as xr

from pycrox.adapters.usid import mapping
from pycrox.errors import ModelError

__all__ = ["find_source", "is_svd_group", "split_legacy_svd", "svd_dataset", "write_svd"]


def _main_datasets(h5: h5py.File) -> list[h5py.Dataset]:
    found: list[h5py.Dataset] = []

    def visit(_: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset) and all(name in obj.attrs for name in mapping.ANCILLARY):
            found.append(obj)

    h5.visititems(visit)
    return found


def find_source(h5: h5py.File, source: Any) -> str:
    """The HDF5 path of the main dataset of `h5` that `source` (converted after reading) came from.

    Parameters
    ----------
    h5 : h5py.File
        The open target file.
    source : xarray.DataArray or xarray.Dataset
        An object read from the file, perhaps converted (another dtype) since.

    Returns
    -------
    str
        The path of the one main dataset named like `source` with as many values.

    Raises
    ------
    ModelError
        When none or several main datasets match; pass ``source=`` as the HDF5 path then.
    """
    variables = (
        [source] if isinstance(source, xr.DataArray) else list(getattr(source, "data_vars", {}).values())
    )
    if not variables:
        raise ModelError(
            "source= must be the HDF5 path of the source main dataset, or an object read from it"
        )
    var = variables[0]
    size = math.prod(var.shape)
    name = str(var.name) if var.name is not None else None
    candidates = [
        dset
        for dset in _main_datasets(h5)
        if dset.size == size and (name is None or dset.name.rsplit("/", 1)[-1] == name)
    ]
    if len(candidates) != 1:
        found = [d.name for d in candidates]
        raise ModelError(
            f"source= has no HDF5 path (converted after reading?) and {len(found)} main datasets of "
            f"{h5.filename} are named {name!r} with {size} values ({found}); pass source= as the HDF5 path"
        )
    return str(candidates[0].name)


#: names of the ancillary datasets of the component axis in an SVD results group
_COMPONENT_SPEC = ("Component_Indices", "Component_Values")
_COMPONENT_POS = ("Component_Position_Indices", "Component_Position_Values")
_COMPONENT_LABEL = "component"
#: encoding key of variables derived on reading (the USID writer skips them)
DERIVED = "usid_derived"


def _ancillary(group: h5py.Group, names: tuple[str, str], n: int, *, spectroscopic: bool) -> list[Any]:
    shape = (1, n) if spectroscopic else (n, 1)
    refs = []
    for name, data in zip(
        names, (np.arange(n, dtype=np.uint32), np.arange(n, dtype=np.float32)), strict=True
    ):
        dset = group.create_dataset(name, data=data.reshape(shape))
        dset.attrs["labels"] = np.array([_COMPONENT_LABEL], dtype="S")
        dset.attrs["units"] = np.array(["a. u."], dtype="S")
        refs.append(dset.ref)
    return refs


def write_svd(h5: h5py.File, group_path: str, source_path: str, result: Any) -> bool:
    """Add pycroscopy's ``U``, ``S``, ``V`` datasets to the SVD results group pycrox just wrote.

    pycroscopy's ``SVD`` process stores ``U`` (positions x components, float32, unit columns),
    ``S`` (float32, 1-D) and ``V`` (components x spectroscopic steps, source dtype) with
    ``Component_Indices`` / ``Component_Values`` as the ancillaries of the component axis, and
    the group attrs ``num_components``, ``svd_method`` and ``last_pixel``. pycrox's
    ``loadings`` are ``U * S`` and its ``components`` are ``V``.

    Parameters
    ----------
    h5 : h5py.File
        The file open for writing.
    group_path : str
        The results group holding pycrox's ``components`` / ``loadings`` main datasets.
    source_path : str
        The source main dataset.
    result : xarray.Dataset
        The result of ``decompose(..., method="svd")``.

    Returns
    -------
    bool
        Whether the datasets were written (only for a single component dim matching the source's
        spectroscopic steps, and loadings stored on the source's positions).
    """
    if not isinstance(result, xr.Dataset) or not {"components", "loadings", "singular_values"} <= set(
        result.data_vars
    ):
        return False
    group, src = h5[group_path], h5[source_path]
    loadings = group.get("loadings")
    components = result["components"]
    if (
        components.ndim != 2
        or components.dims[0] != "component"
        or components.shape[1] != src.shape[1]
        or not isinstance(loadings, h5py.Dataset)
        or loadings.ndim != 2
        or loadings.shape[0] != src.shape[0]
        or h5[loadings.attrs["Position_Indices"]] != h5[src.attrs["Position_Indices"]]
        or any(name in group for name in ("U", "S", "V", *_COMPONENT_SPEC, *_COMPONENT_POS))
    ):
        return False
    s = np.asarray(result["singular_values"].values, dtype=np.float64)
    n = s.size
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(s > 0, np.asarray(loadings[()], dtype=np.float64) / s, 0.0)
    spec = _ancillary(group, _COMPONENT_SPEC, n, spectroscopic=True)
    pos = _ancillary(group, _COMPONENT_POS, n, spectroscopic=False)
    dset_u = group.create_dataset("U", data=u.astype(np.float32))
    dset_u.attrs.update(
        {
            "quantity": "Abundance",
            "units": "a. u.",
            "Position_Indices": src.attrs["Position_Indices"],
            "Position_Values": src.attrs["Position_Values"],
            "Spectroscopic_Indices": spec[0],
            "Spectroscopic_Values": spec[1],
        }
    )
    dset_v = group.create_dataset("V", data=np.asarray(components.values).astype(src.dtype))
    dset_v.attrs.update(
        {
            "quantity": str(src.attrs.get("quantity", "Intensity")),
            "units": "a. u.",
            "Position_Indices": pos[0],
            "Position_Values": pos[1],
            "Spectroscopic_Indices": src.attrs["Spectroscopic_Indices"],
            "Spectroscopic_Values": src.attrs["Spectroscopic_Values"],
        }
    )
    group.create_dataset("S", data=s.astype(np.float32))
    group.attrs.update({"num_components": n, "svd_method": "pycrox-svd", "last_pixel": src.shape[0]})
    return True


def is_svd_group(group: h5py.Group) -> bool:
    """Whether `group` is a pycroscopy SVD results group (``U``, ``S``, ``V`` and ``svd_method``)."""
    return "svd_method" in group.attrs and all(name in group for name in ("U", "S", "V"))


def svd_dataset(nodes: dict[str, xr.Dataset], legacy: dict[str, dict[str, Any]] | None = None) -> None:
    """Give pycroscopy SVD results group nodes pycrox's decomposition variables (in place).

    See `_svd_dataset`; a group of an unexpected layout keeps only the file's datasets.
    """
    try:
        _svd_dataset(nodes, legacy)
    except (ValueError, KeyError, IndexError, TypeError):
        return


def _svd_dataset(nodes: dict[str, xr.Dataset], legacy: dict[str, dict[str, Any]] | None) -> None:
    """Add the decomposition variables to the SVD results group nodes of `nodes`.

    For each results group node with ``U`` and ``V`` signal nodes and an ``S`` variable (and no
    pycrox ``components`` node beside them), the group node gets ``components`` (``V``),
    ``loadings`` (``U * S``), ``singular_values`` (``S``) and ``explained_variance``
    (``S**2 / (positions - 1)``) over a ``component`` dim, as `pycrox.decompose` returns them.
    Groups in `legacy` (from `split_legacy_svd`) hold ``U`` and ``V`` as plain variables.
    """
    for path, layout in (legacy or {}).items():
        node = nodes.get(path)
        out = None if node is None else _legacy_dataset(node, nodes.get(layout.get("source", "")), layout)
        if out is not None and node is not None:
            nodes[path] = node.assign(_derived(out).data_vars)  # the file's datasets stay beside them
    for path, node in list(nodes.items()):
        if "svd_method" not in node.attrs or "S" not in node.data_vars:
            continue
        u_node, v_node = nodes.get(f"{path}/U"), nodes.get(f"{path}/V")
        if u_node is None or v_node is None or f"{path}/components" in nodes:
            continue
        if "U" not in u_node.data_vars or "V" not in v_node.data_vars:
            continue
        u, v, s = u_node["U"], v_node["V"], node["S"]
        shared = [d for d in u.dims if d in v.dims]
        if len(shared) != 1 or s.ndim != 1 or u.sizes[shared[0]] != s.size:
            continue
        comp = shared[0]
        index = np.arange(s.size)
        s = xr.DataArray(np.asarray(s.values, dtype=np.float64), dims=("component",))
        u = u.drop_vars([comp], errors="ignore").rename({comp: "component"})
        v = v.drop_vars([comp], errors="ignore").rename({comp: "component"})
        pixels = math.prod(size for d, size in u.sizes.items() if d != "component")
        loadings = (u * s.astype(u.dtype)).transpose(..., "component")
        loadings.attrs = {"units": node.attrs.get("units", "")} if "units" in node.attrs else {}
        components = v.transpose("component", ...).astype(np.float64)
        components.attrs = {"units": ""}
        variance = s**2 / max(pixels - 1, 1)
        out = xr.Dataset(
            {
                "components": components,
                "loadings": loadings,
                "explained_variance": variance,
                "singular_values": s,
            },
            attrs=dict(node.attrs),
        )
        nodes[path] = node.assign(_derived(out.assign_coords(component=index)).data_vars)


def _derived(ds: xr.Dataset) -> xr.Dataset:
    """Mark variables made on reading, so that writing the tree back leaves them out."""
    for var in ds.data_vars.values():
        var.encoding[DERIVED] = True
    return ds


def split_legacy_svd(mains: list[h5py.Dataset]) -> tuple[list[h5py.Dataset], dict[str, dict[str, Any]]]:
    """Set apart the ``U``/``V`` of older pycroscopy SVD groups, whose component ancillaries are 1-D.

    Returns
    -------
    list of h5py.Dataset
        The other main datasets.
    dict
        ``{group path: {"source": source path, "labels": position labels,
        "indices": (positions, dims) array}}`` for each such group whose source main dataset is
        found; its ``U``, ``V`` are to be read as plain datasets and turned into a decomposition
        by `svd_dataset`.
    """
    keep: list[h5py.Dataset] = []
    legacy: dict[str, dict[str, Any]] = {}
    for dset in mains:
        group = dset.parent
        name = dset.name.rsplit("/", 1)[-1]
        if name in ("U", "V") and "svd_method" in group.attrs and _has_1d_ancillary(dset):
            legacy.setdefault(group.name, _legacy_layout(group))
            continue
        keep.append(dset)
    return keep, legacy


def _has_1d_ancillary(dset: h5py.Dataset) -> bool:
    for key in mapping.ANCILLARY:
        ref = dset.attrs.get(key)
        if isinstance(ref, h5py.Reference) and ref and dset.file[ref].ndim != 2:
            return True
    return False


def _legacy_layout(group: h5py.Group) -> dict[str, Any]:
    ref = group.attrs.get("source_000")
    src: Any = group.file[ref] if isinstance(ref, h5py.Reference) and ref else None
    if src is None:
        src = group.parent.get(group.name.rsplit("/", 1)[-1].rsplit("-", 1)[0])
    if not isinstance(src, h5py.Dataset) or "Position_Indices" not in src.attrs:
        return {}
    inds = src.file[src.attrs["Position_Indices"]]
    labels = [x.decode() if isinstance(x, bytes) else str(x) for x in np.atleast_1d(inds.attrs["labels"])]
    return {"source": src.name, "labels": labels, "indices": np.asarray(inds[()])}


def _legacy_dataset(node: xr.Dataset, source: xr.Dataset | None, layout: dict[str, Any]) -> xr.Dataset | None:
    """The decomposition Dataset from plain ``U``, ``S``, ``V`` and the source's position indices."""
    if source is None or not layout or not {"U", "V", "S"} <= set(node.data_vars):
        return None
    signal = next(iter(source.data_vars.values()), None)
    labels = layout["labels"]
    if signal is None or not set(labels) <= set(map(str, signal.dims)):
        return None
    spectral = [d for d in signal.dims if str(d) not in labels]
    u, v, s = (np.asarray(node[k].values) for k in ("U", "V", "S"))
    n = s.size
    pos_dims = [d for d in signal.dims if str(d) in labels]
    if (
        len(spectral) != 1
        or u.shape != (layout["indices"].shape[0], n)
        or v.shape != (n, signal.sizes[spectral[0]])
    ):
        return None
    shape = tuple(signal.sizes[d] for d in pos_dims)
    loadings = np.zeros((*shape, n), dtype=u.dtype)
    order = [labels.index(str(d)) for d in pos_dims]
    loadings[tuple(layout["indices"][:, order].T.astype(np.intp))] = u * s.astype(u.dtype)
    s64 = s.astype(np.float64)
    coords = {d: signal[d] for d in signal.dims if d in signal.coords}
    return xr.Dataset(
        {
            "components": (("component", spectral[0]), v.astype(np.float64), {"units": ""}),
            "loadings": ((*pos_dims, "component"), loadings),
            "explained_variance": (("component",), s64**2 / max(u.shape[0] - 1, 1)),
            "singular_values": (("component",), s64),
        },
        coords={**coords, "component": np.arange(n)},
        attrs=dict(node.attrs),
    )
