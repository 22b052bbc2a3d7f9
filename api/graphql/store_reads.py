"""Unscoped, batched, per-request reads of the store: the layer under visibility.

Nothing above `api.graphql.context.Loaders` may use this directly: `Loaders`
hands resolvers only what the request's principal may see. Store calls run in
a worker thread (a network backend would block the event loop), except the
embedded SQLite store's, which run inline (`runs_inline`); all are timed for
`/metrics`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from graph.store import Direction, GraphStore, Neighbour, ScoreRecord
from ontology.names import Label, Rel

T = TypeVar("T")
#: Called with (store method name, seconds) after every store call.
StoreTimer = Callable[[str, float], None]

#: Open deals are read from the store this many at a time.
OPEN_DEALS_BATCH = 500


@dataclass
class ScoreReads:
    """Which scores one request's answer depends on: those of `deals`, or of any deal (`every`, e.g. a page of
    deals ordered by score, which a score written anywhere can reorder). `api.response_cache` keeps an answer
    until one of them is written."""

    deals: set[str] = field(default_factory=set)
    every: bool = False


def _no_timer(name: str, seconds: float) -> None:
    return None


def runs_inline(store: GraphStore) -> bool:
    """True for a store that says its reads are quick enough to run inline (`GraphStore.reads_inline`: the
    embedded SQLite store's take tens of microseconds and never wait on a writer, so handing each to a worker
    thread costs more than the read, and under load the hand-back waits for the GIL behind other requests).
    A networked store (Neo4j) waits on the network, so its calls go to worker threads."""
    return store.reads_inline


class StoreReads:
    """The DataLoaders of one request over the raw store; a node reached twice is read once."""

    def __init__(self, store: GraphStore, timer: StoreTimer = _no_timer) -> None:
        self.store = store
        self._timer = timer
        self._inline = runs_inline(store)
        self.schema = store.schema
        self.score_reads = ScoreReads()
        self._nodes: dict[str, DataLoader[str, dict[str, Any] | None]] = {}
        self._neighbours: dict[tuple[str, str, Direction], DataLoader[str, list[Neighbour]]] = {}
        self.scores: DataLoader[str, ScoreRecord | None] = DataLoader(self._load_scores)
        self.open_deals: DataLoader[str, list[dict[str, Any]]] = DataLoader(self._load_open_deals)

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` (a method of the store), timed: in a worker thread, or inline for an embedded store."""
        start = time.perf_counter()
        try:
            return fn(*args) if self._inline else await asyncio.to_thread(fn, *args)
        finally:
            self._timer(fn.__name__, time.perf_counter() - start)

    async def call_in_thread(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`fn(*args)` (a method of the store) in a worker thread whatever the store: for reads too large to run
        inline."""
        start = time.perf_counter()
        try:
            return await asyncio.to_thread(fn, *args)
        finally:
            self._timer(fn.__name__, time.perf_counter() - start)

    def nodes(self, label: str) -> DataLoader[str, dict[str, Any] | None]:
        """Nodes of `label` by id (None for an unknown id)."""
        if label not in self._nodes:

            async def load(ids: list[str]) -> list[dict[str, Any] | None]:
                found = await self.call(self.store.get_nodes, label, ids)
                return [found.get(i) for i in ids]

            self._nodes[label] = DataLoader(load)
        return self._nodes[label]

    def neighbours(self, label: str, relation: str, direction: Direction = "out") -> DataLoader[str, list[Neighbour]]:
        """Neighbours over one relation and direction, by the id of the node they start from."""
        key = (label, relation, direction)
        if key not in self._neighbours:

            async def load(ids: list[str]) -> list[list[Neighbour]]:
                found = await self.call(self.store.neighbours, label, ids, relation, direction)
                return [found.get(i, []) for i in ids]

            self._neighbours[key] = DataLoader(load)
        return self._neighbours[key]

    async def _load_scores(self, deal_ids: list[str]) -> list[ScoreRecord | None]:
        self.score_reads.deals.update(deal_ids)
        found = await self.call(self.store.latest_scores, deal_ids)
        return [found.get(i) for i in deal_ids]

    async def _load_open_deals(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(self.all_open_deals(a) for a in account_ids)))

    async def open_deals_page(self, first: int, after: tuple[float, str] | None, account_id: str | None) -> Any:
        page = await self.call(self.store.open_deals_page, first, after, account_id)
        if account_id is not None and after is None and not page.has_next:
            self.score_reads.deals.update(d["id"] for d in page.deals)  # all of them: order by their scores only
        else:
            self.score_reads.every = True
        return page

    async def all_open_deals(self, account_id: str | None) -> list[dict[str, Any]]:
        """Every open deal (of one account, or all), in the store's order, each with its `_rank`.

        Uses `open_deals_page`, not a walk over FOR_ACCOUNT, so "open" and the order are the
        store's own definitions (the same as `Query.deals`) and closed deals are never read.
        """
        rows: list[dict[str, Any]] = []
        after: tuple[float, str] | None = None
        while True:
            page = await self.open_deals_page(OPEN_DEALS_BATCH, after, account_id)
            rows += [dict(d) for d in page.deals]
            if not page.has_next or not page.deals:
                return rows
            after = (page.deals[-1]["_rank"], page.deals[-1]["id"])

    def prime_open_deals(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Remember deals an open-deals read returned: their rows, and that they have no outcome yet."""
        clean = {r["id"]: {k: v for k, v in r.items() if k != "_rank"} for r in rows}
        self.nodes(Label.DEAL).prime_many(clean)
        self.neighbours(Label.DEAL, Rel.HAS_OUTCOME).prime_many({i: [] for i in clean})
