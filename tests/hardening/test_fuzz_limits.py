"""The fuzz worker's resource limits: a file that makes a reader allocate or spin fails that file only."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tests.conftest import REPO

PRELUDE = f"import sys; sys.path.insert(0, {str(REPO)!r}); from tests import fuzz_worker as w\n"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PRELUDE + code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )


def test_memory_limit_turns_a_huge_allocation_into_memory_error() -> None:
    done = _run(
        "import numpy as np\n"
        "w.limit_memory(2 * 2**30)\n"
        "try:\n"
        "    np.ones(4 * 2**30, dtype=np.uint8)\n"
        "except MemoryError:\n"
        "    print('refused')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"


def test_cpu_limit_ends_a_spinning_worker() -> None:
    done = _run("w.limit_cpu(1)\nwhile True:\n    pass\n")
    assert done.returncode == -signal.SIGXCPU


def test_cpu_limit_counts_from_now_for_each_file() -> None:
    # 1.5 s of work, then a fresh 1 s allowance: the second limit must not count the first's time
    done = _run(
        "import time\n"
        "w.limit_cpu(2)\n"
        "end = time.process_time() + 1.5\n"
        "while time.process_time() < end:\n"
        "    pass\n"
        "w.limit_cpu(1)\n"
        "print('alive')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alive"


def test_worker_runs_with_its_limits(tmp_path) -> None:
    target = tmp_path / "not-a-format.bin"
    target.write_bytes(b"\x00" * 100)
    done = subprocess.run(
        [sys.executable, str(REPO / "tests" / "fuzz_worker.py")],
        input=f"{target}\n",
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYCROX_FUZZ_MEMORY_GIB": "3"},
    )
    assert done.returncode == 0, done.stderr
    assert '"status": "pycrox_error"' in done.stdout
