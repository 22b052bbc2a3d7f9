"""docs/mappings.md's worked example is a working mapping: its YAML loads the Pipedrive fixture."""

from __future__ import annotations

import re
from pathlib import Path

from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema

ROOT = Path(__file__).parents[2]


def docs_mapping(tmp_path: Path, name: str) -> str:
    """The YAML block of docs/mappings.md whose first line is `name: <name>`, written to a file."""
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "docs" / "mappings.md").read_text("utf-8"), re.S)
    (text,) = [b for b in blocks if b.startswith(f"name: {name}\n")]
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, "utf-8")
    return str(path)


def test_worked_example_loads_the_pipedrive_fixture(tmp_path):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    mapping = load_mapping(docs_mapping(tmp_path, "pipedrive"), schema)
    summary = load_export(store, ROOT / "tests/loaders/fixtures/pipedrive", mapping, tmp_path / "q")
    assert summary.reconciles
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary.quarantine_file))}
    assert reasons == {("deals.csv", 6): "Organization: 'Hooli Inc' names no Account by name"}
    assert [n.node["id"] for n in store.neighbours("Deal", ["101"], "FOR_ACCOUNT")["101"]] == ["1"]
    assert [n.node["name"] for n in store.neighbours("Deal", ["103"], "OWNED_BY")["103"]] == ["Rita Rep"]
    assert store.node_ids("Rep") == {"owner:Rita Rep", "owner:Sam Seller"}
    lost = store.get_node("Outcome", "102:outcome")
    # CEST -> UTC
    assert (lost["result"], lost["closed_at"], lost["reason"]) == ("lost", "2023-07-15T09:30:00Z", "Price")
    assert store.get_node("Outcome", "103:outcome") is None
    assert [n.node["id"] for n in store.neighbours("Contact", ["11"], "WORKS_AT")["11"]] == ["1"]
    assert len(store.neighbours("Deal", ["103"], "FOR_PRODUCT")["103"]) == 2
    store.close()


def test_mapping_written_from_the_docs_loads_a_dynamics_export(tmp_path):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    fixtures = ROOT / "tests/loaders/fixtures"
    summary = load_export(store, fixtures / "dynamics", load_mapping(str(fixtures / "dynamics.yaml"), schema),
                          tmp_path / "q")
    assert summary.reconciles and summary.totals()["quarantined"] == 1  # the deal of an account not exported
    fabrikam = store.get_node("Account", "a0000000-0000-4000-8000-000000000001")
    assert (fabrikam["employees"], fabrikam["annual_revenue"]) == (5000, 1e9)  # "5,000", "$1,000,000,000.00"
    deal = "o0000000-0000-4000-8000-000000000001"
    assert store.get_node("Deal", deal)["created_at"] == "2021-12-01T17:00:00Z"  # 9:00 AM Pacific
    roles = {n.node["name"]: n.edge["role"] for n in store.neighbours("Deal", [deal], "INVOLVES")[deal]}
    assert roles == {"Yvonne McKay": "economic_buyer", "Susanna Stubberod": "influencer"}
    items = store.neighbours("Deal", [deal], "FOR_PRODUCT")[deal]  # deal and product both named, not id'd
    assert [(n.node["name"], n.edge["amount"]) for n in items] == [("Contoso Platform", 24000.0)]
    assert store.get_node("Outcome", f"{deal}:outcome")["result"] == "won"
    store.close()
