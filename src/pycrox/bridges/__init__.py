"""Bridges: pycrox DataArrays as objects of other in-memory models, and back.

Not file formats: each bridge converts objects in memory, without copying numpy or dask data.

* `pycrox.bridges.sidpy`: ``to_sidpy`` / ``from_sidpy`` (``sidpy.Dataset``; extra ``pycrox[sidpy]``)
* `pycrox.bridges.hyperspy`: ``to_hyperspy`` / ``from_hyperspy`` (HyperSpy signals; extra
  ``pycrox[hyperspy]``)

The other package is imported inside the functions, so ``import pycrox`` never imports it.
What each side cannot hold is listed in ``specs/bridges.md``.
"""

from __future__ import annotations

__all__: list[str] = []
