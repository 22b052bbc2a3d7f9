"""Filtered, visibility-scoped pages of open deals in the store's keyset order (score desc, then id).

The store contract pages open deals by score, optionally for one account
(`GraphStore.open_deals_page`). Everything else is narrowed here, in the API,
from the smallest candidate set a filter offers:

- a rep principal: the deals their owners own (one OWNED_BY read);
- `repId`: that rep's deals; `accountId`: that account's deals;
- otherwise all open deals, which the store pages itself when no other filter
  is set, and which are read in store batches and filtered here when one is
  (a scan: fine for tens of thousands of open deals; see docs/api.md).

Candidates are ordered from their outcomes and scores alone; deal rows are
read for the page (or for all candidates when a stage or close filter needs
them). Everything goes through the request's DataLoaders, so any number of
sibling lists costs the same few store calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from api.graphql.store_reads import StoreReads
from api.graphql.values import as_date
from api.graphql.visibility import Visibility
from graph.store import DealPage, Direction
from ontology.names import Label, Rel

UNSCORED_RANK = -1.0


@dataclass(frozen=True)
class DealQuery:
    """A deal filter, already validated. `band` is a stored band (`high`…) or `unscored`."""

    rep_id: str | None = None
    account_id: str | None = None
    stage: str | None = None
    band: str | None = None
    close_before: date | None = None
    close_after: date | None = None
    empty: bool = False

    @property
    def needs_rows(self) -> bool:
        """True when a condition can only be checked on deal rows."""
        return any(v is not None for v in (self.stage, self.close_before, self.close_after))

    @property
    def narrows(self) -> bool:
        """True when the store's own page (all open deals, maybe of one account) is not the answer."""
        return self.needs_rows or self.band is not None or self.rep_id is not None


def _matches(row: Mapping[str, Any], q: DealQuery) -> bool:
    """The row-based conditions (stage, close window); the band is checked on scores."""
    if q.stage is not None and (row.get("stage") or "").casefold() != q.stage.casefold():
        return False
    if q.close_before is not None or q.close_after is not None:
        closes = as_date(row.get("close_date"))
        if closes is None:
            return False
        if q.close_before is not None and not closes < q.close_before:
            return False
        if q.close_after is not None and not closes >= q.close_after:
            return False
    return True


async def _ids_of(reads: StoreReads, label: str, relation: str, direction: Direction, node_id: str) -> set[str]:
    links = await reads.neighbours(label, relation, direction).load(node_id)
    reads.nodes(Label.DEAL).prime_many({n.node["id"]: dict(n.node) for n in links})
    return {n.node["id"] for n in links}


async def _candidates(reads: StoreReads, vis: Visibility, q: DealQuery) -> set[str] | None:
    """The deal ids (open or not) the result must come from; None means every open deal."""
    sets: list[set[str] | frozenset[str]] = []
    if vis.restricted:
        sets.append(await vis.own_open_deal_ids())
    if q.rep_id is not None:
        sets.append(await _ids_of(reads, Label.REP, Rel.OWNED_BY, "in", q.rep_id))
    if q.account_id is not None:
        sets.append(await _ids_of(reads, Label.ACCOUNT, Rel.FOR_ACCOUNT, "in", q.account_id))
    if not sets:
        return None
    return set(sets[0]).intersection(*sets[1:])


async def _ranked(reads: StoreReads, ids: set[str]) -> list[tuple[float, str, str | None]]:
    """(rank, id, band) of the open deals among `ids`: the order needs scores, not rows."""
    ordered = sorted(ids)
    outcomes = await reads.neighbours(Label.DEAL, Rel.HAS_OUTCOME).load_many(ordered)
    open_ids = [i for i, o in zip(ordered, outcomes, strict=True) if not o]
    scores = await reads.scores.load_many(open_ids)
    return [(s.probability if s is not None else UNSCORED_RANK, i, s.band if s is not None else None)
            for i, s in zip(open_ids, scores, strict=True)]


def _after(rank: float, deal_id: str, position: tuple[float, str] | None) -> bool:
    return position is None or rank < position[0] or (rank == position[0] and deal_id > position[1])


async def open_deals_page(
    reads: StoreReads, vis: Visibility, q: DealQuery, first: int, after: tuple[float, str] | None
) -> DealPage:
    """One page of the open deals `vis` lets through and `q` selects, after the keyset position `after`."""
    if q.empty:
        return DealPage(deals=[], has_next=False, total=0)
    if not vis.restricted and not q.narrows:
        return await reads.open_deals_page(first, after, q.account_id)  # the store's own keyset page
    candidates = await _candidates(reads, vis, q)
    if candidates is None:
        # Every open deal, filtered on rows here: a scan in store batches.
        rows = await reads.all_open_deals(None)
        bands: dict[str, str | None] = {}
        if q.band is not None:
            scores = await reads.scores.load_many([r["id"] for r in rows])
            bands = {r["id"]: s.band if s is not None else None for r, s in zip(rows, scores, strict=True)}
        ranked = [(r["_rank"], r["id"], bands.get(r["id"])) for r in rows]
        by_id = {r["id"]: r for r in rows}
    else:
        ranked = await _ranked(reads, candidates)
        by_id = {}
    if q.band is not None:
        ranked = [t for t in ranked if (t[2] or "unscored") == q.band]
    if q.needs_rows and not by_id:
        found = await reads.nodes(Label.DEAL).load_many([i for _, i, _ in ranked])
        by_id = {r["id"]: r for r in found if r is not None}
    if q.needs_rows:
        ranked = [t for t in ranked if t[1] in by_id and _matches(by_id[t[1]], q)]
    ranked.sort(key=lambda t: (-t[0], t[1]))
    total = len(ranked)
    rest = [t for t in ranked if _after(t[0], t[1], after)]
    page = rest[:first]
    missing = [i for _, i, _ in page if i not in by_id]
    if missing:
        by_id.update({r["id"]: r for r in await reads.nodes(Label.DEAL).load_many(missing) if r is not None})
    deals = [{**by_id[i], "_rank": rank} for rank, i, _ in page if i in by_id]
    return DealPage(deals=deals, has_next=len(rest) > first, total=total)
