"""Open deals loaded with a stand-in account or created date are scored like every other (issue 22).

End to end on a small sample: some open opportunities lose their AccountId, others their CreatedDate
(those with a contact role, whose date stands in); the shipped mapping loads them, and after `train` every
one of them gets a score.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gnn.leakage import LeakageError
from gnn.score import score_open_deals
from gnn.train import train
from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from ontology import load_schema


def read(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        return list(reader.fieldnames or ()), list(reader)


def write(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)


def blank(export: Path) -> tuple[set[str], set[str]]:
    """Empty AccountId on every 6th open opportunity and CreatedDate on another 6th with a contact role."""
    path = export / "Opportunity.csv"
    fields, rows = read(path)
    with (export / "OpportunityContactRole.csv").open(encoding="utf-8-sig", newline="") as fh:
        with_roles = {r["OpportunityId"] for r in csv.DictReader(fh)}
    open_rows = [r for r in rows if r["IsClosed"] == "false"]
    no_account = {r["Id"] for r in open_rows[::6]}
    no_date = {r["Id"] for r in open_rows[1::6] if r["Id"] in with_roles}
    for row in rows:
        row["AccountId"] = "" if row["Id"] in no_account else row["AccountId"]
        row["CreatedDate"] = "" if row["Id"] in no_date else row["CreatedDate"]
    write(path, fields, rows)
    return no_account, no_date


def test_open_deals_without_account_or_created_date_get_scores(tmp_path):
    generate_sample(tmp_path / "export", accounts=150, seed=5)
    no_account, no_date = blank(tmp_path / "export")
    assert len(no_account) >= 5 and len(no_date) >= 5
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    summary = load_export(store, tmp_path / "export", load_mapping("salesforce", schema), tmp_path / "q")
    assert summary.reconciles
    counts = {s.what: (s.rows, s.open) for s in summary.stand_ins}
    assert counts == {"FOR_ACCOUNT": (len(no_account), len(no_account)), "created_at": (len(no_date), len(no_date))}
    train(store, tmp_path / "home")
    scored = {r.deal_id: r.probability for r in score_open_deals(store, tmp_path / "home", explain=False)}
    assert no_account | no_date <= set(scored)
    assert all(0.0 < scored[d] < 1.0 for d in no_account | no_date)
    store.close()


def test_a_placeholder_that_only_lost_deals_reach_is_named_by_the_leak_guard(tmp_path):
    # A CRM that fills the account only as a deal advances: "no account" then says "lost early".
    generate_sample(tmp_path / "export", accounts=150, seed=5)
    path = tmp_path / "export" / "Opportunity.csv"
    fields, rows = read(path)
    for row in [r for r in rows if r["IsClosed"] == "true" and r["IsWon"] == "false"][:120]:
        row["AccountId"] = ""
    write(path, fields, rows)
    schema = load_schema()
    store = open_store(sqlite_url(tmp_path / "g.db"), schema)
    load_export(store, tmp_path / "export", load_mapping("salesforce", schema), tmp_path / "q")
    with pytest.raises(LeakageError) as refused:
        train(store, tmp_path / "home")
    assert "Account dealgraph:no-account via FOR_ACCOUNT" in [leak.input for leak in refused.value.leaks]
    store.close()
