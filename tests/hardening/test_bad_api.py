"""Bad calls to the public API: every one is a clear pycrox error that names the user's path.

A table of wrong calls to `open`, `open_tree`, `detect_format`, `references`, every writer, the
accessor's namespaces and the CLI: missing, empty, garbage, truncated and special files (one garbage
and one empty file per registered extension), unknown engines, options, protocols and modes, objects
a writer cannot hold, folders that do not exist, names a file cannot store, analysis on data of the
wrong shape or without the axis it needs. Each must raise a `PycroxError` whose message names the
path it was given (or a `TypeError` for a value of the wrong type), never a raw `KeyError`,
`OSError` naming a temporary file, `AttributeError` or `RecursionError`. Each CLI call exits
non-zero with one line on standard error and no traceback.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import pycrox
from pycrox.cli import main
from pycrox.errors import PycroxError

Case = tuple[str, Callable[[], Any], Path | str | None]


def _image() -> xr.DataArray:
    return pycrox.from_array(np.arange(12.0).reshape(3, 4), dims=("y", "x"), units="counts", name="image")


def _spectrum_image() -> xr.DataArray:
    energy = pycrox.coordinate("energy_loss", np.linspace(100, 200, 32), units="eV")
    data = np.random.default_rng(0).random((4, 5, 32))
    return pycrox.from_array(
        data, dims=("y", "x", "energy_loss"), coords={"energy_loss": energy}, units="counts"
    )


def _closed(path: Path) -> Any:
    handle = open(path, "rb")  # noqa: SIM115 - closed on purpose
    handle.close()
    return handle


def _files(tmp: Path) -> dict[str, Path]:
    files = {
        "store": tmp / "good.zarr",
        "nsid": tmp / "good.h5",
        "empty": tmp / "empty.dm4",
        "junk": tmp / "junk.bin",
        "text": tmp / "text.txt",
        "folder": tmp / "folder",
        "fifo": tmp / "pipe.dm3",
        "missing": tmp / "missing.dm4",
    }
    pycrox.to_zarr(_image(), files["store"])
    pycrox.to_nsid(_image(), files["nsid"])
    files["empty"].write_bytes(b"")
    files["junk"].write_bytes(np.random.default_rng(1).bytes(300))
    files["text"].write_text("hello")
    files["folder"].mkdir()
    (files["folder"] / "keep.txt").write_text("keep")
    os.mkfifo(files["fifo"])
    files["crafted"] = tmp / "crafted.zarr"  # a store whose attrs claim an encoding pycrox never writes
    pycrox.to_zarr(_image(), files["crafted"])
    meta = files["crafted"] / "zarr.json"
    meta.write_text(
        meta.read_text().replace('"pycrox_kind"', '"evil": {"__pycrox__": "nonsense"}, "pycrox_kind"')
    )
    return files


def _reading_cases(tmp: Path, f: dict[str, Path]) -> list[Case]:
    cases: list[Case] = [
        ("open a missing file", lambda: pycrox.open(f["missing"]), f["missing"]),
        ("open_tree a missing file", lambda: pycrox.open_tree(f["missing"]), f["missing"]),
        ("detect the format of a missing file", lambda: pycrox.detect_format(f["missing"]), f["missing"]),
        ("open an empty file", lambda: pycrox.open(f["empty"]), f["empty"]),
        ("open random bytes", lambda: pycrox.open(f["junk"]), f["junk"]),
        ("open a text file", lambda: pycrox.open(f["text"]), f["text"]),
        ("open a folder that is no store", lambda: pycrox.open(f["folder"]), f["folder"]),
        ("open a FIFO", lambda: pycrox.open(f["fifo"]), f["fifo"]),
        ("open a store with undecodable attrs", lambda: pycrox.open(f["crafted"]), f["crafted"]),
        ("open a group that does not exist", lambda: pycrox.open(f["nsid"], group="/nope"), f["nsid"]),
        ("open a store's missing group", lambda: pycrox.open(f["store"], group="nope"), f["store"]),
        ("open with an unknown engine", lambda: pycrox.open(f["nsid"], engine="nope"), f["nsid"]),
        ("open an HDF5 file as DM", lambda: pycrox.open(f["nsid"], engine="dm"), f["nsid"]),
        ("open a store as MRC", lambda: pycrox.open_tree(f["store"], engine="mrc"), f["store"]),
        ("open with an unknown option", lambda: pycrox.open(f["nsid"], bogus=1), None),
        ("open a number", lambda: pycrox.open(42), None),
        ("open None", lambda: pycrox.open(None), None),
        ("open a closed file object", lambda: pycrox.open(_closed(f["nsid"])), None),
        ("open a text stream", lambda: pycrox.open(io.StringIO("abc")), None),
        ("open a stream of zeros", lambda: pycrox.open(io.BytesIO(bytes(100))), None),
        ("open an unknown protocol", lambda: pycrox.open("nope://bucket/x.zarr"), "nope://bucket/x.zarr"),
        ("open a missing file:// URL", lambda: pycrox.open(f"file://{f['missing']}"), f["missing"]),
        ("references of a non-HDF5 file", lambda: pycrox.references(f["junk"]), f["junk"]),
        ("references of a missing file", lambda: pycrox.references(f["missing"]), f["missing"]),
        ("references onto an existing file", lambda: pycrox.references(f["nsid"], f["text"]), f["text"]),
    ]
    extensions = sorted({ext for entry in pycrox.formats.FORMATS for ext in entry.extensions})
    for ext in extensions:
        garbage, empty = tmp / f"garbage{ext}", tmp / f"empty{ext}"
        garbage.write_bytes(b"\x00\x01garbage" * 37)
        empty.write_bytes(b"")
        cases.append((f"open garbage named {ext}", lambda p=garbage: pycrox.open_tree(p), garbage))
        cases.append((f"open an empty {ext}", lambda p=empty: pycrox.open_tree(p), empty))
    return cases


WRITERS = {
    "nsid": (pycrox.to_nsid, ".h5"),
    "usid": (pycrox.to_usid, ".h5"),
    "netcdf": (pycrox.to_netcdf, ".nc"),
    "zarr": (pycrox.to_zarr, ".zarr"),
}


def _writing_cases(tmp: Path, f: dict[str, Path]) -> list[Case]:
    image = _image()
    unstorable = image.copy()
    unstorable.attrs["callback"] = _image
    cases: list[Case] = []
    for name, (write, ext) in WRITERS.items():
        existing = f["store"] if name == "zarr" else f["nsid"]

        def case(label: str, obj: Any, target: Path, write=write, fmt=name, **kwargs: Any) -> None:
            cases.append((f"{fmt}: {label}", lambda: write(obj, target, **kwargs), target))

        case("into a folder that does not exist", image, tmp / "no" / "such" / f"x{ext}")
        case("over a folder that is no store", image, f["folder"], mode="w")
        case("over an existing target without mode='w'", image, existing)
        case("with an unknown mode", image, tmp / f"mode{ext}", mode="x")
        case("a numpy array", np.zeros(3), tmp / f"numpy{ext}")
        case("a list", [1, 2], tmp / f"list{ext}")
        case("a dimension named a/b", image.rename({"x": "a/b"}), tmp / f"slash{ext}")
        case("a signal named ..", image.rename(".."), tmp / f"dots{ext}")
        if name != "zarr":  # Zarr stores attrs as JSON and refuses a function on its own terms
            case("an attribute that is a function", unstorable, tmp / f"attr{ext}")
    cases += [
        (
            "nsid: append to a missing file",
            lambda: pycrox.to_nsid(image, tmp / "nope.h5", mode="a"),
            tmp / "nope.h5",
        ),
        ("nsid: append to random bytes", lambda: pycrox.to_nsid(image, f["junk"], mode="a"), f["junk"]),
        ("usid: append to a Zarr store", lambda: pycrox.to_usid(image, f["store"], mode="a"), f["store"]),
    ]
    return cases


def _analysis_cases() -> list[Case]:
    image, cube = _image(), _spectrum_image()
    calls: dict[str, Callable[[], Any]] = {
        "fft over a dim that does not exist": lambda: image.pycro.fft(dims=("nope",)),
        "level a plane on a line": lambda: image.isel(y=0).pycro.level_plane(),
        "EELS background without an energy axis": lambda: image.pycro.eels.background(window=(1, 2)),
        "EELS background window outside the data": lambda: cube.pycro.eels.background(window=(1000, 2000)),
        "EELS edges of an unknown element": lambda: cube.pycro.eels.edges("Xx"),
        "4D-STEM centre of mass of an image": lambda: image.pycro.stem4d.center_of_mass(),
        "4D-STEM virtual image of an image": lambda: image.pycro.stem4d.virtual_image(inner=0, outer=1),
        "band-excitation SHO fit of real data": lambda: cube.pycro.be.sho_fit(),
        "trEFM without a time axis": lambda: image.pycro.trefm.time_to_first_peak(),
        "SPM row alignment by an unknown method": lambda: image.pycro.spm.align_rows(method="nope"),
        "a fit with an unknown model": lambda: cube.pycro.fit("nope", dim="energy_loss"),
        "a decomposition into -1 components": lambda: cube.pycro.decompose(n_components=-1),
    }
    return [(label, call, None) for label, call in calls.items()]


@pytest.fixture(scope="module")
def table(tmp_path_factory) -> dict[str, Case]:
    tmp = tmp_path_factory.mktemp("bad-api")
    files = _files(tmp)
    cases = _reading_cases(tmp, files) + _writing_cases(tmp, files) + _analysis_cases()
    return {label: (label, call, path) for label, call, path in cases}


def test_the_table_is_large(table):
    assert len(table) >= 150


def test_every_bad_call_is_a_clear_pycrox_error(table):
    failures = []
    for label, call, path in table.values():
        try:
            call()
        except PycroxError as exc:
            if path is not None and Path(str(path)).name not in str(exc):
                failures.append(f"{label}: {type(exc).__name__} does not name {Path(str(path)).name}: {exc}")
        except TypeError:
            pass  # a value of the wrong type, as Python reports it
        except Exception as exc:  # noqa: BLE001 - what we are looking for
            failures.append(f"{label}: raw {type(exc).__name__}: {exc}")
        else:
            failures.append(f"{label}: no error")
    assert not failures, "\n".join(failures)


def test_writes_that_can_succeed_do(tmp_path):
    """Not errors: a 0-d value and an empty Dataset are written and read back."""
    scalar = xr.DataArray(1.5, attrs={"units": "V"})
    for name, (write, ext) in WRITERS.items():
        if name == "usid":
            continue  # USID needs position and spectroscopic dims
        write(scalar, tmp_path / f"scalar{ext}")
        back = pycrox.open(tmp_path / f"scalar{ext}")
        assert float(back) == 1.5, name


@pytest.mark.parametrize(
    "args",
    [
        ["info", "{missing}"],
        ["info", "{junk}"],
        ["info", "{nsid}", "--engine", "nope"],
        ["convert", "{junk}", "{out}"],
        ["convert", "{nsid}", "{existing}"],
        ["convert", "{nsid}", "{tmp}/no/such/out.h5"],
        ["convert", "{nsid}", "{tmp}/out.unknown"],
        ["convert", "{nsid}", "{tmp}/out.h5", "--group", "nope"],
        ["preview", "{missing}", "-o", "{tmp}/p.png"],
        ["preview", "{fifo}", "-o", "{tmp}/p.png"],
        ["view", "{missing}", "--no-browser"],
    ],
    ids=lambda a: " ".join(a).replace("{", "").replace("}", ""),
)
def test_the_cli_prints_one_line_and_exits_non_zero(args, tmp_path, capsys):
    files = _files(tmp_path)
    names = {**{k: str(v) for k, v in files.items()}, "tmp": str(tmp_path), "out": str(tmp_path / "out.h5")}
    names["existing"] = str(files["store"])
    argv = [a.format(**names) for a in args]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code != 0, argv
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    assert err.startswith("pycrox"), err
