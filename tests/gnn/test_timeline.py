"""Timeline features (`gnn.timeline`) read only what was recorded before the cutoff, and read it right."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from gnn import timeline as tl
from graph import open_store, sqlite_url

T0 = datetime(2025, 1, 1, tzinfo=UTC)
FAMILIES = [tl.HISTORY, tl.ACTIVITY]
STAGES = ["Negotiation", "Proposal", "Qualification"]


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture()
def store(tmp_path):
    s = open_store(sqlite_url(tmp_path / "g.db"))
    s.upsert_nodes("Account", [{"id": "a", "name": "A", "created_at": day(0)}])
    s.upsert_nodes("Contact", [{"id": c, "name": c, "created_at": day(0)} for c in ("jo", "al")])
    s.upsert_nodes("Deal", [{"id": d, "name": d, "created_at": day(1), "stage": "Negotiation"} for d in ("d1", "d2")])
    s.upsert_edges("FOR_ACCOUNT", [{"src": d, "dst": "a"} for d in ("d1", "d2")])
    s.upsert_edges("INVOLVES", [{"src": "d1", "dst": c, "role": "champion"} for c in ("jo", "al")])
    changes = [("c1", 1, "Qualification", 100.0, date(2025, 2, 1)), ("c2", 10, "Proposal", None, None),
               ("c3", 20, None, None, date(2025, 3, 1)), ("c4", 30, "Qualification", 80.0, None),
               ("c5", 35, "Proposal", None, None)]
    s.upsert_nodes("DealChange", [{"id": i, "changed_at": day(d), "stage": st, "amount": a, "close_date": cd}
                                  for i, d, st, a, cd in changes])
    s.upsert_edges("CHANGE_OF", [{"src": i, "dst": "d1"} for i, *_ in changes])
    acts = [("e1", "email", "outbound", 5, "jo"), ("e2", "email", "inbound", 6, "jo"),
            ("m1", "meeting", None, 33, None)]
    s.upsert_nodes("Activity", [{"id": i, "kind": k, "direction": w, "occurred_at": day(d)} for i, k, w, d, _ in acts])
    s.upsert_edges("REGARDS", [{"src": i, "dst": "d1"} for i, *_ in acts])
    s.upsert_edges("WITH_CONTACT", [{"src": i, "dst": c} for i, *_, c in acts if c])
    yield s
    s.close()


def features(store, t: datetime) -> pd.DataFrame:
    snap = store.snapshot(as_of=t)
    names = tl.column_names(FAMILIES, STAGES)
    x = tl.timeline_columns(snap, pd.Timestamp(t), FAMILIES, STAGES)
    return pd.DataFrame(x, index=snap.nodes["Deal"]["id"], columns=names)


def test_what_a_rep_sees_on_day_36(store):
    f = features(store, day(36)).loc["d1"]
    assert f["timeline:stage=Proposal"] == 1 and f["timeline:stage=Qualification"] == 0
    assert f["timeline:days_in_stage"] == pytest.approx(np.log1p(1))
    assert f["timeline:stage_changes"] == pytest.approx(np.log1p(3))  # Q -> P -> Q -> P
    assert f["timeline:stage_regressions"] == 2  # back to Qualification, back to Proposal
    assert f["timeline:close_pushes"] == pytest.approx(np.log1p(1))
    assert f["timeline:days_overdue"] == 0  # due 1 March (day 59): not yet
    assert f["timeline:days_to_close"] == pytest.approx(np.log1p(59 - 36))
    assert f["timeline:amount_changes"] == pytest.approx(np.log1p(1))
    assert f["timeline:amount_ratio"] == pytest.approx(np.log(0.8))
    assert f["timeline:days_since_activity"] == pytest.approx(np.log1p(3))
    assert f["timeline:days_since_inbound"] == pytest.approx(np.log1p(30))
    assert f["timeline:meeting_14d"] == pytest.approx(np.log1p(1)) and f["timeline:email_14d"] == 0
    assert f["timeline:email_60d"] == pytest.approx(np.log1p(2))
    assert f["timeline:contacts_engaged_share"] == 0.5  # jo of jo and al
    # d2 has no history and no activity: unknown, not today's stage.
    d2 = features(store, day(36)).loc["d2"]
    assert d2["timeline:has_history"] == 0 and d2[[f"timeline:stage={s}" for s in [*STAGES, "other"]]].sum() == 0


def test_a_change_at_or_after_the_cutoff_is_not_seen(store):
    before = features(store, day(30))
    assert before.loc["d1", "timeline:stage=Proposal"] == 1 and before.loc["d1", "timeline:stage_regressions"] == 0
    after = features(store, day(30) + timedelta(seconds=1))
    assert after.loc["d1", "timeline:stage=Qualification"] == 1 and after.loc["d1", "timeline:stage_regressions"] == 1
    # A change recorded later in the store leaves the features as of day 30 exactly as they were.
    store.upsert_nodes("DealChange", [{"id": "late", "changed_at": day(30), "stage": "Negotiation"}])
    store.upsert_edges("CHANGE_OF", [{"src": "late", "dst": "d1"}])
    store.upsert_nodes("Activity", [{"id": "late-call", "kind": "call", "occurred_at": day(31)}])
    store.upsert_edges("REGARDS", [{"src": "late-call", "dst": "d1"}])
    pd.testing.assert_frame_equal(features(store, day(30)), before)
