"""A Salesforce export with another field selection loads with `--mapping salesforce` unchanged, and
`train` and `score` run on it (issue 17): the sample with User.csv cut to `Id, Name, IsActive`, Account.csv
without `Type` and `Website`, no AccountContactRelation.csv and no custom `Loss_Reason__c`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from api.cli import EXIT_OK, main

ACCOUNTS = 150


def keep_columns(path: Path, keep=None, drop=()) -> None:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    columns = [c for c in rows[0] if (keep is None or c in keep) and c not in drop]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def reduced(tmp_path_factory):
    work = tmp_path_factory.mktemp("reduced")
    export = work / "export"
    common = ["--store", f"sqlite:///{work / 'g.db'}", "--home", str(work / "home"), "--json"]
    assert main(["sample", "--out", str(export), "--accounts", str(ACCOUNTS), "--seed", "3", *common]) == EXIT_OK
    keep_columns(export / "User.csv", keep={"Id", "Name", "IsActive"})
    keep_columns(export / "Account.csv", drop={"Type", "Website"})
    keep_columns(export / "Opportunity.csv", drop={"Loss_Reason__c"})
    (export / "AccountContactRelation.csv").unlink()
    (export / "truth.csv").unlink()
    return work, export, common


def run(capsys, *args: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr().out
    return code, json.loads(out) if out.strip().startswith("{") else {}


def test_reduced_export_loads_trains_and_scores(reduced, capsys):
    work, export, common = reduced
    code, load = run(capsys, "load", str(export), "--mapping", "salesforce", *common)
    assert code == EXIT_OK and load["reconciles"]
    assert load["totals"]["loaded"] > 0.95 * load["totals"]["read"]
    assert any("no job history" in n for n in load["absent"])
    code, train = run(capsys, "train", *common)
    assert code == EXIT_OK and train["kind"] == "graphsage"
    assert train["test"]["graphsage"]["auroc"] > train["test"]["prior"]["auroc"]
    code, score = run(capsys, "score", *common)
    assert code == EXIT_OK and score["scored"] > 0
