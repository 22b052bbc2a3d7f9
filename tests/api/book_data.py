"""Three reps' books of business in one store, for visibility and filter tests.

    Rita (005-rita, EMEA)  owns deals on Acme, Acme Shared, and one closed deal.
    Bob  (005-bob,  EMEA)  owns deals on Bobco, Acme Shared, Acme's parent and Acme's subsidiary.
    Cleo (005-cleo, APAC)  owns one deal on Cleoco.

    Acme Group (parent, Bob's deals only) <- Acme (Rita) <- Acme Labs (subsidiary, Bob's deals only)

Contacts: Ana works at Acme and is on Rita's deals; Bo works at Bobco and is on Bob's deals only.
Rita's top deal is explained by paths through Ana (visible to her) and through Bob's won deal at
Bobco and Bo (not visible to her).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from api.auth import Role
from graph import open_store, sqlite_url
from graph.explanation import Detail, ExplainedPath, Explanation, NodeRef, PathStep, Phrase, Suggestion
from graph.store import GraphStore, ScoreRecord
from tests.api.queries import Endpoint, create_key

RITA, BOB, CLEO = "005-rita", "005-bob", "005-cleo"
ACME, ACME_GROUP, ACME_LABS, SHARED, BOBCO, CLEOCO = (
    "001-acme", "001-acme-group", "001-acme-labs", "001-shared", "001-bobco", "001-cleoco")
SCORED_AT = datetime(2025, 3, 4, 10, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Deal:
    id: str
    account: str
    owner: str
    stage: str
    close: str
    p: float | None  # None: unscored
    closed: bool = False
    contacts: tuple[str, ...] = ()


DEALS = [
    Deal("006-r1", ACME, RITA, "Proposal", "2025-04-15", 0.91, contacts=("003-ana",)),
    Deal("006-r2", ACME, RITA, "Negotiation", "2025-05-20", 0.55, contacts=("003-ana",)),
    Deal("006-r3", ACME, RITA, "Proposal", "2025-07-01", 0.20),
    Deal("006-r4", SHARED, RITA, "Qualification", "2025-06-10", None),
    Deal("006-r5", ACME, RITA, "Proposal", "2025-03-01", 0.40, closed=True),
    Deal("006-b1", BOBCO, BOB, "Proposal", "2025-04-01", 0.95, contacts=("003-bo",)),
    Deal("006-b2", SHARED, BOB, "Negotiation", "2025-05-01", 0.70),
    Deal("006-b3", ACME_GROUP, BOB, "Proposal", "2025-06-01", 0.50),
    Deal("006-b4", ACME_LABS, BOB, "Qualification", "2025-08-01", 0.10),
    Deal("006-b5", BOBCO, BOB, "Proposal", "2024-12-01", 0.80, closed=True, contacts=("003-bo",)),
    Deal("006-c1", CLEOCO, CLEO, "Proposal", "2025-04-30", 0.60),
]
OPEN = {d.id for d in DEALS if not d.closed}
# (id, deal or None, account, kind, direction, occurred at)
ACTIVITIES = [
    ("a-r1-1", "006-r1", ACME, "email", "outbound", "2025-02-01T09:00:00Z"),
    ("a-r1-2", "006-r1", ACME, "email", "inbound", "2025-02-02T09:00:00Z"),
    ("a-r1-3", "006-r1", ACME, "meeting", None, "2025-02-03T09:00:00Z"),
    ("a-r4", "006-r4", SHARED, "call", "outbound", "2025-02-04T09:00:00Z"),
    ("a-b2", "006-b2", SHARED, "email", "inbound", "2025-02-05T09:00:00Z"),
    ("a-shared", None, SHARED, "task", None, "2025-02-06T09:00:00Z"),
]


def band(p: float) -> str:
    return "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"


def explanation(deal_id: str) -> Explanation:
    """Two paths: one through Rita's own contact and account, one through Bob's won deal and contact."""
    deal = NodeRef("Deal", deal_id, "Acme renewal")
    ana, acme = NodeRef("Contact", "003-ana", "Ana Silva"), NodeRef("Account", ACME, "Acme")
    core = NodeRef("Product", "01t-core", "Core Platform")
    megadeal, bo = NodeRef("Deal", "006-b5", "Bobco Megadeal"), NodeRef("Contact", "003-bo", "Bo Secret")
    bobco = NodeRef("Account", BOBCO, "Bobco Industries")
    return Explanation(
        method="path-attribution", fidelity=0.8,
        paths=(
            ExplainedPath(0.3, Phrase.of(ana, " (champion on this deal) works at ", acme), (
                PathStep("Deal", deal), PathStep("Contact", ana, "INVOLVES", "out"),
                PathStep("Account", acme, "WORKS_AT", "out"))),
            ExplainedPath(-0.2, Phrase.of(bo, " was on ", megadeal, " at ", bobco,
                                          Detail(", which was won", megadeal)), (
                PathStep("Deal", deal), PathStep("Product", core, "FOR_PRODUCT", "out"),
                PathStep("Deal", megadeal, "FOR_PRODUCT", "in"), PathStep("Contact", bo, "INVOLVES", "out"),
                PathStep("Account", bobco, "WORKS_AT", "out"))),
        ),
        suggestions=(
            Suggestion("keep", 0, Phrase.of("Keep ", ana, " closely involved.")),
            Suggestion("risk", 1, Phrase.of("Watch: ", megadeal, " at ", bobco, Detail(", which was won", megadeal))),
            Suggestion("involve", 1, Phrase.of("Consider involving ", bo, "."), contact=bo),
        ),
    )


@dataclass(frozen=True)
class Book:
    deals: list[Deal] = field(default_factory=lambda: list(DEALS))

    def open_of(self, *owners: str) -> list[str]:
        """Open deal ids of these owners in the API's order: score desc (unscored last), then id."""
        mine = [d for d in self.deals if d.owner in owners and not d.closed]
        return [d.id for d in sorted(mine, key=lambda d: (-(d.p if d.p is not None else -1.0), d.id))]


