"""``pycrox view``: a loopback web server showing a file's signals to a small vanilla-JS page.

Standard library only (`http.server`); pictures are PNGs from a tiny zlib encoder, spectra are JSON.
Every request reads only the part of the (lazily opened) signal it shows.
"""

from __future__ import annotations

import json
import threading
import webbrowser
from collections.abc import Hashable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np
import xarray as xr

from pycrox.errors import PycroxError
from pycrox.viz._labels import label
from pycrox.viz._roles import Roles, TileCache, channel_window, chunks_touched, pixel_size, roles, types_of
from pycrox.viz._scalebar import nice_length
from pycrox.viz.web._png import encode, to_grey

__all__ = ["Viewer", "serve", "start"]

_STATIC = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}


def _jsonable(value: Any, depth: int = 0) -> Any:
    """Metadata made JSON-safe and short (numbers, strings, lists and dicts; arrays summarised)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:200]} if depth < 6 else "…"
    if isinstance(value, np.ndarray):
        value = value.tolist() if value.size <= 16 else f"array {value.shape} {value.dtype}"
    if isinstance(value, list | tuple):
        return [_jsonable(v, depth + 1) for v in value[:32]]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value if not isinstance(value, str) or len(value) <= 2000 else value[:2000] + "…"
    return str(value)[:2000]


class Viewer:
    """The signals of one opened file and what reading pictures of them has cost.

    Parameters
    ----------
    signals : dict
        ``{node path: DataArray}`` as opened (lazily).
    name : str
        The file or URL, for the page title.
    """

    def __init__(self, signals: dict[str, xr.DataArray], name: str = "") -> None:
        self.signals = {path: da.squeeze(drop=False) for path, da in signals.items()}
        self.roles: dict[str, Roles] = {path: roles(da) for path, da in self.signals.items()}
        self.name = name
        self._lock = threading.Lock()
        self.chunks_read = 0
        self.bytes_read = 0
        self._tile_caches: dict[str, TileCache] = {}

    @classmethod
    def open(cls, source: Any, **open_kwargs: Any) -> Viewer:
        """Open every signal of a file or URL lazily (``open_kwargs`` go to `pycrox.open_tree`)."""
        from pycrox import io
        from pycrox.viz.preview import _signals

        tree = io.open_tree(source, **open_kwargs)
        return cls(_signals(tree), name=str(source))

    # -- reading ---------------------------------------------------------------------------------
    def _read(self, da: xr.DataArray, selection: dict[Hashable, Any]) -> np.ndarray:
        chunks, nbytes = chunks_touched(da, selection)
        values = np.asarray(da.isel(selection).values)
        with self._lock:
            self.chunks_read += chunks
            self.bytes_read += nbytes
        return values.astype(np.uint8) if values.dtype == bool else values

    def signal(self, path: str) -> tuple[xr.DataArray, Roles]:
        """The signal at `path` and its roles; `PycroxError` when there is none."""
        if path not in self.signals:
            raise PycroxError(f"view: no signal {path!r}; the file has {sorted(self.signals)}")
        return self.signals[path], self.roles[path]

    def _tiles(self, path: str) -> TileCache:
        with self._lock:
            if path not in self._tile_caches:
                self._tile_caches[path] = TileCache(self.signals[path], self.roles[path].navigation)
            return self._tile_caches[path]

    def tree(self) -> dict[str, Any]:
        """The file's signals: path, kind, dims (size, units, type), value label, metadata, scale bar."""
        entries = []
        for path, da in self.signals.items():
            role = self.roles[path]
            types = types_of(da)
            dims = []
            for dim in da.dims:
                units = da[dim].attrs.get("units", "") if dim in da.coords else ""
                dims.append(
                    {"name": str(dim), "size": int(da.sizes[dim]), "units": str(units), "type": types[dim]}
                )
            entry: dict[str, Any] = {
                "path": path,
                "kind": role.kind,
                "dims": dims,
                "dtype": str(da.dtype),
                "label": label(da),
                "attrs": _jsonable(dict(da.attrs)),
                "navigation": [str(d) for d in role.navigation],
                "signal": [str(d) for d in role.signal],
            }
            if role.navigation:
                entry["scale_bar"] = self._scale_bar(da, role.navigation[1])
            if role.kind == "spectrum_image":
                entry["window"] = list(channel_window(da.sizes[role.signal[0]]))
            entries.append(entry)
        return {"name": self.name, "signals": entries}

    @staticmethod
    def _scale_bar(da: xr.DataArray, columns: Hashable) -> dict[str, Any] | None:
        step, units = pixel_size(da, columns)
        if step == 0.0:
            return None
        length = nice_length(step * da.sizes[columns])
        return {"length": length, "units": units, "pixels": length / step, "of": int(da.sizes[columns])}

    def picture(self, path: str, query: dict[str, str]) -> tuple[np.ndarray, str]:
        """The 2-D values of the picture `query` asks for, and what it is."""
        da, role = self.signal(path)
        rows, columns = role.navigation if len(role.navigation) == 2 else (None, None)
        if role.kind == "image":
            values, what = self._read(da, {}), "image"
        elif role.kind == "stack":
            frame = role.signal[0]
            k = min(max(int(query.get("frame", 0)), 0), da.sizes[frame] - 1)
            values, what = self._read(da, {frame: k}), f"{frame} {k}"
            da = da.isel({frame: k})
        elif role.kind == "spectrum_image":
            channel = role.signal[0]
            lo, hi = channel_window(da.sizes[channel], _int(query, "start"), _int(query, "stop"))
            values = self._read(da, {channel: slice(lo, hi)}).sum(axis=da.dims.index(channel))
            da, what = da.isel({channel: 0}), f"Σ {channel} [{lo}, {hi})"
        elif role.kind == "4d" and "i" in query:
            i, j = self._position(da, role, query)
            values = self._read(da, {rows: i, columns: j})
            da = da.isel({rows: i, columns: j})
            rows, columns = role.signal
            what = f"pattern at {rows}={i}, {columns}={j}"
        elif role.kind == "4d":
            values = self._read(da, {}).sum(axis=tuple(da.dims.index(d) for d in role.signal))
            da, what = da.isel(dict.fromkeys(role.signal, 0)), "Σ pattern"
        else:
            raise PycroxError(f"view: {path!r} ({role.kind}, dims {dict(da.sizes)}) has no picture")
        order = [list(da.dims).index(rows), list(da.dims).index(columns)]
        return np.transpose(values, order), what

    @staticmethod
    def _position(da: xr.DataArray, role: Roles, query: dict[str, str]) -> tuple[int, int]:
        rows, columns = role.navigation
        i, j = int(query["i"]), int(query["j"])
        if not (0 <= i < da.sizes[rows] and 0 <= j < da.sizes[columns]):
            raise PycroxError(f"view: pixel ({i}, {j}) is outside {da.sizes[rows]} × {da.sizes[columns]}")
        return i, j

    def spectrum(self, path: str, query: dict[str, str]) -> dict[str, Any]:
        """The spectrum at pixel (``i``, ``j``) of a spectrum image, or a 1-D signal whole, as JSON."""
        da, role = self.signal(path)
        if role.kind == "spectrum_image":
            i, j = self._position(da, role, query)
            rows, columns = role.navigation
            values, chunks, nbytes = self._tiles(path).read(i, j)
            with self._lock:
                self.chunks_read += chunks
                self.bytes_read += nbytes
            line = da.isel({rows: i, columns: j})
            where: dict[str, Any] = {"i": i, "j": j}
        elif role.kind == "line":
            values, line, where = self._read(da, {}), da, {}
        else:
            raise PycroxError(f"view: {path!r} is a {role.kind}, not a spectrum image or a line")
        dim = line.dims[0]
        x = line[dim].values if dim in line.coords else np.arange(line.sizes[dim])
        return {
            **where,
            "x": _finite(x),
            "y": _finite(values),
            "xlabel": label(line[dim]) if dim in line.coords else str(dim),
            "ylabel": label(da),
        }

    def read(self) -> dict[str, int]:
        """Stored chunks and uncompressed bytes read so far."""
        with self._lock:
            return {"chunks": self.chunks_read, "bytes": self.bytes_read}


