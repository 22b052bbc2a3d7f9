"""DataLoaders keep the store calls of the widget query bounded, whatever the number of deals."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

from api.app import create_app
from api.auth import Role
from api.graphql.store_reads import OPEN_DEALS_BATCH
from graph.sqlite import SQLiteStore
from ontology import load_schema
from tests.api.graph_data import add_deals, add_people_and_products, score
from tests.api.queries import ACCOUNT_QUERY, as_admin, create_key, gql
from tests.helpers.server import serve

READS = ("get_nodes", "neighbours", "latest_scores", "open_deals_page", "node_ids", "read_tables", "counts")


class CountingStore(SQLiteStore):
    """The real SQLite store, counting each read it serves (calls come from several threads)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, load_schema())
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()

    def _count(self, name: str) -> None:
        with self._calls_lock:
            self.calls[name] += 1

    def get_nodes(self, *args: Any, **kwargs: Any) -> Any:
        self._count("get_nodes")
        return super().get_nodes(*args, **kwargs)

    def neighbours(self, *args: Any, **kwargs: Any) -> Any:
        self._count("neighbours")
        return super().neighbours(*args, **kwargs)

    def latest_scores(self, *args: Any, **kwargs: Any) -> Any:
        self._count("latest_scores")
        return super().latest_scores(*args, **kwargs)

    def open_deals_page(self, *args: Any, **kwargs: Any) -> Any:
        self._count("open_deals_page")
        return super().open_deals_page(*args, **kwargs)

    def node_ids(self, *args: Any, **kwargs: Any) -> Any:
        self._count("node_ids")
        return super().node_ids(*args, **kwargs)

    def read_tables(self) -> Any:
        self._count("read_tables")
        return super().read_tables()

    def counts(self) -> Any:
        self._count("counts")
        return super().counts()


ACME, ACME_PARENT = "001-acme", "001-acme-group"


def widget_calls(tmp_path: Path, n_deals: int) -> Counter[str]:
    """Store reads of the full widget query for an account with `n_deals` open deals and one closed."""
    store = CountingStore(tmp_path / f"graph-{n_deals}.db")
    try:
        store.upsert_nodes("Account", [{"id": ACME, "name": "Acme"}, {"id": ACME_PARENT, "name": "Acme Group"}])
        store.upsert_edges("SUBSIDIARY_OF", [{"src": ACME, "dst": ACME_PARENT}])
        add_people_and_products(store)
        store.upsert_edges("WORKS_AT", [{"src": "003-ana", "dst": ACME}, {"src": "003-ben", "dst": ACME}])
        deals = [f"006-{i:03d}" for i in range(n_deals)]
        add_deals(store, ACME, [*deals, "006-won"])
        store.upsert_nodes("Outcome", [{"id": "o-won", "result": "won"}])
        store.upsert_edges("HAS_OUTCOME", [{"src": "006-won", "dst": "o-won"}])
        # Every other deal scored, with explanations, so score and explanation resolvers run for both kinds.
        store.write_scores([score(d, 0.01 * (i % 90), paths=4) for i, d in enumerate(deals) if i % 2 == 0])
        with serve(create_app(store, tmp_path), ready_path=None) as base_url:
            admin = as_admin(base_url, tmp_path)
            store.calls.clear()
            body = gql(admin, ACCOUNT_QUERY, {"id": ACME, "top": 3})
            calls = Counter(store.calls)
        assert "errors" not in body, body
        assert len(body["data"]["account"]["openDeals"]) == n_deals
        assert len(body["data"]["account"]["contacts"]) == 2
        return calls
    finally:
        store.close()


def test_store_calls_do_not_grow_with_the_number_of_deals(tmp_path: Path) -> None:
    few, many = widget_calls(tmp_path, 3), widget_calls(tmp_path, 30)
    assert few == many, (few, many)
    # One read each for the account, its open deals and their scores, one per other relation walked
    # (parent, subsidiaries, contacts, and each deal's owner, contacts, products): nothing per deal.
    # `outcome` costs nothing: an open-deals read already says there is none.
    assert many == Counter({"get_nodes": 1, "open_deals_page": 1, "latest_scores": 1, "neighbours": 6}), many


