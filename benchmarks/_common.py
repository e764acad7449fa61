"""Timing helpers shared by the benchmarks: interleaved medians and peak memory in a fresh process.

* `interleaved` runs every case once untimed (imports, caches), then ``runs`` rounds of A B C ...,
  and reports the median, min and max of each case (cases in ``once`` are timed a single time).
* `peak_rss` runs a callable with the process's peak-RSS mark reset first and returns the peak
  above the RSS just before the call; run it in a fresh process (`run_child`) so earlier cases do
  not hide the peak.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = ["MIB", "interleaved", "peak_rss", "run_child", "status_bytes"]

MIB = 1 << 20


def interleaved(
    cases: dict[str, Callable[[], Any]],
    runs: int,
    *,
    once: Iterable[str] = (),
    between: Callable[[], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Median, min and max seconds of each case over `runs` interleaved rounds.

    Parameters
    ----------
    cases : dict
        ``{name: callable}``; a callable's result is dropped right after timing.
    runs : int
        Rounds of all cases (A B C A B C ...).
    once : iterable of str
        Cases timed in the first round only (slow reference tools), without a warm-up.
    between : callable, optional
        Called (untimed) before every timed call, e.g. to flush dirty pages.

    Returns
    -------
    dict
        ``{name: {"median_s", "min_s", "max_s", "runs"}}`` or ``{name: {"error": text}}``.
    """
    once = set(once)
    samples: dict[str, list[float]] = {name: [] for name in cases}
    errors: dict[str, str] = {}
    for name, case in cases.items():
        if name not in once:
            if between is not None:
                between()
            _call(case, name, errors)
    for _ in range(runs):
        for name, case in cases.items():
            if name in errors or (name in once and samples[name]):
                continue
            if between is not None:
                between()
            start = time.perf_counter()
            if _call(case, name, errors):
                samples[name].append(time.perf_counter() - start)
    return {
        name: (
            {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s), "runs": len(s)}
            if s
            else {"error": errors.get(name, "not run")}
        )
        for name, s in samples.items()
    }


def _call(case: Callable[[], Any], name: str, errors: dict[str, str]) -> bool:
    try:
        result = case()
    except Exception as exc:  # noqa: BLE001  (a failing case is a result, reported in the table)
        errors[name] = f"{type(exc).__name__}: {exc}"[:300]
        return False
    del result
    return True


def status_bytes(field: str) -> int:
    """A memory figure of this process from /proc/self/status (``VmRSS`` now, ``VmHWM`` peak)."""
    with open("/proc/self/status") as fh:
        line = next(line for line in fh if line.startswith(field + ":"))
    return int(line.split()[1]) * 1024


def peak_rss(case: Callable[[], Any]) -> dict[str, int]:
    """Peak resident memory above the current RSS while `case` runs (Linux)."""
    with contextlib.suppress(OSError):  # reset the peak mark (VmHWM) to the current RSS
        Path("/proc/self/clear_refs").write_text("5")
    baseline = status_bytes("VmRSS")
    result = case()
    peak = status_bytes("VmHWM")
    del result
    return {"extra_bytes": peak - baseline, "baseline_bytes": baseline}


def run_child(script: str, args: list[str]) -> dict[str, Any]:
    """Run ``python script *args`` and parse the JSON object on its last output line."""
    proc = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"error": (proc.stderr.strip() or proc.stdout.strip())[-400:]}
    return json.loads(lines[-1])


# ---- in-process timing with peak RSS (the analysis benchmarks) ----


def rss_mib(field: str = "VmRSS") -> float:
    """A /proc/self/status memory field in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset the peak-RSS mark of this process (Linux)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)


def measure(case: Callable[[], Any]) -> tuple[float, float, Any]:
    """Seconds, peak MiB above the RSS before the call, and the result of `case()`."""
    gc.collect()
    reset_peak()
    before = rss_mib()
    start = time.perf_counter()
    result = case()
    seconds = time.perf_counter() - start
    return seconds, rss_mib("VmHWM") - before, result
