"""What one HTTP request collects for its log line and metrics, carried in the ASGI scope.

The middleware (`api.ops`) creates it; the GraphQL layer fills in the
operation, the caller and the error codes.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

SCOPE_KEY = "dealgraph.request"
#: The id of the request being served, for log records made anywhere while serving it.
current_request_id: ContextVar[str | None] = ContextVar("dealgraph_request_id", default=None)


@dataclass
class RequestInfo:
    request_id: str
    operation: str | None = None
    subject: str | None = None
    role: str | None = None
    cache: str | None = None  # `hit` or `miss` when the response cache was asked
    error_codes: list[str] = field(default_factory=list)

    @staticmethod
    def of(scope: MutableMapping[str, Any]) -> RequestInfo | None:
        return scope.get(SCOPE_KEY)
