"""`import pycrox` stays cheap: no scipy, matplotlib, pint or reader is imported until used."""

import subprocess
import sys

import pytest

HEAVY = ("scipy", "matplotlib", "pint", "sklearn", "h5py", "tifffile", "dask", "zarr")


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return set(out.split())


def test_import_pycrox_leaves_heavy_packages_unimported():
    loaded = _modules_after("import pycrox")
    assert sorted(m for m in HEAVY if m in loaded) == []
    assert (
        sorted(m for m in loaded if m.startswith(("pycrox.readers.", "pycrox.analysis", "pycrox.viz"))) == []
    )


def test_listing_engines_imports_no_reader():
    loaded = _modules_after("import xarray as xr\nxr.backends.list_engines()")
    assert "pycrox.readers.dm.backend" in loaded  # the engines are registered...
    readers = sorted(m for m in loaded if m.endswith(".reader") and m.startswith("pycrox."))
    assert readers == []  # ...but no reader module is imported for it
    assert "scipy" not in loaded


@pytest.mark.parametrize("attribute", ["units", "testing", "formats"])
def test_lazy_submodules_load_on_first_use(attribute):
    loaded = _modules_after(f"import pycrox\npycrox.{attribute}")
    assert f"pycrox.{attribute}" in loaded
