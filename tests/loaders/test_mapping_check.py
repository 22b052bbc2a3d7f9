"""`dealgraph mapping check`: problems found before any load, exit 0 when clean, 1 with problems, nothing written."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main

FIXTURES = Path(__file__).parent / "fixtures"


def check(tmp_path: Path, capsys, mapping: str, source: Path, *extra: str) -> tuple[int, dict]:
    code = main(["mapping", "check", mapping, "--source", str(source), "--json",
                 "--store", f"sqlite:///{tmp_path / 'never.db'}", "--home", str(tmp_path / "home"), *extra])
    out = capsys.readouterr().out
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "home").exists()  # nothing written
    return code, json.loads(out) if out.strip() else {}


def without_lines(folder: Path, file: str, *starts: str) -> None:
    path = folder / file
    lines = path.read_text("utf-8-sig").splitlines(keepends=True)
    path.write_text("".join(line for line in lines if not line.startswith(starts)), "utf-8")


def test_clean_export_passes(tmp_path, capsys):
    export = Path(shutil.copytree(FIXTURES / "hubspot", tmp_path / "hubspot"))
    without_lines(export, "companies.csv", "5008,")
    without_lines(export, "contacts.csv", "7010,")
    without_lines(export, "deals.csv", "8012,", "8013,")
    without_lines(export, "line_items.csv", "6015,")
    code, report = check(tmp_path, capsys, "hubspot", export)
    assert (code, report["problems"]) == (EXIT_OK, [])
    assert report["rows_checked"]["deals.csv"] == 11
    assert "deals.csv: columns not in the mapping, ignored: Pipeline" in report["warnings"]


def test_dirty_fixture_reports_each_problem_with_line(tmp_path, capsys):
    code, report = check(tmp_path, capsys, "hubspot", FIXTURES / "hubspot")
    assert code == EXIT_BAD_INPUT
    problems = "\n".join(report["problems"])
    assert ("companies.csv: 1 of 8 rows checked would be quarantined "
            "[employees (column Number of Employees) (1)], e.g. line 9") in problems
    assert "deals.csv: 1 of 13 rows checked name nodes that do not exist [Deal owner (1)]" in problems
    assert "'Bruce Nobody' names no Rep by name" in problems


def test_values_dates_columns_and_files(tmp_path, capsys):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(textwrap.dedent("""\
        name: small
        sources:
          - file: deals.csv
            node: Deal
            key: id
            properties:
              name: name
              stage: {column: stage, map: {Won: won, Lost: lost}}
              created_at: {column: created, format: "%d/%m/%Y"}
            relations:
              - {relation: FOR_ACCOUNT, target: account}
          - file: accounts.csv
            node: Account
            key: id
            properties: {name: name, industry: industry}
        """), "utf-8")
    export = tmp_path / "export"
    export.mkdir()
    (export / "deals.csv").write_text("id,name,stage,created,account,colour\n"
                                      "d1,One,Won,31/01/2025,a1,red\n"
                                      "d2,Two,Pending,31/01/2025,a1,red\n"
                                      "d3,Three,Lost,2025-01-31,a1,red\n"
                                      "d4,Four,Won,31/01/2025,a404,red\n", "utf-8")
    code, report = check(tmp_path, capsys, str(mapping), export)
    assert code == EXIT_BAD_INPUT
    problems = "\n".join(report["problems"])
    assert "accounts.csv: missing from" in problems
    assert "'Pending' is not one of the mapped values" in problems and "line 3" in problems
    assert "created: '2025-01-31' does not match the date format %d/%m/%Y" in problems
    assert "account: 'a404' names no Account" in problems  # a1 is missing too: accounts.csv is absent
    assert "deals.csv: columns not in the mapping, ignored: colour" in report["warnings"]
    (export / "accounts.csv").write_text("id,name\na1,Acme\n", "utf-8")
    _, report = check(tmp_path, capsys, str(mapping), export)
    assert any("accounts.csv: missing columns industry" in p for p in report["problems"])


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nsources: [{file: a.csv, node: Deal, key: id, properties: {colour: c}}]", "Deal has no property colour"),
    ("name: x\nsources: [{file: a.csv, node: Deal}]", "a node source needs a key"),
    ("name: [unclosed", "not valid YAML"),
])
def test_mapping_errors_are_problems(tmp_path, capsys, text, message):
    (tmp_path / "m.yaml").write_text(text, "utf-8")
    code, report = check(tmp_path, capsys, str(tmp_path / "m.yaml"), FIXTURES / "generic")
    assert code == EXIT_BAD_INPUT and message in "\n".join(report["problems"])


def test_load_takes_a_mapping_name_or_path(tmp_path, capsys):
    store = f"sqlite:///{tmp_path / 'g.db'}"
    shutil.copy(Path(__file__).parents[2] / "loaders" / "mappings" / "generic.yaml", tmp_path / "mine.yaml")
    for mapping in ("generic", str(tmp_path / "mine.yaml")):
        code = main(["load", str(FIXTURES / "generic"), "--mapping", mapping, "--store", store, "--home", str(tmp_path),
                     "--json"])
        assert code == EXIT_OK and json.loads(capsys.readouterr().out)["reconciles"]
    nosuch = ["load", str(FIXTURES / "generic"), "--mapping", "nosuch", "--store", store, "--home", str(tmp_path)]
    assert main(nosuch) == EXIT_BAD_INPUT
    assert "shipped: dynamics, generic, hubspot, salesforce" in capsys.readouterr().err
