"""Lineage: every loaded node and edge names its source file, line and load; `dealgraph lineage` shows it."""

from __future__ import annotations

import json

import pytest

from api.cli import main
from graph import open_store, sqlite_url
from graph.ledger import Ledger
from graph.lineage import Provenance
from loaders import load_export, load_mapping
from tests.loaders.test_load import ROWS, write_export


@pytest.fixture
def loaded(tmp_path):
    store = open_store(sqlite_url(tmp_path / "g.db"))
    summary = load_export(store, write_export(tmp_path / "export"), load_mapping("salesforce", store.schema),
                          tmp_path / "q")
    yield store, summary, tmp_path
    store.close()


def test_every_node_and_edge_names_its_file_line_and_load(loaded):
    store, summary, _ = loaded
    [acme] = Ledger(store).lineage("001A")
    # 001A is on lines 3 and 4 (a repeated row); the later row wins, as the upsert does.
    assert acme.provenance == Provenance(summary.load_id, "Account.csv", 4)
    edges = {(e.relation, e.src, e.dst): e.provenance for e in acme.edges}
    assert edges[("SUBSIDIARY_OF", "001A", "001P")] == Provenance(summary.load_id, "Account.csv", 4)
    assert edges[("FOR_ACCOUNT", "006W", "001A")] == Provenance(summary.load_id, "Opportunity.csv", 2)
    assert edges[("WORKS_AT", "003A", "001A")] == Provenance(summary.load_id, "AccountContactRelation.csv", 3)
    [outcome] = Ledger(store).lineage("006W:outcome")  # a node made by another row: that row's line
    assert outcome.provenance == Provenance(summary.load_id, "Opportunity.csv", 2)
    nodes, edges_by_rel = store.read_tables()
    for label, rows in nodes.items():
        for row in rows:
            [found] = [n for n in Ledger(store).lineage(row["id"]) if n.label == label]
            assert found.provenance.load_id == summary.load_id and found.provenance.source_line, (label, row["id"])


def test_a_later_load_retags_what_it_writes(loaded):
    store, first, tmp_path = loaded
    rows = {**ROWS, "Contact.csv": [ROWS["Contact.csv"][1], ROWS["Contact.csv"][0]]}  # 003A now on line 3
    second = load_export(store, write_export(tmp_path / "export2", rows), load_mapping("salesforce", store.schema),
                         tmp_path / "q")
    assert Ledger(store).lineage("003A")[0].provenance == Provenance(second.load_id, "Contact.csv", 3)
    assert [r.load_id for r in Ledger(store).loads()] == [second.load_id, first.load_id]
    assert all(r.state == "finished" for r in Ledger(store).loads())


def test_lineage_command(loaded, capsys):
    store, summary, tmp_path = loaded
    url = sqlite_url(tmp_path / "g.db")
    assert main(["lineage", "006O", "--store", url, "--home", str(tmp_path / "home")]) == 0
    text = capsys.readouterr().out
    assert f"Deal 006O: Opportunity.csv:4 (load {summary.load_id})" in text
    assert "-> INVOLVES 003B [00KC]: OpportunityContactRole.csv:4" in text
    assert main(["lineage", "006O", "--json", "--store", url, "--home", str(tmp_path / "home")]) == 0
    data = json.loads(capsys.readouterr().out)
    [node] = data["nodes"]
    assert node["provenance"] == {"load_id": summary.load_id, "source_file": "Opportunity.csv", "source_line": 4}
    assert node["load"]["state"] == "finished" and node["load"]["mapping"] == "salesforce"
    assert {e["relation"] for e in node["edges"]} == {"FOR_ACCOUNT", "OWNED_BY", "INVOLVES"}
    assert main(["lineage", "nothing-here", "--store", url]) == 1


def test_loads_command_lists_each_load(loaded, capsys):
    _, summary, tmp_path = loaded
    assert main(["loads", "--json", "--store", sqlite_url(tmp_path / "g.db")]) == 0
    [load] = json.loads(capsys.readouterr().out)["loads"]
    assert load["load_id"] == summary.load_id and load["state"] == "finished" and load["mode"] == "delta"
    assert load["rows_written"] == sum(summary.nodes_written.values()) + sum(summary.edges_written.values())
