"""Every deliberate pycrox error.

Each class inherits `PycroxError` and the builtin a user would catch anyway, so
``except ValueError`` keeps working around pycrox calls. Messages say which file, where in
it, what was found and what was expected.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = [
    "ArgumentError",
    "CalibrationWarning",
    "DimensionError",
    "EELSError",
    "EELSWarning",
    "FitError",
    "FitWarning",
    "FormatError",
    "ModelError",
    "NonFiniteError",
    "NotFoundError",
    "PycroxError",
    "PycroxWarning",
    "StoreChangedError",
    "UnitError",
    "WriteError",
]


def _name(source: Any) -> str:
    """Short, readable name of a path, URL or file object for messages."""
    if source is None:
        return "<unknown>"
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    for attr in ("path", "name", "filename", "full_name"):
        value = getattr(source, attr, None)
        if isinstance(value, str):
            return value
    return repr(source)


class PycroxError(Exception):
    """Base class of every error pycrox raises on purpose."""


class FormatError(PycroxError, ValueError):
    """A file is not what it claims to be, or cannot be understood.

    Parameters
    ----------
    source : str, path-like or file object
        The file (or URL) that was read.
    problem : str
        What was found and what was expected.
    where : str, optional
        Location inside the file: an HDF5 path, a tag path or a byte offset.
    """

    def __init__(self, source: Any, problem: str, where: str | None = None) -> None:
        self.source = _name(source)
        self.problem = problem
        self.where = where
        location = f"{self.source}:{where}" if where else self.source
        super().__init__(f"{location}: {problem}")


class NotFoundError(PycroxError, FileNotFoundError):
    """A path, URL, group or key does not exist."""

    def __init__(self, source: Any, problem: str = "no such file or directory") -> None:
        self.source = _name(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


class ArgumentError(PycroxError, ValueError):
    """An argument has a value pycrox cannot use: an unknown method, mode or format name, a value out of range."""


class StoreChangedError(PycroxError, OSError):
    """A store was replaced or removed while an object opened from it was still reading it."""

    def __init__(self, source: Any, problem: str) -> None:
        self.source = _name(source)
        self.problem = problem
        super().__init__(f"{self.source}: {problem}")

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


class ModelError(PycroxError, ValueError):
    """An object breaks the pycrox data model (bad data_type, missing coordinate, ...)."""


class DimensionError(PycroxError, ValueError):
    """A dimension is unknown, missing or of the wrong length."""


class NonFiniteError(PycroxError, ValueError):
    """The data hold NaN or infinite values where a computation needs finite numbers."""


class UnitError(PycroxError, ValueError):
    """A unit string cannot be understood, or units cannot be combined."""


class WriteError(PycroxError, OSError):
    """A write was refused (existing target without ``mode="w"``) or failed."""


class FitError(PycroxError, ValueError):
    """A model, its parameters or its data cannot be fitted as asked."""


class EELSError(PycroxError, ValueError):
    """An EELS computation cannot be done as asked (missing parameter, unknown edge, bad window)."""


class PycroxWarning(UserWarning):
    """Base of pycrox's warnings: a result was made, but something about it needs the user's attention."""


class FitWarning(PycroxWarning):
    """A fit ran, but not as well as asked (pixels left unconverged, a slow per-pixel fallback)."""


class EELSWarning(PycroxWarning):
    """An EELS result was computed, but needs the user's attention (unconverged pixels, guessed values)."""


class CalibrationWarning(PycroxWarning):
    """A 4-D STEM computation works in pixels or guesses a centre because the file says nothing."""
