"""The registry of formats: one entry per format, and everything that is derived from it.

Every format pycrox reads or writes is one `Format` in `FORMATS`, in detection order. Format
detection (`pycrox.detect_format`), the ``pycrox formats`` listing, the docs' table, the
``xarray.backends`` entry points and the ``packages`` of ``pyproject.toml`` (both checked by a
test), the reader conformance suite and the fuzz test all read this list: adding a format is one
package plus one entry here.

This module is pure data: importing it imports no reader.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, ModuleType
from typing import Any, Literal

__all__ = ["FORMATS", "Format", "by_name", "check_options", "docs_table", "entry_points", "names", "reader"]

Kind = Literal["store", "adapter", "vendor"]


@dataclass(frozen=True)
class Format:
    """One format: where its code lives, what it can do, and which reader options it takes.

    Attributes
    ----------
    name : str
        The format's name, also its xarray engine name (``"dm"``).
    title : str
        What a person calls it (``"Gatan DigitalMicrograph DM3/DM4"``).
    package : str
        Its package: ``reader`` (``guess_can_open``, ``read_tree``) and, for engines,
        ``backend`` inside it.
    kind : {"store", "adapter", "vendor"}
        Stores (Zarr, netCDF, reference sets) are read through xarray's own engines; adapters
        (NSID, USID) and vendor readers have an xarray engine of their own.
    extensions : tuple of str
        File-name endings, lower case, with the dot.
    backend : str
        The `xarray.backends.BackendEntrypoint` class in ``<package>.backend`` ("" for stores).
    write : bool
        Whether pycrox writes the format (``pycrox.to_<name>``).
    lazy : bool
        Whether the bulk data (the largest array of a file) stay on disk until asked for.
    eager : tuple of str
        Extensions of a lazy format whose data are embedded in a text header and read at open.
    remote : bool
        Whether fsspec URLs (``s3://...``) and file objects work.
    options : mapping
        The reader options a caller may pass to `pycrox.open`, `pycrox.open_tree` and
        ``xr.open_dataset(engine=...)``, each with its documentation.
    corpus : tuple of str
        Folders of the shared real-file corpus that hold this format (for tests).
    min_mutants : int
        How many mutated corpus files the fuzz test judges at least for this format.
    """

    name: str
    title: str
    package: str
    kind: Kind
    extensions: tuple[str, ...] = ()
    backend: str = ""
    write: bool = False
    lazy: bool = True
    eager: tuple[str, ...] = ()
    remote: bool = True
    options: Mapping[str, str] = field(default_factory=dict)
    corpus: tuple[str, ...] = ()
    min_mutants: int = 24

    @property
    def engine(self) -> str:
        """The xarray engine name ("" for stores, which use xarray's own engines)."""
        return self.name if self.backend else ""

    @property
    def reader_module(self) -> str:
        """The module with ``guess_can_open`` and ``read_tree``."""
        return f"{self.package}.reader"

    @property
    def entry_point(self) -> str:
        """The ``xarray.backends`` entry-point value (``module:Class``), "" for stores."""
        return f"{self.package}.backend:{self.backend}" if self.backend else ""


def _vendor(name: str, title: str, extensions: tuple[str, ...], backend: str, **kw: Any) -> Format:
    return Format(
        name,
        title,
        f"pycrox.readers.{name}",
        "vendor",
        extensions,
        backend,
        corpus=(kw.pop("corpus", None) or (name,)),
        **kw,
    )


FORMATS: tuple[Format, ...] = (
    Format("zarr", "Zarr v2/v3 store", "pycrox.stores.zarr", "store", (".zarr",), write=True),
    Format(
        "references",
        "Reference set (kerchunk JSON) over HDF5 chunks",
        "pycrox.stores.references",
        "store",
        (".json",),
        write=True,
    ),
    Format(
        "netcdf", "netCDF-4 (h5netcdf)", "pycrox.stores.netcdf", "store", (".nc", ".h5", ".hdf5"), write=True
    ),
    Format(
        "nsid",
        "NSID HDF5 (pyNSID, sidpy)",
        "pycrox.adapters.nsid",
        "adapter",
        (".h5", ".hdf5", ".hf5"),
        "NSIDBackendEntrypoint",
        write=True,
        corpus=("nsid",),
    ),
    Format(
        "usid",
        "USID HDF5 (pyUSID, pycroscopy, BGlib)",
        "pycrox.adapters.usid",
        "adapter",
        (".h5", ".hdf5", ".hf5"),
        "USIDBackendEntrypoint",
        write=True,
        corpus=("usid",),
    ),
    _vendor(
        "velox",
        "Thermo Fisher Velox EMD",
        (".emd",),
        "VeloxBackendEntrypoint",
        corpus=("velox_emd", "../vendor-gaps/velox_emd"),
    ),
    _vendor(
        "ncem_emd",
        "Berkeley EMD (NCEM, Prismatic, py4DSTEM)",
        (".emd", ".h5"),
        "NCEMEMDBackendEntrypoint",
        corpus=("ncem_emd", "../vendor-gaps/ncem_emd"),
    ),
    _vendor("dm", "Gatan DigitalMicrograph DM3/DM4", (".dm3", ".dm4"), "DMBackendEntrypoint"),
    _vendor(
        "tia",
        "FEI TIA SER/EMI",
        (".ser", ".emi"),
        "TIABackendEntrypoint",
        corpus=("tia", "../vendor-gaps/tia"),
    ),
    _vendor(
        "mrc",
        "MRC / CCP-EM (FEI, SerialEM)",
        (".mrc", ".mrcs", ".rec", ".st", ".ali"),
        "MRCBackendEntrypoint",
        corpus=("mrc", "../vendor-gaps/mrc"),
    ),
    _vendor(
        "mib", "Quantum Detectors Merlin MIB", (".mib",), "MIBBackendEntrypoint", corpus=("quantumdetector",)
    ),
    _vendor(
        "bruker_eds",
        "Bruker Esprit EDS BCF/SPX",
        (".bcf", ".spx"),
        "BrukerEDSBackendEntrypoint",
        eager=(".spx",),
        options={
            "hypermap_dtype": "numpy dtype of the BCF hypermap counts (default: the smallest that holds "
            "the file's largest count)",
            "binning": "sum this many neighbouring pixels along x and y of a BCF hypermap (default 1)",
        },
    ),
    _vendor("nion", "Nion Swift NDATA / HDF5", (".ndata", ".h5"), "NionBackendEntrypoint"),
    _vendor("hspy", "HyperSpy HSPY / HDF5", (".hspy", ".hdf5", ".h5"), "HSPYBackendEntrypoint"),
    _vendor(
        "msa",
        "EMSA/MSA spectra",
        (".msa", ".ems", ".txt"),
        "MSABackendEntrypoint",
        lazy=False,
        corpus=("msa", "../vendor-gaps/msa"),
    ),
    _vendor("igor_ibw", "Igor Pro binary wave (Asylum Research)", (".ibw",), "IgorIBWBackendEntrypoint"),
    _vendor(
        "nanonis",
        "Nanonis SXM / DAT / 3DS",
        (".sxm", ".dat", ".3ds"),
        "NanonisBackendEntrypoint",
        eager=(".dat",),
        options={
            "read_together": "3DS grids: which other channels a whole-channel read fills in the same pass and "
            "keeps until read once or closed (default None: those not read yet, up to 1 GiB; True: all; "
            "False: none)",
        },
    ),
    _vendor(
        "bruker_afm",
        "Bruker / Veeco Nanoscope SPM",
        (".spm", ".001", ".002", ".003", ".004", ".005", ".006", ".007", ".008", ".009"),
        "BrukerAFMBackendEntrypoint",
    ),
    _vendor("gwyddion", "Gwyddion GWY / GSF", (".gwy", ".gsf"), "GwyddionBackendEntrypoint"),
    _vendor("ntmdt_mdt", "NT-MDT MDT", (".mdt",), "NTMDTBackendEntrypoint"),
    _vendor(
        "wsxm",
        "WSxM images and curves (Nanotec)",
        (".top", ".curves", ".adh", ".ch1", ".ch2", ".ch3", ".cur", ".iv", ".stp", ".gsi"),
        "WSxMBackendEntrypoint",
    ),
    _vendor("digitalsurf", "Digital Surf SUR / PRO", (".sur", ".pro"), "DigitalSurfBackendEntrypoint"),
    _vendor(
        "anasys_axz", "Anasys / Bruker nanoIR AXZ", (".axz", ".axd"), "AnasysAXZBackendEntrypoint", lazy=False
    ),
    _vendor("blockfile", "TVIPS / NanoMegas blockfile", (".blo",), "BlockfileBackendEntrypoint"),
    _vendor("renishaw", "Renishaw WiRE WDF (Raman)", (".wdf",), "RenishawBackendEntrypoint"),
    _vendor(
        "tiff",
        "TIFF (FEI, Zeiss, JEOL, TVIPS, Olympus, Hamamatsu, ImageJ, DM)",
        (".tif", ".tiff"),
        "TIFFBackendEntrypoint",
        options={
            "strict": "raise a FormatError for a stack holding fewer pages than its ImageJ, OME or series "
            "shape metadata announce (default False: read the pages found, with a UserWarning)",
        },
    ),
)

_BY_NAME = MappingProxyType({f.name: f for f in FORMATS})


def by_name(name: str) -> Format:
    """The format called `name`.

    Raises
    ------
    ArgumentError
        If no format has that name; the message lists the names.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        from pycrox.errors import ArgumentError

        raise ArgumentError(f"unknown format {name!r}; pycrox knows {', '.join(_BY_NAME)}") from None


def names(kind: Kind | None = None) -> list[str]:
    """Format names in detection order, optionally of one kind only."""
    return [f.name for f in FORMATS if kind is None or f.kind == kind]


def reader(name: str) -> ModuleType:
    """The reader module of format `name` (imported now, not before)."""
    return importlib.import_module(by_name(name).reader_module)


def check_options(name: str, options: Mapping[str, object]) -> None:
    """Refuse reader options that format `name` does not take.

    Raises
    ------
    TypeError
        Naming the unknown options and the format's valid ones.
    """
    valid = by_name(name).options
    unknown = sorted(set(options) - set(valid))
    if unknown:
        takes = ", ".join(sorted(valid)) if valid else "no reader options"
        raise TypeError(
            f"format {name!r} got unknown reader option(s) {', '.join(unknown)}; it takes {takes}"
        )


def entry_points() -> dict[str, str]:
    """``{engine: "module:Class"}`` for every format with an xarray engine (as in pyproject.toml)."""
    return {f.engine: f.entry_point for f in FORMATS if f.backend}


def _capabilities(f: Format) -> Iterator[str]:
    yield "read"
    for flag in ("write", "lazy", "remote"):
        if getattr(f, flag):
            yield flag


def docs_table() -> str:
    """The table of formats as Markdown (the README and the docs include it)."""
    rows = ["| format | engine | extensions | can | reader options |", "|---|---|---|---|---|"]
    for f in FORMATS:
        options = ", ".join(f"`{o}`" for o in f.options) or "—"
        rows.append(
            f"| {f.title} | `{f.engine or f.name}` | {' '.join(f.extensions)} | "
            f"{', '.join(_capabilities(f))} | {options} |"
        )
    return "\n".join(rows)
