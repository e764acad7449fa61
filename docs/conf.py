"""Sphinx configuration for the pycrox documentation (builds offline: no intersphinx)."""

import sphinx_autosummary_accessors

import pycrox

project = "pycrox"
author = "The pycrox developers"
copyright = "2026, The pycrox developers"
version = release = pycrox.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_autosummary_accessors",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = ["_build", "generated/*.tmp"]
autosummary_generate = True
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing", "myst.header"]
nitpicky = False

html_theme = "pydata_sphinx_theme"
html_title = "pycrox"
html_static_path = []
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
