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

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][
        "xarray.backends"
    ]
    for engine, target in config.items():
        module, cls = target.split(":")
        assert hasattr(importlib.import_module(module), cls), engine


def test_entry_points_equal_the_registry():
    from pycrox import formats

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"][
        "xarray.backends"
    ]
    assert config == formats.entry_points()


def test_every_format_package_is_listed_and_has_reader_and_backend():
    import importlib

    from pycrox import formats

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    for entry in formats.FORMATS:
        assert entry.package in listed, entry.name
        reader = formats.reader(entry.name)
        assert callable(reader.guess_can_open), entry.name
        assert callable(reader.read_tree), entry.name
        if entry.backend:
            backend = getattr(importlib.import_module(f"{entry.package}.backend"), entry.backend)
            assert backend.format_name == entry.name
            assert set(entry.options) <= set(backend.open_dataset_parameters)


def test_readme_and_docs_table_of_formats_is_the_registry():
    from pycrox import formats

    table = formats.docs_table()
    assert table in (REPO / "README.md").read_text()
    assert "{include} _table.md" in (REPO / "docs" / "formats" / "index.md").read_text()
    assert "docs_table()" in (REPO / "docs" / "conf.py").read_text()
