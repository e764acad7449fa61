"""Sphinx configuration for the pycrox documentation (builds offline: no intersphinx)."""

from pathlib import Path

import sphinx_autosummary_accessors

import pycrox
from pycrox import formats as _formats

project = "pycrox"
author = "The pycrox developers"
copyright = "2026, The pycrox developers"
version = release = pycrox.__version__

extensions = [
    "myst_nb",  # MyST markdown pages (myst-parser) and executed MyST notebooks (docs/notebooks/)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx_autosummary_accessors",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb"}
templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
exclude_patterns = [
    "_build",
    "generated/*.tmp",
    "sg_execution_times.rst",
    "formats/_table.md",
    "gallery/*.ipynb",
    "gallery/*.py",
    "gallery/*.zip",
]
autosummary_generate = True
autodoc_typehints = "none"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
myst_heading_anchors = 3
suppress_warnings = ["myst.xref_missing", "myst.header"]
nitpicky = False

# MyST notebooks: a .md page with a ``kernelspec`` in its front matter is a notebook, run afresh at
# every build by the docs venv's kernel; an error in a cell fails the build (other .md pages are text)
nb_execution_mode = "force"
nb_execution_timeout = 120
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_kernel_rgx_aliases = {".*": "python3"}
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = "pycrox"
html_static_path = []
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

# The gallery: sphinx-gallery runs examples/plot_*.py (headless, Agg) and shows their figures; other
# scripts in examples/ are left out. Examples on corpus files fall back to synthetic data offline.
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "gallery",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"(^|/)(?!plot_)[^/]*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 3600,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "abort_on_example_error": True,
}

# the table of formats comes from the registry (pycrox.formats), written afresh at every build
(Path(__file__).parent / "formats" / "_table.md").write_text(_formats.docs_table() + "\n")
