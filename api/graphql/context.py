"""The per-request GraphQL context: the store, the model registry and DataLoaders.

Every store read a resolver makes goes through a DataLoader created for that
request, so sibling fields (the owner of each of 30 deals) become one batched
store call, and a node reached twice in one query is read once. Loaders are
never shared between requests: a shared cache would serve stale scores.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterable, Mapping, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gnn.registry import ModelRegistry
from graph.store import Direction, GraphStore, Neighbour, ScoreRecord

T = TypeVar("T")

#: Open deals of one account are read this many at a time (an account rarely has more in all).
OPEN_DEALS_BATCH = 500


async def _off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking store call in a worker thread so other requests keep being served."""
    return await asyncio.to_thread(fn, *args)


class Loaders:
    """The DataLoaders of one request, created lazily per node label and relation."""

    def __init__(self, store: GraphStore) -> None:
        self._store = store
        self._nodes: dict[str, DataLoader[str, dict[str, Any] | None]] = {}
        self._neighbours: dict[tuple[str, str, Direction], DataLoader[str, list[Neighbour]]] = {}
        self.scores: DataLoader[str, ScoreRecord | None] = DataLoader(self._load_scores)
        self.open_deals: DataLoader[str, list[dict[str, Any]]] = DataLoader(self._load_open_deals)

    def nodes(self, label: str) -> DataLoader[str, dict[str, Any] | None]:
        """Nodes of `label` by id (None for an unknown id)."""
        if label not in self._nodes:

            async def load(ids: list[str]) -> list[dict[str, Any] | None]:
                found = await _off_loop(self._store.get_nodes, label, ids)
                return [found.get(i) for i in ids]

            self._nodes[label] = DataLoader(load)
        return self._nodes[label]

    def neighbours(self, label: str, relation: str, direction: Direction = "out") -> DataLoader[str, list[Neighbour]]:
        """Neighbours over one relation and direction, by the id of the node they start from."""
        key = (label, relation, direction)
        if key not in self._neighbours:

            async def load(ids: list[str]) -> list[list[Neighbour]]:
                found = await _off_loop(self._store.neighbours, label, ids, relation, direction)
                return [found.get(i, []) for i in ids]

            self._neighbours[key] = DataLoader(load)
        return self._neighbours[key]

    async def _load_scores(self, deal_ids: list[str]) -> list[ScoreRecord | None]:
        found = await _off_loop(self._store.latest_scores, deal_ids)
        return [found.get(i) for i in deal_ids]

    async def _load_open_deals(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        return await _off_loop(self._open_deals_of, account_ids)

    def _open_deals_of(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        """Every open deal of each account, in the store's order (score desc, then id); runs in a worker thread.

        Uses `open_deals_page`, not a walk over FOR_ACCOUNT, so "open" and the order are the
        store's own definitions (the same as `Query.deals`) and closed deals are never read.
        """
        out = []
        for account_id in account_ids:
            rows: list[dict[str, Any]] = []
            after: tuple[float, str] | None = None
            while True:
                page = self._store.open_deals_page(OPEN_DEALS_BATCH, after, account_id)
                rows += [dict(d) for d in page.deals]
                if not page.has_next or not page.deals:
                    break
                after = (page.deals[-1]["_rank"], page.deals[-1]["id"])
            out.append(rows)
        return out

    def prime_open_deals(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Remember deals an open-deals read returned: their rows, and that they have no outcome yet."""
        rows = [{k: v for k, v in r.items() if k != "_rank"} for r in rows]
        self.nodes("Deal").prime_many({r["id"]: r for r in rows})
        self.neighbours("Deal", "HAS_OUTCOME").prime_many({r["id"]: [] for r in rows})


class GraphContext(BaseContext):
    """What every resolver sees as `info.context`."""

    def __init__(self, store: GraphStore, registry: ModelRegistry) -> None:
        super().__init__()
        self.store = store
        self.registry = registry
        self.loaders = Loaders(store)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """A store or registry call that no loader batches (pagination, the model card)."""
        return await _off_loop(fn, *args)
