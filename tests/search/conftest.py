"""Fixtures for the web app: a real uvicorn server on a free loopback port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def running_server(index_dir: Path, cluster: object = None) -> Iterator[str]:
    """Serve ``index_dir`` with uvicorn in a thread (a sharded one on the
    Dask cluster ``cluster`` if given: an address or a client); yields the base URL."""
    import uvicorn

    from zhsearch.web import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(index_dir, cluster=cluster), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server() -> Iterator[Callable[[Path], str]]:
    """``live_server(index_dir) -> base URL``; stopped after the test."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        yield lambda index_dir, cluster=None: stack.enter_context(running_server(index_dir, cluster))


@pytest.fixture(scope="module")
def sample_server(sample_index: Path) -> Iterator[str]:
    """The sample index served for a whole test module."""
    with running_server(sample_index) as url:
        yield url
