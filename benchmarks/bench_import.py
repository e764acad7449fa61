"""How much `import pycrox`, and pycrox's xarray entry points, cost a fresh Python process.

Cases, each timed inside its own fresh interpreter (so nothing is cached in ``sys.modules``), rounds
interleaved, medians of ``--runs`` (default 9):

* ``import xarray`` against ``import xarray; import pycrox`` (target: ratio <= 1.5);
* xarray's engine listing (``build_engines`` over the ``xarray.backends`` entry points, what the first
  ``xr.open_dataset`` of any user does) with every installed entry point, against the same listing
  without pycrox's entry points (target: <= 0.15 s more).

Prints one JSON object; ratios are taken within each round, then the median (min-max) is reported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

#: name -> (untimed set-up, timed code)
CASES = {
    "import xarray": ("", "import xarray"),
    "import xarray + pycrox": ("", "import xarray; import pycrox"),
    "engines without pycrox": ("import xarray", "_engines(False)"),
    "engines with pycrox": ("import xarray", "_engines(True)"),
}

_PRELUDE = """
import time
from importlib.metadata import entry_points
def _engines(with_pycrox):
    from xarray.backends import plugins
    eps = [ep for ep in entry_points(group="xarray.backends")
           if with_pycrox or not ep.value.startswith("pycrox.")]
    plugins.build_engines.cache_clear() if hasattr(plugins.build_engines, "cache_clear") else None
    return plugins.build_engines(eps)
"""


def _time_case(case: tuple[str, str]) -> float:
    """Seconds the timed code of `case` takes in a fresh interpreter (start-up and set-up excluded)."""
    setup, code = case
    script = f"{_PRELUDE}\n{setup}\n_t = time.perf_counter()\n{code}\nprint(time.perf_counter() - _t)"
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in CASES}
    for code in CASES.values():  # warm the OS file cache once
        _time_case(code)
    for _ in range(args.runs):
        for name, code in CASES.items():
            samples[name].append(_time_case(code))
    ratio = [b / a for a, b in zip(samples["import xarray"], samples["import xarray + pycrox"], strict=True)]
    extra = [
        b - a for a, b in zip(samples["engines without pycrox"], samples["engines with pycrox"], strict=True)
    ]
    report = {
        "cases": {
            n: {"median_s": statistics.median(s), "min_s": min(s), "max_s": max(s)}
            for n, s in samples.items()
        },
        "import_ratio": {
            "median": statistics.median(ratio),
            "min": min(ratio),
            "max": max(ratio),
            "target": 1.5,
        },
        "engines_extra_s": {
            "median": statistics.median(extra),
            "min": min(extra),
            "max": max(extra),
            "target": 0.15,
        },
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
