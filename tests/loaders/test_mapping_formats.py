"""The shipped HubSpot and generic mappings on small hand-written exports (tests/loaders/fixtures/)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema

FIXTURES = Path(__file__).parent / "fixtures"


def load_fixture(tmp_path: Path, name: str):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    summary = load_export(store, FIXTURES / name, load_mapping(name, schema), tmp_path / "q")
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary.quarantine_file))}
    return store, summary, reasons


@pytest.fixture
def hubspot(tmp_path):
    store, summary, reasons = load_fixture(tmp_path, "hubspot")
    yield store, summary, reasons
    store.close()


def test_hubspot_rows_reconcile_and_planted_dirt_is_quarantined(hubspot):
    _, summary, reasons = hubspot
    assert summary.reconciles
    assert {f.file: (f.read, f.loaded, f.quarantined) for f in summary.files} == {
        "owners.csv": (3, 3, 0), "products.csv": (4, 4, 0), "companies.csv": (8, 7, 1),
        "contacts.csv": (11, 10, 1), "deals.csv": (13, 11, 2), "line_items.csv": (15, 14, 1),
    }
    assert "'lots' is not a number" in reasons[("companies.csv", 9)]
    assert reasons[("deals.csv", 14)] == "Deal owner: 'Bruce Nobody' names no Rep by name"
    assert "'5008'" in reasons[("contacts.csv", 11)]  # works at the rejected company
    assert "'5008'" in reasons[("deals.csv", 13)]
    assert "'8012'" in reasons[("line_items.csv", 16)]  # line of the rejected deal


def test_hubspot_dates_stages_and_outcomes(hubspot):
    store, _, _ = hubspot
    deal = store.get_node("Deal", "8001")
    # "2022-12-01 09:00" in the portal's zone (New York, EST) is 14:00 UTC; the close date stays a local date.
    assert deal["created_at"] == "2022-12-01T14:00:00Z" and deal["close_date"] == "2023-03-31"
    assert deal["stage"] == "Closed Won"
    lost = store.get_node("Outcome", "8002:outcome")
    assert lost["result"] == "lost" and lost["reason"] == "Budget" and lost["closed_at"] == "2023-09-30T21:00:00Z"
    assert store.get_node("Outcome", "8003:outcome") is None  # contractsent is still open
    assert len(store.node_ids("Outcome")) == 6
    assert store.get_node("Rep", "103")["active"] is False  # Deactivated=true, mapped


def test_hubspot_associations_become_edges(hubspot):
    store, _, _ = hubspot
    roles = {n.node["id"]: n.edge["role"] for n in store.neighbours("Deal", ["8001"], "INVOLVES")["8001"]}
    assert roles == {"7001": "champion", "7002": "decision_maker"}  # labels override the plain association
    assert [n.node["name"] for n in store.neighbours("Deal", ["8001"], "OWNED_BY")["8001"]] == ["Rita Rep"]  # by name
    jobs = {n.node["id"]: n.edge["title"] for n in store.neighbours("Contact", ["7001"], "WORKS_AT")["7001"]}
    assert jobs == {"5001": None, "5002": "CFO"}  # split ids; the primary company carries the title
    assert [n.node["id"] for n in store.neighbours("Account", ["5002"], "SUBSIDIARY_OF")["5002"]] == ["5001"]
    items = store.neighbours("Deal", ["8004"], "FOR_PRODUCT")["8004"]
    assert sorted(n.edge["amount"] for n in items) == [24000.0, 96000.0]
    # epoch milliseconds: 1668504600000 ms = 2022-11-15 09:30 UTC
    assert {n.edge["created_at"] for n in items} == {"2022-11-15T09:30:00Z"}
    assert store.get_node("Product", "9003")["family"] == "Integration"


def test_generic_layout_loads_with_job_history(tmp_path):
    store, summary, reasons = load_fixture(tmp_path, "generic")
    assert summary.reconciles
    assert set(store.node_ids("Account")) == {"a1", "a2", "a3", "a4"}
    assert "'a99'" in reasons[("accounts.csv", 6)]
    assert "'a5'" in reasons[("deals.csv", 8)]  # cascades from the rejected account
    assert "'sponsor'" in reasons[("deal_contacts.csv", 8)]
    assert store.get_node("Account", "a4")["name"] == "Smith, Jones & Partners LLC"
    roles = {n.node["id"]: n.edge["role"] for n in store.neighbours("Deal", ["d1"], "INVOLVES")["d1"]}
    assert roles == {"c1": "champion", "c2": "decision_maker"}
    outcomes = store.get_nodes("Outcome", ["d1:outcome", "d2:outcome", "d3:outcome"])
    assert outcomes["d1:outcome"]["result"] == "won" and outcomes["d2:outcome"]["reason"] == "Budget"
    assert "d3:outcome" not in outcomes
    then = store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=datetime(2020, 6, 1, tzinfo=UTC))["c1"]
    now = store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=datetime(2024, 6, 1, tzinfo=UTC))["c1"]
    assert [n.node["id"] for n in then] == ["a1"] and [n.node["id"] for n in now] == ["a2"]
    assert len(store.neighbours("Deal", ["d4"], "FOR_PRODUCT")["d4"]) == 2  # two lines of one product
    store.close()
