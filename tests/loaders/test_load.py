"""The loader on a small hand-written Salesforce-style export with known dirt."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from graph import InvalidInput, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema

HEADERS = {
    "User.csv": "Id,Name,Email,Title,Department,IsActive,CreatedDate",
    "Product2.csv": "Id,Name,ProductCode,Family,IsActive,CreatedDate",
    "Account.csv": "Id,Name,ParentId,Industry,Type,BillingCountry,NumberOfEmployees,AnnualRevenue,Website,OwnerId,"
                   "CreatedDate",
    "Contact.csv": "Id,AccountId,FirstName,LastName,Email,Title,CreatedDate",
    "AccountContactRelation.csv": "Id,AccountId,ContactId,Roles,StartDate,EndDate,IsActive,IsDirect,CreatedDate",
    "Opportunity.csv": "Id,Name,AccountId,OwnerId,StageName,Amount,Probability,CloseDate,IsClosed,IsWon,Type,"
                       "LeadSource,"
                       "ForecastCategoryName,Loss_Reason__c,CreatedDate",
    "OpportunityContactRole.csv": "Id,OpportunityId,ContactId,Role,IsPrimary,CreatedDate",
    "OpportunityLineItem.csv": "Id,OpportunityId,Product2Id,Quantity,UnitPrice,TotalPrice,CreatedDate",
}
T = "2023-01-05T09:00:00.000Z"
ROWS = {
    "User.csv": [["005A", "Rita Rep", "rita@x.com", "AE", "Enterprise", "true", T]],
    "Product2.csv": [["01tA", "Core", "CORE", "Platform", "true", T]],
    "Account.csv": [
        ["001P", "Globex", "", "Finance", "Customer", "DE", "5000", "1e9", "globex.com", "005A", T],
        ["001A", "Acme", "001P", "Technology", "Customer", "US", "120", "2e6", "acme.com", "005A", T],
        ["001A", "Acme", "001P", "Technology", "Customer", "US", "120", "2e6", "acme.com", "005A", T],  # duplicate
        ["001B", "Badco", "", "Retail", "Prospect", "US", "many", "", "", "005A", T],  # bad integer
        ["001C", "Orphanage", "001ZZZ", "Retail", "Prospect", "US", "3", "", "", "005A", T],  # dangling parent
    ],
    "Contact.csv": [
        ["003A", "001A", "José", "Núñez", "jose@acme.com", "CFO", T],
        ["003B", "001A", "Zoë", "Müller", "zoe@acme.com", "CTO", T],
    ],
    "AccountContactRelation.csv": [
        ["07kA", "001P", "003A", "", "2024-01-01", "2024-12-31", "false", "false", T],
        ["07kB", "001A", "003A", "", "2025-01-01", "", "true", "true", T],
        ["07kC", "001A", "003B", "", "2024-06-01", "", "true", "true", T],
    ],
    "Opportunity.csv": [
        ["006W", "Acme won", "001A", "005A", "Closed Won", "1000", "100", "2025-03-01", "true", "true", "New", "Web",
         "Closed", "", "2025-01-10T00:00:00.000Z"],
        ["006L", "Acme lost", "001A", "005A", "Closed Lost", "2000", "0", "2025-04-01", "true", "false", "New", "Web",
         "Omitted", "Price", "2025-01-11T00:00:00.000Z"],
        ["006O", "Acme open", "001A", "005A", "Negotiation/Review", "3000", "90", "2026-12-01", "false", "false", "New",
         "Web", "Commit", "", "2025-06-01T00:00:00.000Z"],
        ["006X", "Badco deal", "001B", "005A", "Prospecting", "10", "10", "2026-12-01", "false", "false", "New", "Web",
         "Pipeline", "", T],  # account quarantined
        ["006D", "Bad date", "001A", "005A", "Prospecting", "10", "10", "2026-12-01", "false", "false", "New", "Web",
         "Pipeline", "", "2025-02-30"],
        ["006N", "Negative", "001A", "005A", "Prospecting", "-5", "10", "2026-12-01", "false", "false", "New", "Web",
         "Pipeline", "", T],
    ],
    "OpportunityContactRole.csv": [
        ["00KA", "006W", "003A", "Champion", "true", "2025-01-12T00:00:00.000Z"],
        ["00KB", "006O", "003A", "Executive Sponsor", "true", "2025-06-02T00:00:00.000Z"],
        ["00KC", "006O", "003B", "Decision Maker", "false", "2025-06-02T00:00:00.000Z"],
        ["00KD", "006O", "003NOPE", "Influencer", "false", "2025-06-02T00:00:00.000Z"],  # dangling contact
        ["00KE", "006X", "003A", "Influencer", "false", "2025-06-02T00:00:00.000Z"],  # deal quarantined
    ],
    "OpportunityLineItem.csv": [["00kA", "006W", "01tA", "2", "500", "1000", "2025-01-12T00:00:00.000Z"]],
}


def write_export(folder: Path, rows: dict[str, list[list[str]]] = ROWS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, header in HEADERS.items():
        with (folder / name).open("w", encoding="utf-8-sig", newline="") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
            w.writerow(header.split(","))
            w.writerows(rows.get(name, []))
    return folder


@pytest.fixture
def loaded(tmp_path):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    summary = load_export(store, write_export(tmp_path / "export"), load_mapping("salesforce", schema), tmp_path / "q")
    yield store, summary, tmp_path
    store.close()


def test_rows_reconcile_and_dirt_is_quarantined(loaded):
    store, summary, _ = loaded
    assert summary.reconciles
    totals = summary.totals()
    assert totals["read"] == sum(len(r) for r in ROWS.values())
    assert totals["read"] == totals["loaded"] + totals["quarantined"] + totals["merged"]
    reasons = {(q["file"], q["row"].get("Id")): q["reason"] for q in read_quarantine(Path(summary.quarantine_file))}
    assert "employees" in reasons[("Account.csv", "001B")]
    assert "001ZZZ" in reasons[("Account.csv", "001C")]
    assert "001B" in reasons[("Opportunity.csv", "006X")]  # cascades from the rejected account
    assert "created_at" in reasons[("Opportunity.csv", "006D")]
    assert "amount" in reasons[("Opportunity.csv", "006N")]
    assert "003NOPE" in reasons[("OpportunityContactRole.csv", "00KD")]
    assert "006X" in reasons[("OpportunityContactRole.csv", "00KE")]
    assert len(reasons) == summary.totals()["quarantined"]
    assert {f.file: f.merged for f in summary.files}["Account.csv"] == 1


def test_quarantine_records_line_numbers(loaded):
    _, summary, _ = loaded
    bad = [q for q in read_quarantine(Path(summary.quarantine_file)) if q["row"].get("Id") == "001B"]
    assert bad[0]["line"] == 5  # header is line 1; 001B is the fourth data row


def test_graph_content_is_typed_and_linked(loaded):
    store, _, _ = loaded
    assert set(store.node_ids("Account")) == {"001P", "001A"}
    acme = store.get_node("Account", "001A")
    assert acme["employees"] == 120 and acme["created_at"] == "2023-01-05T09:00:00Z"
    outcomes = store.get_nodes("Outcome", ["006W:outcome", "006L:outcome"])
    assert outcomes["006W:outcome"]["result"] == "won" and outcomes["006L:outcome"]["reason"] == "Price"
    assert store.get_node("Outcome", "006O:outcome") is None  # open deals have no outcome
    roles = {n.node["id"]: n.edge for n in store.neighbours("Deal", ["006O"], "INVOLVES")["006O"]}
    assert roles["003A"]["role"] == "champion" and roles["003A"]["is_primary"] is True
    assert roles["003B"]["role"] == "decision_maker"
    parent = store.neighbours("Account", ["001A"], "SUBSIDIARY_OF")["001A"]
    assert [n.node["name"] for n in parent] == ["Globex"]
    assert store.get_node("Contact", "003A")["name"] == "José Núñez"


def test_job_history_as_of(loaded):
    from datetime import UTC, datetime

    store, _, _ = loaded
    then = store.neighbours("Contact", ["003A"], "WORKS_AT", as_of=datetime(2024, 6, 1, tzinfo=UTC))["003A"]
    now = store.neighbours("Contact", ["003A"], "WORKS_AT", as_of=datetime(2025, 6, 1, tzinfo=UTC))["003A"]
    assert [n.node["id"] for n in then] == ["001P"]
    assert [n.node["id"] for n in now] == ["001A"]


def test_loading_twice_leaves_the_same_graph(loaded):
    store, summary, tmp_path = loaded
    before = store.counts(), store.read_tables()
    again = load_export(store, tmp_path / "export", load_mapping("salesforce", store.schema), tmp_path / "q")
    assert again.reconciles
    assert (store.counts(), store.read_tables()) == before


def test_missing_column_stops_the_load_before_writing(tmp_path):
    schema = load_schema()
    export = write_export(tmp_path / "export")
    # IsWon says won or lost: required (an optional column such as StageName may be missing)
    text = (export / "Opportunity.csv").read_text("utf-8-sig").replace('"IsWon"', '"Won"')
    (export / "Opportunity.csv").write_text(text, "utf-8")
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    with pytest.raises(InvalidInput, match="IsWon"):
        load_export(store, export, load_mapping("salesforce", schema), tmp_path / "q")
    assert sum(store.counts().values()) == 0


def test_non_utf8_file_is_a_clear_error(tmp_path):
    schema = load_schema()
    export = write_export(tmp_path / "export")
    (export / "Contact.csv").write_bytes((export / "Contact.csv").read_text("utf-8-sig").encode("latin-1"))
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    with pytest.raises(InvalidInput, match="UTF-8"):
        load_export(store, export, load_mapping("salesforce", schema), tmp_path / "q")
    assert sum(store.counts().values()) == 0


def test_mapping_naming_unknown_terms_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"name": "x", "sources": [
        {"file": "a.csv", "node": "Deal", "key": "Id", "properties": {"colour": "C"}}]}))
    with pytest.raises(InvalidInput, match="colour"):
        load_mapping(str(bad), load_schema())


def test_parallel_line_items_for_one_product_are_both_kept(tmp_path):
    rows = {**ROWS, "OpportunityLineItem.csv": [
        ["00kA", "006W", "01tA", "2", "500", "1000", "2025-01-12T00:00:00.000Z"],
        ["00kB", "006W", "01tA", "1", "250", "250", "2025-01-13T00:00:00.000Z"],
    ]}
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    summary = load_export(store, write_export(tmp_path / "export", rows), load_mapping("salesforce", schema),
                          tmp_path / "q")
    items = {f.file: f for f in summary.files}["OpportunityLineItem.csv"]
    assert (items.read, items.loaded, items.merged) == (2, 2, 0)
    amounts = sorted(n.edge["amount"] for n in store.neighbours("Deal", ["006W"], "FOR_PRODUCT")["006W"])
    assert amounts == [250.0, 1000.0]


GLOBEX = ["001P", "Globex", "", "Finance", "Customer", "DE", "5000", "1e9", "globex.com", "005A", T]
ACME = ["001A", "Acme", "001P", "Technology", "Customer", "US", "120", "2e6", "acme.com", "005A", T]
ACME_DANGLING = ["001A", "Acme (moved)", "001ZZZ", "Technology", "Customer", "US", "130", "2e6", "acme.com", "005A", T]


@pytest.mark.parametrize("accounts", [
    [GLOBEX, ACME, ACME_DANGLING],  # the later duplicate is rejected: the earlier, valid one stays
    [GLOBEX, ACME_DANGLING, ACME],  # the earlier duplicate is rejected: the later one wins as usual
])
def test_a_rejected_duplicate_never_takes_the_valid_row_with_it(tmp_path, accounts):
    """Of the rows of one file with the same key, the last that passes validation and resolution wins."""
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    rows = {**ROWS, "Account.csv": accounts}
    summary = load_export(store, write_export(tmp_path / "export", rows), load_mapping("salesforce", schema),
                          tmp_path / "q")
    assert summary.reconciles
    account_file = {f.file: f for f in summary.files}["Account.csv"]
    assert (account_file.read, account_file.loaded, account_file.quarantined, account_file.merged) == (3, 2, 1, 0)
    assert store.get_node("Account", "001A")["name"] == "Acme"
    dangling_line = 2 + accounts.index(ACME_DANGLING)
    reasons = {(q["file"], q["line"]): q for q in read_quarantine(Path(summary.quarantine_file))}
    assert "'001ZZZ' names no Account" in reasons[("Account.csv", dangling_line)]["reason"]
    assert reasons[("Account.csv", dangling_line)]["row"]["Name"] == "Acme (moved)"  # the row as read, re-read by line
    # What depends on the account still loads: its deals and contacts are not cascaded into the quarantine.
    assert store.get_node("Deal", "006W") is not None and store.get_node("Contact", "003A") is not None
    store.close()
