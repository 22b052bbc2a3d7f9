"""Inputs that once crashed or hung the loader (issue 15), and variations of them, through the real CLI.

Each ends in exit 0 with the bad row quarantined (file, line, the column and
the limit in its reason; every file reconciling; the rest loaded) or in
exit 1 before anything is written, the file named and nothing of a refused
file's contents echoed. Cases that used to hang run the CLI in a subprocess
with a time limit, so a regression fails instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import GraphStore, open_store, sqlite_url
from graph.ledger import Ledger
from loaders.mapping import MAPPINGS_DIR
from ontology import load_schema
from tests.loaders.test_bad_input import (
    GENERIC,
    GOOD_ACCOUNTS,
    append_account_rows,
    file_summary,
    quarantined,
    run_load,
    store_counts,
)

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "a6,Edge Case Inc,edge.example,,,,{employees},{revenue},,{created}\n"  # line 7 of accounts.csv
DEAL = "d9,Edge deal,a1,r1,Proposal,{status},{amount},{close_date},{closed_at},2025-01-02T00:00:00Z,New,Web,\n"
DEALS_LINE = 9  # the fixture's deals.csv has a header and 7 rows


def account(employees: str = "", revenue: str = "", created: str = "") -> str:
    return ACCOUNT.format(employees=employees, revenue=revenue, created=created)


def only_loaded(tmp_path: Path, label: str) -> set[str]:
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        return store.node_ids(label)


def assert_quarantined(code: int, summary: dict, file: str, line: int, pattern: str) -> str:
    """The load finished, reconciles, and `file`:`line` is quarantined with a reason matching `pattern`."""
    assert code == EXIT_OK and summary["reconciles"], summary
    reason = quarantined(summary).get((file, line), "")
    assert re.search(pattern, reason), reason
    return reason


# ---- values beyond what the stores, pandas and GraphQL hold: the row is quarantined, the column and limit named

INT64 = r"employees: beyond the 64-bit integer range the stores hold \(-9223372036854775808 \.\. 9223372036854775807"
DATES = r"created_at: outside the date range the stores and the model hold \(1677-09-22 \.\. 2262-04-10"
NOT_FINITE = r"annual_revenue: .* is not a finite number"


@pytest.mark.parametrize(("row", "reason"), [
    (account(employees="1e19"), INT64 + r"; got '1e19'\)"),
    (account(employees="99999999999999999999"), INT64),
    (account(employees="9223372036854775808"), INT64),  # 2**63: a float would round it into range
    (account(employees="-9223372036854775809"), INT64),
    (account(employees="1" * 5000), INT64 + r".*\(5000 characters\)"),  # past int()'s digit limit
    (account(employees="3e9"), r"employees: Input should be less than or equal to 10000000 \(got 3000000000\)"),
    (account(employees="2147483648"), r"employees: Input should be less than or equal to 10000000"),  # GraphQL Int
    (account(employees="1e400"), r"employees: '1e400' is not a finite number"),
    (account(employees="-5"), r"employees: Input should be greater than or equal to 0"),
    (account(employees="12.5"), r"employees: '12.5' is not a whole number"),
    (account(revenue="NaN"), NOT_FINITE),
    (account(revenue="inf"), NOT_FINITE),
    (account(revenue="-Infinity"), NOT_FINITE),
    (account(revenue="1e309"), NOT_FINITE),
    (account(revenue="-100"), r"annual_revenue: Input should be greater than or equal to 0"),
    (account(created="9999-12-31T23:00:00-05:00"), DATES),  # in UTC it is year 10000: OverflowError once
    (account(created="0001-01-01T00:00:00+05:00"), DATES),  # in UTC it is year 0
    (account(created="1200-01-01T00:00:00Z"), DATES),  # once loaded, then train failed for the whole store
    (account(created="1677-09-21T00:00:00Z"), DATES),
    (account(created="2262-04-12"), DATES),
    (account(created="9999-12-31"), DATES),
    (account(created="0000-00-00"), r"created_at: '0000-00-00' is not a date"),
    (account(created="2024-02-30"), r"created_at: '2024-02-30' is not a date"),
    (account(created="2016-12-31T23:59:60Z"), r"created_at: '2016-12-31T23:59:60Z' is not a date-time"),  # leap second
    (account(created="2024-03-01T10:00:00 Europe/Berlin"), r"created_at: .* is not a date-time"),  # a zone's name
    (account(created="2024-03-01T10:00:00+25:00"), r"created_at: .* is not a date-time"),
    (account(created="10000-01-01T00:00:00Z"), r"created_at: .* is not a date-time"),
])
def test_account_value_out_of_range_is_quarantined(tmp_path, export, capsys, row, reason):
    append_account_rows(export, row)
    code, summary, err = run_load(tmp_path, export, capsys)
    assert "Traceback" not in err
    assert_quarantined(code, summary, "accounts.csv", 7, reason)
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS
    assert "a6" not in only_loaded(tmp_path, "Account")


@pytest.mark.parametrize(("fields", "reason"), [
    ({"amount": "-1"}, r"amount: Input should be greater than or equal to 0"),
    ({"amount": "NaN"}, r"amount: 'NaN' is not a finite number"),
    ({"close_date": "3000-01-01"}, r"close_date: outside the date range"),
    ({"close_date": "1066-10-14"}, r"close_date: outside the date range"),
    ({"status": "won", "closed_at": "0001-01-01T00:00:00+14:00"}, r"closed_at: outside the date range"),
])
def test_deal_value_out_of_range_is_quarantined(tmp_path, export, capsys, fields, reason):
    values = {"status": "open", "amount": "100", "close_date": "2025-06-30", "closed_at": ""} | fields
    with (export / "deals.csv").open("a", encoding="utf-8") as fh:
        fh.write(DEAL.format(**values))
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "deals.csv", DEALS_LINE, reason)
    assert "d9" not in only_loaded(tmp_path, "Deal")


@pytest.mark.parametrize("row", [
    account(employees="10000000"), account(employees="1e3"), account(employees="007"),
    account(revenue="1e300"), account(created="2262-04-10T23:00:00Z"), account(created="1677-09-22"),
    account(created="2262-04-10T20:00:00-03:00"),
])
def test_values_at_the_limits_load(tmp_path, export, capsys, row):
    append_account_rows(export, row)
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS + 1


def test_huge_integer_no_longer_fails_the_write_and_a_rerun_converges(tmp_path, export, capsys):
    """Once a 1e19 passed validation and failed the SQLite write after earlier batches committed, every run."""
    append_account_rows(export, account(employees="1e19"))
    for _ in range(2):
        code, summary, _ = run_load(tmp_path, export, capsys)
        assert_quarantined(code, summary, "accounts.csv", 7, INT64)
    assert len(only_loaded(tmp_path, "Account")) == GOOD_ACCOUNTS


def test_hubspot_number_of_employees_names_the_column(tmp_path, capsys):
    export = Path(shutil.copytree(GENERIC.parent / "hubspot", tmp_path / "hubspot"))
    with (export / "companies.csv").open("a", encoding="utf-8") as fh:
        fh.write("5099,Huge Corp,huge.example,Retail,Customer,Germany,1e19,,2022-03-01 10:00,,Rita Rep\n")
    code = main(["load", str(export), "--mapping", "hubspot", "--json",
                 "--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")])
    summary = json.loads(capsys.readouterr().out)
    assert_quarantined(code, summary, "companies.csv", 10,
                       r"employees \(column Number of Employees\): beyond the 64-bit")


# ---- export files: regular files inside the export folder, checked before they are opened


def cli(args: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    """The real CLI in a process of its own: a hang is a failed test, not a hung suite."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "api.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def load_args(tmp_path: Path, export: Path, mapping: str = "generic") -> list[str]:
    return ["load", str(export), "--mapping", mapping, "--store", sqlite_url(tmp_path / "g.db"),
            "--home", str(tmp_path / "home")]


