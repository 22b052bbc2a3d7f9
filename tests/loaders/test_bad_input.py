"""Bad exports through the real CLI (`api.cli.main`): a clear message, a meaningful exit code, nothing valid lost.

Each case damages one file of the generic fixture (tests/loaders/fixtures/generic).
File-level damage (unreadable file, missing column) stops the load with exit 1
before anything is written; row-level damage quarantines the row with its line
and reason, the file's other rows load, and every file reconciles.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import open_store, sqlite_url
from loaders.quarantine import read_quarantine
from ontology import load_schema

GENERIC = Path(__file__).parent / "fixtures" / "generic"
GOOD_ACCOUNTS = 4  # a5 has a dangling parent even in the undamaged fixture
# `export`, a fresh copy of GENERIC for one test to damage, is tests/loaders/conftest.py's.


def run_load(tmp_path: Path, export: Path, capsys) -> tuple[int, dict, str]:
    """`dealgraph load` with --json: exit code, the summary (empty on failure) and stderr."""
    code = main(["load", str(export), "--mapping", "generic", "--json",
                 "--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def store_counts(tmp_path: Path) -> dict[str, int]:
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        return store.counts()


def quarantined(summary: dict) -> dict[tuple[str, int], str]:
    return {(q["file"], q["line"]): q["reason"] for q in read_quarantine(Path(summary["quarantine_file"]))}


def file_summary(summary: dict, name: str) -> dict:
    return next(f for f in summary["files"] if f["file"] == name)


def append_account_rows(export: Path, text: str) -> None:
    with (export / "accounts.csv").open("a", encoding="utf-8", newline="") as fh:
        fh.write(text)


# ---- whole-file problems: exit 1, nothing written


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_bytes(p.read_text("utf-8").encode("latin-1")),
     "not UTF-8 text: byte 0xE9 on line 2 .*`encoding: cp1252`"),
    (lambda p: p.write_bytes(b""), "empty file \\(0 bytes"),
    (lambda p: p.write_bytes(bytes(range(256)) * 40), "binary data|not UTF-8 text"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(200)), "spreadsheet workbook"),
    (lambda p: p.write_bytes(p.read_text("utf-8").encode("utf-16-le")), "UTF-16 text without a byte-order mark"),
    (lambda p: p.write_text(p.read_text("utf-8").replace("first_name", "given_name"), "utf-8"),
     "missing columns first_name"),
    (lambda p: p.write_text('"id,first_name\n', "utf-8"), "the header row is not readable as CSV"),
])
def test_unreadable_file_stops_the_load_before_writing(tmp_path, export, capsys, damage, message):
    damage(export / "contacts.csv")
    code, summary, err = run_load(tmp_path, export, capsys)
    assert code == EXIT_BAD_INPUT and not summary
    assert "contacts.csv" in err
    assert re.search(message, err), err
    assert sum(store_counts(tmp_path).values()) == 0


# ---- row problems: the row is quarantined, the rest loads, every file reconciles


def test_utf16_with_byte_order_mark_is_read(tmp_path, export, capsys):
    path = export / "contacts.csv"
    path.write_bytes(path.read_text("utf-8").encode("utf-16"))  # Excel's "Unicode text" (with BOM)
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert file_summary(summary, "contacts.csv")["loaded"] == 5


def test_truncated_last_line_is_quarantined(tmp_path, export, capsys):
    append_account_rows(export, 'a6,"Cut Off Incorporated,cut.example,Ret')
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert "cut off" in quarantined(summary)[("accounts.csv", 7)]
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS


def test_huge_field_is_quarantined_and_the_next_rows_load(tmp_path, export, capsys):
    append_account_rows(export, 'a6,"' + "x" * 200_000 + '",huge.example,,,,,,,\na7,After Huge,after.example,,,,,,,\n')
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert "longer than the CSV reader's limit" in quarantined(summary)[("accounts.csv", 7)]
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS + 1


def test_wrong_types_duplicates_dangling_and_short_rows(tmp_path, export, capsys):
    append_account_rows(export, "a6,Typo Inc,typo.example,,,,many,,,\n"      # line 7: employees not a number
                                "a1,Globex again,globex.com,,,,,,,\n"         # line 8: duplicate key, merged
                                "a8,Dangling Inc,d.example,,,,,,a404,\n"       # line 9: parent names no account
                                "a9,Short Row\n")                             # line 10: too few fields
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    reasons = quarantined(summary)
    assert "'many' is not a number" in reasons[("accounts.csv", 7)]
    assert "'a404' names no Account" in reasons[("accounts.csv", 9)]
    assert reasons[("accounts.csv", 10)] == "row has 2 fields, header has 10"
    accounts = file_summary(summary, "accounts.csv")
    assert (accounts["read"], accounts["merged"], accounts["loaded"]) == (9, 1, GOOD_ACCOUNTS)
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert store.get_node("Account", "a1")["name"] == "Globex again"  # the later duplicate wins


def test_unknown_columns_warn_and_header_only_file_loads_nothing(tmp_path, export, capsys):
    path = export / "products.csv"
    lines = path.read_text("utf-8").splitlines()
    path.write_text("\n".join(line + ",extra" for line in lines) + "\n", "utf-8")
    (export / "employment.csv").write_text("contact_id,account_id,title,since,until\n", "utf-8")
    code, summary, err = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert "warning: products.csv: columns not in the mapping, ignored: extra" in err
    assert file_summary(summary, "products.csv")["loaded"] == 3
    assert file_summary(summary, "employment.csv")["read"] == 0


def test_every_rejected_row_has_file_line_and_reason(tmp_path, export, capsys):
    append_account_rows(export, "a6,Typo Inc,typo.example,,,,many,,,\n")
    _, summary, _ = run_load(tmp_path, export, capsys)
    records = read_quarantine(Path(summary["quarantine_file"]))
    assert len(records) == summary["totals"]["quarantined"]
    assert all(r["file"] and r["line"] >= 2 and r["reason"] for r in records)
