"""Nothing dropped silently: open deals without an account or created date are loaded and scored (issue 22).

`tests/loaders/fixtures/salesforce_gaps` is a Salesforce Data Loader export in which web-to-lead deals have
no AccountId and records imported without history have no CreatedDate, open and closed, beside the two
cases that must still be quarantined: a deal whose AccountId names an account the export lacks, and an
undated deal about which the export records no dated fact at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pyshacl import validate

from api.cli import EXIT_OK, main
from gnn.score import open_deal_ids
from graph import InvalidInput, open_store, sqlite_url
from graph.ledger import Ledger
from graph.rdf import to_rdf
from loaders import load_export, load_mapping
from loaders.check import check_mapping
from loaders.mapping import MAPPINGS_DIR, parse_mapping
from loaders.quarantine import read_quarantine
from ontology import load_schema, shapes_graph

GAPS = Path(__file__).parent / "fixtures" / "salesforce_gaps"
PLACEHOLDER = "dealgraph:no-account"


def deal(n: int) -> str:
    return f"0065g00000D2a{n:02d}AAZ"


def load(tmp_path: Path, export: Path = GAPS, mapping: str = "salesforce", **options):
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    return store, load_export(store, export, load_mapping(mapping, schema), tmp_path / "q", **options)


def test_deals_without_an_account_or_created_date_load_and_are_counted(tmp_path):
    store, summary = load(tmp_path)
    assert summary.reconciles
    opp = next(f for f in summary.files if f.file == "Opportunity.csv")
    assert (opp.read, opp.loaded, opp.quarantined, opp.merged) == (10, 8, 2, 0)
    assert {(s.what, s.rows, s.open) for s in summary.stand_ins} == {("FOR_ACCOUNT", 4, 3), ("created_at", 3, 2)}
    nodes, rels = store.read_tables()
    account_of = {e["src"]: e["dst"] for e in rels["FOR_ACCOUNT"]}
    assert {d for d, a in account_of.items() if a == PLACEHOLDER} == {deal(2), deal(3), deal(4), deal(9)}
    assert account_of[deal(1)] == "0015g00000B2aAAAAZ"  # a deal with its account keeps it
    placeholders = [a for a in nodes["Account"] if a["id"] == PLACEHOLDER]
    assert [a["name"] for a in placeholders] == ["(no account)"]  # one real node, made once
    created = {d["id"]: d["created_at"] for d in nodes["Deal"]}  # as the store keeps them: UTC text
    assert created[deal(5)] == "2024-03-01T15:00:00Z"  # its line item, before its contact role
    assert created[deal(6)] == "2023-12-15T00:00:00Z"  # a closed deal: its outcome's close
    assert created[deal(9)] == "2024-02-21T11:00:00Z"  # neither account nor date: its contact role
    assert created[deal(2)] == "2024-02-10T08:30:00Z"  # its own date untouched
    store.close()


def test_only_an_empty_account_stands_in_and_an_undated_deal_with_no_fact_is_quarantined(tmp_path):
    store, summary = load(tmp_path)
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary.quarantine_file))}
    assert set(reasons) == {("Opportunity.csv", 8), ("Opportunity.csv", 9)}
    # deal 7: no CreatedDate, no outcome, no contact role or line item; its close date is a forecast, not a fact
    assert "created_at (column CreatedDate): required but empty" in reasons[("Opportunity.csv", 8)]
    assert "no dated fact" in reasons[("Opportunity.csv", 8)]
    # deal 8 names an account the export lacks: a dangling reference, not a placeholder
    assert "AccountId: '0015g00000B2aZZAAZ' names no Account" in reasons[("Opportunity.csv", 9)]
    store.close()


def test_the_open_ones_are_among_the_deals_scored(tmp_path):
    store, _ = load(tmp_path)
    assert set(open_deal_ids(store.snapshot())) == {deal(2), deal(3), deal(5), deal(9), deal(10)}
    store.close()


def test_the_placeholder_keeps_every_deal_with_exactly_one_account(tmp_path):
    store, _ = load(tmp_path)
    conforms, _, text = validate(to_rdf(store.snapshot()), shacl_graph=shapes_graph())
    assert conforms, text
    store.close()


def test_loading_again_or_as_a_full_export_keeps_one_placeholder(tmp_path):
    store, first = load(tmp_path)
    again = load_export(store, GAPS, load_mapping("salesforce", store.schema), tmp_path / "q", mode="full")
    assert again.reconciles and again.retired == {}  # the placeholder is in use: never retired
    nodes, rels = store.read_tables()
    assert sum(a["id"] == PLACEHOLDER for a in nodes["Account"]) == 1
    assert sum(e["dst"] == PLACEHOLDER for e in rels["FOR_ACCOUNT"]) == 4
    assert Ledger(store).lineage(PLACEHOLDER) is not None  # traced to the first deal row that needed it
    store.close()


def test_the_load_summary_says_so(tmp_path, capsys):
    args = ["load", str(GAPS), "--mapping", "salesforce", "--store", sqlite_url(tmp_path / "g.db"),
            "--home", str(tmp_path)]
    assert main(args) == EXIT_OK
    out = capsys.readouterr().out
    assert ("loaded with a stand-in: Opportunity.csv: 4 rows (3 open) had no FOR_ACCOUNT: "
            "linked to the placeholder Account '(no account)'") in out
    assert ("loaded with a stand-in: Opportunity.csv: 3 rows (2 open) had no created_at: "
            "taken from the earliest fact about it in this export") in out
    assert main([*args[:-2], "--store", sqlite_url(tmp_path / "h.db"), "--home", str(tmp_path), "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert {(s["what"], s["rows"], s["open"]) for s in data["stand_ins"]} == {
        ("FOR_ACCOUNT", 4, 3), ("created_at", 3, 2)}


def test_without_the_option_an_empty_account_is_quarantined_as_before(tmp_path):
    text = (MAPPINGS_DIR / "salesforce.yaml").read_text("utf-8")
    mine = tmp_path / "strict.yaml"
    placeholder = next(line for line in text.splitlines(keepends=True) if "if_empty: {id:" in line)
    mine.write_text(text.replace(", if_empty: earliest_fact", "").replace(placeholder, ""), "utf-8")
    store, summary = load(tmp_path, mapping=str(mine))
    opp = next(f for f in summary.files if f.file == "Opportunity.csv")
    assert (opp.loaded, opp.quarantined) == (2, 8) and summary.stand_ins == []  # with them: 8 loaded, 2 quarantined
    store.close()


@pytest.mark.parametrize("name", ["salesforce", "hubspot", "generic", "dynamics"])
def test_every_shipped_mapping_declares_both(name):
    mapping = parse_mapping(MAPPINGS_DIR / f"{name}.yaml")
    (deals,) = [s for s in mapping.sources if s.node == "Deal"]
    (account,) = [r for r in deals.relations if r.relation == "FOR_ACCOUNT"]
    assert account.if_empty is not None and account.if_empty.name == "(no account)"
    assert deals.properties["created_at"].if_empty == "earliest_fact"


def test_earliest_fact_is_only_for_a_date(tmp_path):
    text = (MAPPINGS_DIR / "generic.yaml").read_text("utf-8").replace(
        "      name: name\n", "      name: {column: name, if_empty: earliest_fact}\n", 1)
    mine = tmp_path / "bad.yaml"
    mine.write_text(text, "utf-8")
    with pytest.raises(InvalidInput, match="if_empty: earliest_fact is for a date"):
        load_mapping(str(mine), load_schema())


def test_a_copy_of_the_export_with_no_dated_facts_quarantines_every_undated_deal(tmp_path):
    export = Path(shutil.copytree(GAPS, tmp_path / "export"))
    for name in ("OpportunityContactRole.csv", "OpportunityLineItem.csv"):
        (export / name).unlink()  # optional files: the facts that dated deals 5 and 9 are gone
    store, summary = load(tmp_path, export)
    reasons = [q["reason"] for q in read_quarantine(Path(summary.quarantine_file))]
    assert sum("no dated fact" in r for r in reasons) == 3  # deals 5, 7 and 9; deal 6 still has its close
    assert {(s.what, s.rows) for s in summary.stand_ins} == {("FOR_ACCOUNT", 3), ("created_at", 1)}
    store.close()


@pytest.mark.parametrize("old, new", [
    # an also node's
    ("      closed_at: CloseDate\n", "      closed_at: {column: CloseDate, if_empty: earliest_fact}\n"),
    ("      created_at: {column: CreatedDate, optional: true}\n\n  - file: OpportunityLineItem.csv",  # an edge's
     "      created_at: {column: CreatedDate, optional: true, if_empty: earliest_fact}\n\n"
     "  - file: OpportunityLineItem.csv"),
])
def test_earliest_fact_only_fills_the_sources_own_node(tmp_path, old, new):
    text = (MAPPINGS_DIR / "salesforce.yaml").read_text("utf-8")
    assert text.count(old) == 1
    mine = tmp_path / "bad.yaml"
    mine.write_text(text.replace(old, new), "utf-8")
    with pytest.raises(InvalidInput, match="only for a property of the source's own node"):
        load_mapping(str(mine), load_schema())


def test_a_reference_takes_a_placeholder_not_a_date(tmp_path):
    text = (MAPPINGS_DIR / "salesforce.yaml").read_text("utf-8")
    mine = tmp_path / "bad.yaml"
    stand_in = "        target: {column: OwnerId, if_empty: earliest_fact}\n"
    mine.write_text(text.replace("        target: OwnerId\n", stand_in), "utf-8")
    with pytest.raises(InvalidInput, match="takes `if_empty: {id, name}` on its relation"):
        load_mapping(str(mine), load_schema())


def test_mapping_check_names_the_deal_no_fact_can_date(tmp_path):
    report = check_mapping("salesforce", load_schema(), GAPS)
    undated = [p for p in report.problems if "no dated fact" in p]
    assert len(undated) == 1 and "line 8" in undated[0]  # deal 7; deals 5, 6 and 9 are dated by their facts
    assert not any("FOR_ACCOUNT" in p for p in report.problems)  # an empty AccountId is no problem now