def assert_refused(tmp_path: Path, code: int, err: str, *patterns: str) -> None:
    assert code == EXIT_BAD_INPUT, err
    assert "Traceback" not in err
    for pattern in patterns:
        assert re.search(pattern, err), err
    assert "root:" not in err  # nothing of /etc/passwd, whatever the case
    if (tmp_path / "g.db").exists():
        assert sum(store_counts(tmp_path).values()) == 0


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.symlink_to("/dev/zero"), "a link to a file outside the export folder"),
    (lambda p: os.mkfifo(p), "a fifo \\(named pipe\\), not a regular file"),
])
def test_device_or_fifo_is_refused_without_opening_it(tmp_path, export, make, message):
    (export / "products.csv").unlink()
    make(export / "products.csv")
    done = cli(load_args(tmp_path, export))
    assert_refused(tmp_path, done.returncode, done.stderr, "products.csv: " + message)


def test_link_to_a_file_outside_is_refused_and_not_echoed(tmp_path, export, capsys):
    (export / "products.csv").unlink()
    (export / "products.csv").symlink_to("/etc/passwd")
    code, _, err = run_load(tmp_path, export, capsys)
    assert_refused(tmp_path, code, err, "products.csv: a link to a file outside the export folder")


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: (p.unlink(), p.mkdir()), "a folder, not a regular file"),
    (lambda p: (p.unlink(), p.symlink_to(p.parent / "nowhere.csv")), "a link to a file that does not exist"),
    (lambda p: (p.unlink(), p.symlink_to(p.parent / "loop.csv"), (p.parent / "loop.csv").symlink_to(p)),
     "cannot be examined"),
    (lambda p: (p.unlink(), p.symlink_to(p.parent.parent / "outside" / "products.csv")),
     "a link to a file outside the export folder"),
])
def test_other_non_regular_files_are_refused(tmp_path, export, capsys, make, message):
    (tmp_path / "outside").mkdir()
    shutil.copy(GENERIC / "products.csv", tmp_path / "outside" / "products.csv")  # readable, but not the export's
    make(export / "products.csv")
    code, _, err = run_load(tmp_path, export, capsys)
    assert_refused(tmp_path, code, err, "products.csv: " + message)