def _finite(values: Any) -> list[float | None]:
    """Numbers for JSON: NaN and infinities become null."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).ravel()]


def _int(query: dict[str, str], key: str) -> int | None:
    return int(query[key]) if query.get(key, "") != "" else None


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def _send(self, body: bytes, kind: str, status: int = HTTPStatus.OK, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in headers.items():
            self.send_header(key.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj: Any, status: int = HTTPStatus.OK) -> None:
        self._send(json.dumps(obj).encode(), "application/json", status)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        viewer = self.server.viewer
        try:
            if url.path in ("/", "/index.html"):
                self._static("index.html")
            elif url.path.startswith("/static/"):
                self._static(url.path.removeprefix("/static/"))
            elif url.path == "/api/tree":
                self._json(viewer.tree())
            elif url.path == "/api/read":
                self._json(viewer.read())
            elif url.path == "/api/image":
                values, what = viewer.picture(query.get("signal", ""), query)
                grey, vmin, vmax = to_grey(values)
                self._send(
                    encode(grey),
                    "image/png",
                    X_Value_Min=repr(vmin),
                    X_Value_Max=repr(vmax),
                    X_Picture=quote(what),
                )
            elif url.path == "/api/spectrum":
                self._json(viewer.spectrum(query.get("signal", ""), query))
            else:
                self._json({"error": f"no such page: {url.path}"}, HTTPStatus.NOT_FOUND)
        except (PycroxError, ValueError, KeyError) as exc:
            self._json({"error": str(exc)}, HTTPStatus.BAD_REQUEST)

    def _static(self, name: str) -> None:
        if name not in _STATIC:
            self._json({"error": f"no such file: {name}"}, HTTPStatus.NOT_FOUND)
            return
        body = resources.files("pycrox.viz.web").joinpath("static", name).read_bytes()
        self._send(body, _STATIC[name] + "; charset=utf-8")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, viewer: Viewer, verbose: bool = False) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.viewer = viewer
        self.verbose = verbose

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


def start(source: Any, **open_kwargs: Any) -> _Server:
    """Open `source` and serve it on a free loopback port, in a background thread.

    Parameters
    ----------
    source : str, path or URL
        Anything `pycrox.open_tree` reads; a `Viewer` is served as it is.
    **open_kwargs
        Passed to `pycrox.open_tree` (``engine``, ``storage_options``...).

    Returns
    -------
    http.server.ThreadingHTTPServer
        The running server: its ``url`` is the page, ``viewer`` the signals, ``shutdown()`` stops it.
    """
    viewer = source if isinstance(source, Viewer) else Viewer.open(source, **open_kwargs)
    server = _Server(viewer)
    threading.Thread(target=server.serve_forever, name="pycrox-view", daemon=True).start()
    return server


def serve(source: Any, *, browser: bool = True, verbose: bool = False, **open_kwargs: Any) -> None:
    """Serve `source` on a free loopback port until interrupted; print the page's URL first.

    Parameters
    ----------
    source : str, path or URL
        Anything `pycrox.open_tree` reads.
    browser : bool, optional
        Open the page in the user's web browser (`webbrowser`); otherwise only print its URL.
    verbose : bool, optional
        Log every request to stderr.
    **open_kwargs
        Passed to `pycrox.open_tree`.
    """
    viewer = Viewer.open(source, **open_kwargs)
    server = _Server(viewer, verbose=verbose)
    print(server.url, flush=True)
    print(f"serving {len(viewer.signals)} signals of {Path(str(source)).name}; Ctrl-C stops", flush=True)
    if browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
