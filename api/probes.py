"""The plain HTTP routes beside GraphQL: `/` (to GraphiQL), the health and readiness probes, Prometheus' `/metrics`.

What they read comes from the app's `Served` (`api.served`), through its `Annotated` dependency.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from api.owners_health import health_gauges
from api.served import AppServed
from graph.store import GraphStore

#: A health probe that takes longer than this reports the store as unavailable.
HEALTH_TIMEOUT_S = 5.0
# A key no CRM issues: the probe is a primary-key look-up that finds nothing.
_PROBE_ID = "__dealgraph_healthz__"


def _probe(store: GraphStore) -> None:
    """One trivial read: proves the store opens, has its tables and answers."""
    label = next(iter(store.schema.nodes))
    store.get_nodes(label, [_PROBE_ID])


async def store_problem(store: GraphStore) -> str | None:
    """Why the store cannot serve (it failed or was slow to answer the probe), or None when it can."""
    try:
        await asyncio.wait_for(asyncio.to_thread(_probe, store), timeout=HEALTH_TIMEOUT_S)
    except TimeoutError:
        return f"store did not answer within {HEALTH_TIMEOUT_S:g}s"
    except Exception as e:  # noqa: BLE001 - any failure means "not healthy"; the reason goes to the prober
        return f"{type(e).__name__}: {e}"
    return None


def probes_router(graphql_path: str) -> APIRouter:
    """The routes; `/` redirects to `graphql_path`."""
    router = APIRouter()

    @router.get("/", include_in_schema=False)
    async def root(request: Request) -> RedirectResponse:
        return RedirectResponse(request.scope.get("root_path", "") + graphql_path)

    @router.get("/healthz")
    async def healthz(served: AppServed) -> JSONResponse:
        """200 when the store answers a trivial read, 503 with the reason otherwise."""
        problem = await store_problem(served.store)
        if problem:
            return JSONResponse({"status": "unavailable", "reason": problem}, 503)
        return JSONResponse({"status": "ok"})

    @router.get("/readyz")
    async def readyz(served: AppServed) -> JSONResponse:
        """200 when the store answers and a model serves scores; 503 with every reason otherwise."""
        reasons = []
        problem = await store_problem(served.store)
        if problem:
            reasons.append(f"store: {problem}")
        try:
            card = await asyncio.to_thread(served.model_card)
        except Exception as e:  # noqa: BLE001 - a broken registry is a reason to report, not a crash
            card, reasons = None, [*reasons, f"model: {type(e).__name__}: {e}"]
        else:
            if card is None:
                reasons.append(f"model: none trained yet under {served.home}/models (run `dealgraph train`)")
        if reasons:
            return JSONResponse({"status": "not ready", "reasons": reasons}, 503)
        return JSONResponse({"status": "ready", "model": card.version if card else None})

    @router.get("/metrics")
    async def prometheus(served: AppServed) -> Response:
        """Prometheus text exposition of this process's metrics."""
        return Response(served.metrics.render() + await health_gauges(served.health), media_type=CONTENT_TYPE_LATEST)

    return router
