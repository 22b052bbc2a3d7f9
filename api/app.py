"""The HTTP app: GraphQL at `/graphql`, health and readiness probes, metrics, GraphiQL's local assets, the CRM widget.

Example:
    >>> settings = Settings()  # DEALGRAPH_* from the environment
    >>> app = create_app(open_store(settings.store), settings.home, settings=settings)
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)

The caller owns the store: the app never closes it. Every GraphQL request
needs a bearer credential (`api.auth`) unless DEALGRAPH_AUTH=off in
development; what it may read is decided below the resolvers
(`api.graphql.visibility`).
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.auth import (
    Authenticator,
    AuthError,
    KeyStore,
    Throttle,
    TokenVerifier,
    TooManyFailures,
)
from api.graphiql import ASSETS_DIR, ASSETS_ROUTE
from api.graphql.extensions import Limits
from api.graphql.visibility import BookCache
from api.ops import Metrics, RequestMiddleware
from api.owners_alerts import thresholds_from
from api.owners_health import HealthCache
from api.probes import probes_router
from api.request_guard import RequestGuard
from api.request_info import RequestInfo
from api.response_cache import ResponseCache
from api.router import DealgraphRouter, graphql_context
from api.schema import build_schema
from api.served import Served
from api.settings import Settings
from api.widget import mount_widget
from gnn.registry import ModelCard, ModelRegistry
from graph.store import GraphStore

GRAPHQL_PATH = "/graphql"

log = logging.getLogger(__name__)


class CurrentModel:
    """The serving model's card: the registry's pointer is read every time, each version's card once."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._cards: dict[str, ModelCard] = {}
        self._lock = threading.Lock()

    def __call__(self) -> ModelCard | None:
        version = self._registry.current_version()
        if version is None:
            return None
        card = self._cards.get(version)
        if card is None:
            card = self._registry.card(version)
            with self._lock:
                self._cards[version] = card
        return card


def authenticator_from(settings: Settings, home: Path) -> Authenticator:
    """The authenticator the settings describe (API keys always; JWTs when a key is configured)."""
    tokens = TokenVerifier(
        hs256_secret=settings.jwt_secret.get_secret_value() if settings.jwt_secret else None,
        rs256_public_key=settings.jwt_public_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
        max_lifetime_s=settings.jwt_max_lifetime_s,
    )
    keys = KeyStore(settings.keys_path(home))
    throttle = Throttle(settings.auth_failures_burst, settings.auth_failures_per_minute)
    return Authenticator(keys, tokens, required=settings.auth == "required", throttle=throttle,
                         negative_cache_size=settings.auth_negative_cache_entries)


def limits_from(settings: Settings) -> Limits:
    return Limits(max_depth=settings.max_depth, max_tokens=settings.max_tokens, max_aliases=settings.max_aliases,
                  introspection=settings.introspection, timeout_s=settings.request_timeout_s)


def _auth_error(request: Request, error: Exception) -> JSONResponse:
    """401 with the reason, or 429 with `Retry-After` for an address over its limit of failed credentials."""
    limited = isinstance(error, TooManyFailures)
    code = "RATE_LIMITED" if limited else "UNAUTHENTICATED"
    info = RequestInfo.of(request.scope)
    if info is not None:
        info.error_codes.append(code)
    reason = error.reason if isinstance(error, AuthError) else "authentication failed"
    body = {"data": None, "errors": [{"message": reason, "extensions": {"code": code}}]}
    if isinstance(error, TooManyFailures):
        return JSONResponse(body, status_code=429, headers={"Retry-After": str(error.retry_after_s)})
    challenge = 'Bearer realm="dealgraph"' + (', error="invalid_token"' if "authorization" in request.headers else "")
    return JSONResponse(body, status_code=401, headers={"WWW-Authenticate": challenge})


def create_app(store: GraphStore, home: Path, *, graphiql: bool = True, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app serving `store` and the models registered under `home`.

    Args:
        store: an open graph store (scores are read from it).
        home: the dealgraph home folder: models under `home/models/`, API keys in `home/api-keys.db`.
        graphiql: serve the GraphiQL IDE on GET `/graphql` from a browser.
        settings: authentication, limits and introspection (default: `Settings()` from the environment).
    """
    settings = settings or Settings()
    model_card = CurrentModel(ModelRegistry(home))
    authenticator = authenticator_from(settings, home)
    metrics = Metrics()
    books = BookCache(settings.book_ttl_s)
    health = HealthCache(store, home, thresholds_from(settings))  # the owners' loop: modelHealth and its gauges
    if not authenticator.required:
        log.warning("AUTHENTICATION IS OFF (DEALGRAPH_AUTH=off, development): every request reads everything as "
                    "an anonymous admin. Never expose this server.")

    schema = build_schema(limits_from(settings))
    cache = ResponseCache(store, settings.response_cache_entries, has_mutations=schema.mutation is not None)
    # Swagger UI and ReDoc load from CDNs like stock GraphiQL does, and there is nothing REST to document.
    app = FastAPI(
        title="dealgraph", summary="Deal scores and their explanations over GraphQL", docs_url=None, redoc_url=None,
        openapi_url=None,
    )
    # What the routes read, through `api.served.AppServed`: the one thing kept on the app.
    feedback = Throttle(settings.feedback_burst, settings.feedback_per_minute)
    app.state.served = Served(store, home, model_card, authenticator, metrics, books, health, feedback)
    app.add_exception_handler(AuthError, _auth_error)
    # GraphiQL's bundle is ~1 MB; compressed it is a fraction, and so are large query results.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)  # 9 costs 2-3x the CPU for ~3% less
    # Malformed requests and oversized headers get 4xx before authentication or GraphQL sees them; inside CORS, so
    # preflights pass and a browser may read the refusal.
    app.add_middleware(RequestGuard, graphql_path=GRAPHQL_PATH, max_header_bytes=settings.max_header_bytes,
                       max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # A widget inside the CRM's pages calls from the CRM's origin; credentials travel in a header, not cookies.
        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                           expose_headers=["X-Request-ID"], max_age=600)
    app.add_middleware(RequestMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes)

    router = DealgraphRouter(
        schema, context_getter=graphql_context, graphql_ide="graphiql" if graphiql else None, subscription_protocols=(),
        cache=cache, metrics=metrics, cache_wait_s=settings.cache_wait_ms / 1000,
    )
    app.include_router(router, prefix=GRAPHQL_PATH)
    if graphiql:
        app.mount(f"/{ASSETS_ROUTE}", StaticFiles(directory=ASSETS_DIR), name=ASSETS_ROUTE)
    # The CRM widget's page for reps (/widget/account/{id}); its data comes from /graphql with the rep's token.
    mount_widget(app, settings, GRAPHQL_PATH)

    app.include_router(probes_router(GRAPHQL_PATH))  # /, /healthz, /readyz, /metrics

    return app