def mapping_with_files(tmp_path: Path, **files: str) -> Path:
    """The shipped generic mapping with some `file:` entries changed (old name -> new)."""
    text = (MAPPINGS_DIR / "generic.yaml").read_text("utf-8")
    for old, new in files.items():
        text = text.replace(f"file: {old}.csv", f"file: {new!r}")
    path = tmp_path / "mapping.yaml"
    path.write_text(text, "utf-8")
    return path


@pytest.mark.parametrize(("name", "message"), [
    ("../products.csv", "climbs out of the export folder"),
    ("sub/../../products.csv", "climbs out of the export folder"),
    ("..\\products.csv", "climbs out of the export folder"),
    ("/etc/passwd", "is an absolute path"),
    ("C:\\exports\\products.csv", "is an absolute path"),
    ("", "no file name"),
])
def test_mapping_file_must_stay_inside_the_export(tmp_path, export, capsys, name, message):
    mapping = mapping_with_files(tmp_path, products=name)
    code = main(load_args(tmp_path, export, str(mapping)))
    err = capsys.readouterr().err
    assert_refused(tmp_path, code, err, r"sources\.1\.file", message)


def test_links_and_subfolders_inside_the_export_are_read(tmp_path, export, capsys):
    (export / "crm").mkdir()
    shutil.move(export / "products.csv", export / "crm" / "products.csv")
    (export / "reps.csv").rename(export / "crm" / "reps-2025.csv")
    (export / "reps.csv").symlink_to(export / "crm" / "reps-2025.csv")  # a link that stays inside
    linked = tmp_path / "linked-export"
    linked.symlink_to(export, target_is_directory=True)  # the export folder itself a link
    mapping = mapping_with_files(tmp_path, products="crm/products.csv")
    code = main(load_args(tmp_path, linked, str(mapping)) + ["--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and summary["reconciles"]
    assert file_summary(summary, "crm/products.csv")["loaded"] == 3
    assert file_summary(summary, "reps.csv")["loaded"] == 2


def test_subfolder_that_links_outside_is_refused(tmp_path, export, capsys):
    (tmp_path / "outside").mkdir()
    shutil.copy(GENERIC / "products.csv", tmp_path / "outside" / "products.csv")
    (export / "crm").symlink_to(tmp_path / "outside", target_is_directory=True)
    mapping = mapping_with_files(tmp_path, products="crm/products.csv")
    code = main(load_args(tmp_path, export, str(mapping)))
    assert_refused(tmp_path, code, capsys.readouterr().err, "crm/products.csv: a link to a file outside the export")


# ---- mapping files that hung or crashed the YAML reader

LAUGHS = "name: x\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + "sources: *i\n"


@pytest.mark.parametrize(("text", "message"), [
    (LAUGHS, "expands to more than 100000 values through its aliases"),
    ("name: x\nsources: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested more than 50 levels deep"),
    ("name: x\nsources:\n" + "".join("  " * i + "- \n" for i in range(1, 600)), "nested more than 50 levels deep"),
    ("name: x\nsources: &s [*s]\n", r"the alias \*s \(line 2\) is inside the value it names"),
])
def test_mapping_yaml_that_would_hang_or_recurse_is_refused(tmp_path, export, text, message):
    path = tmp_path / "mapping.yaml"
    path.write_text(text, "utf-8")
    done = cli(load_args(tmp_path, export, str(path)))
    assert_refused(tmp_path, done.returncode, done.stderr, f"mapping {re.escape(str(path))}: {message}")


@pytest.mark.parametrize(("data", "message"), [
    ("name: café\nsources: []\n".encode("latin-1"), r"not UTF-8 text: byte 0xE9 at offset 9 \(line 1\)"),
    (b"name: x\nsources: []\n# " + "ü".encode("utf-16-le") + b"\n",
     r"not UTF-8 text: byte 0xFC at offset 22 \(line 3\)"),
    (b"name: x\n# " + b"x" * (1 << 20) + b"\nsources: []\n", "larger than 1048576 bytes"),
    (b"- just\n- a list\n", "top level: Input should be a valid dictionary"),
    (b"name: x\nencoding: rot13\nsources: []\n", "unknown encoding 'rot13' \\(a text encoding"),  # a codec, not text
    (b"name: x\nencoding: zlib\nsources: []\n", "unknown encoding 'zlib'"),
    (b"name: x\nsources: [{file: a.csv, node: Account, key: id, references: [{column: p, node: Account, split: ''}]}]",
     r"sources\.0\.references\.0\.split: String should have at least 1 character"),  # once ValueError, exit 2
    (b"name: x\nsources: [{file: a.csv, node: Account, key: id, "
     b"properties: {employees: {column: e, number: {decimal: ''}}}}]",
     r"number\.decimal: String should have at least 1 character"),
    (b"name: x\nsources: [{file: a.csv, node: Account, key: *nowhere}]\n", "not valid YAML: found undefined alias"),
])
def test_unreadable_mapping_is_refused(tmp_path, export, capsys, data, message):
    path = tmp_path / "mapping.yaml"
    path.write_bytes(data)
    code = main(load_args(tmp_path, export, str(path)))
    assert_refused(tmp_path, code, capsys.readouterr().err, message)


# ---- NUL bytes: the row holding one is quarantined, wherever in the file it is


@pytest.mark.parametrize("padding", [0, 400])  # the NUL in the first 8 KB, and far past it
def test_nul_byte_quarantines_its_row_anywhere_in_the_file(tmp_path, export, capsys, padding):
    pad = "".join(f"x{i},Padding {i},,,,,,,,\n" for i in range(padding))
    append_account_rows(export, pad + "n1,Nul\x00Name,,,,,,,,\nn2,After Nul,,,,,,,,\n")
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", 7 + padding, r"^name: holds a NUL byte \(U\+0000\)")
    accounts = only_loaded(tmp_path, "Account")
    assert "n1" not in accounts and "n2" in accounts and len(accounts) == GOOD_ACCOUNTS + padding + 1


def test_nul_in_the_header_refuses_the_file(tmp_path, export, capsys):
    path = export / "products.csv"
    path.write_text(path.read_text("utf-8").replace("family", "fam\x00ily"), "utf-8")
    code, _, err = run_load(tmp_path, export, capsys)
    assert_refused(tmp_path, code, err, "products.csv: the header row holds a NUL byte")


# ---- shapes of text real exports come in


def test_bom_crlf_embedded_newlines_and_quotes_load_with_true_line_numbers(tmp_path, export, capsys):
    path = export / "accounts.csv"
    text = path.read_text("utf-8") + 'a6,"Line one\nline ""two"", quoted",x.example,,,,,,,\na7,Bad Count,,,,,,lots,,\n'
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))  # Excel's CSV UTF-8
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", 9, r"annual_revenue: 'lots' is not a number")
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert store.get_node("Account", "a6")["name"] == 'Line one\r\nline "two", quoted'


