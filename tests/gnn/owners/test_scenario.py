"""The owners' loop end to end on a trained sample: feedback, a delta load with shifted inputs, a drift alert
delivered to a local webhook receiver, modelHealth and its gauges, and the audit log in order (issue 20)."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import httpx
import pandas as pd

from api.app import create_app
from api.auth import Role
from api.owners_alerts import check_alerts
from api.settings import Settings
from gnn.owners.audit import read_events
from gnn.registry import ModelRegistry
from graph import open_store, sqlite_url
from loaders import load_export, load_mapping
from tests.api.queries import Endpoint, create_key, gql
from tests.gnn.owners.receiver import receiver
from tests.helpers.server import serve

SECRET = "scenario-webhook-secret-0123456789abcdef"
HEALTH = """{ modelHealth { modelVersion closedDeals auroc brier ece newDeals drift { family psi }
  scorePsi hoursSinceLoad quarantineRate breaches { name text } } }"""
FEEDBACK = """mutation($d: ID!) { giveFeedback(dealId: $d, target: SCORE, reason: "verbal yes from the CFO",
  overrideProbability: 0.9) { seq } }"""
COLUMNS = ["id", "name", "amount", "stage", "close_date", "created_at", "type", "lead_source", "account_id",
           "owner_id", "status", "closed_at"]


def copy_trained(trained, root: Path) -> tuple[str, Path]:
    """The session's trained store and models, copied: this test writes to them."""
    target = sqlite3.connect(root / "graph.db")
    with sqlite3.connect(Path(trained.store_url[len("sqlite:///"):])) as source:
        source.backup(target)
    target.close()
    shutil.copytree(trained.home / "models", root / "models")
    return sqlite_url(root / "graph.db"), root


def shifted_delta(store, end: pd.Timestamp, folder: Path, mapping) -> Path:
    """A delta export (generic mapping): 40 new deals ten times larger from a new lead source, and 40 open
    deals closed after the model's data ended."""
    snap = store.snapshot()
    deals = snap.nodes["Deal"].set_index("id")
    account = snap.edges["FOR_ACCOUNT"].set_index("src")["dst"]
    owner = snap.edges["OWNED_BY"].set_index("src")["dst"]
    closed = set(snap.edges["HAS_OUTCOME"]["src"])
    open_ids = sorted(d for d in deals.index if d not in closed)[:40]

    def day(n: int) -> str:
        return (end + pd.Timedelta(days=n)).strftime("%Y-%m-%dT%H:%M:%SZ")

    rows = []
    for i in range(40):
        src = deals.index[i]
        rows.append({"id": f"006-new-{i}", "name": f"New big deal {i}", "amount": float(deals["amount"].median()) * 10,
                     "stage": "Prospecting", "close_date": day(60)[:10], "created_at": day(1 + i % 5),
                     "type": "New Customer", "lead_source": "Trade Show 2027", "account_id": account[src],
                     "owner_id": owner.get(src, ""), "status": "open", "closed_at": ""})
    for i, d in enumerate(open_ids):
        rows.append({"id": d, "name": deals.at[d, "name"], "amount": deals.at[d, "amount"], "stage": "Closed",
                     "close_date": day(10)[:10], "created_at": deals.at[d, "created_at"].strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "type": deals.at[d, "deal_type"], "lead_source": deals.at[d, "lead_source"],
                     "account_id": account[d], "owner_id": owner.get(d, ""), "status": "won" if i % 3 == 0 else "lost",
                     "closed_at": day(10)})
    folder.mkdir()
    for source in mapping.sources:  # every other file of the export: present, with nothing new in it
        if source.file != "deals.csv":
            (folder / source.file).write_text(",".join(sorted(source.required_columns())) + "\n")
    with (folder / "deals.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_feedback_then_a_shifted_delta_load_raises_a_delivered_drift_alert_all_audited(trained, tmp_path: Path) -> None:
    url, home = copy_trained(trained, tmp_path)
    store = open_store(url)
    try:
        version = ModelRegistry(home).current_version()
        end = pd.Timestamp(json.loads((home / "models" / version / "report.json").read_text())["split"]["end"])
        with serve(create_app(store, home, settings=Settings(store=url, home=home))) as base:
            revops = Endpoint(base, create_key(home, Role.REVOPS))
            some_open = gql(revops, "{ deals(first: 1) { edges { node { id } } } }")["data"]["deals"]["edges"][0]
            assert "errors" not in gql(revops, FEEDBACK, {"d": some_open["node"]["id"]})

            generic = load_mapping("generic", store.schema)
            summary = load_export(store, shifted_delta(store, end, tmp_path / "delta", generic), generic,
                                  tmp_path / "quarantine")
            assert summary.totals()["loaded"] == 80, summary.totals()

            health = gql(revops, HEALTH)["data"]["modelHealth"]
            metrics = httpx.get(f"{base}/metrics", timeout=60).text
        assert health["modelVersion"] == version and health["newDeals"] == 40
        assert health["closedDeals"] == 40 and health["brier"] is not None  # scored open, closed after its data
        drift = {d["family"]: d["psi"] for d in health["drift"]}
        assert drift["amount"] > 0.25 and drift["lead_source"] > 0.25
        assert {"drift:amount", "drift:lead_source"} <= {b["name"] for b in health["breaches"]}
        assert 'dealgraph_model_input_psi{family="amount"}' in metrics
        assert "dealgraph_model_realised_closed_deals 40.0" in metrics

        with receiver(503) as (hook, got):
            settings = Settings(store=url, home=home, alert_webhook_url=hook, alert_webhook_secret=SECRET,
                                alert_webhook_backoff_s=0.0)
            run = check_alerts(store, home, settings)
        drift_alerts = [a for a in run.raised if a.detail.get("breach", "").startswith("drift:")]
        assert drift_alerts and all(run.delivered[a.seq] for a in run.raised)
        assert got.requests[0][2] == 503 and json.loads(got.requests[1][1])["seq"] == run.raised[0].seq

        events = read_events(store)
        assert events[0].action == "feedback" and events[0].override_probability == 0.9
        assert [e.seq for e in events] == sorted(e.seq for e in events)
        first_alert = next(i for i, e in enumerate(events) if e.action == "alert")
        deliveries = [e for e in events if e.action == "alert_delivery"]
        assert first_alert == 1 and deliveries[0].detail == {"alert_seq": run.raised[0].seq, "attempt": 1, "ok": False,
                                                             "outcome": "HTTP 503"}
        assert deliveries[1].detail["ok"] and deliveries[1].detail["alert_seq"] == run.raised[0].seq
    finally:
        store.close()
