"""Refuses malformed HTTP requests before any work is done on them, with a GraphQL-shaped error.

Strawberry authenticates a request (its context) before it reads the body, and lets
some malformed bodies through to code that then fails with a 500: a body that is not
UTF-8, JSON `null` or a string, arrays nested 2,000 deep, integers of 5,000 digits,
an object as `operationName` (unhashable in the response cache), a lone UTF-16
surrogate (`"\\ud800"`, which no database can encode). `RequestGuard` checks, in
this order and in microseconds, that

- the request's headers together are at most `max_header_bytes` (431) — every route;
- a request to `/graphql` uses GET or POST (405); a POST says `Content-Type:
  application/json` (415); a GET's query string is at most `max_body_bytes` (414);
- the JSON (the POST body, or a GET's `variables` and `extensions` parameters) is
  UTF-8, parses, nests at most `MAX_JSON_DEPTH` levels, holds no NaN or Infinity and
  no lone surrogate, and is one operation: an object whose `query` is a string,
  `operationName` a string or null, `variables` and `extensions` objects or null (400).

Each refusal reads `{"data": null, "errors": [{"message": …, "extensions": {"code": …}}]}`
and says what was wrong. Requests it lets through are passed on with their body replayed
(and `Content-Type` in its canonical case, which Strawberry's check needs), so Strawberry
sees only well-formed requests.

The header limit runs here, in the app, so it holds under any server; httptools (the
parser `serve` uses) has read the headers whole by then, so `serve` also bounds a head
before it is parsed (`api.http_protocol`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.datastructures import QueryParams

from api.request_info import RequestInfo
from graph.errors import DealgraphError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

#: Deepest JSON nesting accepted in a request: the schema's inputs nest 2 levels; Python's parser fails near 1,000.
MAX_JSON_DEPTH = 64
#: The members of a GraphQL-over-HTTP request and the JSON types each may have.
_MEMBERS: dict[str, tuple[type, ...]] = {
    "query": (str,), "operationName": (str, type(None)), "variables": (dict, type(None)),
    "extensions": (dict, type(None)),
}
_EXAMPLE = '{"query": "query($id: ID!) { deal(id: $id) { name } }", "variables": {"id": "…"}}'


class RequestError(DealgraphError):
    """A request refused before it reaches GraphQL: HTTP `status`, a message for the caller, an `extensions.code`."""

    def __init__(self, status: int, message: str, code: str = "BAD_REQUEST", headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def error_body(message: str, code: str) -> bytes:
    return json.dumps({"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}).encode()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(text: bytes | str, what: str) -> Any:
    """`text` parsed as strict JSON, or a `RequestError` naming `what` and the problem."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return json.loads(text, parse_constant=_no_constants)
    except UnicodeDecodeError as e:
        bad = f"byte 0x{e.object[e.start]:02x} at position {e.start}"
        raise RequestError(400, f"{what} is not valid UTF-8: {bad}") from None
    except RecursionError:
        raise RequestError(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:  # JSONDecodeError, NaN / Infinity, integers of more than 4,300 digits
        raise RequestError(400, f"{what} is not valid JSON: {str(e)[:200]}") from None


def check_json_values(value: Any, what: str) -> None:
    """Refuse JSON nested deeper than `MAX_JSON_DEPTH` and strings (keys included) that are not valid Unicode."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, what)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise RequestError(400, f"{what} nests deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            for key in item:
                _check_text(key, what)
            stack.extend((v, depth + 1) for v in item.values())
        else:
            stack.extend((v, depth + 1) for v in item)


def _check_text(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise RequestError(400, f"{what} holds a lone UTF-16 surrogate ({text[e.start]!r} at position {e.start}), "
                                "which is not a Unicode character: send text as UTF-8") from None


def json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    names = {bool: "a boolean", str: "a string", list: "an array", dict: "an object", int: "a number",
             float: "a number"}
    return names.get(type(value), type(value).__name__)


def check_operation(data: Any) -> None:
    """Refuse anything but one GraphQL request object (`query`, `operationName`, `variables`, `extensions`)."""
    if isinstance(data, list):
        raise RequestError(400, "batched requests (a JSON array) are not accepted: send one operation per request")
    if not isinstance(data, dict):
        raise RequestError(400, f"the request must be a JSON object like {_EXAMPLE}, not {json_type(data)}")
    if not data.get("query"):
        raise RequestError(400, f"the request has no `query`: send {_EXAMPLE}")
    for name, types in _MEMBERS.items():
        if not isinstance(data.get(name), types):
            wanted = " or ".join(json_type(t()) if t is not type(None) else "null" for t in types)
            raise RequestError(400, f"`{name}` must be {wanted}, not {json_type(data[name])}")
    check_json_values(data, "the request")


def check_graphql_request(scope: Scope, body: bytes, max_body_bytes: int) -> None:
    """The checks of a request to the GraphQL route that would execute (a GET without `query` is the IDE page)."""
    method = scope["method"]
    if method == "GET":
        if len(scope.get("query_string", b"")) > max_body_bytes:
            raise RequestError(414, f"query string over {max_body_bytes} bytes: send long queries by POST",
                               "URI_TOO_LONG")
        params = QueryParams(scope.get("query_string", b""))
        if "query" not in params:
            return
        data: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            if data.get(name):
                data[name] = parse_json(data[name], f"the `{name}` parameter")
        check_operation(data)
        return
    if method != "POST":
        raise RequestError(405, f"{method} is not a GraphQL method here: use POST (or GET for queries)",
                           "METHOD_NOT_ALLOWED", {"Allow": "GET, POST"})
    content_type = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"content-type"), "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise RequestError(415, f"Content-Type {content_type or '(none)'!r} is not accepted: send the request as "
                                f"JSON with `Content-Type: application/json`, e.g. {_EXAMPLE}",
                           "UNSUPPORTED_MEDIA_TYPE")
    check_operation(parse_json(body, "the request body"))
    # Media types are case-insensitive, Strawberry's check is not: hand it the canonical one (the body is UTF-8).
    scope["headers"] = [(k, b"application/json") if k == b"content-type" else (k, v) for k, v in scope["headers"]]


class RequestGuard:
    """Pure ASGI middleware: header size on every route, well-formed GraphQL requests on `graphql_path`.

    Args:
        app: the app behind it.
        graphql_path: the GraphQL route (`/graphql`).
        max_header_bytes: the most bytes of header names and values a request may carry.
        max_body_bytes: the most bytes of a body (the middleware outside already refuses larger bodies) or of a
            GET's query string.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], graphql_path: str, max_header_bytes: int,
                 max_body_bytes: int) -> None:
        self.app, self.graphql_path = app, graphql_path
        self.max_header_bytes, self.max_body_bytes = max_header_bytes, max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            size = sum(len(k) + len(v) for k, v in scope["headers"])
            if size > self.max_header_bytes:
                raise RequestError(431, f"request headers total {size} bytes; at most {self.max_header_bytes} are "
                                        "accepted (an API key is 61 characters, a JWT a few KB)", "HEADERS_TOO_LARGE")
            if scope["path"].rstrip("/") == self.graphql_path:
                body = b""
                if scope["method"] == "POST":
                    messages, body = await _read_body(receive)
                check_graphql_request(scope, body, self.max_body_bytes)
        except RequestError as e:
            await _refuse(scope, send, e)
            return
        await self.app(scope, _replay(messages, receive) if messages else receive, send)


async def _read_body(receive: Receive) -> tuple[list[Message], bytes]:
    """Every message of the body (bounded by the body limit outside) and the body they carry."""
    messages, chunks = [], []
    while True:
        message = await receive()
        messages.append(message)
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return messages, b"".join(chunks)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _refuse(scope: Scope, send: Send, error: RequestError) -> None:
    info = RequestInfo.of(scope)
    if info is not None:
        info.error_codes.append(error.code)
    body = error_body(error.message, error.code)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *((k.lower().encode(), v.encode()) for k, v in error.headers.items())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
