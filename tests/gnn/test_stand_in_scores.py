"""Open deals loaded with a stand-in account or created date are scored like every other (issue 22).

End to end on a small sample: some open opportunities lose their AccountId, others their CreatedDate
(those with a contact role, whose date stands in); the shipped mapping loads them, and after `train` every
one of them gets a score.
"""

from __future__ import annotations

import csv
from pathlib import Path

from gnn.score import score_open_deals
from gnn.train import train
from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from ontology import load_schema


def blank(export: Path) -> tuple[set[str], set[str]]:
    """Empty AccountId on every 6th open opportunity and CreatedDate on another 6th with a contact role."""
    path = export / "Opportunity.csv"
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields, rows = list(reader.fieldnames or ()), list(reader)
    with (export / "OpportunityContactRole.csv").open(encoding="utf-8-sig", newline="") as fh:
        with_roles = {r["OpportunityId"] for r in csv.DictReader(fh)}
    open_rows = [r for r in rows if r["IsClosed"] == "false"]
    no_account = {r["Id"] for r in open_rows[::6]}
    no_date = {r["Id"] for r in open_rows[1::6] if r["Id"] in with_roles}
    for row in rows:
        row["AccountId"] = "" if row["Id"] in no_account else row["AccountId"]
        row["CreatedDate"] = "" if row["Id"] in no_date else row["CreatedDate"]
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)
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
