"""Clustering of the pixels of a signal by their values along ``dim`` (k-means).

k-means runs in two stages: k-means++ seeding and Lloyd iterations on a random sample of the
pixels (several seeds, the lowest inertia wins), then full Lloyd passes over all pixels in
row blocks (distances from one BLAS product per block, sums in float64). On dask arrays each
pass is a chunk-by-chunk reduction, so arrays larger than memory work; the label map stays lazy.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import xarray as xr

from pycrox import model, provenance
from pycrox.analysis._dims import NonFiniteError, resolve_dims
from pycrox.analysis._matrix import Matrix, derived_attrs, index_coordinate
from pycrox.errors import ArgumentError

__all__ = ["METHODS", "cluster"]

#: methods accepted by `cluster`
METHODS = ("kmeans",)
#: pixels in the seeding sample
SAMPLE_ROWS = 8192
#: k-means++ restarts on the sample
N_INIT = 4


def cluster(
    da: xr.DataArray,
    n_clusters: int,
    dim: Hashable | Iterable[Hashable] | None = None,
    *,
    method: str = "kmeans",
    random_state: int | None = 0,
    max_iter: int = 100,
    tol: float = 1e-4,
) -> xr.Dataset:
    """Group pixels with similar values along `dim` (e.g. spectra) into `n_clusters` clusters.

    Parameters
    ----------
    da : xarray.DataArray
        numpy- or dask-backed, finite; every combination of the other dims is one pixel.
    n_clusters : int
        Number of clusters (1 .. number of pixels).
    dim : hashable or sequence of hashable, optional
        Dims whose values describe a pixel; default the single SPECTRAL dim.
    method : {"kmeans"}, optional
        Lloyd's k-means with k-means++ seeding on a sample of the pixels.
    random_state : int or None, optional
        Seed of the sample and of the seeding.
    max_iter : int, optional
        Most full passes over the data.
    tol : float, optional
        Stop when the centres move less than `tol` times the mean variance of the data (or,
        on numpy data, when no label changes).

    Returns
    -------
    xarray.Dataset
        ``labels`` (other dims, int32, cluster index; lazy on dask input), ``means`` (cluster,
        ``*dim``): the mean of each cluster in the data units, ``counts`` (cluster): pixels per
        cluster. Clusters are numbered by decreasing size; attrs hold ``inertia`` (sum of
        squared distances to the centres, from the last pass) and ``n_iter``.

    Raises
    ------
    DimensionError
        Unknown dims or no default dim.
    ValueError
        Unknown `method` or `n_clusters` out of range.
    TypeError
        Complex data, or a non-integer `n_clusters`.
    NonFiniteError
        If the data hold NaN or inf.

    Examples
    --------
    >>> data = np.concatenate([np.ones((4, 4, 3)), np.zeros((6, 4, 3))])
    >>> result = cluster(pycrox.from_array(data, dims=("y", "x", "energy")), 2)
    >>> result.labels.values[:, 0].tolist(), result.counts.values.tolist()
    ([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [24, 16])
    """
    if method not in METHODS:
        raise ArgumentError(f"cluster: method must be one of {list(METHODS)}, not {method!r}")
    dims = resolve_dims(da, dim, default_type="SPECTRAL", func="cluster")
    matrix = Matrix.from_dataarray(da, dims, "cluster")
    k = _check_clusters(n_clusters, matrix)
    rng = np.random.default_rng(random_state)
    sample = matrix.sample_rows(max(SAMPLE_ROWS, 32 * k), int(rng.integers(2**31))).astype(matrix.work_dtype)
    if not np.isfinite(sample).all():
        raise NonFiniteError(
            "cluster: the data hold NaN or infinite values; replace them first (da.fillna(...))"
        )
    threshold = tol * float(sample.var(axis=0).mean())
    centers = _seed(sample, k, rng, threshold)
    centers, stats, n_iter, labels = _lloyd(matrix, centers.astype(np.float64), max_iter, threshold)
    order = np.argsort(-stats.counts, kind="stable")
    rank = np.empty(k, np.int32)
    rank[order] = np.arange(k)
    if labels is None:
        labels = matrix.map_rows(_label_block, 1, np.int32, centers.astype(matrix.work_dtype), rank)[..., 0]
    else:
        labels = rank[labels].reshape([matrix.source.sizes[d] for d in matrix.others])
    result = _assemble(da, matrix, labels, centers[order], stats.counts[order])
    result.attrs.update(inertia=float(stats.inertia), n_iter=n_iter)
    return provenance.record(
        model.refresh_data_type(result),
        "cluster",
        source=da,
        n_clusters=k,
        dim=list(dims),
        method=method,
        random_state=random_state,
    )


class _Pass:
    """Sums, counts and inertia of one assignment pass (unpacked from one float64 array)."""

    def __init__(self, packed: np.ndarray) -> None:
        self.sums = packed[:, :-2]
        self.counts = np.rint(packed[:, -2]).astype(np.int64)
        self.inertia = float(packed[:, -1].sum())


def _lloyd(
    matrix: Matrix, centers: np.ndarray, max_iter: int, threshold: float
) -> tuple[np.ndarray, _Pass, int, np.ndarray | None]:
    """Full Lloyd passes until the centres stop moving (or, in memory, the labels stop changing).

    Returns the centres, the last pass, the number of passes and, for numpy data whose labels
    stopped changing, the labels of the final centres (else None).
    """
    k, n = centers.shape
    rows = None if matrix.is_lazy else matrix.numpy_rows()
    norms = None if rows is None else np.einsum("ij,ij->i", rows, rows).astype(np.float64)
    previous: np.ndarray | None = None
    for n_iter in range(1, max_iter + 1):
        if rows is None or norms is None:  # both or neither
            stats = _Pass(matrix.reduce(_pass_block, (k, n + 2), centers.astype(matrix.work_dtype)))
            labels = None
        else:
            stats, labels = _numpy_pass(rows, norms, centers)
        moved = np.where(
            stats.counts[:, None] > 0, stats.sums / np.maximum(stats.counts, 1)[:, None], centers
        )
        shift = float(((moved - centers) ** 2).sum(axis=1).max())
        centers = moved
        if labels is not None and previous is not None and np.array_equal(labels, previous):
            return centers, stats, n_iter, labels
        if shift <= threshold:
            break
        previous = labels
    return centers, stats, n_iter, None


def _numpy_pass(rows: np.ndarray, norms: np.ndarray, centers: np.ndarray) -> tuple[_Pass, np.ndarray]:
    k, n = centers.shape
    packed = np.zeros((k, n + 2))
    labels = np.empty(rows.shape[0], np.int32)
    step = max(1, 2**22 // max(1, n))
    for start in range(0, rows.shape[0], step):
        part = slice(start, start + step)
        packed += _pass_block(rows[part], centers.astype(rows.dtype), labels[part], norms[part])
    return _Pass(packed), labels


def _pass_block(
    rows: np.ndarray,
    centers: np.ndarray,
    labels_out: np.ndarray | None = None,
    norms: np.ndarray | None = None,
) -> np.ndarray:
    """Assign one row block to the nearest centres: ``[sums | counts | inertia]`` per cluster."""
    k = centers.shape[0]
    distance = (centers * centers).sum(axis=1) - 2 * (rows @ centers.T)
    labels = distance.argmin(axis=1)
    if labels_out is not None:
        labels_out[:] = labels
    if norms is None:
        norms = np.einsum("ij,ij->i", rows, rows).astype(np.float64)
    nearest = distance[np.arange(rows.shape[0]), labels].astype(np.float64) + norms
    if not np.isfinite(nearest).all():
        raise NonFiniteError(
            "cluster: the data hold NaN or infinite values; replace them first (da.fillna(...))"
        )
    onehot = np.zeros((k, rows.shape[0]), rows.dtype)
    onehot[labels, np.arange(rows.shape[0])] = 1
    out = np.empty((k, rows.shape[1] + 2))
    out[:, :-2] = onehot @ rows
    out[:, -2] = np.bincount(labels, minlength=k)
    out[:, -1] = np.bincount(labels, weights=np.maximum(nearest, 0), minlength=k)
    return out


def _label_block(rows: np.ndarray, centers: np.ndarray, rank: np.ndarray) -> np.ndarray:
    distance = (centers * centers).sum(axis=1) - 2 * (rows @ centers.T)
    return rank[distance.argmin(axis=1)][:, None]


def _seed(sample: np.ndarray, k: int, rng: np.random.Generator, threshold: float) -> np.ndarray:
    """Best of N_INIT k-means++ + Lloyd runs on the sample (lowest inertia)."""
    norms = np.einsum("ij,ij->i", sample, sample)
    runs = [
        _sample_lloyd(sample, norms, _kmeans_plus_plus(sample, norms, k, rng), threshold)
        for _ in range(N_INIT)
    ]
    return min(runs, key=lambda run: run[1])[0]


def _kmeans_plus_plus(sample: np.ndarray, norms: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Greedy k-means++ (2 + log k candidates per centre, as scikit-learn does)."""
    chosen = [int(rng.integers(sample.shape[0]))]
    closest = np.maximum(norms + norms[chosen[0]] - 2 * sample @ sample[chosen[0]], 0)
    trials = 2 + int(np.log(k))
    for _ in range(1, k):
        total = closest.sum()
        if total <= 0:  # fewer distinct points than clusters
            chosen.append(int(rng.integers(sample.shape[0])))
            continue
        candidates = np.searchsorted(np.cumsum(closest), rng.random(trials) * total).clip(
            max=len(closest) - 1
        )
        distance = norms[candidates][:, None] + norms[None, :] - 2 * sample[candidates] @ sample.T
        options = np.minimum(closest[None, :], np.maximum(distance, 0))
        pick = int(options.sum(axis=1).argmin())
        chosen.append(int(candidates[pick]))
        closest = options[pick]
    return sample[chosen].copy()


def _sample_lloyd(
    sample: np.ndarray, norms: np.ndarray, centers: np.ndarray, threshold: float, max_iter: int = 50
) -> tuple[np.ndarray, float]:
    k = centers.shape[0]
    labels = np.full(sample.shape[0], -1)
    columns = np.arange(sample.shape[0])
    for _ in range(max_iter):
        distance = (centers * centers).sum(axis=1) - 2 * sample @ centers.T
        new = distance.argmin(axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        counts = np.bincount(labels, minlength=k)
        onehot = np.zeros((k, sample.shape[0]), sample.dtype)
        onehot[labels, columns] = 1
        means = (onehot @ sample) / np.maximum(counts, 1).astype(sample.dtype)[:, None]
        moved = np.where(counts[:, None] > 0, means, centers)
        shift = float(((moved - centers) ** 2).sum(axis=1).max())
        centers = moved
        if shift <= threshold:
            break
    inertia = float((distance[np.arange(len(labels)), labels] + norms).sum())
    return centers, inertia


def _check_clusters(n_clusters: Any, matrix: Matrix) -> int:
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise TypeError(f"cluster: n_clusters must be an integer, not {n_clusters!r}")
    if not 1 <= n_clusters <= matrix.n_rows:
        raise ArgumentError(
            f"cluster: n_clusters={n_clusters} is out of range; there are {matrix.n_rows} pixels"
        )
    return int(n_clusters)


def _assemble(
    da: xr.DataArray, matrix: Matrix, labels: Any, means: np.ndarray, counts: np.ndarray
) -> xr.Dataset:
    k = means.shape[0]
    coord = index_coordinate("cluster", k, "Cluster")
    title = str(da.attrs.get("title") or da.name or "signal")
    units, quantity = str(da.attrs.get("units", "")), str(da.attrs.get("quantity", ""))
    coords = {key: v for key, v in matrix.source.coords.items() if set(v.dims) <= set(matrix.others)}
    variables = {
        "labels": xr.DataArray(labels, dims=matrix.others, coords=coords),
        "means": matrix.columns_dataarray(means.astype(matrix.work_dtype), "means", coord),
        "counts": xr.DataArray(counts, dims="cluster", coords={"cluster": coord}),
    }
    described = {
        "labels": (f"{title}: cluster labels", "", "Cluster"),
        "means": (f"{title}: cluster means", units, quantity),
        "counts": (f"{title}: pixels per cluster", "", ""),
    }
    dataset = xr.Dataset(variables)
    for name, (var_title, var_units, var_quantity) in described.items():
        dataset[name].attrs = derived_attrs(
            da, dataset[name], title=var_title, units=var_units, quantity=var_quantity
        )
    dataset.attrs = {"title": f"{title}: k-means clusters", "method": "kmeans", "n_clusters": k}
    return dataset