@pytest.mark.parametrize(("damage", "message"), [
    (lambda p: p.write_bytes(p.read_bytes() + "p9,Caf\xe9,X,,true,\n".encode("cp1252")),
     r"not UTF-8 text: byte 0xE9 on line 5"),  # one cp1252 row in a UTF-8 file
    (lambda p: p.write_text("id,name,name,code,family,active,created_at\n", "utf-8"),
     "the header names name more than once"),
    (lambda p: p.write_text("id," * 400_000, "utf-8"), "no header row within the first 1048576 characters"),
    (lambda p: p.write_text("id," * 300_000 + "\n", "utf-8"), "the header names id more than once"),  # was quadratic
    (lambda p: p.write_text(",".join(f"c{i}" for i in range(100_000)) + ",c7\n", "utf-8"),
     "the header names c7 more than once"),
    (lambda p: p.write_text("\n\n", "utf-8"), "missing columns"),
    (lambda p: p.write_bytes(b"\xef\xbb\xbf"), "missing columns"),  # nothing but Excel's BOM
])
def test_file_level_damage_is_refused(tmp_path, export, capsys, damage, message):
    damage(export / "products.csv")
    code, _, err = run_load(tmp_path, export, capsys)
    assert_refused(tmp_path, code, err, "products.csv: .*" + message)


