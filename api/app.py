"""The HTTP app: GraphQL at `/graphql`, a health check, and GraphiQL's local assets.

Example:
    >>> app = create_app(open_store("sqlite:////data/graph.db"), Path("/data"))
    >>> uvicorn.run(app, host="127.0.0.1", port=8000)

The caller owns the store: the app never closes it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.graphiql import ASSETS_DIR, ASSETS_ROUTE, OfflineGraphQLRouter
from api.graphql.context import GraphContext
from api.schema import build_schema
from gnn.registry import ModelRegistry
from graph.store import GraphStore

GRAPHQL_PATH = "/graphql"
#: A health probe that takes longer than this reports the store as unavailable.
HEALTH_TIMEOUT_S = 5.0
# A key no CRM issues: the probe is a primary-key look-up that finds nothing.
_PROBE_ID = "__dealgraph_healthz__"


def _probe(store: GraphStore) -> None:
    """One trivial read: proves the store opens, has its tables and answers."""
    label = next(iter(store.schema.nodes))
    store.get_nodes(label, [_PROBE_ID])


def create_app(store: GraphStore, home: Path, *, graphiql: bool = True) -> FastAPI:
    """The FastAPI app serving `store` and the models registered under `home`.

    Args:
        store: an open graph store (scores are read from it).
        home: the dealgraph home folder; the model card is read from `home/models/`.
        graphiql: serve the GraphiQL IDE on GET `/graphql` from a browser.
    """
    registry = ModelRegistry(home)

    async def context() -> GraphContext:
        # One context per request: its DataLoader caches must not outlive the request.
        return GraphContext(store, registry)

    # Swagger UI and ReDoc load from CDNs like stock GraphiQL does, and there is nothing REST to document.
    app = FastAPI(
        title="dealgraph", summary="Deal scores and their explanations over GraphQL", docs_url=None, redoc_url=None
    )
    app.state.store = store
    app.state.registry = registry
    # GraphiQL's bundle is ~1 MB; compressed it is a fraction, and so are large query results.
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    router = OfflineGraphQLRouter(build_schema(), context_getter=context, graphql_ide="graphiql" if graphiql else None)
    app.include_router(router, prefix=GRAPHQL_PATH)
    if graphiql:
        app.mount(f"/{ASSETS_ROUTE}", StaticFiles(directory=ASSETS_DIR), name=ASSETS_ROUTE)

    @app.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "") + GRAPHQL_PATH)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        """200 when the store answers a trivial read, 503 with the reason otherwise."""
        try:
            await asyncio.wait_for(asyncio.to_thread(_probe, store), timeout=HEALTH_TIMEOUT_S)
        except TimeoutError:
            reason = f"store did not answer within {HEALTH_TIMEOUT_S:g}s"
            return JSONResponse({"status": "unavailable", "reason": reason}, 503)
        except Exception as e:  # noqa: BLE001 - any failure means "not healthy"; the reason goes to the prober
            return JSONResponse({"status": "unavailable", "reason": f"{type(e).__name__}: {e}"}, 503)
        return JSONResponse({"status": "ok"})

    return app
