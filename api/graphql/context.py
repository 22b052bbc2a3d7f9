"""The per-request GraphQL context: the caller, and DataLoaders that only return what the caller may see.

Resolvers read the graph through `info.context.loaders` and nothing else:
the context holds no store. `Loaders` wraps the request's raw batched reads
(`api.graphql.store_reads`) with the principal's `Visibility`, so a forbidden
deal, account or contact is None by id and absent from every list, whichever
resolver asks. Sibling fields (the owner of each of 30 deals) become one
batched store call, and a node reached twice in one query is read once.
Loaders are never shared between requests: a shared cache would serve stale
scores and mix callers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from api.auth import Principal, Throttle
from api.graphql.deal_query import DealQuery, open_deals_page
from api.graphql.store_reads import OPEN_DEALS_BATCH, StoreReads, StoreTimer
from api.graphql.visibility import BookCache, Visibility
from api.owners_desk import OwnersDesk
from api.owners_health import HealthCache
from gnn.registry import ModelCard
from graph.explanation import Explanation
from graph.store import DealPage, Direction, GraphStore, Neighbour, ScoreRecord
from ontology.names import Label

__all__ = ["GraphContext", "Loaders", "OPEN_DEALS_BATCH"]


class Loaders:
    """Scoped DataLoaders of one request: the only way resolvers read the graph."""

    def __init__(self, reads: StoreReads, visibility: Visibility) -> None:
        self._reads = reads
        self._vis = visibility
        self._nodes: dict[str, DataLoader[str, dict[str, Any] | None]] = {}
        self._neighbours: dict[tuple[str, str, Direction], DataLoader[str, list[Neighbour]]] = {}
        self.scores: DataLoader[str, ScoreRecord | None] = DataLoader(self._load_scores)
        self.explanations: DataLoader[str, Explanation | None] = DataLoader(self._load_explanations)
        self.open_deals: DataLoader[str, list[dict[str, Any]]] = DataLoader(self._load_open_deals)

    @property
    def principal(self) -> Principal:
        return self._vis.principal

    async def visible_owners(self) -> frozenset[str] | None:
        """The reps whose deals the principal sees (None: every rep's), e.g. to scope a forecast."""
        return (await self._vis.book()).owners if self._vis.restricted else None

    def nodes(self, label: str) -> DataLoader[str, dict[str, Any] | None]:
        """Nodes of `label` by id: None for an unknown id and for one the caller may not see."""
        if not self._vis.restricted:
            return self._reads.nodes(label)
        if label not in self._nodes:

            async def load(ids: list[str]) -> list[dict[str, Any] | None]:
                rows = await self._reads.nodes(label).load_many(ids)
                ok = await self._vis.visible(label, [i for i, r in zip(ids, rows, strict=True) if r is not None])
                return [r if i in ok else None for i, r in zip(ids, rows, strict=True)]

            self._nodes[label] = DataLoader(load)
        return self._nodes[label]

    def neighbours(self, label: str, relation: str, direction: Direction = "out") -> DataLoader[str, list[Neighbour]]:
        """Neighbours over one relation and direction, without the ones the caller may not see."""
        if self._vis.implied(label, relation, direction):
            return self._reads.neighbours(label, relation, direction)
        key = (label, relation, direction)
        if key not in self._neighbours:

            async def load(ids: list[str]) -> list[list[Neighbour]]:
                lists = await self._reads.neighbours(label, relation, direction).load_many(ids)
                by_label: dict[str, set[str]] = {}
                for links in lists:
                    for n in links:
                        by_label.setdefault(n.label, set()).add(n.node["id"])
                ok = {lbl: await self._vis.visible(lbl, found) for lbl, found in by_label.items()}
                return [[n for n in links if n.node["id"] in ok[n.label]] for links in lists]

            self._neighbours[key] = DataLoader(load)
        return self._neighbours[key]

    async def _load_scores(self, deal_ids: list[str]) -> list[ScoreRecord | None]:
        """Scores of visible deals, without their explanations (those come from `explanations`, vetted)."""
        ok = await self._vis.visible(Label.DEAL, deal_ids)
        records = await self._reads.scores.load_many([i for i in deal_ids if i in ok])
        found = {r.deal_id: replace(r, explanation=None) for r in records if r is not None}
        return [found.get(i) for i in deal_ids]

    async def _load_explanations(self, deal_ids: list[str]) -> list[Explanation | None]:
        """The stored explanation of each visible deal, as the caller may read it (`Visibility.redact`)."""
        ok = await self._vis.visible(Label.DEAL, deal_ids)
        records = [r for r in await self._reads.scores.load_many([i for i in deal_ids if i in ok]) if r is not None]
        redacted = await self._vis.redact([r.explanation for r in records])
        found = {r.deal_id: e for r, e in zip(records, redacted, strict=True)}
        return [found.get(i) for i in deal_ids]

    async def _load_open_deals(self, account_ids: list[str]) -> list[list[dict[str, Any]]]:
        lists = await self._reads.open_deals.load_many(account_ids)
        ok = await self._vis.visible(Label.DEAL, [r["id"] for rows in lists for r in rows])
        lists = [[r for r in rows if r["id"] in ok] for rows in lists]
        for rows in lists:
            self._reads.prime_open_deals(rows)
        return lists

    async def deals_page(self, query: DealQuery, first: int, after: tuple[float, str] | None) -> DealPage:
        """One page of open deals the caller may see that match `query` (rows keep their `_rank`)."""
        page = await open_deals_page(self._reads, self._vis, query, first, after)
        self._reads.prime_open_deals(page.deals)
        return page


class GraphContext(BaseContext):
    """What every resolver sees as `info.context`.

    Args:
        store: the graph store (kept private to the loaders).
        principal: who is asking.
        model_card: returns the serving model's card (cached by the app), or None before training.
        timer: called with (store method, seconds) after every store call.
        books: the app's cache of reps' books (default: none, every request reads its own).
        health: the app's cache of the serving model's health (`modelHealth`; default: none).
        feedback: the app's limit on feedback events per principal (default: none).
    """

    def __init__(
        self,
        store: GraphStore,
        principal: Principal,
        model_card: Callable[[], ModelCard | None],
        timer: StoreTimer | None = None,
        books: BookCache | None = None,
        health: HealthCache | None = None,
        feedback: Throttle | None = None,
    ) -> None:
        super().__init__()
        reads = StoreReads(store, timer) if timer else StoreReads(store)
        self.principal = principal
        self.score_reads = reads.score_reads  # what `api.response_cache` needs to know of the reads
        self.loaders = Loaders(reads, Visibility(principal, reads, books))
        self.model_card = model_card
        # The owners' loop (api.owners_desk), with the same visibility; it reads scores beside the loaders.
        self.owners = OwnersDesk(store, self.loaders, health, self.score_reads, feedback)
