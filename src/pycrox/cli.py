"""The ``pycrox`` command line: ``demo``, ``info``, ``convert``, ``formats``, ``preview``, ``view``. A thin door onto `pycrox.io`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from pycrox import __version__
from pycrox.errors import PycroxError

__all__ = ["main"]

WRITERS = {"zarr": "to_zarr", "netcdf": "to_netcdf", "nsid": "to_nsid", "usid": "to_usid"}
_SUFFIXES = {".zarr": "zarr", ".nc": "netcdf", ".h5": "nsid", ".hdf5": "nsid", ".hf5": "nsid"}


def output_format(path: str, to: str | None) -> str:
    """The format `convert` writes: `to` if given, else from the extension of `path`.

    Raises
    ------
    SystemExit
        Through argparse when the extension is unknown and `to` is not given.
    """
    if to:
        return to
    lower = path.rstrip("/").lower()
    for suffix, name in _SUFFIXES.items():
        if lower.endswith(suffix):
            return name
    raise PycroxError(
        f"{path}: cannot tell the output format from the extension; pass --to {{{','.join(WRITERS)}}}"
    )


def _cmd_info(args: argparse.Namespace) -> int:
    from pycrox import io
    from pycrox.info import describe

    tree = io.open_tree(args.path, engine=args.engine)
    print(describe(tree, title=f"{args.path} ({args.engine or io.detect_format(args.path)})"))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from pycrox import io
    from pycrox.progress import progress

    fmt = output_format(args.dst, args.to)
    obj = (
        io.open(args.src, args.group, engine=args.engine, chunks={})
        if args.group
        else io.open_tree(args.src, engine=args.engine, chunks={})
    )
    writer = getattr(io, WRITERS[fmt])
    with progress(enabled=not args.quiet, description=f"writing {args.dst}"):
        writer(obj, args.dst, mode="w" if args.overwrite else "w-")
    print(f"wrote {args.dst} ({fmt}) from {args.src}")
    return 0


def _cmd_formats(args: argparse.Namespace) -> int:
    from pycrox import formats

    if args.markdown:
        print(formats.docs_table())
        return 0
    for entry in formats.FORMATS:
        print(f"{entry.name:<12} {entry.title}  [{' '.join(entry.extensions)}]")
        for option, doc in entry.options.items():
            print(f"{'':<14}{option}: {doc}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pycrox.demo import run

    print(run(args.out, size=args.size))
    return 0


def _cmd_preview(args: argparse.Namespace) -> int:
    try:
        from pycrox.viz import preview
    except ModuleNotFoundError as exc:
        raise PycroxError(f"preview needs {exc.name}; install it with: pip install 'pycrox[plot]'") from exc
    print(f"wrote {preview(args.source, args.output, engine=args.engine)} from {args.source}")
    return 0


def _cmd_view(args: argparse.Namespace) -> int:
    try:
        from pycrox.viz.web import serve
    except ModuleNotFoundError as exc:
        raise PycroxError(f"view needs {exc.name}; install it with: pip install 'pycrox[view]'") from exc
    serve(args.source, browser=not args.no_browser, engine=args.engine)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``pycrox`` command."""
    parser = argparse.ArgumentParser(prog="pycrox", description="Microscopy and spectroscopy data on xarray.")
    parser.add_argument("--version", action="version", version=f"pycrox {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="make a synthetic EELS spectrum image, write, read back, analyse")
    demo.add_argument(
        "--out", default="demo-output", help="folder for the files written (default: demo-output)"
    )
    demo.add_argument("--size", type=int, default=64, help="scan size in pixels per side (default: 64)")
    demo.set_defaults(func=_cmd_demo)

    info = sub.add_parser("info", help="show what a file holds: dims, shapes, dtypes, units, key metadata")
    info.add_argument("path")
    info.add_argument("--engine", help="format name; detected from content when omitted")
    info.set_defaults(func=_cmd_info)

    convert = sub.add_parser("convert", help="convert between formats (output format from the extension)")
    convert.add_argument("src")
    convert.add_argument("dst", help=".zarr, .nc, .h5/.hdf5/.hf5 (NSID unless --to usid)")
    convert.add_argument("--to", choices=sorted(WRITERS), help="output format, overriding the extension")
    convert.add_argument("--engine", help="input format name; detected from content when omitted")
    convert.add_argument("--group", help="convert only this signal (node path)")
    convert.add_argument("--overwrite", action="store_true", help="replace an existing output")
    convert.add_argument("--quiet", action="store_true", help="no progress bar")
    convert.set_defaults(func=_cmd_convert)

    listing = sub.add_parser(
        "formats", help="list the formats pycrox reads, in detection order, with their options"
    )
    listing.add_argument("--markdown", action="store_true", help="print the table of formats as Markdown")
    listing.set_defaults(func=_cmd_formats)

    preview = sub.add_parser("preview", help="a contact sheet (PNG) of every signal in a file or URL")
    preview.add_argument("source", help="a file or URL that pycrox reads")
    preview.add_argument("-o", "--output", default="preview.png", help="PNG to write (default: preview.png)")
    preview.add_argument("--engine", help="format name; detected from content when omitted")
    preview.set_defaults(func=_cmd_preview)

    view = sub.add_parser("view", help="look at a file or URL in a web browser (served on 127.0.0.1)")
    view.add_argument("source", help="a file or URL that pycrox reads (s3:// and Zarr are read lazily)")
    view.add_argument("--no-browser", action="store_true", help="only print the page's URL (first line)")
    view.add_argument("--engine", help="format name; detected from content when omitted")
    view.set_defaults(func=_cmd_view)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``pycrox`` command; returns the exit status (errors print one line, status 1)."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (PycroxError, OSError) as exc:
        print(f"pycrox {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if os.environ.get("PYCROX_DEBUG"):
            raise
        print(
            f"pycrox {args.command}: error: {type(exc).__name__}: {exc} (set PYCROX_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
