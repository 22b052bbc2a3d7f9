"""uvicorn's httptools protocol with a bound on each request's head (request line and headers).

httptools reads a header whole before uvicorn sees it, and joins its pieces as they
arrive: a 64 MB `Authorization` header took ~12 s of CPU and 64 MB of memory to
parse here, before any code of ours could refuse it. `BoundedHttpTools` (what
`dealgraph serve` runs, `api.server`) feeds the parser at most `head_limit()` bytes
of a request's head and answers anything longer with a GraphQL-shaped 431, closing
the connection. The app's own check (`api.request_guard`, `DEALGRAPH_MAX_HEADER_BYTES`)
still gives the exact figure for heads under this bound, under any server.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from api.request_guard import error_body

#: Room for the request line on top of the header limit (a GET's query string; httptools refuses ~64 KB URLs).
URL_ALLOWANCE = 65536
_limit: int | None = None


def head_limit() -> int:
    """Bytes of a request head this process reads: DEALGRAPH_MAX_HEADER_BYTES plus `URL_ALLOWANCE`. Read once per
    process, since worker processes get their settings from the environment."""
    global _limit
    if _limit is None:
        from api.settings import Settings

        _limit = Settings().max_header_bytes + URL_ALLOWANCE
    return _limit


class BoundedHttpTools(HttpToolsProtocol):
    """`HttpToolsProtocol` that stops reading a request head over `head_limit()` bytes and answers 431."""

    _head_bytes = 0
    _in_head = True

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes, self._in_head = 0, True

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes, self._in_head = 0, True  # what arrives next on this connection is the next request's head

    def data_received(self, data: bytes) -> None:
        # Feed the head no further than the limit; the rest (a body, a pipelined request) goes on as usual.
        while data and self._in_head and not self.transport.is_closing():
            room = head_limit() - self._head_bytes
            if room <= 0:
                self._refuse()
                return
            piece, data = data[:room], data[room:]
            self._head_bytes += len(piece)
            super().data_received(piece)
        if data and not self.transport.is_closing():
            super().data_received(data)

    def _refuse(self) -> None:
        self.logger.warning("request head over %d bytes refused", head_limit())
        body = error_body(f"request line and headers over {head_limit()} bytes: send a smaller Authorization "
                          "header (an API key is 61 characters, a JWT a few KB) or a shorter URL", "HEADERS_TOO_LARGE")
        headers = f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
        self.transport.write(STATUS_LINE[431] + headers.encode() + body)
        self.transport.close()
