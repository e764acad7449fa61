"""Starting values from a guess function, vectorised or written for one spectrum at a time.

`pycrox.analysis.fitting.fit` hands a guess function a block of spectra, ``y`` of shape
``(pixels, n)``, and expects ``(pixels, n_params)`` back. Functions written for one spectrum
(as sidpy's ``SidFitter`` takes them: ``guess(x, y1d) -> (n_params,)``) are recognised by the
shape they return and called once per spectrum instead of having one answer broadcast over the
block; any other shape is a `FitError` that says what the function must return.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from pycrox.analysis.models import FitError

__all__ = ["from_function"]

Array = np.ndarray


def _call(guess: Callable[[Array, Array], Array], x: Array, y: Array) -> Array:
    with np.errstate(all="ignore"):
        return np.asarray(guess(x, y), dtype=np.float64)


def from_function(
    guess: Callable[[Array, Array], Array], x: Array, y: Array, count: int, *, vectorised: bool = False
) -> Array:
    """``(pixels, count)`` starting values from `guess` for the spectra `y` ``(pixels, n)``.

    Parameters
    ----------
    guess : callable
        ``guess(x, y)``: vectorised (``y`` of shape ``(pixels, n)`` gives ``(pixels, count)``)
        or per spectrum (``y`` of shape ``(n,)`` gives ``(count,)``).
    x : numpy.ndarray
        ``(n,)`` grid.
    y : numpy.ndarray
        ``(pixels, n)`` spectra (complex for complex data).
    count : int
        Number of model parameters.
    vectorised : bool, optional
        The function is known to be vectorised (the built-in guesses): no shape detection.

    Returns
    -------
    numpy.ndarray
        ``(pixels, count)`` float64.

    Raises
    ------
    FitError
        If the function raises, or returns a shape that is neither ``(pixels, count)`` for the
        block nor ``(count,)`` for one spectrum.
    """
    rows, n = y.shape
    expected = (
        f"it must return ({rows}, {count}) (one row of {count} starting values per spectrum) when "
        f"given y of shape ({rows}, {n}), or ({count},) when given one spectrum y of shape ({n},)"
    )
    problem = ""
    try:
        block = _call(guess, x, y)
        if block.shape == (rows, count):
            return block
        problem = f"returned shape {block.shape} for y of shape {y.shape}"
    except Exception as exc:
        if vectorised:
            raise FitError(f"fit: the guess function raised {type(exc).__name__}: {exc}") from exc
        problem = f"raised {type(exc).__name__}: {exc} for y of shape {y.shape}"
    if vectorised:
        raise FitError(f"fit: the guess function {problem}; {expected}")
    try:
        first = _call(guess, x, y[0])
    except Exception as exc:
        raise FitError(
            f"fit: the guess function {problem}, and raised {type(exc).__name__}: {exc} for one "
            f"spectrum; {expected}"
        ) from exc
    if first.shape != (count,):
        raise FitError(
            f"fit: the guess function {problem}, and shape {first.shape} for one spectrum; {expected}"
        )
    out = np.empty((rows, count))
    out[0] = first
    for i in range(1, rows):
        try:
            row = _call(guess, x, y[i])
        except Exception as exc:
            raise FitError(
                f"fit: the guess function raised {type(exc).__name__}: {exc} for spectrum {i}"
            ) from exc
        if row.shape != (count,):
            raise FitError(f"fit: the guess function returned shape {row.shape} for spectrum {i}; {expected}")
        out[i] = row
    return out
