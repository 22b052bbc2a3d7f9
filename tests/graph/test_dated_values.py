"""Dated values and activities as of a time, on every backend: a change recorded at or after t is never seen.

A deal's stage, amount and close date as of t are the last `DealChange` before t; an activity exists from its
`occurred_at` on. Today's stage (on the Deal row) never stands in for an earlier time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from graph import GraphStore
from graph.dated_values import stage_entries, stage_entry_positions
from tests.graph.backends import BACKENDS, open_test_store

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


# (id, changed on day, stage, amount, close date): d1 moves forward, is pushed, then goes back a stage.
CHANGES = [
    ("c1", 10, "Qualification", 1000.0, date(2025, 2, 1)),
    ("c2", 20, "Proposal", None, None),
    ("c3", 30, None, None, date(2025, 3, 1)),
    ("c4", 40, "Qualification", 800.0, None),
]
# (id, kind, direction, occurred on day)
ACTIVITIES = [("a1", "email", "outbound", 12), ("a2", "email", "inbound", 25), ("a3", "meeting", None, 35)]


@pytest.fixture(scope="module", params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphStore]:
    s = open_test_store(request.param, tmp_path_factory.mktemp("dated"))
    s.upsert_nodes("Account", [{"id": "acme", "name": "Acme", "created_at": day(0)}])
    s.upsert_nodes("Contact", [{"id": "jo", "name": "Jo", "created_at": day(0)}])
    # Today's values: what the CRM shows now, after every change.
    s.upsert_nodes("Deal", [{"id": "d1", "name": "D1", "created_at": day(10), "stage": "Qualification",
                             "amount": 800.0, "close_date": date(2025, 3, 1)},
                            {"id": "d2", "name": "D2", "created_at": day(10), "stage": "Negotiation",
                             "amount": 500.0, "close_date": date(2025, 4, 1)}])
    s.upsert_edges("FOR_ACCOUNT", [{"src": "d1", "dst": "acme"}, {"src": "d2", "dst": "acme"}])
    s.upsert_nodes("DealChange", [
        {"id": cid, "changed_at": day(d), "stage": st, "amount": amt, "close_date": cd}
        for cid, d, st, amt, cd in CHANGES])
    s.upsert_edges("CHANGE_OF", [{"src": cid, "dst": "d1"} for cid, *_ in CHANGES])
    s.upsert_nodes("Activity", [{"id": aid, "kind": k, "direction": dr, "occurred_at": day(d), "subject": aid}
                                for aid, k, dr, d in ACTIVITIES])
    s.upsert_edges("REGARDS", [{"src": aid, "dst": "d1"} for aid, *_ in ACTIVITIES])
    s.upsert_edges("WITH_CONTACT", [{"src": aid, "dst": "jo"} for aid, *_ in ACTIVITIES])
    yield s
    s.close()


def deal(store: GraphStore, deal_id: str, t: datetime) -> dict:
    frame = store.snapshot(as_of=t).nodes["Deal"].set_index("id")
    return frame.loc[deal_id].to_dict()


def expected(t: datetime) -> dict:
    """The last non-empty value of each field among the changes strictly before t."""
    out: dict = {"stage": None, "amount": 800.0, "close_date": None}  # amount: today's stands in (not current-only)
    for _, d, st, amt, cd in CHANGES:
        if day(d) < t:
            out["stage"] = st or out["stage"]
            out["amount"] = amt if amt is not None else out["amount"]
            out["close_date"] = cd or out["close_date"]
    return out


@pytest.mark.parametrize("t", [day(10.5), day(20), day(20.01), day(30), day(35), day(40), day(40.01), day(400)],
                         ids=lambda t: t.strftime("%m-%dT%H:%M"))
def test_stage_amount_close_date_as_of(store, t):
    got, want = deal(store, "d1", t), expected(t)
    assert (got["stage"] if isinstance(got["stage"], str) else None) == want["stage"]
    assert got["amount"] == want["amount"]
    close = got["close_date"]
    assert (None if pd.isna(close) else close.date()) == want["close_date"]


def test_change_at_or_after_t_is_invisible(store):
    # At exactly day 20 the Proposal change is not yet known; a second later it is.
    assert deal(store, "d1", day(20))["stage"] == "Qualification"
    assert deal(store, "d1", day(20) + timedelta(seconds=1))["stage"] == "Proposal"
    # The regression on day 40 is seen only after it.
    assert deal(store, "d1", day(39.9))["stage"] == "Proposal"
    assert deal(store, "d1", day(40.5))["stage"] == "Qualification"


def test_current_stage_never_stands_in_for_the_past(store):
    # d2 has no recorded change: its stage and close date now are unknown as of any earlier time,
    # its amount (not marked current-value-only) keeps today's value.
    got = deal(store, "d2", day(50))
    assert pd.isna(got["stage"]) and pd.isna(got["close_date"])
    assert got["amount"] == 500.0
    # The whole store, not cut at a time, still shows today's values.
    now = store.snapshot().nodes["Deal"].set_index("id")
    assert now.loc["d2", "stage"] == "Negotiation"


@pytest.mark.parametrize("t", [day(12), day(12.01), day(25.5), day(36)], ids=lambda t: t.strftime("%m-%dT%H:%M"))
def test_activities_follow_the_time_rule(store, t):
    snap = store.snapshot(as_of=t)
    seen = set(snap.nodes["Activity"]["id"])
    assert seen == {aid for aid, _, _, d in ACTIVITIES if day(d) < t}
    assert set(snap.edges["REGARDS"]["src"]) == seen
    assert set(snap.edges["WITH_CONTACT"]["src"]) == seen


def test_a_stage_is_entered_where_a_run_of_it_begins():
    # d1: Qualification twice (one run), an amount-only change, Proposal, back to Qualification; d2 one run.
    changes = pd.DataFrame([("d1", 1, "Qualification"), ("d1", 2, "Qualification"), ("d1", 3, None),
                            ("d1", 4, "Proposal"), ("d1", 5, "Qualification"), ("d2", 1, "Proposal"),
                            ("d2", 2, "Proposal")], columns=["node", "changed_at", "stage"])
    entries = stage_entries(changes)
    assert list(entries.itertuples(index=False, name=None)) == [
        ("d1", 1, "Qualification"), ("d1", 4, "Proposal"), ("d1", 5, "Qualification"), ("d2", 1, "Proposal")]
    assert entries.groupby("node")["changed_at"].last().to_dict() == {"d1": 5, "d2": 1}
    assert stage_entries(changes.drop(columns="stage")).empty  # no stage history kept: no entry known
    # The same rule on one deal's plain lists (what the widget reads), and on none.
    assert stage_entry_positions(["d1"] * 4, ["Proposal", None, "Proposal", "Closing"]).tolist() == [0, 3]
    assert stage_entry_positions([], []).tolist() == []
