"""Incremental scoring: after a change, only deals whose computation graph moved are rescored, and the scores
are those of a full rescore with the same model."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gnn.score import load_model, open_deal_ids, score_open_deals
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
