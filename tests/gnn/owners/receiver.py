"""A real HTTP webhook receiver on 127.0.0.1 for alert tests: answers with scripted statuses, keeps what it got."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    statuses: list[int]  # answers in order; once spent, 200
    requests: list[tuple[dict[str, str], bytes, int]] = field(default_factory=list)  # headers, body, status sent


@contextmanager
def receiver(*statuses: int) -> Iterator[tuple[str, Received]]:
    """Yields (url, received); the server stops on exit."""
    got = Received(list(statuses))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                status = got.statuses.pop(0) if got.statuses else 200
                got.requests.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/dealgraph", got
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
