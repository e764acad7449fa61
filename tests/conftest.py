"""Shared fixtures: the real-file corpus beside the repo (skips when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
SHARED_TOOLS = (REPO.parent / "shared" / "tools").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The corpus of real files (``../shared/data``); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-file corpus not found at {SHARED_DATA} (a fresh clone has no ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_tools() -> Path:
    """The checker scripts (``../shared/tools``); skips when absent."""
    if not SHARED_TOOLS.is_dir():
        pytest.skip(f"checker tools not found at {SHARED_TOOLS}")
    return SHARED_TOOLS
