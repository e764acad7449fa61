"""Shared fixtures: the real-file corpus beside the repo (skips when absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()
SHARED_TOOLS = (REPO.parent / "shared" / "tools").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The corpus of real files (``../shared/data``); skips the test when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real-file corpus not found at {SHARED_DATA} (a fresh clone has no ../shared)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def shared_tools() -> Path:
    """The checker scripts (``../shared/tools``); skips when absent."""
    if not SHARED_TOOLS.is_dir():
        pytest.skip(f"checker tools not found at {SHARED_TOOLS}")
    return SHARED_TOOLS


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-protocol server (moto) on a free loopback port; yields its endpoint URL.

    Throwaway credentials are set in the environment for the session; tests pass
    ``storage_options={"client_kwargs": {"endpoint_url": url}}`` as a user would.
    """
    import os

    moto_server = pytest.importorskip("moto.server")
    old = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(
        AWS_ACCESS_KEY_ID="pycrox-test", AWS_SECRET_ACCESS_KEY="pycrox-test", AWS_DEFAULT_REGION="us-east-1"
    )
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    for key, value in old.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def s3_bucket(s3_server, request):
    """A fresh bucket on the loopback S3 server: ``(url_prefix, storage_options, s3fs filesystem)``."""
    import uuid

    s3fs = pytest.importorskip("s3fs")
    options = {"client_kwargs": {"endpoint_url": s3_server}}
    fs = s3fs.S3FileSystem(**options)
    bucket = f"pycrox-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    fs.invalidate_cache()
    return f"s3://{bucket}", options, fs