@pytest.mark.parametrize(("encode", "rows"), [
    (lambda t: t.encode("utf-32"), 3),  # with its BOM
    (lambda t: b"\xef\xbb\xbf" + t.replace("\n", "\r\n").encode("utf-8"), 3),
    (lambda t: t.splitlines(keepends=True)[0].encode("utf-8"), 0),  # header only
])
def test_byte_order_marks_and_header_only_files_load(tmp_path, export, capsys, encode, rows):
    path = export / "products.csv"
    path.write_bytes(encode(path.read_text("utf-8")))
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    products = file_summary(summary, "products.csv")
    assert products["read"] == products["loaded"] == rows


def test_long_field_under_the_reader_limit_loads_whole(tmp_path, export, capsys):
    append_account_rows(export, f'a6,"{"n" * 100_000}",,,,,,,,\n')
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert len(store.get_node("Account", "a6")["name"]) == 100_000


# ---- parent cycles: the row that closes one is quarantined, the cycle named


@pytest.mark.parametrize(("rows", "line", "cycle"), [
    ("a6,Self Parent,,,,,,,a6,\n", 7, "a6 -> a6"),
    ("a6,Loop A,,,,,,,a7,\na7,Loop B,,,,,,,a6,\n", 8, "a7 -> a6 -> a7"),
    ("a6,Ring A,,,,,,,a7,\na7,Ring B,,,,,,,a8,\na8,Ring C,,,,,,,a6,\n", 9, "a8 -> a6 -> a7 -> a8"),
    ("a6,Under Acme,,,,,,,a2,\na1,Globex under a6,,,,,,,a6,\n", 8, "a1 -> a6 -> a2 -> a1"),  # through fixture rows
])
def test_row_closing_a_parent_cycle_is_quarantined(tmp_path, export, capsys, rows, line, cycle):
    append_account_rows(export, rows)
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", line, rf"parent_id: SUBSIDIARY_OF would close a cycle {cycle} ")
    assert_acyclic(tmp_path)


def assert_acyclic(tmp_path: Path) -> None:
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        assert_no_parent_cycle(store)


def assert_no_parent_cycle(store: GraphStore) -> None:
    """No account is its own parent or ancestor in the stored hierarchy."""
    parent = {s: d for s, d, _ in Ledger(store).edge_keys("SUBSIDIARY_OF")}
    for start in parent:
        seen, node = set(), start
        while node in parent:
            assert node not in seen, f"parent cycle through {node}"
            seen.add(node)
            node = parent[node]


def test_cycle_through_an_earlier_load_is_quarantined_with_what_hangs_off_it(tmp_path, export, capsys):
    run_load(tmp_path, export, capsys)  # a2's parent is a1
    path = export / "accounts.csv"
    globex = "a1,Globex,globex.com,Finance,Customer,DE,5000,1000000000,"
    path.write_text(path.read_text("utf-8").replace(globex + ",", globex + "a2,"), "utf-8")
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", 2, "would close a cycle a1 -> a2 -> a1")
    assert_acyclic(tmp_path)


def test_new_rows_whose_cycle_the_same_load_breaks_are_kept(tmp_path, export, capsys):
    run_load(tmp_path, export, capsys)  # a2 under a1
    path = export / "accounts.csv"
    text = path.read_text("utf-8").replace(",a1,2021-03-01", ",a3,2021-03-01")  # a2 moves under a3 ...
    path.write_text(text, "utf-8")
    append_account_rows(export, "a1,Globex,globex.com,,,,,,a2,\n")  # ... so a1 under a2 closes nothing
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert not any("cycle" in r for r in quarantined(summary).values())
    assert_acyclic(tmp_path)


