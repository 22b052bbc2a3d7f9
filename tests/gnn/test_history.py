"""Records at a deal's opening (`gnn.history`): what counts is what had happened when the deal was opened."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gnn.dataset import flat_features
from gnn.features import HISTORY_PREFIX, FeatureSpec, encode, table_columns
from gnn.history import base_win_rate, records_at_open
from graph import GraphStore, open_store, sqlite_url

T0 = datetime(2025, 1, 1, tzinfo=UTC)
#: deal -> (opened on day, outcome, closed on day); every deal has Ana as a contact and Acme as account.
DEALS = {"a": (0, "won", 10), "b": (5, "lost", 20), "c": (12, None, None), "d": (25, None, None)}


def at(day: float) -> str:
    return (T0 + timedelta(days=day)).isoformat()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GraphStore]:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    store.upsert_nodes("Account", [{"id": "acme", "name": "Acme", "created_at": at(-30)}])
    store.upsert_nodes("Contact", [{"id": "ana", "name": "Ana Ruiz", "email": "ana@acme.example",
                                    "created_at": at(-30)}])
    store.upsert_nodes("Deal", [{"id": d, "name": f"Deal {d}", "amount": 1000.0, "stage": "proposal",
                                 "created_at": at(opened), "close_date": "2025-06-30"}
                                for d, (opened, _, _) in DEALS.items()])
    store.upsert_edges("FOR_ACCOUNT", [{"src": d, "dst": "acme"} for d in DEALS])
    store.upsert_edges("INVOLVES", [{"src": d, "dst": "ana", "role": "champion", "is_primary": True,
                                     "created_at": at(opened)} for d, (opened, _, _) in DEALS.items()])
    close(store, {d: (result, closed) for d, (_, result, closed) in DEALS.items() if result})
    try:
        yield store
    finally:
        store.close()


def close(store: GraphStore, outcomes: dict[str, tuple[str, float]]) -> None:
    store.upsert_nodes("Outcome", [{"id": f"o-{d}", "result": result, "closed_at": at(day)}
                                   for d, (result, day) in outcomes.items()])
    store.upsert_edges("HAS_OUTCOME", [{"src": d, "dst": f"o-{d}"} for d in outcomes])


def records(store: GraphStore, relation: str = "INVOLVES", base_rate: float = 0.5) -> dict[str, float]:
    snapshot = store.snapshot()
    values = records_at_open(snapshot, relation, base_rate)
    return dict(zip(snapshot.nodes["Deal"]["id"], values.round(6), strict=True))


def test_a_record_counts_only_what_happened_before_the_deal_was_opened(store: GraphStore) -> None:
    # c opened on day 12: a (opened day 0) was won on day 10; b (opened day 5) was still open.
    # (wins - rate * closes) / (opened before + 1) = (1 - 0.5) / 3. d (day 25) saw both close: (1 - 1) / 4.
    assert records(store) == {"a": 0.0, "b": 0.0, "c": round(0.5 / 3, 6), "d": 0.0}
    assert records(store, "FOR_ACCOUNT") == records(store)  # the same deals through the account
    assert base_win_rate(store.snapshot()) == 0.5


def test_an_outcome_after_the_deal_was_opened_does_not_change_its_record(store: GraphStore) -> None:
    before = records(store)
    close(store, {"b": ("won", 20)})  # b was won after all, on day 20: after c opened, before d
    after = records(store)
    assert after["c"] == before["c"]
    assert after["d"] == round((2 - 0.5 * 2) / 4, 6) != before["d"]


def test_the_flat_table_leaves_records_to_the_graph_model(store: GraphStore) -> None:
    snapshot = store.snapshot()
    spec = FeatureSpec.fit(snapshot.schema, snapshot)
    names = spec.column_names("Deal")
    history = [n for n in names if n.startswith(HISTORY_PREFIX)]
    assert {n.removeprefix(HISTORY_PREFIX) for n in history} == {"FOR_ACCOUNT", "FOR_PRODUCT", "INVOLVES", "OWNED_BY"}
    data = encode(spec, snapshot)
    assert data["Deal"].x.shape[1] == len(names)
    c = names.index(f"{HISTORY_PREFIX}INVOLVES")
    assert data["Deal"].x[:, c].abs().sum() > 0  # the graph model sees them
    own = table_columns(spec, "Deal")
    assert [names[i] for i in own] == [n for n in names if n not in history]
    flat = flat_features(data, data["Deal"].x.new_tensor(range(len(DEALS))).long())
    assert (flat[:, : len(own)] == data["Deal"].x[:, own].numpy()).all()  # the table's own part has no records


def test_a_model_saved_before_records_existed_still_encodes(store: GraphStore) -> None:
    snapshot = store.snapshot()
    saved = FeatureSpec.fit(snapshot.schema, snapshot).to_dict()
    for new in ("history", "base_rate"):
        saved.pop(new)
    spec = FeatureSpec.from_dict(saved)
    spec.mean["Deal"], spec.std["Deal"] = spec.mean["Deal"][:2], spec.std["Deal"][:2]  # amount, age_days
    assert not any(n.startswith(HISTORY_PREFIX) for n in spec.column_names("Deal"))
    assert encode(spec, snapshot)["Deal"].x.shape[1] == len(spec.column_names("Deal"))
