"""`dealgraph mapping draft`: a mapping drafted from an unknown export loads, with won / lost and dates right.

Fixtures in the shapes real exports come in (tests/loaders/fixtures/): a denormalised sales pipeline with
side tables of accounts, products and teams (`pipeline/`), leads with a closed-deals file (`funnel/`), a
flat European table without dates (`flat/`), and the shipped CRMs' own shapes.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import InvalidInput, open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.draft import draft_mapping
from loaders.draft_profile import profile_file
from ontology import load_schema

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = datetime(2026, 12, 4, tzinfo=UTC)


def draft_and_load(tmp_path: Path, shape: str, edit=None):
    draft = draft_mapping(FIXTURES / shape, today=TODAY)
    text = edit(draft.text) if edit else draft.text
    path = tmp_path / f"{shape}.yaml"
    path.write_text(text, "utf-8")
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    summary = load_export(store, FIXTURES / shape, load_mapping(str(path), schema), tmp_path / "q")
    nodes, edges = store.read_tables()
    store.close()
    return draft, summary, nodes, edges


def test_pipeline_with_side_tables_by_name(tmp_path):
    draft, summary, nodes, edges = draft_and_load(tmp_path, "pipeline")
    assert summary.reconciles
    files = {f.file: (f.read, f.loaded, f.quarantined) for f in summary.files}
    # the two prospecting rows have no engage date, so no start time: quarantined, and the draft says so
    assert files["sales_pipeline.csv"] == (13, 11, 2)
    assert any("engage_date: empty" in u for u in draft.undecided)
    outcomes = {o["id"].split(":")[0]: o["result"] for o in nodes["Outcome"]}
    assert outcomes == {"1C1I7A6R": "won", "Z063OYW0": "won", "EC4QE1BX": "won", "MV1LWRNH": "won", "PE84CX4O": "lost",
                        "ZNBS69V1": "won", "9ME3374G": "lost", "7GN8Q4LL": "lost", "OLVI7L8M": "won"}
    deal = {d["id"]: d for d in nodes["Deal"]}["Z063OYW0"]
    assert str(deal["created_at"])[:10] == "2016-10-25" and str(deal["close_date"])[:10] == "2017-03-11"
    assert "amount" not in deal or deal["amount"] is None  # close_value is known at close only: the outcome's
    # 'GTXPro' in the pipeline is the product 'GTX Pro' of products.csv, by identity's name rules
    products = {(e["src"], e["dst"]) for e in edges["FOR_PRODUCT"]}
    assert ("Z063OYW0", "GTX Pro") in products and ("7GN8Q4LL", "GTX Pro") in products
    assert "Product 'GTXPro' -> 'GTX Pro' (GTX Pro)" in summary.spellings
    assert {(e["src"], e["dst"]) for e in edges["OWNED_BY"]} >= {("1C1I7A6R", "Moses Frase")}
    assert {(e["src"], e["dst"]) for e in edges["SUBSIDIARY_OF"]} == {("Codehow", "Acme Corporation")}
    assert {r["id"]: r.get("team") for r in nodes["Rep"]}["Violet Mclelland"] == "East"


def test_leads_won_when_their_id_is_in_the_closed_deals_file(tmp_path):
    draft, summary, nodes, edges = draft_and_load(tmp_path, "funnel")
    assert summary.reconciles and summary.totals()["quarantined"] == 0
    won = {e["src"] for e in edges["HAS_OUTCOME"]}
    assert won == {"5420aad7fec3549a85876ba1c529bd84", "8c18d1de7f67e60dbd64e3c07d7e9d5d",
                   "b4bc852d233dfefc5131f593b538befa"}
    assert {o["result"] for o in nodes["Outcome"]} == {"won"}
    closed = {o["id"]: str(o["closed_at"]) for o in nodes["Outcome"]}
    assert closed["5420aad7fec3549a85876ba1c529bd84:won"] == "2018-02-26T19:08:45Z"
    assert len(nodes["Deal"]) == 8  # every lead, the other five open
    assert any("no lost rule" in u for u in draft.undecided)
    assert "UNDECIDED: nothing says a deal was lost" in draft.text


def test_flat_table_without_dates_says_a_time_column_is_needed(tmp_path):
    draft, summary, nodes, edges = draft_and_load(tmp_path, "flat")
    assert summary.reconciles and summary.totals()["loaded"] == 6
    assert "NO TIME COLUMN" in draft.text and "time-correct model needs a time column" in draft.text
    deals = {d["id"]: d for d in nodes["Deal"]}
    assert float(deals["Q-1001"]["amount"]) == 12500.0 and float(deals["Q-1002"]["amount"]) == 8300.5  # "8.300,50 €"
    assert {o["id"].split(":")[0]: o["result"] for o in nodes["Outcome"]} == {
        "Q-1001": "won", "Q-1002": "lost", "Q-1004": "won", "Q-1006": "lost"}
    # customers, owners and products are names with no file of their own: one node per name
    assert {a["name"] for a in nodes["Account"]} == {"Müller Maschinenbau GmbH", "Brandt & Söhne KG", "Nordlicht AG",
                                                      "Rheinwerk SE"}
    assert len(nodes["Rep"]) == 2 and len(edges["FOR_PRODUCT"]) == 6


@pytest.mark.parametrize("shape,shipped", [("salesforce_partial", "salesforce"), ("hubspot", "hubspot"),
                                           ("dynamics365", "dynamics")])
def test_a_crm_export_is_recognised_as_its_shipped_mapping(tmp_path, shape, shipped):
    draft, summary, _, _ = draft_and_load(tmp_path, shape)
    assert draft.shipped == shipped and summary.reconciles and summary.totals()["loaded"] > 0


def test_dates_numbers_and_statuses_are_read_from_values(tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("id;opened;closed;value;outcome\n"
                    "1;03/04/2024;15.05.2024;$1,234.50;Closed Won\n"
                    "2;03/05/2024;01.06.2024;$980.00;Closed Lost\n"
                    "3;11/12/2024;;$12.00;Negotiation\n", "utf-8")
    cols = profile_file(path).columns
    assert cols["opened"].date_format == "%m/%d/%Y" and cols["opened"].undecided  # March or April: said so
    assert cols["closed"].date_format == "%d.%m.%Y" and not cols["closed"].undecided
    assert cols["value"].number == {"symbols": "$", "thousands": ",", "decimal": "."}
    assert cols["outcome"].outcome == {"Closed Won": "won", "Closed Lost": "lost"}
    assert cols["id"].unique and cols["outcome"].date_format is None


def test_cli_writes_the_draft_and_an_export_without_deals_is_bad_input(tmp_path, capsys):
    out = tmp_path / "pipeline.yaml"
    common = ["--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path), "--json"]
    assert main(["mapping", "draft", str(FIXTURES / "pipeline"), "--out", str(out), *common]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report["out"] == str(out) and report["guesses"] > 0 and "# GUESS" in out.read_text("utf-8")
    assert main(["mapping", "check", str(out), "--source", str(FIXTURES / "pipeline"), *common]) == EXIT_BAD_INPUT
    assert "created_at (column engage_date): required but empty" in json.loads(capsys.readouterr().out)["problems"][0]
    lonely = Path(shutil.copytree(FIXTURES / "pipeline", tmp_path / "lonely"))
    (lonely / "sales_pipeline.csv").unlink()
    assert main(["mapping", "draft", str(lonely), *common]) == EXIT_BAD_INPUT
    assert "no file looks like deals" in capsys.readouterr().err
    with pytest.raises(InvalidInput, match="no CSV files"):
        draft_mapping(tmp_path / "nothing")


def test_the_docs_show_the_pipeline_draft_as_it_is(tmp_path):
    docs = (Path(__file__).parents[2] / "docs" / "mappings.md").read_text("utf-8")
    (excerpt,) = [b for b in docs.split("```\n") if b.startswith("  - file: sales_pipeline.csv")]
    assert excerpt in draft_mapping(FIXTURES / "pipeline", today=TODAY).text
