"""`dealgraph serve`'s HTTP protocol bounds a request's head before parsing it (`api/http_protocol.py`, issue 15):
a 64 MB Authorization header took httptools ~12 s of CPU to parse before the app could refuse it."""

from __future__ import annotations

import json
import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.http_protocol import URL_ALLOWANCE
from graph import open_store, sqlite_url
from tests.helpers.server import serve_command

REPO = Path(__file__).resolve().parents[2]
HEADER_LIMIT = 16384  # the default DEALGRAPH_MAX_HEADER_BYTES


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("protocol")
    open_store(sqlite_url(root / "graph.db")).close()
    env = {**os.environ, "PYTHONPATH": str(REPO), "DEALGRAPH_STORE": sqlite_url(root / "graph.db"),
           "DEALGRAPH_HOME": str(root / "home"), "DEALGRAPH_WORKERS": "1"}
    env.pop("DEALGRAPH_MAX_HEADER_BYTES", None)
    with serve_command(root, env) as (base_url, _):
        yield base_url


def send_head(base_url: str, header_bytes: int) -> tuple[int, dict]:
    """POST with an Authorization header of `header_bytes`, sent 64 KB at a time until the server answers."""
    address = urlsplit(base_url)
    body = b'{"query": "{ viewer { role } }"}'
    head = (f"POST /graphql HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nAuthorization: Bearer dgk_").encode() + b"a" * header_bytes
    head += b"\r\n\r\n" + body
    with socket.create_connection((address.hostname, address.port), timeout=30) as sock:
        for start in range(0, len(head), 65536):
            if select.select([sock], [], [], 0)[0]:
                break  # answered before it read everything: what a bounded head looks like
            try:
                sock.sendall(head[start:start + 65536])
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and len(answer.split(b"\r\n\r\n", 1)[1]) >= _length(answer):
                break
    status = int(answer.split(b" ", 2)[1])
    return status, json.loads(answer.split(b"\r\n\r\n", 1)[1])


def _length(answer: bytes) -> int:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    return next(int(line.split(":")[1]) for line in head.split("\r\n") if line.startswith("content-length:"))


def test_a_64_mb_header_is_refused_before_it_is_read(served: str) -> None:
    status, body = send_head(served, 64_000_000)
    assert status == 431, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "HEADERS_TOO_LARGE"
    assert f"request line and headers over {HEADER_LIMIT + URL_ALLOWANCE} bytes" in error["message"]
    assert httpx.get(f"{served}/healthz").status_code == 200  # the server goes on serving


def test_a_head_under_the_bound_gets_the_apps_exact_answer(served: str) -> None:
    status, body = send_head(served, 40_000)  # over the app's limit, under the protocol's
    assert status == 431 and "request headers total" in body["errors"][0]["message"], body
    status, body = send_head(served, 1000)  # an ordinary (wrong) key: on to authentication
    assert status == 401 and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", body


def test_bodies_and_follow_up_requests_are_not_counted_as_head(served: str) -> None:
    big = {"query": "{ viewer { role } }", "variables": {"pad": "x" * 500_000}}
    with httpx.Client(base_url=served) as client:  # one keep-alive connection: several heads in a row
        for _ in range(3):
            response = client.post("/graphql", json=big, headers={"Authorization": "Bearer dgk_x"})
            assert response.status_code == 401, response.text