def book_home(root: Path) -> Iterator[tuple[Path, GraphStore]]:
    """A folder whose store holds the book, for a module fixture to `yield from`; closes the store after."""
    store = open_store(sqlite_url(root / "graph.db"))
    build_book(store)
    yield root, store
    store.close()


def build_book(store: GraphStore) -> Book:
    store.upsert_nodes("Rep", [
        {"id": RITA, "name": "Rita Rep", "team": "EMEA"}, {"id": BOB, "name": "Bob Rep", "team": "EMEA"},
        {"id": CLEO, "name": "Cleo Rep", "team": "APAC"},
    ])
    store.upsert_nodes("Account", [
        {"id": ACME, "name": "Acme"}, {"id": ACME_GROUP, "name": "Acme Group"}, {"id": ACME_LABS, "name": "Acme Labs"},
        {"id": SHARED, "name": "Acme Shared"}, {"id": BOBCO, "name": "Bobco Industries"},
        {"id": CLEOCO, "name": "Cleoco"},
    ])
    store.upsert_edges("SUBSIDIARY_OF", [{"src": ACME, "dst": ACME_GROUP}, {"src": ACME_LABS, "dst": ACME}])
    store.upsert_nodes("Contact", [{"id": "003-ana", "name": "Ana Silva"}, {"id": "003-bo", "name": "Bo Secret"}])
    store.upsert_edges("WORKS_AT", [{"src": "003-ana", "dst": ACME}, {"src": "003-bo", "dst": BOBCO}])
    store.upsert_nodes("Product", [{"id": "01t-core", "name": "Core Platform"}])
    store.upsert_nodes("Deal", [
        {"id": d.id, "name": f"Deal {d.id}", "stage": d.stage, "close_date": d.close, "amount": 1000.0,
         "created_at": "2025-01-10T09:00:00Z"}
        for d in DEALS
    ])
    store.upsert_edges("FOR_ACCOUNT", [{"src": d.id, "dst": d.account} for d in DEALS])
    store.upsert_edges("OWNED_BY", [{"src": d.id, "dst": d.owner} for d in DEALS])
    store.upsert_edges("FOR_PRODUCT", [{"src": d.id, "dst": "01t-core", "amount": 1000.0} for d in DEALS])
    store.upsert_edges("INVOLVES", [
        {"src": d.id, "dst": c, "role": "champion", "is_primary": True} for d in DEALS for c in d.contacts
    ])
    # Activities: three on Rita's top deal (for paging), one on each side of Acme Shared, one on no deal there.
    store.upsert_nodes("Activity", [{"id": aid, "kind": kind, "direction": way, "subject": aid, "occurred_at": at}
                                    for aid, _, _, kind, way, at in ACTIVITIES])
    store.upsert_edges("REGARDS", [{"src": aid, "dst": deal} for aid, deal, *_ in ACTIVITIES if deal])
    store.upsert_edges("AT_ACCOUNT", [{"src": aid, "dst": acc} for aid, _, acc, *_ in ACTIVITIES])
    store.upsert_edges("WITH_CONTACT", [{"src": "a-b2", "dst": "003-bo"},
                                        {"src": "a-r1-3", "dst": "003-ana"}])
    # Stage history of Rita's top deal: in Proposal since 20 January (a later change of amount alone leaves it).
    store.upsert_nodes("DealChange", [
        {"id": f"h-r1-{i}", "changed_at": at, "stage": stage, "amount": amount}
        for i, (at, stage, amount) in enumerate([("2025-01-10T09:00:00Z", "Qualification", 1000.0),
                                                 ("2025-01-20T09:00:00Z", "Proposal", 1000.0),
                                                 ("2025-02-10T09:00:00Z", None, 1200.0)])])
    store.upsert_edges("CHANGE_OF", [{"src": f"h-r1-{i}", "dst": "006-r1"} for i in range(3)])
    closed = [d for d in DEALS if d.closed]
    store.upsert_nodes("Outcome", [{"id": f"o-{d.id}", "result": "won"} for d in closed])
    store.upsert_edges("HAS_OUTCOME", [{"src": d.id, "dst": f"o-{d.id}"} for d in closed])
    store.write_scores([
        ScoreRecord(deal_id=d.id, probability=d.p, model_version="v1", scored_at=SCORED_AT, band=band(d.p),
                    explanation=explanation(d.id))
        for d in DEALS if d.p is not None
    ])
    return Book()


@dataclass(frozen=True)
class BookServer:
    """A running app over the book graph; `as_(role, rep)` makes a key and returns an endpoint that sends it."""

    url: str
    home: Path
    book: Book

    def as_(self, role: Role, rep_id: str | None = None, team_scope: bool = False) -> Endpoint:
        return Endpoint(self.url, create_key(self.home, role, rep_id, team_scope))
