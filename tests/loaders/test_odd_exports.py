"""Small and odd exports: few closed deals, no lost deals, no open deals, one rep, no dates (issue 17).

Each shape gets a statement from `dealgraph load` (what training and scoring will do instead), and
`train` / `score` end with that statement and exit 1, never a traceback.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from api.cli import EXIT_BAD_INPUT, EXIT_OK, main
from graph import sqlite_url
from loaders.draft import write_draft

FIXTURES = Path(__file__).parent / "fixtures"


def cli(capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def common(tmp_path):
    return ["--store", sqlite_url(tmp_path / "g.db"), "--home", str(tmp_path / "home")]


def load_drafted(tmp_path, capsys, common, shape: str) -> dict:
    mapping = tmp_path / f"{shape}.yaml"
    write_draft(FIXTURES / shape, mapping)
    code, out, _ = cli(capsys, "load", str(FIXTURES / shape), "--mapping", str(mapping), *common, "--json")
    assert code == EXIT_OK
    return json.loads(out)


def test_few_closed_deals_say_no_model_and_train_refuses_cleanly(tmp_path, capsys, common):
    load = load_drafted(tmp_path, capsys, common, "pipeline")
    assert any(n.startswith("only 9 closed deals (6 won, 3 lost)") for n in load["readiness"])
    code, out, err = cli(capsys, "train", *common)
    assert code == EXIT_BAD_INPUT and "Traceback" not in err
    assert "only 9 closed deals: too few to train on" in err and "open deals stay unscored" in err
    code, _, err = cli(capsys, "score", *common)
    assert code != EXIT_OK and "run `dealgraph train` first" in err and "Traceback" not in err


def test_no_lost_deals_and_no_dates_are_stated(tmp_path, capsys, common):
    funnel = load_drafted(tmp_path, capsys, ["--store", sqlite_url(tmp_path / "f.db"), "--home", str(tmp_path)],
                          "funnel")
    assert any(n.startswith("no lost deals") for n in funnel["readiness"])
    flat = load_drafted(tmp_path, capsys, common, "flat")
    assert any("same start time" in n and "time-correct model" in n for n in flat["readiness"])
    code, _, err = cli(capsys, "train", *common)
    assert code == EXIT_BAD_INPUT and "too few to train on" in err


def test_one_rep_and_no_open_deals_are_stated(tmp_path, capsys, common):
    export = Path(shutil.copytree(FIXTURES / "salesforce_partial", tmp_path / "export"))
    path = export / "Opportunity.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["IsClosed"] == "true"]  # the open deal is gone
    for row in rows:
        row["OwnerId"] = "0055g00000A1aAAAAZ"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (export / "User.csv").write_text("Id,Name,IsActive\n0055g00000A1aAAAAZ,Rita Rep,true\n", "utf-8")
    code, out, _ = cli(capsys, "load", str(export), "--mapping", "salesforce", *common)
    assert code == EXIT_OK
    assert "for training: no open deals: every deal is closed" in out
    assert "for training: one rep owns every deal" in out
