"""Pictures render headless (Agg); every figure a test makes is closed after it.

``counting_s3``: a moto S3 server whose GETs (path and byte range) are recorded, for the tests
that check a picture reads only the stored chunks it needs.
"""

import os
import threading

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    from matplotlib import pyplot

    yield
    pyplot.close("all")


class _CountingApp:
    """A WSGI wrapper that records the path (`paths`) and the Range header (`ranges`) of every GET."""

    def __init__(self, app):
        self.app, self.lock, self.paths, self.ranges = app, threading.Lock(), [], []

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "GET":
            with self.lock:
                self.paths.append(environ.get("PATH_INFO", ""))
                self.ranges.append((environ.get("PATH_INFO", ""), environ.get("HTTP_RANGE")))
        return self.app(environ, start_response)

    def clear(self):
        with self.lock:
            self.paths.clear()
            self.ranges.clear()


@pytest.fixture(scope="module")
def counting_s3():
    """A moto S3 server on a free loopback port whose GETs are counted: ``(storage_options, app)``."""
    pytest.importorskip("s3fs")
    moto_server = pytest.importorskip("moto.server")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(
        AWS_ACCESS_KEY_ID="pycrox-test", AWS_SECRET_ACCESS_KEY="pycrox-test", AWS_DEFAULT_REGION="us-east-1"
    )
    app = _CountingApp(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    assert moto_server  # the import above is what makes the backends available
    yield {"client_kwargs": {"endpoint_url": f"http://127.0.0.1:{server.server_port}"}}, app
    server.shutdown()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
