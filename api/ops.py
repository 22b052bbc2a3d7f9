"""Operations: request ids, a request body limit, one structured log line per request, Prometheus metrics.

`RequestMiddleware` wraps the whole app (pure ASGI, so it costs microseconds):
it takes the caller's `X-Request-ID` (or makes one), echoes it on the response,
answers 413 to a body over the limit before anything parses it, and after the
response logs `api.access` and records

- `dealgraph_http_request_duration_seconds{route, operation}` (histogram),
- `dealgraph_http_requests_total{route, operation, status}`,
- `dealgraph_graphql_errors_total{operation, code}`,
- `dealgraph_store_call_duration_seconds{method}` (histogram, from the loaders).

Operation names come from clients, so at most `MAX_OPERATIONS` distinct ones
become label values; later ones are counted as `other`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import generate_latest

from api.request_info import SCOPE_KEY, RequestInfo, current_request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

access_log = logging.getLogger("api.access")
MAX_OPERATIONS = 64
#: Where worker processes share their metrics (prometheus_client's multiprocess mode; `api.server`).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_OPERATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ROUTES = ("/graphql", "/healthz", "/readyz", "/metrics", "/")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class Metrics:
    """The app's Prometheus metrics, in a registry of its own (several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http_duration = Histogram(
            "dealgraph_http_request_duration_seconds", "HTTP request latency, by route and GraphQL operation",
            ["route", "operation"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self.http_requests = Counter(
            "dealgraph_http_requests", "HTTP requests, by route, GraphQL operation and status",
            ["route", "operation", "status"], registry=self.registry,
        )
        self.graphql_errors = Counter(
            "dealgraph_graphql_errors", "Errors in GraphQL responses, by operation and extensions.code",
            ["operation", "code"], registry=self.registry,
        )
        self.store_duration = Histogram(
            "dealgraph_store_call_duration_seconds", "Graph store call latency, by store method",
            ["method"], buckets=STORE_BUCKETS, registry=self.registry,
        )
        self.response_cache = Counter(
            "dealgraph_response_cache", "GraphQL answers served from the response cache (hit) or executed (miss)",
            ["result"], registry=self.registry,
        )
        self._operations: set[str] = set()
        self._lock = threading.Lock()
        self._store_children: dict[str, Any] = {}

    def operation_label(self, name: str | None) -> str:
        if name is None:
            return "-"
        if name in self._operations:
            return name
        if not _OPERATION.match(name):
            return "other"
        with self._lock:
            if len(self._operations) >= MAX_OPERATIONS:
                return "other"
            self._operations.add(name)
        return name

    def observe_store(self, method: str, seconds: float) -> None:
        child = self._store_children.get(method)
        if child is None:  # `labels()` takes a lock and builds a key on every call; children are stable
            child = self._store_children.setdefault(method, self.store_duration.labels(method))
        child.observe(seconds)

    def render(self) -> bytes:
        """The metrics in Prometheus text format: this app's, or every worker process's when they share them."""
        if METRICS_DIR_ENV not in os.environ:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged)
        return generate_latest(merged)


def _route(path: str) -> str:
    if path in ROUTES:
        return path
    for prefix in ("/graphiql-assets/", "/widget-assets/", "/widget/account/", "/widget/deal/"):
        if path.startswith(prefix):
            return prefix.rstrip("/")  # one label per kind of page or asset, never one per id
    return "other"


class RequestMiddleware:
    """Request id, request body limit, access log line and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int = 1_000_000) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        given = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), None)
        request_id = given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex
        info = RequestInfo(request_id)
        scope[SCOPE_KEY] = info
        token = current_request_id.set(request_id)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            body = await self._bounded_body(scope, receive)
            if body is None:
                info.error_codes.append("PAYLOAD_TOO_LARGE")
                await _too_large(send_with_id, self.max_body_bytes)
            else:
                await self.app(scope, _replay(body, receive) if body else receive, send_with_id)
        finally:
            self._record(scope, info, status, time.perf_counter() - start)
            current_request_id.reset(token)

    async def _bounded_body(self, scope: Scope, receive: Callable[[], Awaitable[Message]]) -> list[Message] | None:
        """None when the body is over the limit; else the body messages already read (none when it was not read).

        A declared Content-Length is checked without reading; a body without one is read here, up to the limit.
        """
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            return None if not length.isdigit() or int(length) > self.max_body_bytes else []
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return []
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if message["type"] != "http.request" or not message.get("more_body"):
                return messages

    def _record(self, scope: Scope, info: RequestInfo, status: int, seconds: float) -> None:
        route, operation = _route(scope["path"]), self.metrics.operation_label(info.operation)
        self.metrics.http_duration.labels(route, operation).observe(seconds)
        self.metrics.http_requests.labels(route, operation, str(status)).inc()
        for code in info.error_codes:
            self.metrics.graphql_errors.labels(operation, code).inc()
        if access_log.isEnabledFor(logging.INFO):
            access_log.info("%s %s %d", scope["method"], scope["path"], status, extra={"fields": {
                "request_id": info.request_id, "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round(seconds * 1000, 2), "operation": info.operation, "subject": info.subject,
                "role": info.role, "cache": info.cache, "errors": info.error_codes or None,
            }})


def _replay(messages: list[Message], receive: Callable[[], Awaitable[Message]]) -> Callable[[], Awaitable[Message]]:
    pending = list(messages)

    async def replayed() -> Message:
        return pending.pop(0) if pending else await receive()

    return replayed


async def _too_large(send: Callable[[Message], Awaitable[None]], limit: int) -> None:
    body = json.dumps({"data": None, "errors": [{
        "message": f"request body over {limit} bytes: send a smaller query or fewer variables",
        "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any `extra={"fields": …}`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id.get()
        if request_id:
            data["request_id"] = request_id
        data.update({k: v for k, v in (getattr(record, "fields", None) or {}).items() if v is not None})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request being served when it was made (if any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id.get()
        return True


def configure_logging(fmt: str = "json", level: int = logging.INFO) -> None:
    """Logs of a serving process on stderr: JSON lines (or plain text), with request ids."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
