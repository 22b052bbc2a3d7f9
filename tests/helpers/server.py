"""Run an ASGI app under a real uvicorn server on 127.0.0.1 for a test, or `dealgraph serve` itself.

Example:
    >>> with serve(create_app(store, home)) as base_url:
    ...     httpx.get(f"{base_url}/healthz")
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


@contextmanager
def serve(app: Any, *, ready_path: str | None = "/healthz", timeout: float = 15.0) -> Iterator[str]:
    """Serve `app` in a background thread; yields its base URL and stops it on exit.

    Args:
        app: any ASGI app.
        ready_path: wait until GET of this path answers (any status); None waits for startup only.
        timeout: seconds to wait for the server to come up.
    """
    # Bind port 0 here and hand uvicorn the socket: no window in which another process takes the port.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(app, log_level="warning", lifespan="auto", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    try:
        _wait_until_ready(server, thread, base_url, ready_path, timeout)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)
        sock.close()


def _wait_until_ready(
    server: uvicorn.Server, thread: threading.Thread, base_url: str, ready_path: str | None, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"uvicorn at {base_url} exited during startup")
        if time.monotonic() > deadline:
            raise TimeoutError(f"uvicorn at {base_url} did not start within {timeout}s")
        time.sleep(0.02)
    if ready_path is None:
        return
    while True:
        try:
            httpx.get(base_url + ready_path, timeout=2.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{base_url}{ready_path} did not answer within {timeout}s") from None
            time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_command(cwd: Path, env: dict[str, str], timeout: float = 90.0) -> Iterator[tuple[str, subprocess.Popen]]:
    """`dealgraph serve` in its own process on a free port, until `/healthz` answers 200; yields its base URL and
    the process (its output, stdout and stderr together, is readable after the block), and stops it on exit."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port)], cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else "server exited"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        yield base_url, process
    finally:
        process.terminate()
        process.wait(timeout=30)
