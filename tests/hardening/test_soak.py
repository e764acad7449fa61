"""`make soak`: the fuzz and kill tests read their budgets from the environment; defaults are unchanged."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

READ = (
    "from tests import test_fuzz as f; from tests.hardening import test_kill as k; "
    "print(f.MULTIPLIER, int(f.BUDGET_SECONDS), k.TRIALS)"
)


def _budgets(**env: str) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYCROX_FUZZ_", "PYCROX_KILL_"))}
    done = subprocess.run(
        [sys.executable, "-c", READ],
        check=False,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**clean, **env},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_defaults_unchanged() -> None:
    assert _budgets() == ["1", "600", "6"]


def test_environment_raises_the_budgets() -> None:
    assert _budgets(PYCROX_FUZZ_MULTIPLIER="5", PYCROX_KILL_TRIALS="40") == ["5", "3000", "40"]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_soak_runs_the_long_versions() -> None:
    done = subprocess.run(
        ["make", "-n", "soak"], check=False, capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.returncode == 0, done.stderr
    command = done.stdout.replace("\\\n", " ")
    for part in ("PYCROX_FUZZ_MULTIPLIER=10", "PYCROX_KILL_TRIALS=60", "tests/test_fuzz.py", "test_kill.py"):
        assert part in command
