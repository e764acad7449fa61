"""The README quick start is real code: run it."""

import re

from tests.conftest import REPO


def test_readme_quick_start_runs(tmp_path, monkeypatch):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, "README has no python block"
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # noqa: S102  (the README is ours)
    assert (tmp_path / "quickstart.zarr").is_dir()
    assert namespace["back"].attrs["title"] == "EELS map"
