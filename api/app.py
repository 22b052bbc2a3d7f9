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

import asyncio
import logging
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import HTTPConnection

from api.auth import (
    Authenticator,
    AuthError,
    FailureThrottle,
    KeyStore,
    Principal,
    Role,
    TokenVerifier,
    TooManyFailures,
)
from api.graphiql import ASSETS_DIR, ASSETS_ROUTE
from api.graphql.context import GraphContext
from api.graphql.extensions import Limits
from api.graphql.visibility import BookCache
from api.ops import Metrics, RequestMiddleware
from api.owners_alerts import thresholds_from
from api.owners_health import HealthCache, health_gauges
from api.request_guard import RequestGuard
from api.request_info import RequestInfo
from api.response_cache import ResponseCache
from api.router import DealgraphRouter
from api.schema import build_schema
from api.settings import Settings
from api.widget import mount_widget
from gnn.registry import ModelCard, ModelRegistry
from graph.store import GraphStore

GRAPHQL_PATH = "/graphql"
#: A health probe that takes longer than this reports the store as unavailable.
HEALTH_TIMEOUT_S = 5.0
# A key no CRM issues: the probe is a primary-key look-up that finds nothing.
_PROBE_ID = "__dealgraph_healthz__"
#: The context of a request that executes nothing (the GraphiQL page): it could see nothing if it tried.
NOBODY = Principal(Role.REP, subject="nobody", method="none", rep_id="\x00nobody")

log = logging.getLogger(__name__)


def _probe(store: GraphStore) -> None:
    """One trivial read: proves the store opens, has its tables and answers."""
    label = next(iter(store.schema.nodes))
    store.get_nodes(label, [_PROBE_ID])


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
    throttle = FailureThrottle(settings.auth_failures_burst, settings.auth_failures_per_minute)
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
    if limited:
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

    async def context(request: HTTPConnection) -> GraphContext:
        # One context per request: its DataLoader caches must not outlive the request or serve another caller.
        executes = request.scope["type"] == "http" and (request.scope["method"] != "GET"
                                                         or "query" in request.query_params)
        # The client's address (a proxy's X-Forwarded-For when uvicorn trusts it) bounds its failed credentials.
        client = request.client.host if request.client else None
        authorization = request.headers.get("authorization")
        principal = await authenticator.authenticate(authorization, client) if executes else NOBODY
        info = RequestInfo.of(request.scope)
        if info is not None and executes:
            info.subject, info.role = principal.subject, principal.role.value
        return GraphContext(store, principal, model_card, timer=metrics.observe_store, books=books, health=health)

    schema = build_schema(limits_from(settings))
    cache = ResponseCache(store, settings.response_cache_entries, has_mutations=schema.mutation is not None)
    # Swagger UI and ReDoc load from CDNs like stock GraphiQL does, and there is nothing REST to document.
    app = FastAPI(
        title="dealgraph", summary="Deal scores and their explanations over GraphQL", docs_url=None, redoc_url=None,
        openapi_url=None,
    )
    app.state.store = store
    app.state.metrics = metrics
    app.state.authenticator = authenticator
    app.state.response_cache = cache
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
        schema, context_getter=context, graphql_ide="graphiql" if graphiql else None, subscription_protocols=(),
        cache=cache, metrics=metrics, cache_wait_s=settings.cache_wait_ms / 1000,
    )
    app.include_router(router, prefix=GRAPHQL_PATH)
    if graphiql:
        app.mount(f"/{ASSETS_ROUTE}", StaticFiles(directory=ASSETS_DIR), name=ASSETS_ROUTE)
    # The CRM widget's page for reps (/widget/account/{id}); its data comes from /graphql with the rep's token.
    mount_widget(app, settings, GRAPHQL_PATH)

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "") + GRAPHQL_PATH)

    async def store_problem() -> str | None:
        try:
            await asyncio.wait_for(asyncio.to_thread(_probe, store), timeout=HEALTH_TIMEOUT_S)
        except TimeoutError:
            return f"store did not answer within {HEALTH_TIMEOUT_S:g}s"
        except Exception as e:  # noqa: BLE001 - any failure means "not healthy"; the reason goes to the prober
            return f"{type(e).__name__}: {e}"
        return None

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the store answers a trivial read, 503 with the reason otherwise."""
        problem = await store_problem()
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, 503)
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """200 when the store answers and a model serves scores; 503 with every reason otherwise."""
        reasons = []
        problem = await store_problem()
        if problem:
            reasons.append(f"store: {problem}")
        try:
            card = await asyncio.to_thread(model_card)
        except Exception as e:  # noqa: BLE001 - a broken registry is a reason to report, not a crash
            card, reasons = None, [*reasons, f"model: {type(e).__name__}: {e}"]
        else:
            if card is None:
                reasons.append(f"model: none trained yet under {home}/models (run `dealgraph train`)")
        if reasons:
            return JSONResponse({"status": "not ready", "reasons": reasons}, 503)
        return JSONResponse({"status": "ready", "model": card.version if card else None})

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text exposition of this process's metrics."""
        return Response(metrics.render() + await health_gauges(health), media_type=CONTENT_TYPE_LATEST)

    return app
