"""The wheel must contain every subpackage: compare pyproject's list with the folders on disk."""

import tomllib

from tests.conftest import REPO


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    roots = {name: REPO / path for name, path in config["package-dir"].items()}
    found = set()
    for prefix, root in roots.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root).parts
            found.add(".".join((prefix, *rel)))
    assert found == listed


def test_every_engine_entry_point_resolves():
    import importlib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["xarray.backends"]
    for engine, target in config.items():
        module, cls = target.split(":")
        assert hasattr(importlib.import_module(module), cls), engine
