"""Make pySPM reference outputs for pycrox's SPM-correction tests (run once, in a separate venv).

pySPM (pip name ``pySPM``) pins packages that would change pycrox's main environment, so
pycrox's tests compare against files this script writes. Run it in its own environment::

    python3 -m venv /work/refenv-pyspm
    /work/refenv-pyspm/bin/pip install pySPM==0.6.3
    /work/refenv-pyspm/bin/python tests/reference/pyspm_make.py [path/to/shared/data]

It reads four corpus images with pySPM's *own* readers (``pySPM.Bruker`` for a Nanoscope
v4.32 file, ``pySPM.SXM`` for two Nanonis scans; the Nanonis ``Z`` channels are constant
(constant-height STM), so their ``Current`` channels are used), applies pySPM's corrections
``correct_median_diff``, ``correct_lines``, ``correct_plane`` and ``zero_min`` (each to a
fresh copy of the raw image; ``correct_slope`` has no pycrox counterpart and
``filter_scars_removal`` is a different algorithm from Gwyddion's, so neither is recorded) and
writes, per image and correction,
what fully describes the result without storing whole images:

- the subtracted background (``raw - corrected``): one value per row for the row
  corrections (``*_rows``), the three plane coefficients ``c0 + c1 * column + c2 * row`` for
  ``correct_plane`` and the one offset for ``zero_min``;
- a 16 x 16 sub-sample (every ``n/16``-th row and column) of the corrected image and of the
  raw image (to check that pycrox reads the same numbers in the same orientation);
- the ISO 25178 height parameters of the corrected images computed with numpy here (pySPM has
  no roughness function: ``Sa, Sq, Sp, Sv, Sz, Ssk, Sku`` from the mean plane, i.e. after
  subtracting the image mean) and the per-row ``Ra, Rq`` (after subtracting each row's mean).

Outputs: ``data/pyspm/pyspm_reference.npz`` and ``data/pyspm/versions.json`` (< 100 kB).
"""

from __future__ import annotations

import copy
import json
import platform
import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "pyspm"
DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"

#: (key, relative path, reader, channel)
IMAGES = [
    ("bruker_height", "vendor/bruker_afm/nanoscope_v4.32_image.007", "bruker", "Height"),
    ("bruker_amplitude", "vendor/bruker_afm/nanoscope_v4.32_image.007", "bruker", "Amplitude"),
    ("sxm_a151216_current", "vendor/nanonis/A151216.123306-02602.sxm", "sxm", "Current"),
    ("sxm_au_mica_current", "vendor/nanonis/Au_mica_2023_Y_A_diPAMY_195.sxm", "sxm", "Current"),
]
CORRECTIONS = ("correct_median_diff", "correct_lines", "correct_plane", "zero_min")
SUBSAMPLE = 16


def read(data: Path, path: str, reader: str, channel: str):  # -> pySPM.SPM_image
    import pySPM

    if reader == "bruker":
        return pySPM.Bruker(str(data / path)).get_channel(channel)
    return pySPM.SXM(str(data / path)).get_channel(channel, direction="forward")


def iso(z: np.ndarray) -> dict[str, float | np.ndarray]:
    """ISO 25178 areal and ISO 4287 per-row parameters, heights from the mean."""
    d = z - z.mean()
    sq = float(np.sqrt(np.mean(d**2)))
    r = z - z.mean(axis=1, keepdims=True)
    return {
        "Sa": float(np.mean(np.abs(d))),
        "Sq": sq,
        "Sp": float(d.max()),
        "Sv": float(-d.min()),
        "Sz": float(d.max() - d.min()),
        "Ssk": float(np.mean(d**3) / sq**3),
        "Sku": float(np.mean(d**4) / sq**4),
        "Ra": np.mean(np.abs(r), axis=1),
        "Rq": np.sqrt(np.mean(r**2, axis=1)),
    }


def main(argv: list[str]) -> int:
    import pySPM

    data = Path(argv[1]) if len(argv) > 1 else DEFAULT_DATA
    OUT.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    described: dict[str, dict] = {}
    for key, path, reader, channel in IMAGES:
        raw_image = read(data, path, reader, channel)
        raw = np.asarray(raw_image.pixels, dtype=np.float64)
        step = max(1, raw.shape[0] // SUBSAMPLE), max(1, raw.shape[1] // SUBSAMPLE)
        arrays[f"{key}/raw_sub"] = raw[:: step[0], :: step[1]]
        described[key] = {
            "path": path,
            "reader": f"pySPM.{'Bruker' if reader == 'bruker' else 'SXM'}",
            "channel": channel,
            "shape": list(raw.shape),
            "subsample_step": list(step),
            "raw_mean": float(raw.mean()),
            "raw_std": float(raw.std()),
        }
        for name in CORRECTIONS:
            image = copy.deepcopy(raw_image)
            image.pixels = raw.copy()
            getattr(image, name)(inline=True)
            out = np.asarray(image.pixels, dtype=np.float64)
            background = raw - out
            if name == "correct_plane":
                rows, cols = np.mgrid[: raw.shape[0], : raw.shape[1]]
                design = np.column_stack([np.ones(raw.size), cols.ravel(), rows.ravel()])
                coef, *_ = np.linalg.lstsq(design, background.ravel(), rcond=None)
                arrays[f"{key}/{name}_plane"] = coef
            elif name == "zero_min":
                arrays[f"{key}/{name}_offset"] = np.array([background[0, 0]])
            else:
                arrays[f"{key}/{name}_rows"] = background[:, 0]
                # the correction is constant along every row: check before relying on it
                if not np.allclose(background, background[:, :1], rtol=0, atol=1e-12 * np.abs(raw).max()):
                    raise RuntimeError(f"{key} {name}: the background is not constant along rows")
            arrays[f"{key}/{name}_sub"] = out[:: step[0], :: step[1]]
            for stat, value in iso(out).items():
                arrays[f"{key}/{name}_{stat}"] = np.atleast_1d(np.asarray(value, dtype=np.float64))
    np.savez_compressed(OUT / "pyspm_reference.npz", **arrays)
    import scipy

    info = {
        "pySPM": getattr(pySPM, "__version__", None),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "python": platform.python_version(),
        "script": "tests/reference/pyspm_make.py",
        "images": described,
        "corrections": list(CORRECTIONS),
        "note": "pySPM rows are axis 0 (slow scan), columns axis 1 (fast scan). Roughness parameters "
        "are numpy (ISO 25178 / ISO 4287, heights from the mean) on pySPM's corrected images: "
        "pySPM itself has no roughness function.",
    }
    (OUT / "versions.json").write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
