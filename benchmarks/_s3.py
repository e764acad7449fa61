"""A loopback S3 server (moto) that counts requests and response bytes, for the cloud benchmark."""

from __future__ import annotations

import collections
import os
import threading
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server


class Counter:
    """Requests by method and body bytes sent, since the last `reset`."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.requests: collections.Counter = collections.Counter()
            self.bytes_out = 0
            self.in_flight = 0
            self.max_in_flight = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": sum(self.requests.values()),
                "by_method": dict(self.requests),
                "bytes": self.bytes_out,
                "max_concurrent": self.max_in_flight,
            }


class _Counting:
    def __init__(self, app: Any, counter: Counter) -> None:
        self.app, self.counter = app, counter

    def __call__(self, environ: dict, start_response: Any) -> Any:
        c = self.counter
        with c.lock:
            c.requests[environ["REQUEST_METHOD"]] += 1
            c.in_flight += 1
            c.max_in_flight = max(c.max_in_flight, c.in_flight)
        try:
            body = list(self.app(environ, start_response))
        finally:
            with c.lock:
                c.in_flight -= 1
        with c.lock:
            c.bytes_out += sum(len(b) for b in body)
        return body


class CountingMotoServer(ThreadedMotoServer):
    """`ThreadedMotoServer` whose every request passes through a `Counter`."""

    def __init__(self) -> None:
        super().__init__(ip_address="127.0.0.1", port=0, verbose=False)
        self.counter = Counter()

    def _server_entry(self) -> None:
        app = _Counting(DomainDispatcherApplication(create_backend_app), self.counter)
        self._server = make_server(self._ip_address, self._port, app, True)
        self._server_ready_event.set()
        self._server.serve_forever()

    def url(self) -> str:
        host, port = self.get_host_and_port()
        return f"http://{host}:{port}"


def start() -> tuple[CountingMotoServer, dict]:
    """Start a counting server; returns it and the storage_options to reach it."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    server = CountingMotoServer()
    server.start()
    return server, {"client_kwargs": {"endpoint_url": server.url()}}
