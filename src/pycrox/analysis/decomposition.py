"""Matrix factorisations of signals: SVD, PCA, NMF and ICA over one or more dims, and SVD denoising.

Every pixel (all dims but ``dim``) is a row and the values along ``dim`` are the columns. The
SVD is pycrox's own: the Gram matrix ``X^T X`` is accumulated block by block (float32
products summed in float64; dask chunks stream, so arrays larger than memory work), its top
eigenpairs come from LAPACK, and for in-memory data a Rayleigh-Ritz step on ``X V`` refines
them. Singular values agree with a float64 ``numpy.linalg.svd`` to about 1e-8 relative.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import scipy.linalg
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import NonFiniteError, resolve_dims
from pycrox.analysis._matrix import Matrix, derived_attrs, index_coordinate, squared_units
from pycrox.errors import ArgumentError, PycroxError

__all__ = ["METHODS", "decompose", "denoise"]

#: methods accepted by `decompose`
METHODS = ("svd", "pca", "nmf", "ica")
#: rows used to fit NMF / ICA on dask input (the loadings of all rows stay lazy)
SAMPLE_ROWS = 2**17

_NON_FINITE = "decompose: the data hold NaN or infinite values; replace them first, e.g. da.fillna(0)"


@dataclass(frozen=True)
class _Parts:
    """Factors of ``X ≈ loadings @ components (+ mean)`` and their energies."""

    components: np.ndarray  # (k, n), unit rows
    loadings: Any  # (*others, k): numpy or dask, data units
    energy: np.ndarray  # (k,) squared norm of each rank-one term
    total: float  # squared Frobenius norm of X (centred for pca / ica)
    singular_values: np.ndarray | None = None
    mean: np.ndarray | None = None


def decompose(
    da: xr.DataArray,
    n_components: int,
    dim: Hashable | Iterable[Hashable] | None = None,
    *,
    method: str = "svd",
    random_state: int | None = 0,
) -> xr.Dataset:
    """Factor a signal into components along `dim` and loadings over the other dims.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed, e.g. a spectral image ``(y, x, energy)``. Must be finite.
    n_components : int
        Number of components, between 1 and the number of values along `dim` (and pixels).
    dim : hashable or sequence of hashable, optional
        Dims the components run over (several are flattened together, e.g. ``("ky", "kx")``).
        Default: the single SPECTRAL dim.
    method : {"svd", "pca", "nmf", "ica"}, optional
        ``"svd"``: truncated SVD of the data as they are; ``"pca"``: SVD of the data minus the
        mean spectrum; ``"nmf"``: non-negative factors (scikit-learn ``NMF``, data must be
        >= 0); ``"ica"``: PCA whitening, then scikit-learn ``FastICA`` on the scores.
    random_state : int or None, optional
        Seed for NMF / ICA (and nothing else: SVD and PCA are deterministic).

    Returns
    -------
    xarray.Dataset
        ``components`` (component, ``*dim``): unit-norm rows, dimensionless;
        ``loadings`` (``*other dims``, component): in the data units, so that
        ``loadings @ components (+ mean)`` reconstructs the data;
        ``explained_variance`` (squared norm of each rank-one term / (pixels - 1), data units
        squared) and ``explained_variance_ratio`` (its share of the total); for svd and pca
        also ``singular_values``; for pca and ica the ``mean`` spectrum. Components are
        ordered by explained variance. On dask input the components are computed now (one
        or two passes over the data) and the loadings stay lazy; NMF and ICA are then fitted
        on a random sample of at most `SAMPLE_ROWS` pixels.

    Raises
    ------
    DimensionError
        Unknown dims or no default dim.
    ValueError
        Unknown `method`, `n_components` out of range, or negative data for NMF.
    NonFiniteError
        If the data hold NaN or inf.
    TypeError
        Complex data, or a non-integer `n_components`.

    See Also
    --------
    denoise : reconstruction from the first components.
    pycrox.analysis.clustering.cluster : k-means on the same pixel x feature matrix.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> data = rng.random((6, 5, 1)) * np.linspace(1.0, 2.0, 8) + 0.01 * rng.random((6, 5, 8))
    >>> da = pycrox.from_array(data, dims=("y", "x", "energy"))
    >>> result = decompose(da, 2)
    >>> result.components.dims, result.loadings.dims
    (('component', 'energy'), ('y', 'x', 'component'))
    >>> bool(result.explained_variance_ratio[0] > 0.99)
    True
    """
    if method not in METHODS:
        raise ArgumentError(f"decompose: method must be one of {list(METHODS)}, not {method!r}")
    dims = resolve_dims(da, dim, default_type="SPECTRAL", func="decompose")
    matrix = Matrix.from_dataarray(da, dims, "decompose")
    k = _check_components(n_components, matrix, "decompose")
    if method in ("svd", "pca"):
        parts = _svd(matrix, k, center=method == "pca")
    else:
        parts = _nmf(matrix, k, random_state) if method == "nmf" else _ica(matrix, k, random_state)
    result = _assemble(da, matrix, _flip_signs(parts), method)
    return provenance.record(
        model.refresh_data_type(result),
        "decompose",
        source=da,
        n_components=k,
        dim=list(dims),
        method=method,
        random_state=random_state,
    )


def denoise(
    da: xr.DataArray, n_components: int, dim: Hashable | Iterable[Hashable] | None = None
) -> xr.DataArray:
    """Rebuild a signal from its first `n_components` SVD components (noise reduction).

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed, finite.
    n_components : int
        Components kept (1 .. number of values along `dim`).
    dim : hashable or sequence of hashable, optional
        Dims the components run over; default the single SPECTRAL dim.

    Returns
    -------
    xarray.DataArray
        Same dims, coordinates and attrs as `da` (float32 for float32 input); the projection
        of every pixel onto the first `n_components` right singular vectors. Lazy if `da` is
        (the singular vectors are computed now).

    Raises
    ------
    DimensionError
        Unknown dims or no default dim.
    ValueError
        `n_components` out of range.
    NonFiniteError
        If the data hold NaN or inf.
    TypeError
        Complex data, or a non-integer `n_components`.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> clean = np.outer(rng.random(20), np.hanning(16)).reshape(4, 5, 16)
    >>> da = pycrox.from_array(clean + 0.01 * rng.standard_normal(clean.shape), dims=("y", "x", "energy"))
    >>> bool(abs(denoise(da, 1) - clean).max() < abs(da - clean).max())
    True
    """
    dims = resolve_dims(da, dim, default_type="SPECTRAL", func="denoise")
    matrix = Matrix.from_dataarray(da, dims, "denoise")
    k = _check_components(n_components, matrix, "denoise")
    parts = _svd(matrix, k, center=False, loadings=False)
    basis = parts.components.T.astype(matrix.work_dtype)
    flat = matrix.map_rows(_project_back, matrix.n_columns, matrix.work_dtype, basis)
    shape = tuple(matrix.source.sizes[d] for d in (*matrix.others, *dims))
    result = xr.DataArray(
        flat.reshape(shape),
        dims=(*matrix.others, *dims),
        coords=matrix.source.coords,
        name=da.name,
        attrs=dict(da.attrs),
    )
    return provenance.record(
        model.refresh_data_type(result.transpose(*da.dims)),
        "denoise",
        source=da,
        n_components=k,
        dim=list(dims),
    )


# --- SVD / PCA ----------------------------------------------------------------------------------


def _svd(matrix: Matrix, k: int, *, center: bool, loadings: bool = True) -> _Parts:
    """Top-`k` SVD of the (optionally centred) matrix from its Gram matrix."""
    n, m = matrix.n_columns, matrix.n_rows
    shift = matrix.first_rows(1024).mean(axis=0) if center else np.zeros(n)
    stats = matrix.reduce(_gram_block, (n, n + 1), shift.astype(matrix.work_dtype) if center else None)
    if not np.isfinite(stats).all():
        raise NonFiniteError(_NON_FINITE)
    gram, sums = stats[:, :n], stats[:, n]
    mean = shift + sums / m if center else None
    if center:
        gram = gram - np.outer(sums, sums) / m  # Gram of X - mean from the Gram of X - shift
    eigenvalues, vectors = scipy.linalg.eigh(gram, subset_by_index=(n - k, n - 1))
    vectors = vectors[:, ::-1]
    singular = np.sqrt(np.clip(eigenvalues[::-1], 0, None))
    total = float(np.trace(gram))
    if not loadings:
        return _Parts(vectors.T, None, singular**2, total, singular, mean)
    offset = None if mean is None else mean.astype(matrix.work_dtype)
    scores = matrix.map_rows(_scores_block, k, np.float64, vectors.astype(matrix.work_dtype), offset)
    if matrix.is_lazy:
        return _Parts(vectors.T, scores.astype(matrix.work_dtype), singular**2, total, singular, mean)
    flat = scores.reshape(m, k)
    energies, rotation = np.linalg.eigh(flat.T @ flat)  # Rayleigh-Ritz on span(V)
    rotation, energies = rotation[:, ::-1], np.clip(energies[::-1], 0, None)
    refined = (flat @ rotation).astype(matrix.work_dtype).reshape(scores.shape)
    return _Parts((vectors @ rotation).T, refined, energies, total, np.sqrt(energies), mean)


def _gram_block(rows: np.ndarray, shift: np.ndarray | None) -> np.ndarray:
    """``[X^T X | column sums]`` of one row block (float32 products, float64 result)."""
    if shift is not None:
        rows = rows - shift
    out = np.empty((rows.shape[1], rows.shape[1] + 1))
    out[:, :-1] = rows.T @ rows
    out[:, -1] = rows.sum(axis=0, dtype=np.float64)
    return out


def _scores_block(rows: np.ndarray, basis: np.ndarray, offset: np.ndarray | None) -> np.ndarray:
    if offset is not None:
        rows = rows - offset
    return (rows @ basis).astype(np.float64)


def _project_back(rows: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return (rows @ basis) @ basis.T


# --- NMF / ICA ----------------------------------------------------------------------------------


def _fit_rows(matrix: Matrix, random_state: int | None) -> np.ndarray:
    """All rows (numpy input) or a random sample of at most SAMPLE_ROWS (dask input)."""
    if not matrix.is_lazy:
        return matrix.numpy_rows()
    return matrix.sample_rows(SAMPLE_ROWS, 0 if random_state is None else random_state).astype(
        matrix.work_dtype
    )


def _nmf(matrix: Matrix, k: int, random_state: int | None) -> _Parts:
    from sklearn.decomposition import NMF

    rows = _fit_rows(matrix, random_state)
    if not np.isfinite(rows).all():
        raise NonFiniteError(_NON_FINITE)
    lowest = float(rows.min())
    if lowest < 0:
        raise ArgumentError(
            f"decompose: method='nmf' needs non-negative data, found {lowest:g}; subtract a background "
            "or clip first (da.clip(min=0))"
        )
    estimator = NMF(n_components=k, init="nndsvda", random_state=random_state, max_iter=2000, tol=1e-5)
    weights = estimator.fit_transform(rows)
    spectra = estimator.components_.astype(np.float64)
    norms = np.linalg.norm(spectra, axis=1)
    norms[norms == 0] = 1.0
    scale = matrix.n_rows / rows.shape[0]
    energy = (weights.astype(np.float64) ** 2).sum(axis=0) * norms**2 * scale
    total = float(np.einsum("ij,ij->", rows, rows, dtype=np.float64)) * scale
    if matrix.is_lazy:
        loadings = matrix.map_rows(_nmf_block, k, matrix.work_dtype, estimator, norms)
    else:
        shape = tuple(matrix.source.sizes[d] for d in matrix.others)
        loadings = (weights * norms).astype(matrix.work_dtype).reshape((*shape, k))
    return _Parts(spectra / norms[:, None], loadings, energy, total)


def _nmf_block(rows: np.ndarray, estimator: Any, norms: np.ndarray) -> np.ndarray:
    return estimator.transform(np.clip(rows, 0, None)) * norms


def _ica(matrix: Matrix, k: int, random_state: int | None) -> _Parts:
    from sklearn.decomposition import FastICA

    pca = _svd(matrix, k, center=True, loadings=not matrix.is_lazy)
    singular, mean = pca.singular_values, pca.mean
    if singular is None or mean is None:  # never: a centred _svd sets both
        raise PycroxError(
            "ica: the centred SVD gave no singular values or mean (a pycrox bug; please report it)"
        )
    m = matrix.n_rows
    scale = np.sqrt(m - 1) / np.where(singular > 0, singular, 1.0)
    whitening = pca.components.T * scale  # (n, k): centred rows -> unit-variance scores
    if matrix.is_lazy:
        sample = _fit_rows(matrix, random_state).astype(np.float64)
        white = (sample - mean) @ whitening
    else:
        white = np.asarray(pca.loadings, dtype=np.float64).reshape(m, k) * scale
    estimator = FastICA(whiten=False, random_state=random_state, max_iter=1000, tol=1e-5)
    sources = estimator.fit_transform(white)
    unmixing = estimator.components_  # (k, k): white -> sources
    mixed = estimator.mixing_.T * singular / np.sqrt(m - 1) @ pca.components  # (k, n)
    norms = np.linalg.norm(mixed, axis=1)
    norms[norms == 0] = 1.0
    energy = norms**2 * (sources**2).mean(axis=0) * m
    if matrix.is_lazy:
        to_sources = (whitening @ unmixing.T * norms).astype(matrix.work_dtype)
        loadings = matrix.map_rows(
            _scores_block, k, matrix.work_dtype, to_sources, mean.astype(matrix.work_dtype)
        )
    else:
        shape = tuple(matrix.source.sizes[d] for d in matrix.others)
        loadings = (sources * norms).astype(matrix.work_dtype).reshape((*shape, k))
    return _Parts(mixed / norms[:, None], loadings, energy, pca.total, None, mean)


# --- shared -------------------------------------------------------------------------------------


def _check_components(n_components: Any, matrix: Matrix, func: str) -> int:
    limit = min(matrix.n_columns, matrix.n_rows)
    if isinstance(n_components, bool) or not isinstance(n_components, int | np.integer):
        raise TypeError(f"{func}: n_components must be an integer, not {n_components!r}")
    if not 1 <= n_components <= limit:
        raise ArgumentError(
            f"{func}: n_components={n_components} is out of range; {matrix.n_rows} pixels x "
            f"{matrix.n_columns} values along {list(matrix.dims)} allow 1 to {limit}"
        )
    return int(n_components)


def _flip_signs(parts: _Parts) -> _Parts:
    """Order components by energy and make each one's largest entry positive (deterministic signs)."""
    order = np.argsort(-parts.energy, kind="stable")
    components = parts.components[order]
    signs = np.sign(components[np.arange(len(order)), np.abs(components).argmax(axis=1)])
    signs[signs == 0] = 1.0
    loadings = parts.loadings[..., order] * signs.astype(parts.loadings.dtype)
    singular = None if parts.singular_values is None else parts.singular_values[order]
    return replace(
        parts,
        components=components * signs[:, None],
        loadings=loadings,
        energy=parts.energy[order],
        singular_values=singular,
    )


