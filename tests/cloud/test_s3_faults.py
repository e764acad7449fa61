"""Faults against a real S3-protocol server: wrong credentials, a server that goes away."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

import pycrox

pytestmark = pytest.mark.s3


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def auth_server():
    """A moto server that checks credentials (INITIAL_NO_AUTH_ACTION_COUNT=0), in its own process."""
    port = _free_port()
    env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="0")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def test_wrong_credentials_give_a_clear_error_naming_the_url(auth_server):
    options = {"key": "wrong", "secret": "wrong", "client_kwargs": {"endpoint_url": auth_server}}
    with pytest.raises(pycrox.NotFoundError, match=r"s3://bucket/scan\.zarr: cannot be reached") as info:
        pycrox.open("s3://bucket/scan.zarr", storage_options=options)
    assert (
        "InvalidAccessKeyId" in str(info.value)
        or "Forbidden" in str(info.value)
        or "denied" in str(info.value)
    )


def test_server_going_away_mid_read_raises_and_names_the_url(s3_server):
    import botocore.exceptions
    import moto.server

    server = moto.server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    local = {
        "client_kwargs": {"endpoint_url": f"http://{host}:{port}"},
        "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1, "read_timeout": 1},
    }
    import s3fs

    fs = s3fs.S3FileSystem(**local)
    fs.mkdir("vanish")
    da = pycrox.from_array(np.zeros((4, 16, 16), dtype="float32"), dims=("frame", "y", "x"), name="v")
    pycrox.to_zarr(da, "s3://vanish/v.zarr", storage_options=local, chunks={"frame": 1})
    opened = pycrox.open("s3://vanish/v.zarr", storage_options=local, chunks={})
    server.stop()
    with pytest.raises(botocore.exceptions.EndpointConnectionError, match=r"/vanish/v\.zarr/v/c/"):
        opened.values  # noqa: B018
