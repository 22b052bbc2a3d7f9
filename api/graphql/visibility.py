"""What a principal may see: the one rule every read goes through (`api.graphql.context.Loaders`).

revops and admin see everything. A rep sees:

- deals they own (OWNED_BY them), or that reps of their team own when the key
  or token has team scope;
- accounts those deals are for (FOR_ACCOUNT), and nothing else of the account
  hierarchy: a parent or subsidiary is visible only through a deal of its own;
- contacts who work or worked at a visible account, or are on a visible deal;
- the reps whose book it is (themselves, or their team with team scope);
- what hangs off a visible deal: its owner, products, outcome, score, activities;
- an activity about no deal, with its account.

Anything else is treated as missing: null by id, absent from lists, zero in
counts, and anonymised in explanations: every string an explanation carries
is rendered from node references (`graph.explanation`), so a hidden node's
step loses id and name, sentences speak of "a deal you cannot see" without
its facts, and a suggestion naming it is dropped (`Visibility.redact`). The
record of a visible account or contact ("3 of 5 earlier deals won") is
left out too unless every deal it counts is visible: it counts other reps'.

A rep's deals and accounts (their `Book`) are read from the store again
once the one in use is `DEALGRAPH_BOOK_TTL_S` old, per process (`BookCache`):
a deal reassigned by a load moves between books within that time. Contacts
are decided per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from api.auth import Principal
from api.graphql.store_reads import StoreReads
from graph.explanation import Explanation, NodeRef
from ontology.names import Label, Rel

#: Node labels whose visibility depends on ownership. Products and outcomes are not guarded.
GUARDED = frozenset({Label.DEAL, Label.ACCOUNT, Label.CONTACT, Label.REP, Label.ACTIVITY})
#: Walks whose far end is visible whenever the near end is ("what hangs off" a visible node).
IMPLIED = frozenset(
    {
        (Label.DEAL, Rel.FOR_ACCOUNT, "out"),
        (Label.DEAL, Rel.INVOLVES, "out"),
        (Label.ACCOUNT, Rel.WORKS_AT, "in"),
        (Label.DEAL, Rel.REGARDS, "in"),
    }
)


#: A node's record in an explanation ("3 of 5 earlier deals won") counts the deals linked to it by this relation:
#: every rep's, so a reader who sees the node is told its record only when they see all of those deals. (A rep they
#: see is one whose book they read, every deal of it; a product's record is company-wide by design.)
RECORDS = {Label.ACCOUNT: Rel.FOR_ACCOUNT, Label.CONTACT: Rel.INVOLVES}


@dataclass(frozen=True)
class Book:
    """A rep's (or team's) book of business: what their visibility is decided from."""

    owners: frozenset[str]
    deals: frozenset[str]  # every deal they own, open or closed
    open_deals: frozenset[str]  # those without an outcome (checked again when listed)
    accounts: frozenset[str]  # the accounts those deals are for


def _clock() -> float:
    return time.monotonic()


@dataclass
class _Entry:
    started: float  # when the build of `current` started: its age counts from then
    current: asyncio.Future[Book]
    refresh: asyncio.Future[Book] | None = None
    refresh_started: float = 0.0


class BookCache:
    """Books by (rep, team scope), shared by the app's requests; none is used more than `ttl_s` after it was read.

    Ownership changes only when a load runs, and a book takes a few reads sized by the rep's whole
    portfolio, so it is kept briefly rather than rebuilt for every request. Once a book is half its
    time to live old, the next request starts reading a fresh one in the background and keeps using
    the current one; only a caller arriving after `ttl_s` waits for the fresh book. `ttl_s=0` reads
    the book for every request.
    """

    MAX_BOOKS = 10_000

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._entries: dict[tuple[str, bool], _Entry] = {}

    async def get(self, principal: Principal, build: Callable[[], Awaitable[Book]]) -> Book:
        key = (principal.rep_id or "", principal.team_scope)
        now = _clock()
        entry = self._entries.get(key)
        if entry is not None and entry.refresh is not None and entry.refresh.done():
            if not entry.refresh.cancelled() and entry.refresh.exception() is None:
                entry.started, entry.current = entry.refresh_started, entry.refresh
            entry.refresh = None
        failed = (
            entry is not None
            and entry.current.done()
            and (entry.current.cancelled() or entry.current.exception() is not None)
        )
        if entry is None or failed or now - entry.started >= self.ttl_s:
            if entry is not None and entry.refresh is not None:  # already being read: wait for that one
                entry.started, entry.current, entry.refresh = entry.refresh_started, entry.refresh, None
            else:
                if len(self._entries) >= self.MAX_BOOKS:
                    self._entries.clear()
                entry = _Entry(now, asyncio.ensure_future(build()))
                self._entries[key] = entry
        elif entry.refresh is None and now - entry.started >= self.ttl_s / 2:
            entry.refresh, entry.refresh_started = asyncio.ensure_future(build()), now
        # Shielded: a caller that times out must not cancel a read other callers wait for.
        return await asyncio.shield(entry.current)


class Visibility:
    """The visibility decisions of one request for one principal."""

    def __init__(self, principal: Principal, reads: StoreReads, books: BookCache | None = None) -> None:
        self.principal = principal
        self.restricted = not principal.sees_everything
        self._reads = reads
        self._books = books or BookCache(0)
        self._book: asyncio.Future[Book] | None = None
        self._contacts: dict[str, bool] = {}

    # ---- whose deals
    def book(self) -> asyncio.Future[Book]:
        """The principal's book (restricted principals only), once per request."""
        if self._book is None:
            self._book = asyncio.ensure_future(self._books.get(self.principal, self._build_book))
        return self._book

    async def _owners(self) -> frozenset[str]:
        rep_id = self.principal.rep_id or ""
        if not self.principal.team_scope:
            return frozenset({rep_id})
        me = await self._reads.nodes(Label.REP).load(rep_id)
        team = (me or {}).get("team")
        if not team:
            return frozenset({rep_id})
        everyone = sorted(await self._reads.call(self._reads.store.node_ids, Label.REP))
        rows = await self._reads.nodes(Label.REP).load_many(everyone)
        return frozenset({rep_id} | {r["id"] for r in rows if r and r.get("team") == team})

    async def _build_book(self) -> Book:
        # Worker threads even for the embedded store: these reads are sized by the whole portfolio
        # (hundreds of deals), and other requests should not wait behind them on the event loop.
        owners = await self._owners()
        store = self._reads.store
        owned = await self._reads.call_in_thread(store.neighbours, Label.REP, sorted(owners), Rel.OWNED_BY, "in")
        deals = sorted({n.node["id"] for links in owned.values() for n in links})
        outcomes, accounts = await asyncio.gather(
            self._reads.call_in_thread(store.neighbours, Label.DEAL, deals, Rel.HAS_OUTCOME, "out"),
            self._reads.call_in_thread(store.neighbours, Label.DEAL, deals, Rel.FOR_ACCOUNT, "out"),
        )
        return Book(
            owners=owners,
            deals=frozenset(deals),
            open_deals=frozenset(d for d in deals if not outcomes.get(d)),
            accounts=frozenset(n.node["id"] for links in accounts.values() for n in links),
        )

    async def own_open_deal_ids(self) -> frozenset[str]:
        """The open deals in the principal's book (restricted principals only)."""
        return (await self.book()).open_deals

    # ---- decisions
    async def visible(self, label: str, ids: Iterable[str]) -> AbstractSet[str]:
        """The ids among `ids` of `label` that the principal may see."""
        if not self.restricted or label not in GUARDED:
            return set(ids)
        if label == Label.DEAL:
            return (await self.book()).deals.intersection(ids)
        if label == Label.ACCOUNT:
            return (await self.book()).accounts.intersection(ids)
        if label == Label.REP:
            return (await self.book()).owners.intersection(ids)
        if label == Label.ACTIVITY:
            return await self._visible_activities(list(dict.fromkeys(ids)))
        ids = list(dict.fromkeys(ids))
        unknown = [i for i in ids if i not in self._contacts]
        if unknown:
            await self._check_contacts(unknown)
        return {i for i in ids if self._contacts[i]}

    def implied(self, label: str, relation: str, direction: str) -> bool:
        """True when walking this relation from a visible node can only reach visible nodes."""
        return not self.restricted or (label, relation, direction) in IMPLIED

    async def _visible_activities(self, ids: list[str]) -> set[str]:
        """An activity about a deal goes with the deal; one about no deal, with its account."""
        book = await self.book()
        deals, accounts = await asyncio.gather(
            self._reads.neighbours(Label.ACTIVITY, Rel.REGARDS, "out").load_many(ids),
            self._reads.neighbours(Label.ACTIVITY, Rel.AT_ACCOUNT, "out").load_many(ids),
        )
        return {
            i
            for i, about, at in zip(ids, deals, accounts, strict=True)
            if (
                any(n.node["id"] in book.deals for n in about)
                if about
                else any(n.node["id"] in book.accounts for n in at)
            )
        }

    async def _check_contacts(self, ids: list[str]) -> None:
        """A contact is visible when they work or worked at a visible account, or are on a visible deal."""
        book = await self.book()
        works, involved = await asyncio.gather(
            self._reads.neighbours(Label.CONTACT, Rel.WORKS_AT, "out").load_many(ids),
            self._reads.neighbours(Label.CONTACT, Rel.INVOLVES, "in").load_many(ids),
        )
        self._contacts.update(
            {
                i: any(n.node["id"] in book.accounts for n in w) or any(n.node["id"] in book.deals for n in d)
                for i, w, d in zip(ids, works, involved, strict=True)
            }
        )

    # ---- explanations
    async def redact(self, explanations: list[Explanation | None]) -> list[Explanation | None]:
        """The explanations as the principal may read them: every node any of their strings or steps names is
        checked (all at once, one check per label) and `Explanation.visible_to` renders them accordingly."""
        if not self.restricted:
            return explanations
        wanted: dict[str, set[str]] = {}
        for explanation in explanations:
            for ref in explanation.refs() if explanation is not None else ():
                wanted.setdefault(ref.label, set()).add(ref.id)
        labels = sorted(wanted)
        allowed = dict(
            zip(labels, await asyncio.gather(*(self.visible(label, wanted[label]) for label in labels)), strict=True)
        )

        def may_see(ref: NodeRef) -> bool:
            return ref.id in allowed.get(ref.label, ())

        told = {(d.about.label, d.about.id) for e in explanations if e is not None for d in e.details()
                if d.about.label in RECORDS and may_see(d.about)}
        whole = await self._whole_records(told)

        def may_know(ref: NodeRef) -> bool:
            return ref.label not in RECORDS or (ref.label, ref.id) in whole

        return [e.visible_to(may_see, may_know) if e is not None else None for e in explanations]

    async def _whole_records(self, nodes: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (label, id) among `nodes` all of whose deals (`RECORDS`) the principal sees."""
        book = await self.book()
        whole: set[tuple[str, str]] = set()
        for label, relation in RECORDS.items():
            ids = sorted(i for lbl, i in nodes if lbl == label)
            deals = await self._reads.neighbours(label, relation, "in").load_many(ids) if ids else []
            whole |= {(label, i) for i, links in zip(ids, deals, strict=True)
                      if all(n.node["id"] in book.deals for n in links)}
        return whole
