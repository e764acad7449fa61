"""URLs keep their secrets: user info and signed query strings are never stored in what pycrox writes."""

import http.server
import threading
from functools import partial

import numpy as np
import pytest

import pycrox
from pycrox.sources import redact

SECRETS = ("hunter2", "SIG0123456789SECRET", "alice")


@pytest.fixture
def http_url(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    pycrox.to_nsid(
        pycrox.from_array(np.arange(12.0).reshape(3, 4), dims=("y", "x"), name="image"), folder / "scan.h5"
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://alice:hunter2@127.0.0.1:{server.server_port}/scan.h5?X-Amz-Signature=SIG0123456789SECRET"
    server.shutdown()
    server.server_close()


def test_redact_strips_user_info_query_and_fragment():
    assert redact("s3://key:secret@bucket/a/b.zarr?token=1#frag") == "s3://bucket/a/b.zarr"
    assert redact("/local/path/file.dm3") == "/local/path/file.dm3"


WRITERS = {
    "nsid.h5": pycrox.to_nsid,
    "usid.h5": pycrox.to_usid,
    "nc": pycrox.to_netcdf,
    "zarr": pycrox.to_zarr,
}


@pytest.mark.parametrize("suffix", WRITERS)
def test_a_planted_secret_reaches_no_written_file(suffix, http_url, tmp_path):
    signal = pycrox.open(http_url, engine="nsid").load()
    assert all(secret not in repr(signal.attrs) for secret in SECRETS)
    target = tmp_path / f"out.{suffix}"
    WRITERS[suffix](signal, target)
    files = [target] if target.is_file() else [p for p in target.rglob("*") if p.is_file()]
    for path in files:
        data = path.read_bytes()
        assert not [s for s in SECRETS if s.encode() in data], path


def test_errors_do_not_show_the_secret(http_url):
    missing = http_url.replace("scan.h5", "missing.h5")
    with pytest.raises(pycrox.NotFoundError) as info:
        pycrox.open(missing)
    assert all(secret not in str(info.value) for secret in SECRETS)


def test_a_fifo_is_refused_not_waited_on(tmp_path):
    import os

    fifo = tmp_path / "pipe.dm3"
    os.mkfifo(fifo)
    with pytest.raises(pycrox.FormatError, match="neither a regular file nor a directory"):
        pycrox.open(fifo)
