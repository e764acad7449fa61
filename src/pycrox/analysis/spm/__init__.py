"""Scanning-probe corrections and statistics, reached as ``da.pycro.spm``.

Gwyddion-style data corrections (`align_rows`, `remove_scars`, `level_three_point`,
`level_facets`, `fix_zero`), surface texture parameters (`roughness`: ISO 25178 ``Sa`` ...
``Sku`` and per-profile ``Ra``, ``Rq``) and grain marking (`grains`). Every function takes
the image dims by ``dim`` (default: the two SPATIAL dims, rows along the second), keeps
units in attrs, is lazy on dask (except `grains`, whose size depends on the data) and
records provenance. The flat `pycrox.analysis.filters.level_plane` and ``level_lines`` stay
where they are.
"""

from __future__ import annotations

from pycrox.analysis.spm._grains import grains, otsu_threshold
from pycrox.analysis.spm._level import fix_zero, level_facets, level_three_point
from pycrox.analysis.spm._rows import align_rows, remove_scars
from pycrox.analysis.spm._stats import roughness

__all__ = [
    "align_rows",
    "fix_zero",
    "grains",
    "level_facets",
    "level_three_point",
    "otsu_threshold",
    "remove_scars",
    "roughness",
]
