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


@pytest.fixture(scope="module")
def trained(reduced):
    """The reduced export loaded and trained once (capsys is per test, so output is read from main's JSON here)."""
    import contextlib
    import io

    work, export, common = reduced
    results = []
    for args in (["load", str(export), "--mapping", "salesforce", *common], ["train", *common]):
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            code = main(args)
        results.append((code, json.loads(buffer.getvalue())))
    return results


def test_reduced_export_loads_trains_and_scores(reduced, trained, capsys):
    work, export, common = reduced
    (code, load), (train_code, train) = trained
    assert code == EXIT_OK and load["reconciles"]
    assert load["totals"]["loaded"] > 0.95 * load["totals"]["read"]
    assert any("no job history" in n for n in load["absent"])
    assert train_code == EXIT_OK and train["kind"] == "graphsage"
    assert train["test"]["graphsage"]["auroc"] > train["test"]["prior"]["auroc"]
    code, score = run(capsys, "score", *common)
    assert code == EXIT_OK and score["scored"] > 0


def test_when_every_deal_has_closed_score_says_so(reduced, trained, capsys):
    """A later export in which every open deal closed: nothing to score is a statement, not an error."""
    work, export, common = reduced
    later = work / "later"
    later.mkdir()
    with (export / "Opportunity.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        row["IsClosed"] = "true"
    with (later / "Opportunity.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for name in ("User.csv", "Account.csv"):  # the deals' accounts and owners; every other file is optional
        (later / name).write_bytes((export / name).read_bytes())
    code, load = run(capsys, "load", str(later), "--mapping", "salesforce", *common)
    assert code == EXIT_OK and any(n.startswith("no open deals") for n in load["readiness"])
    capsys.readouterr()
    assert main(["score", *common[:-1]]) == EXIT_OK
    assert "no open deals to score" in capsys.readouterr().out
