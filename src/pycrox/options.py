"""Global options of pycrox, set for a block of code or for the session: `set_options`.

Options
-------
store_paths : {"full", "name", "none"}, default "full"
    What pycrox records of a file it reads where it stores the source's name (``attrs["source"]``
    and the ``source`` of provenance steps), and so what every file written from the result holds:
    ``"full"`` the path or URL as given (URLs without credentials, see `pycrox.sources.redact`),
    ``"name"`` the file name only (no folders, which may hold user or project names), ``"none"``
    nothing (an empty string).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from pycrox.errors import ArgumentError

__all__ = ["OPTIONS", "get_options", "set_options", "stored_name"]

#: the current option values (read with `get_options`, change with `set_options`)
OPTIONS: dict[str, Any] = {"store_paths": "full"}

_VALID: dict[str, tuple[str, ...]] = {"store_paths": ("full", "name", "none")}


class set_options:  # a function-like context manager, named as in xarray
    """Set pycrox options for the session, or for a ``with`` block only.

    Parameters
    ----------
    **options
        ``store_paths="full" | "name" | "none"``: see the module documentation.

    Raises
    ------
    ValueError
        For an unknown option or a value it does not take.

    Examples
    --------
    >>> import pycrox
    >>> with pycrox.set_options(store_paths="name"):
    ...     pycrox.options.stored_name("/home/alice/data/image.tif")
    'image.tif'
    >>> pycrox.options.stored_name("/home/alice/data/image.tif")
    '/home/alice/data/image.tif'
    """

    def __init__(self, **options: Any) -> None:
        for key, value in options.items():
            if key not in OPTIONS:
                raise ArgumentError(f"unknown pycrox option {key!r}; the options are {sorted(OPTIONS)}")
            if key in _VALID and value not in _VALID[key]:
                raise ArgumentError(f"{key} must be one of {_VALID[key]}, got {value!r}")
        self._old = {key: OPTIONS[key] for key in options}
        OPTIONS.update(options)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        OPTIONS.update(self._old)


def get_options() -> dict[str, Any]:
    """A copy of the current option values."""
    return dict(OPTIONS)


def stored_name(name: str, file_name: str | None = None) -> str:
    """What the ``store_paths`` option lets pycrox store of the source `name` (a path or URL).

    Parameters
    ----------
    name : str
        The source's name as shown in messages (a path, or a URL without credentials).
    file_name : str, optional
        Its file name, when the caller knows it better (``Source.file_name``); else the text
        after the last slash or backslash.

    Returns
    -------
    str
        `name`, its file name, or ``""``.
    """
    mode = OPTIONS["store_paths"]
    if mode == "full":
        return name
    if mode == "none":
        return ""
    if file_name is not None:
        return file_name
    return name.split("::")[-1].replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