def test_a_cycle_closer_takes_the_deals_on_it_along(tmp_path, export, capsys):
    append_account_rows(export, "a6,Self Parent,,,,,,,a6,\n")
    with (export / "deals.csv").open("a", encoding="utf-8") as fh:
        fh.write("d9,On the cycle,a6,r1,Proposal,open,100,2025-06-30,,2025-01-02T00:00:00Z,New,Web,\n")
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", 7, "a6 -> a6")
    assert_quarantined(code, summary, "deals.csv", DEALS_LINE, "'a6' names no Account")


def test_identity_rules_yaml_is_bounded_like_a_mapping(tmp_path, export):
    rules = tmp_path / "rules.yaml"
    rules.write_text(LAUGHS.replace("sources:", "entities:"), "utf-8")
    done = cli(load_args(tmp_path, export) + ["--identity", str(rules)])
    assert_refused(tmp_path, done.returncode, done.stderr,
                   f"identity rules {re.escape(str(rules))}: expands to more than")


def test_old_mac_line_endings_keep_line_numbers(tmp_path, export, capsys):
    path = export / "accounts.csv"
    path.write_bytes((path.read_text("utf-8") + "a6,Bad,,,,,many,,,\n").replace("\n", "\r").encode("utf-8"))
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert_quarantined(code, summary, "accounts.csv", 7, r"employees: 'many' is not a number")
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS


@pytest.mark.parametrize("target", ["/etc/passwd", "/dev/zero"])
def test_mapping_check_refuses_links_outside_without_reading_them(tmp_path, export, target):
    (export / "products.csv").unlink()
    (export / "products.csv").symlink_to(target)
    done = cli(["mapping", "check", "generic", "--source", str(export), "--json",
                "--store", sqlite_url(tmp_path / "never.db"), "--home", str(tmp_path / "home")])
    report = json.loads(done.stdout)
    assert done.returncode == EXIT_BAD_INPUT and not (tmp_path / "never.db").exists()
    problems = "\n".join(report["problems"] + report["warnings"])
    assert "products.csv: a link to a file outside the export folder" in problems and "root:" not in done.stdout


def test_a_cycle_already_in_the_store_fails_no_load(tmp_path, export, capsys):
    """A store written before cycles were checked may hold one; a row hanging off it closes nothing."""
    with open_store(sqlite_url(tmp_path / "g.db"), load_schema()) as store:
        store.upsert_nodes("Account", [{"id": "x1", "name": "Old X"}, {"id": "x2", "name": "Old Y"}])
        store.upsert_edges("SUBSIDIARY_OF", [{"src": "x1", "dst": "x2"}, {"src": "x2", "dst": "x1"}])
    append_account_rows(export, "a6,Under the old loop,,,,,,,x1,\n")
    code, summary, _ = run_load(tmp_path, export, capsys)
    assert code == EXIT_OK and summary["reconciles"]
    assert file_summary(summary, "accounts.csv")["loaded"] == GOOD_ACCOUNTS + 1


@pytest.mark.parametrize(("mode", "cycles"), [("delta", 1), ("full", 0)])
def test_a_full_export_that_drops_a_parent_may_turn_the_hierarchy_round(tmp_path, export, capsys, mode, cycles):
    """Delta: a2's stored parent a1 stands, so a1 under a2 closes a cycle. Full: the export is the whole
    truth and gives a2 no parent, so the stored edge goes and a1 under a2 is fine."""
    run_load(tmp_path, export, capsys)  # a2 under a1
    path = export / "accounts.csv"
    globex = "a1,Globex,globex.com,Finance,Customer,DE,5000,1000000000,"
    text = path.read_text("utf-8").replace(",a1,2021-03-01", ",,2021-03-01").replace(globex + ",", globex + "a2,")
    path.write_text(text, "utf-8")
    code = main(["load", str(export), "--mapping", "generic", "--json", "--mode", mode,
                 "--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")])
    summary = json.loads(capsys.readouterr().out)
    assert code == EXIT_OK and summary["reconciles"]
    assert sum("would close a cycle a1 -> a2 -> a1" in r for r in quarantined(summary).values()) == cycles
    assert_acyclic(tmp_path)
