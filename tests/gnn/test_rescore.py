"""Incremental scoring: after a change, only deals whose computation graph moved are rescored, and the scores
are those of a full rescore with the same model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gnn.score import EXPLAIN_TOLERANCE, load_model, open_deal_ids, score_open_deals
from graph import open_store, sqlite_url


@pytest.fixture
def copied(trained, tmp_path: Path):
    """The session's scored store, copied: this test writes to it."""
    source = Path(trained.store_url.removeprefix("sqlite:///"))
    target = tmp_path / "graph.db"
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    store = open_store(sqlite_url(target), trained.store.schema)
    yield store
    store.close()


def test_a_delta_rescores_only_what_changed_and_equals_a_full_rescore(trained, copied) -> None:
    store = copied
    assert load_model(trained.home).model is not None
    snap = store.snapshot()
    opened = open_deal_ids(snap)
    assert score_open_deals(store, trained.home, explain=False, changed_only=True) == []  # nothing changed yet

    # The delta: a contact who has deals elsewhere joins one open deal, as a late-loaded contact role would.
    involves = snap.edges["INVOLVES"]
    deal = opened[0]
    on_deal = set(involves.loc[involves["src"] == deal, "dst"])
    contact = next(c for c in involves["dst"] if c not in on_deal)
    opened_at = snap.nodes["Deal"].set_index("id").at[deal, "created_at"].isoformat()
    store.upsert_edges("INVOLVES", [{"src": deal, "dst": contact, "role": "decision_maker", "created_at": opened_at}])

    rescored = {r.deal_id: r for r in score_open_deals(store, trained.home, explain=False, changed_only=True)}
    assert deal in rescored and 0 < len(rescored) < len(opened)
    assert all(r.metadata["graph"] and r.metadata["snapshot"] for r in rescored.values())
    latest = store.latest_scores(opened)

    full = {r.deal_id: r for r in score_open_deals(store, trained.home, explain=False)}
    assert set(full) == set(opened)
    for d in opened:
        assert latest[d].probability == pytest.approx(full[d].probability, abs=1e-6), d
        assert latest[d].metadata["graph"] == full[d].metadata["graph"], d


def test_a_rescored_deal_is_explained_again_only_when_its_own_record_or_its_score_moved(trained, copied) -> None:
    store = copied
    snap = store.snapshot()
    opened = open_deal_ids(snap)
    before = store.latest_scores(opened)
    assert all(before[d].metadata["own"] for d in opened)

    # A contact joins one open deal: that deal's own record moves; its neighbours' scores move a little.
    involves = snap.edges["INVOLVES"]
    deal = opened[-1]
    on_deal = set(involves.loc[involves["src"] == deal, "dst"])
    contact = next(c for c in involves["dst"] if c not in on_deal)
    opened_at = snap.nodes["Deal"].set_index("id").at[deal, "created_at"].isoformat()
    store.upsert_edges("INVOLVES", [{"src": deal, "dst": contact, "role": "decision_maker", "created_at": opened_at}])

    rescored = {r.deal_id: r for r in score_open_deals(store, trained.home, changed_only=True)}
    assert deal in rescored and rescored[deal].metadata["own"] != before[deal].metadata["own"]
    assert "explains" not in rescored[deal].explanation.extra  # explained again, for the score beside it
    kept = 0
    for d, record in rescored.items():
        old = before[d]
        if d == deal:
            continue
        assert record.metadata["own"] == old.metadata["own"]
        moved = abs(record.probability - old.probability) >= EXPLAIN_TOLERANCE or record.band != old.band
        explains = record.explanation.extra.get("explains")
        assert (explains is None) == moved, d
        if explains is not None:  # the kept explanation says which score it was made for
            kept += 1
            assert explains == {"probability": old.probability, "scored_at": old.scored_at.isoformat(),
                                "snapshot": old.metadata["snapshot"]}
            assert record.explanation.paths == old.explanation.paths
    assert kept  # the rule saves work: a contact on one deal barely moves the others
    stored = store.latest_scores(list(rescored))
    assert all(stored[d].explanation.extra.get("explains") == r.explanation.extra.get("explains")
               for d, r in rescored.items())  # what the store serves says it too


def test_own_digests_of_a_few_deals_are_theirs_in_the_whole_graph_and_move_only_with_their_own_edges() -> None:
    """`own_digests` hashes only the asked deals' rows and edges: the same digest as when every deal is asked,
    and an edge of one deal re-pointed moves that deal's digest and no other's."""
    from gnn.score import own_digests
    from graph.snapshot import Snapshot
    from ontology import load_schema

    schema = load_schema()
    nodes = {"Deal": [{"id": f"d{i}", "name": f"D{i}", "amount": 10.0 * i} for i in range(4)],
             "Account": [{"id": "a1", "name": "A1"}, {"id": "a2", "name": "A2"}],
             "Contact": [{"id": "c1", "name": "C1"}]}
    edges = {"FOR_ACCOUNT": [{"src": f"d{i}", "dst": "a1"} for i in range(4)],
             "INVOLVES": [{"src": "d1", "dst": "c1", "role": "champion"}, {"src": "d2", "dst": "c1", "role": "user"}]}
    ids = [f"d{i}" for i in range(4)]
    before = own_digests(Snapshot.from_rows(schema, nodes, edges), ids)
    assert len(set(before.values())) == len(ids)
    assert own_digests(Snapshot.from_rows(schema, nodes, edges), ["d2", "d9"]) == {"d2": before["d2"], "d9": ""}
    edges["FOR_ACCOUNT"][2] = {"src": "d2", "dst": "a2"}
    after = own_digests(Snapshot.from_rows(schema, nodes, edges), ids)
    assert {d for d in ids if after[d] != before[d]} == {"d2"}
