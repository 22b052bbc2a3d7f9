"""Exports in the shapes CRM tools and Excel write them, through the real CLI and the shipped mappings.

`fixtures/salesforce_report/` is one Salesforce export from three tools: User.csv from Data Loader (18-character
ids, every field quoted, CRLF, a UTF-8 BOM), Account.csv re-saved in Excel (two trailing unnamed columns, the
parent named by its 15-character id), Opportunity.csv a report export (15-character ids, checkboxes as 1/0,
a multi-line description with an emoji, the report's footer lines).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import open_store, sqlite_url
from loaders.draft import write_draft
from loaders.mapping import ValueSpec, WhenSpec
from loaders.normalise import salesforce_id
from loaders.quarantine import read_quarantine
from loaders.records import (
    RecordError,
    parse_date,
    parse_datetime,
    parse_decimal,
    parse_formatted,
    parse_integer,
)
from loaders.values import compile_condition, compile_value
from ontology import load_schema

FIXTURES = Path(__file__).parent / "fixtures"
REPORT = FIXTURES / "salesforce_report"
ACME, ACME_EUROPE = "0015g00000B3cQrAAJ", "0015g00000B3cqRAAR"  # 15-character ids differing only in case


def load(tmp_path: Path, capsys, export: Path, mapping: str) -> tuple[int, dict, str]:
    code = main(["load", str(export), "--mapping", mapping, "--json",
                 "--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_the_18_character_form_follows_from_the_15_character_id():
    assert salesforce_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"  # Salesforce's documented pair
    assert salesforce_id(ACME[:15]) == ACME and salesforce_id(ACME_EUROPE[:15]) == ACME_EUROPE
    assert salesforce_id(ACME) == ACME and salesforce_id("Acme") == "Acme"


def test_true_false_tests_read_checkboxes_and_digits_stay_text():
    closed = compile_condition(WhenSpec(column="IsClosed", equals="true"))
    assert [closed({"IsClosed": v}) for v in ("1", "TRUE", "yes", "0", "false", "")] == [1, 1, 1, 0, 0, 0]
    with pytest.raises(RecordError, match="IsClosed: 'WAHR' is not true/false"):
        closed({"IsClosed": "WAHR"})
    state = compile_condition(WhenSpec(column="statecode", equals="1"))  # a status code, not a checkbox
    assert [state({"statecode": v}) for v in ("1", "2", "true")] == [True, False, False]
    won = compile_value(ValueSpec(column="IsWon", map={"true": "won", "false": "lost"}))
    assert [won({"IsWon": v}) for v in ("1", "0", "TRUE", "n")] == ["won", "lost", "won", "lost"]


def test_a_salesforce_export_from_report_data_loader_and_excel_loads(tmp_path, capsys):
    code, summary, err = load(tmp_path, capsys, REPORT, "salesforce")
    assert code == EXIT_OK and summary["reconciles"] and "Traceback" not in err
    files = {f["file"]: (f["read"], f["loaded"], f["quarantined"]) for f in summary["files"]}
    assert files == {"User.csv": (2, 2, 0), "Account.csv": (2, 2, 0), "Opportunity.csv": (9, 3, 6)}
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary["quarantine_file"]))}
    # The description spans lines 2-3, so the add-on deal is line 6; its checkbox is no boolean: not silently open.
    assert reasons.pop(("Opportunity.csv", 6)) == "IsClosed: 'WAHR' is not true/false"
    assert sorted(line for _, line in reasons) == [8, 10, 11, 12, 13]  # Grand Totals, Copyright, ... (not blanks)
    assert all("a report's title, totals and footer lines" in r for r in reasons.values())
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        deals = store.get_nodes("Deal", [salesforce_id(f"0065g00000D3eA{c}") for c in "abc"])
        assert len(deals) == 3  # stored under the 18-character ids Data Loader would give them
        won, lost, open_ = deals
        accounts = {d: [n.node["id"] for n in ns] for d, ns in store.neighbours("Deal", deals, "FOR_ACCOUNT").items()}
        assert accounts == {won: [ACME], lost: [ACME_EUROPE], open_: [ACME_EUROPE]}  # ids differing in case: apart
        parents = store.neighbours("Account", [ACME_EUROPE], "SUBSIDIARY_OF")[ACME_EUROPE]
        assert [n.node["id"] for n in parents] == [ACME]  # named by its 15-character id in the Excel file
        outcomes = store.get_nodes("Outcome", [f"{d}:outcome" for d in deals])
        assert {k: v["result"] for k, v in outcomes.items()} == {f"{won}:outcome": "won", f"{lost}:outcome": "lost"}
        assert store.get_node("Deal", won)["created_at"] == "2023-02-01T10:00:00Z"


def test_headers_in_upper_case_as_data_loader_writes_them_load_the_same(tmp_path, capsys):
    export = Path(shutil.copytree(REPORT, tmp_path / "export"))
    for name in ("User.csv", "Account.csv", "Opportunity.csv"):
        head, rest = (export / name).read_bytes().split(b"\r\n", 1)
        (export / name).write_bytes(head.upper() + b"\r\n" + rest)  # "ID","NAME","ACCOUNTID",...
    code, summary, _ = load(tmp_path, capsys, export, "salesforce")
    assert code == EXIT_OK and summary["reconciles"]
    files = {f["file"]: (f["read"], f["loaded"], f["quarantined"]) for f in summary["files"]}
    assert files == {"User.csv": (2, 2, 0), "Account.csv": (2, 2, 0), "Opportunity.csv": (9, 3, 6)}
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert store.get_node("Account", ACME_EUROPE)["name"] == "Acme Europe"
        assert store.get_node("Rep", salesforce_id("0055g00000A3bXz"))["active"] is False


@pytest.mark.parametrize(("quote", "problem"), [
    ("", "missing columns Id, Name"),  # European Excel: `Id;Name;IsActive`
    ('"', "the header row is not readable as CSV"),  # every field quoted: `"Id";"Name";"IsActive"`
])
def test_a_semicolon_separated_file_says_which_delimiter_to_set(tmp_path, capsys, quote, problem):
    export = Path(shutil.copytree(REPORT, tmp_path / "export"))
    user = export / "User.csv"
    user.write_text(user.read_text("utf-8-sig").replace('","', '";"').replace('"', quote), "utf-8")
    code, _, err = load(tmp_path, capsys, export, "salesforce")
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert f"User.csv: {problem}" in err
    assert 'the header is separated by ";", not ",": set `delimiter: ";"` for this file in the mapping' in err


def test_hubspot_stage_labels_close_deals_and_ids_excel_rounded_are_quarantined(tmp_path, capsys):
    # hubspot_labels/: exported from HubSpot's UI (stage labels, `Closed Won`), then opened in Excel, which
    # rounded two 12-digit Record IDs into `1.23457E+11`.
    code, summary, _ = load(tmp_path, capsys, FIXTURES / "hubspot_labels", "hubspot")
    assert code == EXIT_OK and summary["reconciles"]
    files = {f["file"]: (f["read"], f["loaded"], f["quarantined"]) for f in summary["files"]}
    assert files == {"owners.csv": (1, 1, 0), "companies.csv": (3, 2, 1), "deals.csv": (5, 4, 1)}
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary["quarantine_file"]))}
    rounded = "'{}' is an id Excel turned into a rounded number; its digits are lost: export again and do not open"
    assert reasons[("companies.csv", 4)].startswith("Record ID: " + rounded.format("1.23457E+11"))
    assert reasons[("deals.csv", 6)].startswith("Record ID: " + rounded.format("2.23457E+11"))
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        outcomes = store.get_nodes("Outcome", [f"22345678900{i}:outcome" for i in range(1, 5)])
        assert {k[9:12]: v["result"] for k, v in outcomes.items()} == {"001": "won", "002": "lost", "004": "won"}
        assert store.get_node("Deal", "223456789001")["stage"] == "Closed Won"


def test_a_report_with_field_labels_says_a_mapping_is_needed_for_its_columns(tmp_path, capsys):
    export = Path(shutil.copytree(REPORT, tmp_path / "export"))
    (export / "Opportunity.csv").write_text(  # a report writes labels where Data Loader writes API names
        '"Opportunity Name","Account Name","Amount","Close Date","Stage","Opportunity Owner"\n'
        '"Acme platform","Acme Corp","50,000.00","5/1/2023","Closed Won","Rita Rep"\n', "utf-8")
    code, _, err = load(tmp_path, capsys, export, "salesforce")
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert ("Opportunity.csv: missing columns AccountId, CloseDate, CreatedDate, Id, IsClosed, IsWon, Name, OwnerId; "
            "none of them is in the header: an export with other column names (a report's labels?): "
            "`dealgraph mapping draft` drafts a mapping for the columns it has") in err


def test_a_decimal_point_in_a_decimal_comma_column_is_quarantined_not_read_as_thousands(tmp_path, capsys):
    mapping = tmp_path / "flat.yaml"
    write_draft(FIXTURES / "flat", mapping)  # European Excel: `12.500,00 €`, so `number: {thousands: ".", ...}`
    export = Path(shutil.copytree(FIXTURES / "flat", tmp_path / "export"))
    with (export / "opportunities.csv").open("a", encoding="utf-8") as fh:
        fh.write("Q-1099;Nordlicht AG;Tim Vogel;Edge Box;Angebot;12.5 €;Open\n")  # typed with a point: 12.50
    code, summary, _ = load(tmp_path, capsys, export, str(mapping))
    assert code == EXIT_OK and summary["reconciles"]
    (quarantine,) = read_quarantine(Path(summary["quarantine_file"]))
    assert quarantine["reason"] == ("Amount: '12.5 €' is not a number written with '.' between groups of three "
                                    "digits and ',' before the decimals (as this column's `number:` says)")
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert store.get_node("Deal", "Q-1099") is None  # not loaded as 125
        assert store.get_node("Deal", "Q-1001")["amount"] == 12500.0


def test_two_exports_joined_into_one_file_do_not_load_the_second_header_as_a_record(tmp_path, capsys):
    export = Path(shutil.copytree(REPORT, tmp_path / "export"))
    january = '\ufeff"Id","Name","ProductCode"\r\n"01t5g00000P3aAaAAJ","Core Platform","CORE-1"\r\n'
    february = january.replace("P3aAaAAJ", "P3aAbAAJ").replace("Core Platform", "Analytics")
    (export / "Product2.csv").write_text(january + february, "utf-8")  # `cat` of two monthly exports
    code, summary, _ = load(tmp_path, capsys, export, "salesforce")
    assert code == EXIT_OK and summary["reconciles"]
    assert [(f["read"], f["loaded"]) for f in summary["files"] if f["file"] == "Product2.csv"] == [(3, 2)]
    reasons = {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary["quarantine_file"]))}
    assert reasons[("Product2.csv", 3)] == ("the header row again, inside the file (two exports joined together?): "
                                            "not a record")
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert store.node_ids("Product") == {"01t5g00000P3aAaAAJ", "01t5g00000P3aAbAAJ"}  # no Product "Id" named "Name"


def test_a_title_line_above_the_header_says_to_cut_it(tmp_path, capsys):
    export = Path(shutil.copytree(REPORT, tmp_path / "export"))
    deals = export / "Opportunity.csv"
    deals.write_text("Opportunities closed this year\r\n\r\n" + deals.read_text("utf-8-sig"), "utf-8")
    code, _, err = load(tmp_path, capsys, export, "salesforce")
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert ("Opportunity.csv: missing columns AccountId, CloseDate, CreatedDate, Id, IsClosed, IsWon, Name, OwnerId; "
            "the first line holds one field ('Opportunities closed this year'): a report's title above the header? "
            "cut the lines above the header row") in err


def test_dynamics_guids_in_braces_and_upper_case_name_the_same_records(tmp_path, capsys):
    export = Path(shutil.copytree(FIXTURES / "dynamics365", tmp_path / "export"))
    deals = export / "opportunity.csv"
    account = "c0000000-0000-0000-0000-000000000001"
    text = deals.read_text("utf-8")
    deals.write_text(text.replace(f",{account},Fabrikam Inc,", f",{{{account.upper()}}},Fabrikam Inc,", 1), "utf-8")
    assert deals.read_text("utf-8") != text
    code, summary, _ = load(tmp_path, capsys, export, "dynamics")
    assert code == EXIT_OK and summary["reconciles"]
    assert [(f["read"], f["loaded"]) for f in summary["files"] if f["file"] == "opportunity.csv"] == [(8, 8)]
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        deal = "e0000000-0000-0000-0000-000000000001"
        assert [n.node["id"] for n in store.neighbours("Deal", [deal], "FOR_ACCOUNT")[deal]] == [account]


@pytest.mark.parametrize(("parse", "text", "hint"), [
    (parse_date, "31/01/2023", "the day comes first, so the column's other d/m dates were read month first too; "
                               'give the column `format: "%d/%m/%Y"`'),
    (parse_date, "04.03.2025", "for another form give the column a `format:`"),
    (parse_datetime, "2/1/2023 10:00", 'for another form give the column a `format:`, e.g. "%m/%d/%Y %I:%M %p"'),
    (parse_decimal, "1.234,50", "written for people: give the column a `number:`"),
    (parse_date, "45292", "an Excel serial day number (45292 is 2024-01-01)? give the column `format: excel_days`"),
    (lambda text: parse_formatted(text, ("%Y-%m-%d %H:%M",)), "1670490000000",  # HubSpot's internal value
     "does not match the date format %Y-%m-%d %H:%M: seconds or milliseconds since 1970? give the column "
     "`format: epoch_s` or `format: epoch_ms`"),
    (parse_decimal, "$24,000.00", "written for people: give the column a `number:`"),
    (parse_integer, "1,200", "written for people: give the column a `number:`"),
])
def test_values_as_excel_writes_them_say_which_option_reads_them(parse, text, hint):
    with pytest.raises(ValueError) as error:
        parse(text)
    assert hint in str(error.value)


def test_excel_serial_days_are_read_with_format_excel_days():
    created = compile_value(ValueSpec(column="Created On", format="excel_days", timezone="Europe/Berlin"))
    assert parse_datetime(created({"Created On": "45292.75"})) == datetime(2024, 1, 1, 17, tzinfo=UTC)
    assert parse_date(compile_value(ValueSpec(column="Close", format="excel_days"))({"Close": "45351"})) == date(
        2024, 2, 29)
    with pytest.raises(RecordError, match="'nan' does not match the date format excel_days"):
        created({"Created On": "nan"})


def test_no_break_spaces_between_thousands_read_as_the_space_the_mapping_names():
    amount = compile_value(ValueSpec(column="Montant", number={"thousands": " ", "decimal": ",", "symbols": " €"}))
    assert [parse_decimal(amount({"Montant": v})) for v in ("1\u00a0234,50\u00a0€", "12\u202f500,00 €")] == [
        1234.5, 12500.0]  # French Excel's amounts: U+00A0 and U+202F
