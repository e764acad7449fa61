"""Surface texture parameters: ISO 25178 areal heights and ISO 4287 profile roughness."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from pycrox import provenance
from pycrox.analysis._dims import core_chunks_ok
from pycrox.analysis.spm._image import DimArg, data_units, image_dims

__all__ = ["roughness"]

#: areal parameters in output order: (name, long name, carries the height unit)
AREAL = (
    ("Sa", "Arithmetical mean height", True),
    ("Sq", "Root mean square height", True),
    ("Sp", "Maximum peak height", True),
    ("Sv", "Maximum pit height", True),
    ("Sz", "Maximum height", True),
    ("Ssk", "Skewness", False),
    ("Sku", "Kurtosis", False),
)


def roughness(da: xr.DataArray, *, dim: DimArg = None) -> xr.Dataset:
    """Areal (ISO 25178) and per-profile (ISO 4287) height parameters of each image.

    Heights are taken from each image's mean plane, i.e. from the mean value: level the
    image first (`level_plane`, `align_rows`, `level_facets`) to remove form and tilt.
    With ``d = z - mean(z)`` over the image and ``d_r = z - mean(z)`` along each profile:

    - ``Sa = mean(|d|)``, ``Sq = sqrt(mean(d**2))``
    - ``Sp = max(d)``, ``Sv = -min(d)`` (a positive depth), ``Sz = Sp + Sv``
    - ``Ssk = mean(d**3) / Sq**3``, ``Sku = mean(d**4) / Sq**4`` (3 for a Gaussian surface)
    - ``Ra = mean(|d_r|)``, ``Rq = sqrt(mean(d_r**2))`` for every scan line (profile along
      the fast dim).

    Parameters
    ----------
    da : xarray.DataArray
        Height image(s), numpy- or dask-backed; other dims are kept in the result.
    dim : pair of hashables, optional
        ``(slow, fast)`` image dims; default the two SPATIAL dims (profiles run along the
        second).

    Returns
    -------
    xarray.Dataset
        ``Sa, Sq, Sp, Sv, Sz, Ssk, Sku`` over the non-image dims and ``Ra, Rq`` over those
        plus the slow dim; heights in the data's ``units``, ``Ssk`` and ``Sku`` dimensionless;
        lazy when `da` is dask-backed; with provenance.

    Raises
    ------
    DimensionError
        Not two image dims.

    Warns
    -----
    RuntimeWarning
        When computed, if the data hold NaN or inf: those pixels are left out of the
        statistics (a profile or image with no finite value gives NaN).

    Examples
    --------
    >>> image.pycro.spm.roughness()["Sq"]  # doctest: +SKIP
    """
    slow, fast = image_dims(da, dim, "roughness")
    source = core_chunks_ok(da, (slow, fast), "roughness")
    if np.issubdtype(da.dtype, np.complexfloating):
        raise TypeError(
            f"roughness: works on real height data, {da.name!r} is {da.dtype}; take .real or abs()"
        )
    areal, ra, rq = xr.apply_ufunc(
        _roughness_kernel,
        source,
        input_core_dims=[[slow, fast]],
        output_core_dims=[["parameter"], [slow], [slow]],
        dask="parallelized",
        output_dtypes=[np.float64, np.float64, np.float64],
        dask_gufunc_kwargs={"output_sizes": {"parameter": len(AREAL)}},
    )
    unit, quantity = data_units(da)
    variables = {}
    for index, (name, long_name, has_unit) in enumerate(AREAL):
        attrs = {
            "units": unit if has_unit else "",
            "quantity": quantity if has_unit else "",
            "long_name": long_name,
        }
        variables[name] = areal.isel(parameter=index, drop=True).assign_attrs(attrs)
    profiles = {
        "Ra": (ra, "Arithmetical mean deviation of the profile"),
        "Rq": (rq, "Root mean square deviation of the profile"),
    }
    for name, (values, long_name) in profiles.items():
        variables[name] = values.assign_attrs({"units": unit, "quantity": quantity, "long_name": long_name})
    result = xr.Dataset(variables)
    result.attrs = {"title": f"roughness of {da.attrs.get('title') or da.name or 'image'}"}
    return provenance.record(result, "spm.roughness", source=da, dim=[str(slow), str(fast)])


def _roughness_kernel(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z = values.astype(np.float64, copy=False)
    mean = z.mean(axis=(-2, -1), keepdims=True)
    if np.isfinite(mean).all():  # one NaN or inf anywhere makes its image's mean non-finite
        return _finite_roughness(z, mean)
    finite = np.isfinite(z)
    if not finite.all():
        bad = int(finite.size - np.count_nonzero(finite))
        warnings.warn(
            f"roughness: {bad} NaN or infinite value(s) left out of the statistics; fill them first "
            "(da.interpolate_na) to use every pixel",
            RuntimeWarning,
            stacklevel=2,
        )
        return _nan_roughness(np.where(finite, z, np.nan))
    return _finite_roughness(z, mean)  # only overflow made the mean non-finite


def _finite_roughness(z: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The parameters of finite images, ``mean`` their mean over the two image axes."""
    d = z - mean
    d2 = d * d
    sq = np.sqrt(d2.mean(axis=(-2, -1)))
    sa = np.abs(d).mean(axis=(-2, -1))
    sp = d.max(axis=(-2, -1))
    sv = -d.min(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        ssk = (d2 * d).mean(axis=(-2, -1)) / sq**3
        sku = (d2 * d2).mean(axis=(-2, -1)) / sq**4
    areal = np.stack([sa, sq, sp, sv, sp + sv, ssk, sku], axis=-1)
    r = z - z.mean(axis=-1, keepdims=True)
    return areal, np.abs(r).mean(axis=-1), np.sqrt((r * r).mean(axis=-1))


def _nan_roughness(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The same parameters with missing (NaN) pixels left out."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN images and profiles give NaN quietly
        d = z - np.nanmean(z, axis=(-2, -1), keepdims=True)
        d2 = d * d
        sq = np.sqrt(np.nanmean(d2, axis=(-2, -1)))
        sa = np.nanmean(np.abs(d), axis=(-2, -1))
        sp = np.nanmax(d, axis=(-2, -1))
        sv = -np.nanmin(d, axis=(-2, -1))
        ssk = np.nanmean(d2 * d, axis=(-2, -1)) / sq**3
        sku = np.nanmean(d2 * d2, axis=(-2, -1)) / sq**4
        r = z - np.nanmean(z, axis=-1, keepdims=True)
        ra = np.nanmean(np.abs(r), axis=-1)
        rq = np.sqrt(np.nanmean(r * r, axis=-1))
    return np.stack([sa, sq, sp, sv, sp + sv, ssk, sku], axis=-1), ra, rq
