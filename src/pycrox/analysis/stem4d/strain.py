"""Lattice vectors fitted to the Bragg disks of every pattern, and strain maps from them.

`fit_lattice` indexes each pattern's disks against approximate lattice vectors ``g1``, ``g2``
and fits ``q = origin + h g1 + k g2`` by least squares. `strain` compares every fitted lattice
with a reference one (the median over a region, or given) through the deformation gradient
``F = (G0 G^-1)^T`` (``G`` has the reciprocal vectors as columns; a real-space deformation
``F`` turns them into ``F^-T G0``): ``e_xx = F_xx - 1``, ``e_yy = F_yy - 1``,
``e_xy = (F_xy + F_yx) / 2`` and ``rotation = atan2(F_yx - F_xy, F_xx + F_yy)``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis.stem4d.disks import check_disks
from pycrox.errors import ArgumentError, DimensionError

__all__ = ["fit_lattice", "strain"]

_FIELDS = ("origin_col", "origin_row", "g1_col", "g1_row", "g2_col", "g2_row", "n_indexed", "error")


def _vector(value: Any, name: str, func: str) -> np.ndarray:
    vector = np.asarray(value, dtype=np.float64)
    if vector.shape != (2,) or not np.isfinite(vector).all():
        raise ArgumentError(
            f"{func}: {name} must be two finite numbers (k_col, k_row) in detector units, got {value!r}"
        )
    return vector


def _fit_one(
    points: np.ndarray, start: np.ndarray, origin: np.ndarray | None, tolerance: float, min_disks: int
) -> np.ndarray:
    """One pattern: ``[origin(2), g1(2), g2(2), n_indexed, rms error]`` or NaNs."""
    out = np.full(len(_FIELDS), np.nan)
    if points.shape[0] < min_disks:
        return out
    lattice = start.copy()  # rows: origin, g1, g2 (each (col, row))
    lattice[0] = points[0] if origin is None else origin
    limit = tolerance * min(np.linalg.norm(start[1]), np.linalg.norm(start[2]))
    for _ in range(3):
        basis = lattice[1:].T  # columns g1, g2
        hk = np.rint(np.linalg.solve(basis, (points - lattice[0]).T).T)
        residual = np.linalg.norm(points - lattice[0] - hk @ lattice[1:], axis=1)
        keep = residual < limit
        design = np.column_stack([np.ones(keep.sum()), hk[keep]])
        if keep.sum() < min_disks or np.linalg.matrix_rank(design) < 3:
            return out
        lattice, *_ = np.linalg.lstsq(design, points[keep], rcond=None)
    error = float(np.sqrt(np.mean(np.sum((design @ lattice - points[keep]) ** 2, axis=1))))
    out[:6] = lattice.ravel()
    out[6], out[7] = keep.sum(), error
    return out


def _fit_kernel(
    rows: np.ndarray,
    cols: np.ndarray,
    start: np.ndarray,
    origin: np.ndarray | None,
    tolerance: float,
    min_disks: int,
) -> np.ndarray:
    lead = rows.shape[:-1]
    flat_r, flat_c = rows.reshape(-1, rows.shape[-1]), cols.reshape(-1, cols.shape[-1])
    out = np.empty((flat_r.shape[0], len(_FIELDS)))
    for n in range(flat_r.shape[0]):
        good = np.isfinite(flat_r[n]) & np.isfinite(flat_c[n])
        points = np.column_stack([flat_c[n][good], flat_r[n][good]])
        out[n] = _fit_one(points, start, origin, tolerance, min_disks)
    return out.reshape(*lead, len(_FIELDS))


def fit_lattice(
    disks: xr.Dataset,
    g1: Sequence[float],
    g2: Sequence[float],
    *,
    origin: Sequence[float] | None = None,
    tolerance: float = 0.25,
    min_disks: int = 4,
) -> xr.Dataset:
    """Fit the lattice ``q = origin + h g1 + k g2`` to the disks of every pattern.

    Parameters
    ----------
    disks : xarray.Dataset
        The result of `find_disks` (positions sorted by correlation, the strongest first).
    g1, g2 : pair of float
        Approximate lattice vectors ``(k_col, k_row)`` in detector units, used to index.
    origin : pair of float, optional
        The undiffracted beam ``(k_col, k_row)``; default each pattern's strongest disk.
    tolerance : float, optional
        A disk is indexed when it lies within this fraction of the shorter vector from a
        lattice point.
    min_disks : int, optional
        Fewer indexed disks (or indices on one line) give NaN for that pattern.

    Returns
    -------
    xarray.Dataset
        On the navigation dims: ``origin_col``, ``origin_row``, ``g1_col``, ``g1_row``,
        ``g2_col``, ``g2_row`` (detector units), ``n_indexed`` and ``error`` (rms distance of
        the indexed disks from the fitted lattice); lazy if `disks` is.

    Raises
    ------
    DimensionError
        `disks` is not a `find_disks` result.
    ValueError
        Vectors that are not two finite numbers, or parallel.
    """
    func = "fit_lattice"
    row_name, col_name = check_disks(disks, func)
    start = np.stack([np.zeros(2), _vector(g1, "g1", func), _vector(g2, "g2", func)])
    if abs(np.linalg.det(start[1:])) < 1e-12 * np.linalg.norm(start[1]) * np.linalg.norm(start[2]):
        raise ArgumentError(
            f"{func}: g1={list(g1)} and g2={list(g2)} are parallel; give two independent vectors"
        )
    fixed = None if origin is None else _vector(origin, "origin", func)
    fitted = xr.apply_ufunc(
        _fit_kernel,
        disks[row_name].chunk({"disk": -1}) if disks.chunks else disks[row_name],
        disks[col_name].chunk({"disk": -1}) if disks.chunks else disks[col_name],
        kwargs={"start": start, "origin": fixed, "tolerance": tolerance, "min_disks": min_disks},
        input_core_dims=[["disk"], ["disk"]],
        output_core_dims=[["_field"]],
        dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"_field": len(_FIELDS)}},
    )
    unit = disks[row_name].attrs.get("units", "")
    variables = {}
    for index, name in enumerate(_FIELDS):
        part = fitted.isel(_field=index, drop=True)
        part.attrs = {"title": name, "units": "" if name == "n_indexed" else unit}
        variables[name] = part
    ds = xr.Dataset(variables, attrs={"title": f"lattice of {disks.attrs.get('title', '')}", "units": unit})
    return provenance.record(
        ds, "stem4d.fit_lattice", source=disks, g1=list(g1), g2=list(g2), origin=origin, tolerance=tolerance
    )


def strain(
    disks: xr.Dataset,
    g1: Sequence[float],
    g2: Sequence[float],
    *,
    reference: Any = None,
    rotation: float = 0.0,
    **fit_options: Any,
) -> xr.Dataset:
    """Strain and rotation maps from the Bragg disks, relative to a reference lattice.

    Parameters
    ----------
    disks : xarray.Dataset
        The result of `find_disks`, or of `fit_lattice`.
    g1, g2 : pair of float
        Approximate lattice vectors ``(k_col, k_row)`` in detector units (see `fit_lattice`).
    reference : mapping, boolean array or ``(g1, g2)``, optional
        The unstrained lattice: None, the median fitted lattice over the whole scan; a mapping
        ``{nav_dim: slice}`` or a boolean array of the scan's shape, the median over that
        region; or a pair of vectors ``((g1_col, g1_row), (g2_col, g2_row))``.
    rotation : float, optional
        Angle in degrees from the detector frame to the frame the strain is given in (e.g. the
        scan rotation from `dpc`); 0 gives the strain along the detector axes.
    **fit_options
        ``origin``, ``tolerance``, ``min_disks`` of `fit_lattice`.

    Returns
    -------
    xarray.Dataset
        On the navigation dims: ``e_xx``, ``e_yy``, ``e_xy`` (dimensionless) and ``rotation``
        (deg, counter-clockwise from x towards y); NaN where no lattice was fitted. The
        reference vectors are in ``attrs["reference"]``. Computed (the median needs the scan).

    Raises
    ------
    DimensionError
        `disks` is neither a `find_disks` nor a `fit_lattice` result, or a bad region.
    ValueError
        No pattern could be fitted in the reference region.
    """
    lattice = disks if "g1_col" in disks else fit_lattice(disks, g1, g2, **fit_options)
    lattice = lattice.compute()
    nav = lattice["g1_col"].dims
    measured = np.stack(
        [
            np.stack([lattice["g1_col"].values, lattice["g2_col"].values], -1),
            np.stack([lattice["g1_row"].values, lattice["g2_row"].values], -1),
        ],
        axis=-2,
    )  # fmt: skip  (..., 2 components, 2 vectors): columns are g1, g2
    g0 = _reference(lattice, measured, nav, reference)
    with np.errstate(invalid="ignore"):
        inverse = np.linalg.inv(np.where(np.isfinite(measured), measured, np.eye(2)))
    f = np.swapaxes(g0 @ inverse, -1, -2)
    f = np.where(np.isfinite(measured).all(axis=(-1, -2), keepdims=True), f, np.nan)
    c, s = math.cos(math.radians(rotation)), math.sin(math.radians(rotation))
    turn = np.array([[c, -s], [s, c]])
    f = turn @ f @ turn.T
    maps = {
        "e_xx": f[..., 0, 0] - 1,
        "e_yy": f[..., 1, 1] - 1,
        "e_xy": 0.5 * (f[..., 0, 1] + f[..., 1, 0]),
        "rotation": np.degrees(np.arctan2(f[..., 1, 0] - f[..., 0, 1], f[..., 0, 0] + f[..., 1, 1])),
    }
    coords = {d: lattice.coords[d] for d in nav if d in lattice.coords}
    variables = {
        name: xr.DataArray(
            values, dims=nav, coords=coords,
            attrs={"title": name, "quantity": "Angle" if name == "rotation" else "Strain",
                   "units": "deg" if name == "rotation" else ""},
        )
        for name, values in maps.items()
    }  # fmt: skip
    ref = {"g1": g0[:, 0].tolist(), "g2": g0[:, 1].tolist(), "units": lattice.attrs.get("units", "")}
    ds = xr.Dataset(variables, attrs={"title": "strain", "reference": ref, "frame_rotation": rotation})
    return provenance.record(
        ds, "stem4d.strain", source=disks, g1=list(g1), g2=list(g2), rotation=rotation, reference=ref
    )


def _reference(
    lattice: xr.Dataset, measured: np.ndarray, nav: tuple[Hashable, ...], reference: Any
) -> np.ndarray:
    """The reference matrix (columns g1, g2) from a region's median or given vectors."""
    if isinstance(reference, tuple | list) and len(reference) == 2 and np.ndim(reference[0]) == 1:
        return np.column_stack(
            [_vector(reference[0], "reference[0]", "strain"), _vector(reference[1], "reference[1]", "strain")]
        )
    if reference is None:
        region = np.ones(measured.shape[:-2], dtype=bool)
    elif isinstance(reference, dict):
        unknown = [k for k in reference if k not in nav]
        if unknown:
            raise DimensionError(
                f"strain: reference names {unknown}, which are not navigation dims {list(nav)}"
            )
        flags = xr.zeros_like(lattice["g1_col"], dtype=bool)
        flags.loc[reference] = True
        region = flags.values
    else:
        region = np.asarray(reference, dtype=bool)
        if region.shape != measured.shape[:-2]:
            raise DimensionError(
                f"strain: a reference mask must have the scan's shape {measured.shape[:-2]}, got {region.shape}"
            )
    chosen = measured[region]
    chosen = chosen[np.isfinite(chosen).all(axis=(-1, -2))]
    if chosen.shape[0] == 0:
        raise ArgumentError(
            "strain: no pattern in the reference region has a fitted lattice; widen the region or relax tolerance"
        )
    return np.median(chosen, axis=0)