def _assemble(da: xr.DataArray, matrix: Matrix, parts: _Parts, method: str) -> xr.Dataset:
    k = parts.components.shape[0]
    component = index_coordinate("component", k, "Component")
    title = str(da.attrs.get("title") or da.name or "signal")
    units, quantity = str(da.attrs.get("units", "")), str(da.attrs.get("quantity", ""))
    variables = {
        "components": matrix.columns_dataarray(parts.components, "components", component),
        "loadings": matrix.rows_dataarray(parts.loadings, "loadings", component),
        "explained_variance": xr.DataArray(parts.energy / max(matrix.n_rows - 1, 1), dims="component"),
        "explained_variance_ratio": xr.DataArray(
            parts.energy / parts.total if parts.total > 0 else np.zeros(k), dims="component"
        ),
    }
    described = {
        "components": (f"{title}: {method} components", "", ""),
        "loadings": (f"{title}: {method} loadings", units, quantity),
        "explained_variance": (f"{title}: explained variance", squared_units(units, quantity), ""),
        "explained_variance_ratio": (f"{title}: explained variance ratio", "", ""),
    }
    if parts.singular_values is not None:
        variables["singular_values"] = xr.DataArray(parts.singular_values, dims="component")
        described["singular_values"] = (f"{title}: singular values", units, quantity)
    if parts.mean is not None:
        variables["mean"] = matrix.columns_dataarray(parts.mean.astype(matrix.work_dtype), "mean")
        described["mean"] = (f"{title}: mean", units, quantity)
    dataset = xr.Dataset(variables, coords={"component": component})
    for name, (var_title, var_units, var_quantity) in described.items():
        dataset[name].attrs = derived_attrs(
            da, dataset[name], title=var_title, units=var_units, quantity=var_quantity
        )
    dataset.attrs = {"title": f"{title}: {method} decomposition", "method": method, "n_components": k}
    return dataset
