"""Reading the electron-microscopy files of issue #12: pycrox against rosettasciio, mrcfile and numpy.

For each sample in ``../shared/data/vendor-gaps`` (Prismatic and EMD 1.0 files, a Velox EELS
spectrum image, an old-FEI MRC tilt series, a TIA ``.emi`` with a zeroed binary header, an ISO
22029 ``XY`` MSA spectrum) it times, with the files in the page cache, opening the file and
reading every signal into memory:

* pycrox: ``pycrox.open_tree(path)`` and ``.values`` of every signal, and the same through the
  format's own ``read_tree`` (which shows what `pycrox.open_tree`'s shared layer adds);
* rosettasciio: ``file_reader(path)`` (eager) of the matching plugin;
* mrcfile (``mrcfile.read``) and ``numpy.fromfile`` of the data block for the MRC file.

Each case is the median (min-max) of >= 5 interleaved runs (`_common.interleaved`); ratios are
reference / pycrox (> 1: pycrox is faster).

Run ``python benchmarks/bench_em_gaps.py [--runs 5] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _common import interleaved  # run as a script from benchmarks/

GAPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "vendor-gaps"
FILES = {
    "ncem_emd Prismatic": ("ncem_emd/rsciio_Si100_2D_3D_DPC_potential_2slices.emd", "emd"),
    "ncem_emd EMD 1.0": ("ncem_emd/rsciio_py4DSTEM_size2x3x4x5.h5", "emd"),
    "velox EELS+EDS": ("velox_emd/rsciio_example_velox_EELS_EDS.emd", "emd"),
    "mrc old FEI": ("mrc/etspy_HAADF_FEI_tomo.mrc", "mrc"),
    "tia zeroed emi": ("tia/mdf_12_TIA_HAADF.emi", "tia"),
    "msa XY": ("msa/rsciio_ISO_22029_2022_compliance_XY_NCOLUMNS2.msa", "msa"),
}


def pycrox_read(path: Path) -> list[np.ndarray]:
    """Open with pycrox and read every signal."""
    import pycrox
    from pycrox import model

    with pycrox.open_tree(path) as tree:
        return [np.asarray(da.values) for da in model.signal_nodes(tree).values()]


def reader_only(path: Path) -> list[np.ndarray]:
    """The format's own ``read_tree`` (without `pycrox.open_tree`'s detection and attrs checks)."""
    from pycrox import formats, io, model

    tree = formats.reader(io.detect_format(path)).read_tree(path)
    try:
        return [np.asarray(da.values) for da in model.signal_nodes(tree).values()]
    finally:
        tree.close()


def rsciio_read(path: Path, plugin: str) -> list[Any]:
    """Read every signal with rosettasciio (eager)."""
    import importlib

    reader = importlib.import_module(f"rsciio.{plugin}").file_reader
    return [np.asarray(s["data"]) for s in reader(str(path))]


def cases(path: Path, plugin: str) -> dict[str, Callable[[], Any]]:
    """The timed cases of one file."""
    out: dict[str, Callable[[], Any]] = {
        "pycrox": lambda: pycrox_read(path),
        "pycrox reader only": lambda: reader_only(path),
        "rosettasciio": lambda: rsciio_read(path, plugin),
    }
    if plugin == "mrc":
        import mrcfile

        out["mrcfile"] = lambda: mrcfile.read(path)
        out["numpy.fromfile"] = lambda: np.fromfile(path, "<i2", offset=1024 + 131072)
    return out


def main() -> None:
    """Time every file and print a table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if not GAPS.is_dir():
        raise SystemExit(f"vendor-gaps samples not found at {GAPS}")
    warnings.simplefilter("ignore")  # the zeroed .emi warns on every open, mrcfile on the MAP id
    results: dict[str, dict[str, Any]] = {}
    for label, (rel, plugin) in FILES.items():
        times = interleaved(cases(GAPS / rel, plugin), args.runs)
        results[label] = times
        ours = times["pycrox"]
        print(
            f"{label}: pycrox {ours['median_s'] * 1e3:.1f} ms ({ours['min_s'] * 1e3:.1f}-{ours['max_s'] * 1e3:.1f})"
        )
        for name, t in times.items():
            if name == "pycrox":
                continue
            if "error" in t:
                print(f"  {name}: error {t['error']}")
                continue
            ratio = t["median_s"] / ours["median_s"]
            low, high = t["min_s"] / ours["max_s"], t["max_s"] / ours["min_s"]
            print(
                f"  {name}: {t['median_s'] * 1e3:.1f} ms ({t['min_s'] * 1e3:.1f}-{t['max_s'] * 1e3:.1f}); "
                f"{name}/pycrox {ratio:.2f}x (min-max {low:.2f}-{high:.2f})"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
