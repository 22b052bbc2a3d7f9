"""A stage moved forward in a delta load changes the deal's score the way the sample's generator implies.

In the sample (`loaders/sample/_timeline.py`) a deal climbs further through the stages the likelier it is won,
so the trained model must score deals higher once they reach Negotiation/Review than while they sit in an
early stage. And the change must come from the history, time-correctly: a stage change dated after the time a
deal is scored at leaves that score as it was.
"""

from __future__ import annotations

import csv
import shutil
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from gnn.score import load_model, open_deal_ids, score_snapshot
from graph import open_store, sqlite_url
from loaders import load_export, load_mapping

EARLY = ("Prospecting", "Qualification", "Needs Analysis")
LATE = "Negotiation/Review"


@pytest.fixture(scope="module")
def moved(trained, tmp_path_factory):
    """The trained sample loaded afresh, then a delta load moving every early-stage open deal to LATE."""
    root = tmp_path_factory.mktemp("moved")
    store = open_store(sqlite_url(root / "g.db"), trained.store.schema)
    mapping = load_mapping("salesforce", store.schema)
    load_export(store, trained.sample, mapping, root / "q0")
    before = store.snapshot()
    now = before.nodes["DealChange"]["changed_at"].max()
    deals = before.as_of(now.to_pydatetime() + timedelta(seconds=1)).nodes["Deal"].set_index("id")
    early = [d for d in open_deal_ids(before) if deals.loc[d, "stage"] in EARLY]
    assert len(early) >= 5, "the sample should have open deals in early stages"
    delta = root / "delta"
    shutil.copytree(trained.sample, delta)
    moment = now + pd.Timedelta(hours=1)
    with open(delta / "OpportunityHistory.csv", "a", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        for i, deal in enumerate(early):
            writer.writerow([f"0085g0000ZZ{i:05d}AAA", deal, LATE, "", "", "90", "Pipeline", "",
                             moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")])
    load_export(store, delta, mapping, root / "q1")
    yield store, before, early, moment
    store.close()


def test_stage_moved_forward_raises_the_score(trained, moved):
    store, before, early, moment = moved
    loaded = load_model(trained.home)
    now = moment + pd.Timedelta(seconds=1)
    old = score_snapshot(loaded, before, now, early)
    new = score_snapshot(loaded, store.snapshot(), now, early)
    gains = np.array([new[d] - old[d] for d in early])
    assert np.abs(gains).max() > 0.0  # the stage is read at all
    # Deal by deal the move also resets the days in stage; on average the later stage must count for more.
    assert gains.mean() > 0.0


def test_stage_change_after_the_scoring_time_changes_nothing(trained, moved):
    store, before, early, moment = moved
    loaded = load_model(trained.home)
    then = moment - pd.Timedelta(minutes=1)
    cut = then.to_pydatetime()
    old = score_snapshot(loaded, before.as_of(cut), then, early)
    new = score_snapshot(loaded, store.snapshot().as_of(cut), then, early)
    assert old == new