def test_open_deals_lists_every_deal_past_one_store_page(tmp_path: Path) -> None:
    n = 2 * OPEN_DEALS_BATCH + 3  # three store pages
    store = CountingStore(tmp_path / "graph.db")
    try:
        store.upsert_nodes("Account", [{"id": ACME, "name": "Acme"}])
        deals = [f"006-{i:04d}" for i in range(n)]
        store.upsert_nodes("Deal", [{"id": d, "name": d} for d in deals])
        store.upsert_edges("FOR_ACCOUNT", [{"src": d, "dst": ACME} for d in deals])
        store.write_scores([score(d, round((i % 97) / 100, 2)) for i, d in enumerate(deals) if i % 3])
        with serve(create_app(store, tmp_path), ready_path=None) as base_url:
            admin = as_admin(base_url, tmp_path)
            store.calls.clear()
            body = gql(admin, 'query($id: ID!) { account(id: $id) { openDeals { id score { probability } } } }',
                       {"id": ACME})
            calls = Counter(store.calls)
        open_deals = body["data"]["account"]["openDeals"]
        listed = [(d["id"], (d["score"] or {"probability": -1.0})["probability"]) for d in open_deals]
        assert [i for i, _ in listed] != deals  # the order is by score, not by id
        assert sorted(i for i, _ in listed) == deals
        assert listed == sorted(listed, key=lambda pair: (-pair[1], pair[0]))
        assert calls["open_deals_page"] == 3 and calls["latest_scores"] == 1
    finally:
        store.close()


DEAL_FIELDS = """id name stage closeDate owner { id team } account { id name } contacts { role contact { id } }
    products { quantity product { id } } outcome { result } score { probability band }
    explanation(top: 3) { paths { text steps { label id name } } }"""
FILTERED = f"""query($filter: DealFilter) {{ deals(filter: $filter, first: 100) {{
    totalCount edges {{ cursor node {{ {DEAL_FIELDS} }} }} pageInfo {{ hasNextPage }} }} }}"""
NESTED = f"""query($id: ID!) {{ account(id: $id) {{ name parent {{ id }} subsidiaries {{ id }}
    deals(first: 100, filter: {{stage: "proposal"}}) {{ totalCount edges {{ node {{ {DEAL_FIELDS} }} }} }} }} }}"""


def scoped_calls(tmp_path: Path, n_deals: int) -> dict[str, Counter[str]]:
    """Store reads per (principal, query) with `n_deals` open deals owned by one rep on one account."""
    store = CountingStore(tmp_path / f"scoped-{n_deals}.db")
    try:
        store.upsert_nodes("Account", [{"id": ACME, "name": "Acme"}, {"id": ACME_PARENT, "name": "Acme Group"}])
        store.upsert_edges("SUBSIDIARY_OF", [{"src": ACME, "dst": ACME_PARENT}])
        add_people_and_products(store)
        store.upsert_edges("WORKS_AT", [{"src": "003-ana", "dst": ACME}])
        deals = [f"006-{i:03d}" for i in range(n_deals)]
        add_deals(store, ACME, deals)  # owned by 005-rep
        store.write_scores([score(d, 0.01 * (i % 90), paths=4) for i, d in enumerate(deals)])
        low = sum(1 for i in range(n_deals) if 0.01 * (i % 90) < 0.3)
        runs = {  # name: (who, query, variables, how many deals it must list)
            "rep widget": ("rep", ACCOUNT_QUERY, {"id": ACME, "top": 3}, n_deals),
            "rep filtered page": ("rep", FILTERED, {"filter": {"stage": "proposal", "closeAfter": "2025-01-01"}},
                                  n_deals),
            "rep nested account deals": ("rep", NESTED, {"id": ACME}, n_deals),
            "admin filtered page": ("admin", FILTERED, {"filter": {"repId": "005-rep", "scoreBand": "LOW"}}, low),
            "admin scan filter": ("admin", FILTERED, {"filter": {"stage": "proposal"}}, n_deals),
        }
        out: dict[str, Counter[str]] = {}
        with serve(create_app(store, tmp_path), ready_path=None) as base_url:
            tokens = {"admin": create_key(tmp_path), "rep": create_key(tmp_path, Role.REP, "005-rep")}
            for name, (who, query, variables, n_listed) in runs.items():
                gql(base_url, "{ __typename }", token=tokens[who])  # verify the key outside the count
                store.calls.clear()
                body = gql(base_url, query, variables, token=tokens[who])
                out[name] = Counter(store.calls)
                assert "errors" not in body, (name, body)
                data = body["data"]
                listed = data["account"]["openDeals"] if name == "rep widget" else (
                    data["account"]["deals"]["edges"] if "account" in data else data["deals"]["edges"])
                assert len(listed) == n_listed, (name, len(listed), n_listed)
        return out
    finally:
        store.close()


def test_scoped_and_filtered_reads_do_not_grow_with_the_number_of_deals(tmp_path: Path) -> None:
    few, many = scoped_calls(tmp_path, 3), scoped_calls(tmp_path, 30)
    assert few == many, (few, many)
    # Visibility costs a fixed handful of reads on top (the rep's deals, ownership of what is reached).
    assert sum(many["rep widget"].values()) <= 15, many["rep widget"]
