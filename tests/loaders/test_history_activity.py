"""Stage history and activities load from the shapes CRMs export them in, and their absence is said, not fatal.

Salesforce: `OpportunityHistory.csv` (a row per change, the deal's values from then on), `Task.csv` (WhatId an
opportunity or an account, WhoId a contact or a lead), `Event.csv`. Generic: `stage_history.csv`, `activities.csv`.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from ontology import load_schema

FIXTURES = Path(__file__).parent / "fixtures"


def export_of(tmp_path: Path, *parts: str) -> Path:
    """The fixture directories `parts` copied into one export."""
    out = tmp_path / "export"
    out.mkdir()
    for part in parts:
        for f in (FIXTURES / part).iterdir():
            shutil.copy(f, out / f.name)
    return out


def load(tmp_path: Path, export: Path, mapping: str):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    return store, load_export(store, export, load_mapping(mapping, schema), tmp_path / "q")


def test_salesforce_history_tasks_and_events(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "salesforce_gaps", "salesforce_activity"), "salesforce")
    assert summary.reconciles
    won = "0065g00000D2a01AAZ"
    history = next(f for f in summary.files if f.file == "OpportunityHistory.csv")
    assert (history.read, history.loaded, history.quarantined) == (5, 4, 1)  # one names an unknown opportunity
    # As of a time between changes, the deal's stage is the one recorded before it, not today's Closed Won.
    march = store.snapshot(as_of=datetime(2023, 3, 15, tzinfo=UTC)).nodes["Deal"].set_index("id").loc[won]
    assert march["stage"] == "Proposal/Price Quote"
    assert march["close_date"] == pd.Timestamp("2023-04-01", tz="UTC")
    assert march["amount"] == 40000.0
    activities = store.get_nodes("Activity", store.node_ids("Activity"))
    kinds = {a["id"]: (a["kind"], a.get("direction")) for a in activities.values()}
    assert kinds == {"00T5g00000T2a01AAZ": ("email", "outbound"), "00T5g00000T2a02AAZ": ("email", "inbound"),
                     "00T5g00000T2a03AAZ": ("call", None), "00T5g00000T2a04AAZ": ("task", None),
                     "00U5g00000V2a01AAZ": ("meeting", None)}
    about = {n.node["id"] for n in store.neighbours("Deal", [won], "REGARDS", "in")[won]}
    assert about == {"00T5g00000T2a01AAZ", "00T5g00000T2a02AAZ", "00T5g00000T2a03AAZ", "00U5g00000V2a01AAZ"}
    # The lead (00Q...) is no contact: its call keeps its deal and account, and names nobody.
    people = store.neighbours("Activity", ["00T5g00000T2a03AAZ", "00T5g00000T2a04AAZ"], "WITH_CONTACT")
    assert "00T5g00000T2a03AAZ" not in people and len(people["00T5g00000T2a04AAZ"]) == 1
    assert store.neighbours("Activity", ["00T5g00000T2a04AAZ"], "REGARDS") == {}  # WhatId an account: no deal
    accounts = store.neighbours("Activity", ["00T5g00000T2a04AAZ"], "AT_ACCOUNT")["00T5g00000T2a04AAZ"]
    assert [n.node["id"] for n in accounts] == ["0015g00000B2aAAAAZ"]
    store.close()


def test_generic_stage_history_and_activities(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "generic", "generic_activity"), "generic")
    assert summary.reconciles
    snap = store.snapshot(as_of=datetime(2022, 2, 1, tzinfo=UTC))
    d1 = snap.nodes["Deal"].set_index("id").loc["d1"]
    assert d1["stage"] == "Proposal" and d1["amount"] == 20000.0
    assert set(snap.nodes["Activity"]["id"]) == {"e1", "e2"}  # the meeting at 15:00 that day is not yet known
    inbound = store.get_node("Activity", "e2")
    assert (inbound["kind"], inbound["direction"]) == ("email", "inbound")
    store.close()


def test_export_without_history_or_activity_loads_and_says_so(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "salesforce_gaps"), "salesforce")
    assert summary.reconciles
    said = " ".join(summary.absent)
    for file in ("OpportunityHistory.csv", "Task.csv", "Event.csv"):
        assert f"{file} absent" in said
    assert store.node_ids("DealChange") == set() and store.node_ids("Activity") == set()
    store.close()
