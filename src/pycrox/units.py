"""Units: the one pint registry and the microscopy spellings it understands.

A unit lives on xarray objects as a string under ``attrs["units"]``. This module turns such
strings into `pint.Unit` objects (`parse`) and back (`format`), using a table of the spellings
microscopy software writes (``pycrox/data/unit_spellings.json``). Ambiguous spellings ('A' is
ångström on a length and ampere on a current) are resolved by the quantity. Unknown units
raise `UnitError` only when a computation asks for them.
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Any, cast

import pint
from pint.facets.plain import PlainUnit

from pycrox.errors import UnitError

__all__ = ["define", "format", "is_dimensionless", "parse", "spellings", "ureg"]

ureg: pint.UnitRegistry = pint.UnitRegistry(cache_folder=None, force_ndarray_like=True)
ureg.define("count = [] = counts = cts")
ureg.define("pixel_unit = [] = pixel = pixels = px")
ureg.formatter.default_format = "~"


@functools.cache
def spellings() -> dict[str, Any]:
    """The spelling table shipped in ``pycrox/data/unit_spellings.json``.

    Returns
    -------
    dict
        ``{"aliases": {spelling: pint expression}, "by_quantity": {spelling: {quantity: expression}}}``.
    """
    text = resources.files("pycrox.data").joinpath("unit_spellings.json").read_text(encoding="utf-8")
    return json.loads(text)


def _resolve_spelling(text: str, quantity: str | None) -> str:
    table = spellings()
    stripped = text.strip()
    ambiguous = table["by_quantity"].get(stripped)
    if ambiguous is not None:
        q = (quantity or "").lower()
        for key, expression in ambiguous.items():
            if key != "_default" and key in q:
                return expression
        return ambiguous["_default"]
    return table["aliases"].get(stripped, stripped)


@functools.lru_cache(maxsize=1024)
def parse(text: str | pint.Unit, quantity: str | None = None) -> pint.Unit:
    """Parse a unit string as microscopy software writes it.

    Parameters
    ----------
    text : str or pint.Unit
        A spelling such as ``"nm"``, ``"µm"``, ``"a.u."``, ``"1 / nm"`` or ``"A"``.
    quantity : str, optional
        The physical quantity the unit belongs to (``"Length"``, ``"Current"``, ...); it decides
        ambiguous spellings.

    Returns
    -------
    pint.Unit
        A unit of `ureg`. Empty and arbitrary spellings give ``dimensionless``.

    Raises
    ------
    UnitError
        If the spelling is unknown to pint and to the spelling table.

    Examples
    --------
    >>> parse("A", quantity="Length")
    <Unit('angstrom')>
    >>> parse("A", quantity="Current")
    <Unit('ampere')>
    >>> parse("a.u.")
    <Unit('dimensionless')>
    """
    if isinstance(text, pint.Unit):
        return text
    if not isinstance(text, str):
        raise UnitError(f"a unit must be a string, got {type(text).__name__} {text!r}")
    expression = _resolve_spelling(text, quantity)
    try:
        return ureg.parse_units(expression)
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
    ) as exc:
        try:  # "1 / nm" style expressions that parse_units rejects
            parsed = ureg.parse_expression(expression)
        except (pint.errors.PintError, AttributeError, TypeError, ValueError, SyntaxError, AssertionError):
            parsed = None
        if isinstance(parsed, pint.Quantity) and parsed.magnitude == 1:
            return cast(pint.Unit, parsed.units)  # pint annotates .units as PlainUnit; it is ureg.Unit
        raise UnitError(
            f"unknown unit {text!r}; add it with pycrox.units.define() or to the spelling table"
        ) from exc


def format(unit: PlainUnit | str, quantity: str | None = None) -> str:
    """Write a unit as an unambiguous, compact string (``"nm"``, ``"1/nm"``, ``"Å"``).

    Parameters
    ----------
    unit : pint.Unit or str
        The unit; a string is parsed first.
    quantity : str, optional
        Used to parse an ambiguous string.

    Returns
    -------
    str
        The pint short form with unicode ångström and micro signs; ``""`` for dimensionless.

    Examples
    --------
    >>> format(parse("1 / nm"))
    '1/nm'
    >>> format("A", quantity="Length")
    'Å'
    """
    unit = parse(unit, quantity) if isinstance(unit, str) else unit
    if unit == ureg.dimensionless:
        return ""
    return f"{unit:~C}"


def is_dimensionless(text: str, quantity: str | None = None) -> bool:
    """Whether a unit string means a pure number (``""``, ``"a.u."``, ``"counts"``, ...)."""
    try:
        return bool(parse(text, quantity).dimensionless)
    except UnitError:
        return False


def define(definition: str) -> None:
    """Add a unit to the registry, e.g. ``define("n_m = nanometer")``.

    Parameters
    ----------
    definition : str
        A pint definition line.
    """
    ureg.define(definition)
    parse.cache_clear()
