"""No leakage: a deal's score as of t depends only on what was known before t."""

from __future__ import annotations

import shutil
import sqlite3

import pandas as pd
import pytest

from gnn.features import FeatureSpec
from gnn.outcomes import outcome_times
from gnn.score import load_model, score_snapshot
from graph import open_store, sqlite_url


def _closed_deal_and_cutoff(snapshot):
    """A deal that closed, with a time halfway through its life, while it was open."""
    ends = outcome_times(snapshot)
    deals = snapshot.nodes["Deal"].set_index("id")
    life = ends.join(deals["created_at"]).dropna()
    life = life[(life["closed_at"] - life["created_at"]) > pd.Timedelta(days=20)]
    # the latest such deal has the most history before it
    deal_id = life.sort_values("closed_at").index[-1]
    row = life.loc[deal_id]
    return deal_id, row["created_at"] + (row["closed_at"] - row["created_at"]) / 2


def _flip_outcomes(db, where_sql: str, params: tuple) -> int:
    with sqlite3.connect(db) as conn:
        cur = conn.execute(
            f"UPDATE n_outcome SET result = CASE result WHEN 'won' THEN 'lost' ELSE 'won' END WHERE {where_sql}", params
        )
        return cur.rowcount


@pytest.fixture
def copy_of_store(trained, tmp_path):
    trained.store.close()
    db = tmp_path / "graph.db"
    shutil.copy(trained.store_url.removeprefix("sqlite:///"), db)
    return db


def _score(db, home, deal_id, t):
    with open_store(sqlite_url(db)) as store:
        snap = store.snapshot()
    return score_snapshot(load_model(home), snap.as_of(t.to_pydatetime()), t, [deal_id])[deal_id]


def test_score_ignores_own_outcome_and_everything_after_its_time(trained, copy_of_store):
    with open_store(sqlite_url(copy_of_store)) as store:
        deal_id, t = _closed_deal_and_cutoff(store.snapshot())
    before = _score(copy_of_store, trained.home, deal_id, t)
    # Flip the deal's own outcome and every outcome recorded at or after t.
    flipped = _flip_outcomes(copy_of_store, "id = ? OR closed_at >= ?",
                             (f"{deal_id}:outcome", t.strftime("%Y-%m-%dT%H:%M:%SZ")))
    assert flipped > 1
    assert _score(copy_of_store, trained.home, deal_id, t) == pytest.approx(before, abs=1e-9)


def test_score_does_use_outcomes_known_before_its_time(trained, copy_of_store):
    """The counterpart: history before t is what the model reads, so flipping it moves the score."""
    with open_store(sqlite_url(copy_of_store)) as store:
        deal_id, t = _closed_deal_and_cutoff(store.snapshot())
    before = _score(copy_of_store, trained.home, deal_id, t)
    assert _flip_outcomes(copy_of_store, "closed_at < ?", (t.strftime("%Y-%m-%dT%H:%M:%SZ"),)) > 0
    assert _score(copy_of_store, trained.home, deal_id, t) != pytest.approx(before, abs=1e-6)


def test_properties_known_only_now_are_never_features(trained):
    spec = FeatureSpec.fit(trained.store.schema, trained.store.snapshot())
    columns = {c.split("=")[0] for c in spec.column_names("Deal")}
    current_only = {p.name for p in trained.store.schema.nodes["Deal"].properties if p.current_value_only}
    assert {"stage", "close_date"} <= current_only
    assert not columns & current_only
    # the outcome reaches a deal only as the flags of *other* deals closed before the cutoff
    assert {"won", "lost"} <= columns
