"""Records built column by column (`loaders.columns`) load and quarantine exactly what the row parser does.

Every export is loaded twice into fresh SQLite stores, once with `by_column=False` (each row parsed on its own,
as before) and once by column; the two graphs, the quarantine files (file, line, reason, row) and the per-file
counts must be equal, and every file reconciles. The exports: each fixture of tests/loaders with its mapping, a
small generated sample (its planted dirt), and Salesforce- and HubSpot-shaped exports made dirty the ways real
ones are (bad dates and numbers, quoted commas and newlines, blank lines, a BOM, `"x"y`, a missing optional
column, custom columns, duplicate keys, owners by name).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
from pathlib import Path

import pytest

from graph import open_store, sqlite_url
from loaders import load_mapping
from loaders.load import load_export
from loaders.parse import RowParser
from loaders.records import RecordError
from loaders.sample import generate_sample
from ontology import load_schema
from tests.loaders.graph_dump import canonical

FIXTURES = Path(__file__).parent / "fixtures"


def _both_ways(export: Path, mapping: str, tmp_path: Path) -> list[dict]:
    results = []
    for by_column in (False, True):
        root = tmp_path / ("columns" if by_column else "rows")
        store = open_store(sqlite_url(root / "g.db"))
        try:
            summary = load_export(store, export, load_mapping(mapping, store.schema), root / "q", by_column=by_column)
            quarantined = Path(summary.quarantine_file)
            lines = quarantined.read_text(encoding="utf-8").splitlines() if quarantined.exists() else []
            files = [(f.file, f.read, f.loaded, f.quarantined, f.merged) for f in summary.files]
            results.append((canonical(store), [json.loads(line) for line in lines], files))
            assert summary.reconciles
        finally:
            store.close()
    (rows_graph, rows_quarantine, rows_files), (cols_graph, cols_quarantine, cols_files) = results
    assert cols_files == rows_files
    assert cols_quarantine == rows_quarantine
    assert cols_graph == rows_graph
    return rows_quarantine


def _export(tmp_path: Path, *parts: str) -> Path:
    out = tmp_path / "export"
    out.mkdir()
    for part in parts:
        for f in (FIXTURES / part).iterdir():
            shutil.copy(f, out / f.name)
    return out


@pytest.mark.parametrize(("parts", "mapping"), [
    (("generic", "generic_activity"), "generic"),
    (("salesforce_gaps", "salesforce_activity", "salesforce_field_history"), "salesforce"),
    (("salesforce_partial",), "salesforce"),
    (("hubspot", "hubspot_history"), "hubspot"),
    (("dynamics",), str(FIXTURES / "dynamics.yaml")),
])
def test_fixtures_load_the_same_by_column_and_by_row(tmp_path, parts, mapping):
    _both_ways(_export(tmp_path, *parts), mapping, tmp_path)


def test_a_generated_sample_loads_the_same_by_column_and_by_row(tmp_path):
    export = generate_sample(tmp_path / "sample", accounts=80, seed=11).out_dir
    _both_ways(export, "salesforce", tmp_path)


def _append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8", newline="") as fh:
        fh.write(text)


def test_a_dirty_salesforce_export_loads_the_same_by_column_and_by_row(tmp_path):
    export = _export(tmp_path, "salesforce_gaps", "salesforce_activity")
    opportunity = export / "Opportunity.csv"
    header = opportunity.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Id,Name,AccountId,OwnerId,StageName,Amount,CloseDate,IsClosed,IsWon")
    _append(opportunity, "\n".join([
        "0065g00000D2a91AAZ,Bad date,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-02-30,false,false,"
        "New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a92AAZ,Bad number,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,approx. 5k,2024-06-30,false,"
        "false,New Business,Web,2024-01-01T00:00:00.000+0000",
        '0065g00000D2a93AAZ,"Comma, Inc deal",0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,"1,000",2024-06-30,'
        "false,false,New Business,Web,2024-01-01T00:00:00.000+0000",
        '0065g00000D2a94AAZ,"Two\nlines",0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,false,'
        "false,New Business,Web,2024-01-01T00:00:00.000+0000",
        "",
        '0065g00000D2a95AAZ,"Mis"quoted,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,false,'
        "false,New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a96AAZ,Short row,0015g00000B2aAAAAZ",
        # the same key twice: valid then invalid, and valid then valid
        "0065g00000D2a97AAZ,Dup one,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,false,false,"
        "New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a97AAZ,Dup two,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,-x-,2024-06-30,false,false,"
        "New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a98AAZ,Dup three,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,false,false,"
        "New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a98AAZ,Dup four,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Negotiation,200,2024-07-30,false,false,"
        "New Business,Web,2024-01-01T00:00:00.000+0000",
        "0065g00000D2a99AAZ,Dangling account,0015g00000XXXXXXXZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,true,"
        "maybe,New Business,Web,not a time",
        ",No id,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ,Prospecting,100,2024-06-30,false,false,New Business,Web,",
        ",,,,,,,,,,,",
        "0065g00000D2a9AAAZ,  Spaced  ,0015g00000B2aAAAAZ,0055g00000A2aAAAAZ, Prospecting ,  250.5 , 2024-06-30 ,"
        " FALSE , false ,New Business,Web, 2024-01-01T00:00:00Z ",
    ]) + "\n")
    # A BOM and a custom column the mapping does not know; the optional Type column left out of Account.csv.
    account = export / "Account.csv"
    rows = account.read_text(encoding="utf-8").splitlines()
    columns = rows[0].split(",")
    keep = [i for i, c in enumerate(columns) if c != "Type"]
    account.write_text("\ufeff" + "\n".join(",".join([*(r.split(",")[i] for i in keep), "Custom__c"])
                                                  for r in rows if r.count(",") == len(columns) - 1) + "\n",
                       encoding="utf-8")
    reasons = {(q["file"], q["line"]): q["reason"] for q in _both_ways(export, "salesforce", tmp_path)}
    assert len([f for f, _ in reasons if f == "Opportunity.csv"]) >= 8, reasons


def test_a_dirty_hubspot_export_loads_the_same_by_column_and_by_row(tmp_path):
    export = _export(tmp_path, "hubspot")
    deals = export / "deals.csv"
    width = deals.read_text(encoding="utf-8").splitlines()[0].count(",") + 1
    base = "Sales Pipeline,closedwon,{amount},{close},2022-12-01 09:00,{owner},New Business,,5002,7001,,"
    _append(deals, "\n".join([
        "8901,Owner by name," + base.format(amount="24000", close="2023-03-31 17:00", owner="Rita Rep"),
        "8902,Unknown owner," + base.format(amount="24000", close="2023-03-31 17:00", owner="Nobody Atall"),
        "8903,Bad close," + base.format(amount="24000", close="31/31/2023", owner="Rita Rep"),
        "8904,Bad amount," + base.format(amount="$24k", close="2023-03-31 17:00", owner="Rita Rep"),
        '8905,"Quoted, comma",' + base.format(amount="100", close="2023-03-31 17:00", owner="Rita Rep"),
        "",
        "8901,Owner by name again," + base.format(amount="25000", close="2023-04-30 17:00", owner="Rita Rep"),
    ]) + "\n")
    added = list(csv.reader(deals.read_text(encoding="utf-8").splitlines()[-7:]))
    assert [len(r) for r in added] == [width] * 5 + [0, width]  # the rows are well formed: their values are not
    assert len(_both_ways(export, "hubspot", tmp_path)) >= 3


CELLS = {
    "Amount": ["", "100", " 2500.50 ", "1e3", "abc", "nan", "inf", "-0", "1,000"],
    "CloseDate": ["", "2024-06-30", "2024-02-30", "06/30/2024", "2024/06/30", "30.06.2024", "1200-01-01",
                  "2024-06-30T10:00:00Z"],
    "CreatedDate": ["", "2024-01-01T00:00:00.000+0000", "2024-01-01T00:00:00Z", "2024-01-01", "yesterday",
                    "2024-13-01T00:00:00Z", "2024-01-01 10:00"],
    "IsClosed": ["true", "false", "TRUE", ""], "IsWon": ["true", "false", "yes", "maybe", ""],
    "StageName": ["", "Prospecting", " Closed Won ", "Negotiation/Review"],
    "Name": ["", " x ", "Acme, Inc", "\u00e9l\u00e8ve"],
}


def test_random_rows_get_the_row_parsers_record_or_none(tmp_path):
    """Cell by cell, the column builder's record is the row parser's, and None exactly where that one fails."""
    schema = load_schema()
    mapping = load_mapping("salesforce", schema)
    rng = random.Random(3)
    for src in mapping.sources:
        parser = RowParser(schema, src)
        rows = [{c: rng.choice(CELLS.get(c, ["", "v", " w "])) for c in src.columns()} for _ in range(400)]
        for raw, record in zip(rows, parser.records(rows), strict=True):
            try:
                expected = parser.parse(raw, None, 7)
            except RecordError:
                expected = None
            if record is None:
                assert expected is None, (src.file, raw)
            elif expected is None:
                with pytest.raises(RecordError):
                    parser.parse(raw, None, 7, record)
            else:
                got = parser.parse(raw, None, 7, record)
                assert (got.nodes, got.edges, got.refs, got.lookups) == (
                    expected.nodes, expected.edges, expected.refs, expected.lookups), (src.file, raw)
