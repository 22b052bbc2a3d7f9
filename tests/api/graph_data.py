"""A small CRM graph written through the real store, shared by the API tests.

Globex Holdings (parent) owns Globex Europe (subsidiary). Europe has two
current contacts and a former one, five open deals (one unscored, two tied
on score) and one closed deal; the parent has twelve more open deals so
pagination crosses several pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from graph.explanation import ExplainedPath, Explanation, NodeRef, PathStep, Phrase, Suggestion
from graph.store import GraphStore, ScoreRecord

PARENT, SUB = "001-parent", "001-sub"
SCORED_AT = datetime(2025, 3, 4, 10, 15, tzinfo=UTC)


@dataclass(frozen=True)
class Crm:
    """Ids the tests assert on."""

    parent: str
    sub: str
    sub_open_by_score: list[str]  # Globex Europe's open deals, expected order
    closed_deal: str
    explained_deal: str
    all_open: int


def explanation(deal_id: str, n_paths: int) -> Explanation:
    """A stored explanation with `n_paths` paths, strongest first."""
    deal, ana = NodeRef("Deal", deal_id, f"Deal {deal_id}"), NodeRef("Contact", "003-ana", "Ana Silva")
    europe = NodeRef("Account", SUB, "Globex Europe")
    paths = tuple(
        ExplainedPath(round(0.5 / (i + 1), 4) * (1 if i % 2 == 0 else -1),
                      Phrase.of(f"path {i}: deal involves a champion"),
                      (PathStep("Deal", deal), PathStep("Contact", ana, "INVOLVES", "out"),
                       PathStep("Account", europe, "WORKS_AT", "out")))
        for i in range(n_paths)
    )
    bob = NodeRef("Contact", "003-bob", "Bob")
    suggestions = (Suggestion("keep", 0, Phrase.of("Keep ", ana, " closely involved.")),
                   Suggestion("involve", n_paths - 1, Phrase.of("Consider involving ", bob, "."), contact=bob))
    return Explanation(method="path-attribution", paths=paths, fidelity=0.82, fidelity_minus=0.05,
                       random_fidelity=0.2, suggestions=suggestions)


def score(deal_id: str, p: float, paths: int = 0, version: str = "v1") -> ScoreRecord:
    band = "high" if p >= 0.6 else "medium" if p >= 0.3 else "low"
    return ScoreRecord(
        deal_id=deal_id, probability=p, model_version=version, scored_at=SCORED_AT, band=band,
        explanation=explanation(deal_id, paths) if paths else None, metadata={"model_kind": "graphsage"},
    )


def add_deals(
    store: GraphStore, account_id: str, deal_ids: list[str], rep: str = "005-rep", product: str = "01t-core"
) -> None:
    """Open deals on an account, each with an owner, a contact and a line item."""
    store.upsert_nodes("Deal", [
        {"id": d, "name": f"Deal {d}", "amount": 1000.0 * (i + 1), "stage": "proposal",
         "created_at": "2025-01-10T09:00:00Z", "close_date": "2025-06-30"}
        for i, d in enumerate(deal_ids)
    ])
    store.upsert_edges("FOR_ACCOUNT", [{"src": d, "dst": account_id} for d in deal_ids])
    store.upsert_edges("OWNED_BY", [{"src": d, "dst": rep} for d in deal_ids])
    store.upsert_edges("INVOLVES", [
        {"src": d, "dst": "003-ana", "role": "champion", "is_primary": True, "created_at": "2025-01-11T09:00:00Z"}
        for d in deal_ids
    ])
    store.upsert_edges("FOR_PRODUCT", [
        {"src": d, "dst": product, "quantity": 2, "unit_price": 500.0, "amount": 1000.0,
         "created_at": "2025-01-11T09:00:00Z"}
        for d in deal_ids
    ])


def add_people_and_products(store: GraphStore) -> None:
    store.upsert_nodes("Rep", [{"id": "005-rep", "name": "Rita Rep", "email": "rita@vendor.test", "team": "EMEA"}])
    store.upsert_nodes("Product", [
        {"id": "01t-core", "name": "Core Platform", "family": "platform"},
        {"id": "01t-addon", "name": "Analytics Add-on", "family": "addon"},
    ])
    store.upsert_nodes("Contact", [
        {"id": "003-ana", "name": "Ana Silva", "email": "ana@globex.test", "title": "VP Operations"},
        {"id": "003-ben", "first_name": "Ben", "last_name": "Okafor", "email": "ben@globex.test"},
        {"id": "003-cleo", "name": "Cleo Former", "email": "cleo@globex.test"},
        {"id": "003-dan", "name": "Dan Parent", "email": "dan@globex.test"},
    ])


def build_crm(store: GraphStore) -> Crm:
    """Write the shared test graph; returns the ids and orders tests expect."""
    store.upsert_nodes("Account", [
        {"id": PARENT, "name": "Globex Holdings", "industry": "Manufacturing", "country": "DE", "employees": 12000,
         "website": "globex.test", "created_at": "2020-01-01T00:00:00Z"},
        {"id": SUB, "name": "Globex Europe", "industry": "Manufacturing", "country": "FR", "employees": 800,
         "created_at": "2021-01-01T00:00:00Z"},
    ])
    store.upsert_edges("SUBSIDIARY_OF", [{"src": SUB, "dst": PARENT}])
    add_people_and_products(store)
    store.upsert_edges("WORKS_AT", [
        {"src": "003-ana", "dst": SUB, "since": "2022-01-01"},
        {"src": "003-ben", "dst": SUB, "since": "2023-05-01", "title": "Procurement Lead"},
        {"src": "003-cleo", "dst": SUB, "since": "2019-01-01", "until": "2024-01-01"},
        {"src": "003-dan", "dst": PARENT, "since": "2018-01-01"},
    ])
    sub_deals = ["006-a", "006-b", "006-c", "006-d", "006-e", "006-closed"]
    add_deals(store, SUB, sub_deals)
    store.upsert_edges("FOR_PRODUCT", [
        {"src": "006-a", "dst": "01t-addon", "quantity": 1, "unit_price": 300.0, "amount": 300.0},
    ])
    store.upsert_nodes("Outcome", [{"id": "o-1", "result": "won", "closed_at": "2025-02-01T12:00:00Z", "amount": 5200.0,
                                    "reason": "price"}])
    store.upsert_edges("HAS_OUTCOME", [{"src": "006-closed", "dst": "o-1"}])
    parent_deals = [f"006-p{i:02d}" for i in range(12)]
    add_deals(store, PARENT, parent_deals)

    # 006-a is scored twice so it has a previous probability; 006-b and 006-d tie; 006-e is never scored.
    store.write_scores([score("006-a", 0.55, paths=5, version="v0")])
    store.write_scores([
        score("006-a", 0.91, paths=5), score("006-b", 0.40, paths=2), score("006-c", 0.72, paths=1),
        score("006-d", 0.40), score("006-closed", 0.99),
        # parent deals: a spread with ties and two unscored (p10, p11)
        *(score(d, round(0.05 + 0.08 * (i % 5), 2)) for i, d in enumerate(parent_deals[:10])),
    ])
    return Crm(
        parent=PARENT,
        sub=SUB,
        sub_open_by_score=["006-a", "006-c", "006-b", "006-d", "006-e"],
        closed_deal="006-closed",
        explained_deal="006-a",
        all_open=5 + 12,
    )
