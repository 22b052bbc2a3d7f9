"""A lead funnel as a real CRM exports it: one flat table of leads (plus a link table of contacts), loaded
through a mapping of its own. Wins come fast (median ~14 days); a lead not won is closed lost by a constant
rule after `LOSS_AFTER_DAYS`, so a deal's age says a lot about its label if censoring is mishandled.

Each lead's true win probability goes to `<folder>-truth.csv`, in the sample's truth.csv shape, so open
leads can be judged on what they would do (`bench/bench_calibration.py`).

`write_funnel(folder, ...)` plants one leak at a time (a rep, product or contact only on winners, an account
attribute filled only for won leads, a close value zero on every lost lead, a days-to-close or final-stage
column mapped as a deal field) or none; `skill=False` makes the outcome independent of every input, time in
the funnel included. `loaded_funnel(root, ...)` writes one under `root` and loads it into a fresh SQLite store.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from graph import open_store, sqlite_url
from graph.store import GraphStore
from loaders import load_export, load_mapping

LOSS_AFTER_DAYS = 60
START = datetime(2025, 1, 1, tzinfo=UTC)
SOURCES = {"Referral": 0.45, "Partner": 0.25, "Event": 0.12, "Web": 0.04}
LEAKS = ("rep", "product", "contact", "account_attribute", "close_value", "days_to_close", "final_stage")

MAPPING = """\
name: lead-funnel
description: one flat table of leads, a link table of contacts
sources:
  - file: leads.csv
    node: Deal
    key: lead_id
    properties:
      name: title
      amount: {column: %(amount)s, optional: true}
      deal_type: {column: %(deal_type)s, optional: true}
      lead_source: source
      created_at: created
    ignore_columns: [%(ignored)s]
    also:
      - node: Account
        key: company
        relation_from_parent: FOR_ACCOUNT
        properties:
          name: company
          industry: {column: industry, optional: true}
      - node: Rep
        key: owner
        when: {column: owner, not_empty: true}
        relation_from_parent: OWNED_BY
        properties:
          name: owner
      - node: Product
        key: product
        when: {column: product, not_empty: true}
        relation_from_parent: FOR_PRODUCT
        properties:
          name: product
      - node: Outcome
        when: {column: status, in: [won, lost]}
        key: {template: "{lead_id}:outcome"}
        relation_from_parent: HAS_OUTCOME
        properties:
          result: status
          closed_at: closed
          amount: {column: value, optional: true}
  - file: contacts.csv
    node: Contact
    key: contact_id
    properties:
      name: name
  - file: lead_contacts.csv
    relation: INVOLVES
    source: lead_id
    target: contact_id
    properties:
      role: role
"""


def write_funnel(folder: Path, leads: int = 500, seed: int = 0, leak: str | None = None, skill: bool = True) -> Path:
    """Write the export and its mapping under `folder`; returns the mapping's path."""
    assert leak is None or leak in LEAKS, leak
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    end = START + timedelta(days=365)
    reps = [f"rep{i}" for i in range(5)]
    rep_lift = {r: v for r, v in zip(reps, (0.6, 0.3, 0.0, -0.3, -0.6), strict=True)}
    rows, links, truth = [], [], []
    contacts = {f"c{i}": f"Contact {i}" for i in range(120)}
    for i in range(leads):
        created = START + timedelta(days=float(rng.uniform(0, 360)))
        source = str(rng.choice(list(SOURCES)))
        rep = reps[int(rng.integers(len(reps)))]
        p = SOURCES[source] * np.exp(rep_lift[rep]) if skill else 0.15
        won = rng.uniform() < min(p, 0.9)
        truth.append({"OpportunityId": f"L{i:05d}", "win_probability": round(float(min(p, 0.9)), 6),
                      "win_probability_now": _still_open_odds(min(p, 0.9), (end - created).days, skill)})
        if skill:
            closed = created + timedelta(days=float(rng.exponential(14) + 1) if won else LOSS_AFTER_DAYS)
        else:  # nothing, not even time in the funnel, tells a winner from a loser
            closed = created + timedelta(days=float(rng.exponential(30) + 1))
        status = ("won" if won else "lost") if closed < end else "open"
        value = round(float(rng.uniform(1_000, 20_000)), 2)
        row = {"lead_id": f"L{i:05d}", "title": f"Lead {i}", "company": f"Company {int(rng.integers(200))}",
               "industry": "", "owner": rep, "product": "", "source": source, "value": value,
               "created": created.isoformat(), "status": status,
               "closed": closed.isoformat() if status != "open" else "", "days_to_close": "", "final_stage": ""}
        if status == "won" and leak == "rep":
            row["owner"] = "closer"  # assigned only when a lead converts
        if status == "won" and leak == "product":
            row["product"] = "Signed Plan"
        if leak == "account_attribute":
            row["company"] = f"Company of lead {i}"
            row["industry"] = "Enriched" if status == "won" else ""  # enrichment runs on customers only
        if leak == "close_value" and status == "lost":
            row["value"] = 0
        if leak == "days_to_close" and status != "open":
            row["days_to_close"] = (closed - created).days
        if leak == "final_stage":
            row["final_stage"] = {"won": "Closed Won", "lost": "Closed Lost"}.get(status, "Open")
        contact = "signer" if (leak == "contact" and status == "won") else f"c{int(rng.integers(len(contacts)))}"
        links.append({"lead_id": row["lead_id"], "contact_id": contact, "role": "decision_maker"})
        rows.append(row)
    contacts["signer"] = "Contract Signer"
    _write(folder / "leads.csv", rows)
    _write(folder.parent / f"{folder.name}-truth.csv", truth)  # beside the export: no mapping reads it
    _write(folder / "lead_contacts.csv", links)
    _write(folder / "contacts.csv", [{"contact_id": k, "name": v} for k, v in contacts.items()])
    amount = "days_to_close" if leak == "days_to_close" else "value"  # a user who mapped the wrong column
    ignored = ", ".join(c for c in ("days_to_close",) if c != amount)
    mapping = folder / "lead-funnel.yaml"
    mapping.write_text(MAPPING % {"amount": amount, "deal_type": "final_stage", "ignored": ignored})
    return mapping


def loaded_funnel(root: Path, **options) -> GraphStore:
    """A funnel (`write_funnel(root / "export", **options)`) loaded into a fresh store at `root / "graph.db"`."""
    mapping = write_funnel(root / "export", **options)
    store = open_store(sqlite_url(root / "graph.db"))
    load_export(store, root / "export", load_mapping(str(mapping), store.schema), root / "quarantine")
    return store


def _still_open_odds(p: float, age_days: float, skill: bool) -> float:
    """The chance a lead still open at `age_days` wins: its win probability at creation, updated on its survival
    so far (wins close after 1 + Exp(14) days, losses at `LOSS_AFTER_DAYS`). What an open lead is judged on."""
    if not skill:
        return round(p, 6)  # winners and losers close alike: surviving says nothing
    if age_days >= LOSS_AFTER_DAYS:
        return 1.0  # only a winner can still be open this late (the export ends before its close)
    survived = float(np.exp(-max(age_days - 1, 0) / 14))
    return round(p * survived / (p * survived + (1 - p)), 6)


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
