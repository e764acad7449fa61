"""Reference outputs of py4DSTEM for pycrox.analysis.stem4d, made once in an old-numpy environment.

py4DSTEM 0.14 needs numpy < 2, so it cannot sit beside pycrox. Run this script in its own
environment; it writes ``tests/reference/data/py4dstem/py4dstem.npz`` (the seeded inputs and
py4DSTEM's outputs) and ``versions.json``, which ``tests/analysis/stem4d/test_py4dstem_reference.py``
compares against::

    python3 -m venv /work/refenv-py4dstem
    /work/refenv-py4dstem/bin/pip install "numpy<2" "py4DSTEM==0.14.18"
    /work/refenv-py4dstem/bin/python tests/reference/py4dstem_make.py

Contents (pixel units; py4DSTEM's ``qx`` is the detector row, ``qy`` the column):

* ``random``: a 6 x 7 x 32 x 32 float32 4-D array; ``disk_image``, ``annulus_image``: its
  ``DataCube.get_virtual_image`` with ``mode="circle"`` (centre ``CENTER``, radius ``OUTER``) and
  ``mode="annulus"`` (radii ``INNER``, ``OUTER``); ``com_row``, ``com_col``:
  ``py4DSTEM.process.utils.get_CoM`` of every pattern.
* ``lattice``: one 64 x 64 pattern of Bragg disks, ``probe`` a vacuum probe; ``disks_row``,
  ``disks_col``, ``disks_intensity``: ``find_Bragg_disks`` with the kernel of
  ``Probe.get_probe_kernel_flat`` and ``subpixel="multicorr"``.
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import py4DSTEM
from py4DSTEM.braggvectors.diskdetection import find_Bragg_disks
from py4DSTEM.braggvectors.probe import Probe
from py4DSTEM.process.utils import get_CoM

OUT = Path(__file__).parent / "data" / "py4dstem"
CENTER, INNER, OUTER = (15.3, 16.6), 4.3, 11.7
DET = 64


def disk(row: float, col: float, radius: float) -> np.ndarray:
    r, c = np.indices((DET, DET))
    return 1 / (1 + np.exp((np.hypot(r - row, c - col) - radius) / 0.5))


def main() -> None:
    rng = np.random.default_rng(20261206)
    random = rng.random((6, 7, 32, 32)).astype(np.float32)
    cube = py4DSTEM.DataCube(random)
    disk_image = cube.get_virtual_image(
        mode="circle", geometry=(CENTER, OUTER), verbose=False, name="bf"
    ).data
    annulus_image = cube.get_virtual_image(
        mode="annulus", geometry=(CENTER, (INNER, OUTER)), verbose=False, name="adf"
    ).data
    com = np.array([[get_CoM(random[i, j]) for j in range(7)] for i in range(6)])

    lattice = np.zeros((DET, DET))
    origin, g1, g2 = np.array([31.6, 32.3]), np.array([1.0, 11.0]), np.array([12.0, -2.0])  # (row, col)
    for h in range(-3, 4):
        for k in range(-3, 4):
            q = origin + h * g1 + k * g2
            if 5 < q[0] < DET - 5 and 5 < q[1] < DET - 5:
                lattice += (3.0 if h == k == 0 else 1.0) * disk(q[0], q[1], 3.0)
    lattice += rng.normal(0, 0.01, lattice.shape)
    probe = disk(20.0, 40.0, 3.0)
    kernel = Probe.get_probe_kernel_flat(probe)
    peaks = find_Bragg_disks(
        lattice, kernel, corrPower=1, sigma_cc=0, subpixel="multicorr", upsample_factor=16,
        minRelativeIntensity=0.1, minPeakSpacing=4, edgeBoundary=4, maxNumPeaks=40,
    )  # fmt: skip
    OUT.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT / "py4dstem.npz",
        random=random, center=np.array(CENTER), inner=INNER, outer=OUTER,
        disk_image=disk_image, annulus_image=annulus_image, com_row=com[..., 0], com_col=com[..., 1],
        lattice=lattice, probe=probe,
        disks_row=np.asarray(peaks.data["qx"]), disks_col=np.asarray(peaks.data["qy"]),
        disks_intensity=np.asarray(peaks.data["intensity"]),
    )  # fmt: skip
    versions = {
        "py4DSTEM": py4DSTEM.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    (OUT / "versions.json").write_text(json.dumps(versions, indent=1) + "\n")
    print(json.dumps(versions), f"{len(peaks.data)} disks")


if __name__ == "__main__":
    main()
