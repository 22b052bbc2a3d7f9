"""Stage history and engagements in the shapes HubSpot exports them, and Salesforce's field history.

HubSpot: one `hs_date_entered_<stage id>` column per pipeline stage on the deal row (read with the mapping
language's `unpivot`), engagements in `engagements.csv`. Salesforce: `OpportunityFieldHistory.csv`, a row per
change of one field (read with a value's `when` and the source's `require`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from api.cli import main
from graph import sqlite_url
from graph.store import InvalidInput
from loaders import load_mapping
from loaders.mapping import parse_mapping
from loaders.read import source_rows
from ontology import load_schema
from ontology.names import Label, Rel
from tests.loaders.test_history_activity import export_of, load


def quarantined(tmp_path: Path, file: str) -> dict[int, str]:
    """Line -> reason of every quarantined row of `file`."""
    found: dict[int, str] = {}
    for path in (tmp_path / "q").rglob("*"):
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line)
                if entry["file"] == file:
                    found[entry["line"]] = entry["reason"]
    return found


def test_hubspot_stage_columns_and_engagements(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "hubspot", "hubspot_history"), "hubspot")
    assert summary.reconciles
    history = next(f for f in summary.files if f.file == "deals.csv" and f.target == Label.DEAL_CHANGE)
    # Nine filled stage-entry cells; the one with a date written day-first is quarantined, on its deal's line.
    assert (history.read, history.loaded, history.quarantined) == (9, 8, 1)
    assert "Entered At: '31/02/2025 10:00'" in quarantined(tmp_path, "deals.csv")[7]
    changes = store.neighbours(Label.DEAL, ["8001"], Rel.CHANGE_OF, "in")["8001"]
    assert sorted(n.node["stage"] for n in changes) == ["Appointment Scheduled", "Closed Won", "Contract Sent",
                                                         "Qualified To Buy"]
    # As of a day between two entries, the stage is the one entered before it, not today's.
    feb = store.snapshot(as_of=datetime(2023, 2, 1, tzinfo=UTC)).nodes[Label.DEAL].set_index("id").loc["8001"]
    assert feb["stage"] == "Qualified To Buy"
    assert not any("hs_date" in w for w in summary.absent)

    engagements = next(f for f in summary.files if f.file == "engagements.csv")
    assert (engagements.read, engagements.loaded, engagements.quarantined) == (8, 6, 2)
    reasons = quarantined(tmp_path, "engagements.csv")
    assert "REGARDS links one Deal" in reasons[8] and "not a time" in reasons[9]
    activities = store.get_nodes(Label.ACTIVITY, store.node_ids(Label.ACTIVITY))
    seen = {k: (a["kind"], a.get("direction")) for k, a in activities.items()}
    assert seen == {"9001": ("email", "outbound"), "9002": ("email", "inbound"), "9003": ("call", "inbound"),
                    "9004": ("meeting", None), "9005": ("task", None), "9006": ("other", None)}
    # Known from when HubSpot learned of it: the meeting booked on Feb 21 for March 10.
    assert activities["9004"]["occurred_at"] == "2025-02-21T08:00:00Z"
    met = {n.node["id"] for n in store.neighbours(Label.ACTIVITY, ["9004"], Rel.WITH_CONTACT)["9004"]}
    assert met == {"7004", "7005"}
    store.close()


def test_hubspot_export_without_stage_columns_or_engagements_says_so(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "hubspot"), "hubspot")
    assert summary.reconciles
    said = " ".join(summary.absent)
    assert "no hs_date_entered_* columns" in said and "engagements.csv absent" in said
    assert store.node_ids(Label.DEAL_CHANGE) == set() and store.node_ids(Label.DEAL)
    store.close()


def test_salesforce_field_history_by_field(tmp_path):
    export = export_of(tmp_path, "salesforce_gaps", "salesforce_field_history")
    store, summary = load(tmp_path, export, "salesforce")
    assert summary.reconciles
    fields = next(f for f in summary.files if f.file == "OpportunityFieldHistory.csv")
    assert (fields.read, fields.loaded, fields.quarantined) == (6, 4, 2)
    reasons = quarantined(tmp_path, "OpportunityFieldHistory.csv")
    assert "'Probability' is not one of 'StageName', 'Amount', 'CloseDate'" in reasons[5]
    assert "close_date (column NewValue): '15th of May' is not a date" in reasons[6]
    # Each row carries only its field: the amount change leaves stage and close date empty on its DealChange.
    amount_change = store.get_node(Label.DEAL_CHANGE, "0175g00000F2a02AAZ")
    assert (amount_change["amount"], amount_change["stage"], amount_change["close_date"]) == (42000.0, None, None)
    march = store.snapshot(as_of=datetime(2023, 3, 1, tzinfo=UTC)).nodes[Label.DEAL].set_index("id")
    deal = march.loc["0065g00000D2a01AAZ"]
    assert deal["stage"] == "Qualification" and deal["amount"] == 42000.0
    assert deal["close_date"] == pd.Timestamp("2023-04-30", tz="UTC")
    store.close()


@pytest.mark.parametrize("source,message", [
    ({"unpivot": {"prefix": "p_", "name_as": "A", "value_as": "A"}}, "two different columns"),
    ({"unpivot": {"prefix": "p_", "name_as": "p_name", "value_as": "V"}}, "must not start with the prefix"),
    ({"unpivot": {"prefix": "", "name_as": "N", "value_as": "V"}}, "unpivot.prefix"),
    ({"require": {"column": "Field"}}, "exactly one of equals, in, not_empty, starts_with"),
    ({"properties": {"stage": {"column": "V", "when": {"column": "F", "equals": "x",
                                                       "when": {"column": "G", "not_empty": True}}}}},
     "a when has no when of its own"),
])
def test_bad_unpivot_require_and_when_are_named(tmp_path, source, message):
    spec = {"file": "deals.csv", "node": Label.DEAL_CHANGE, "key": "Id", **source}
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps({"name": "bad", "sources": [spec]}), encoding="utf-8")
    with pytest.raises(InvalidInput, match=message):
        parse_mapping(path)


def test_unpivot_on_an_edge_source_is_refused(tmp_path):
    spec = {"file": "x.csv", "relation": Rel.CHANGE_OF, "source": "A", "target": "B",
            "unpivot": {"prefix": "p_", "name_as": "N", "value_as": "V"}}
    path = tmp_path / "m.yaml"
    path.write_text(json.dumps({"name": "bad", "sources": [spec]}), encoding="utf-8")
    with pytest.raises(InvalidInput, match="unpivot makes nodes"):
        parse_mapping(path)


def test_cli_names_each_source_of_the_deal_file_and_no_stage_column_is_unused(tmp_path, capsys):
    export = export_of(tmp_path, "hubspot", "hubspot_history")
    code = main(["load", str(export), "--mapping", "hubspot",
                 "--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")])
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    assert f"deals.csv → {Label.DEAL} " in out and f"deals.csv → {Label.DEAL_CHANGE} " in out
    assert "hs_date" not in err  # read by the stage history, or ignored on purpose


def test_a_wide_row_is_unpivoted_without_copying_it_per_cell(tmp_path):
    # A hostile header (thousands of stage columns, all filled): each unpivoted row carries only what the
    # source reads, so a row of n cells costs O(n), not O(n²).
    width = 3000
    (tmp_path / "deals.csv").write_text(
        "Record ID,Deal Name," + ",".join(f"hs_date_entered_s{i}" for i in range(width)) + "\n"
        + "8001,Acme," + ",".join("2024-01-01 10:00" for _ in range(width)) + "\n", encoding="utf-8")
    stages = next(s for s in load_mapping("hubspot", load_schema()).sources if s.unpivot is not None)
    rows = list(source_rows(stages, tmp_path))
    assert len(rows) == width
    assert {len(raw) for _, raw in rows} == {len(stages.columns()) + 2}
    assert rows[-1][1]["Stage ID"] == f"s{width - 1}" and rows[-1][0] == 2


def test_salesforce_export_without_field_history_says_so(tmp_path):
    store, summary = load(tmp_path, export_of(tmp_path, "salesforce_gaps"), "salesforce")
    assert summary.reconciles
    assert "OpportunityFieldHistory.csv absent: no field history" in " ".join(summary.absent)
    assert store.node_ids(Label.DEAL_CHANGE) == set()
    store.close()
