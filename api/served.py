"""What the app's routes serve from: one `Served` per app, which `create_app` builds and the routes read through
an `Annotated` dependency (`AppServed`), so no route reaches into module globals or `create_app`'s locals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from api.auth import Authenticator, Throttle
from api.graphql.visibility import BookCache
from api.ops import Metrics
from api.owners_health import HealthCache
from gnn.registry import ModelCard
from graph.store import GraphStore


@dataclass(frozen=True)
class Served:
    store: GraphStore  # the caller's: the app never closes it
    home: Path  # models under `home/models/`
    model_card: Callable[[], ModelCard | None]  # the serving model's card, None before the first training
    authenticator: Authenticator
    metrics: Metrics
    books: BookCache  # each rep's book of deals, cached for `book_ttl_s`
    health: HealthCache  # the owners' loop: modelHealth and its gauges
    feedback: Throttle  # feedback events per principal (`giveFeedback`'s limit)


def served(connection: HTTPConnection) -> Served:
    return connection.app.state.served


AppServed = Annotated[Served, Depends(served)]
