"""The owners' loop end to end on a trained sample (issue 20): feedback and an override, a delta load with shifted
inputs, a drift alert delivered to a local webhook receiver, modelHealth and its gauges, a retrain the guard
refuses and one it promotes, its high-risk first scores held for review (a rep may not accept, RevOps may),
a rollback that restores the previous scores and explanations, and every step in the audit log in order."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from api.app import create_app
from api.auth import Role
from api.owners_alerts import check_alerts
from api.settings import Settings
from gnn.fit import FitConfig
from gnn.model import ModelConfig
from gnn.owners.audit import Actor, read_events
from gnn.owners.retrain import load_delta, retrain, roll_back
from gnn.owners.review import ReviewPolicy, pending
from gnn.registry import ModelRegistry
from gnn.score import open_deal_ids
from gnn.train import TrainConfig
from graph import open_store, sqlite_url
from loaders import load_mapping
from tests.api.queries import Endpoint, create_key, gql
from tests.gnn.owners.receiver import receiver
from tests.helpers.server import serve

SECRET = "scenario-webhook-secret-0123456789abcdef"
HEALTH = """{ modelHealth { modelVersion closedDeals auroc brier ece newDeals drift { family psi }
  scorePsi hoursSinceLoad quarantineRate breaches { name text } } }"""
FEEDBACK = """mutation($d: ID!) { giveFeedback(dealId: $d, target: SCORE, reason: "verbal yes from the CFO",
  overrideProbability: 0.9) { seq } }"""
PENDING = "{ pendingReviews { id dealId proposedProbability servedProbability reasons } }"
DECIDE = "mutation($i: Int!) { decideReview(id: $i, accept: true, note: \"checked with the rep\") { seq action } }"
SCORE_REVIEW = "query($d: ID!) { deal(id: $d) { score { probability modelVersion review { id state } } } }"
#: Cheap retraining for CI: one small configuration, few epochs.
QUICK = TrainConfig(grid=(FitConfig(model=ModelConfig(hidden=16), epochs=25, patience=6),))
ADMIN = Actor(subject="cli:scenario", role="admin")
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


def shifted_delta(store, end: pd.Timestamp, folder: Path, mapping, truth: Path) -> Path:
    """A delta export (generic mapping): 40 new deals ten times larger from a new lead source, and 40 open
    deals closed after the model's data ended, each won or lost by a draw from its true win probability
    (the sample's `truth.csv`), as the deals would have closed."""
    odds = pd.read_csv(truth).set_index("OpportunityId")["win_probability"]
    draw = np.random.default_rng(20).random(40)
    snap = store.snapshot()
    deals = snap.nodes["Deal"].set_index("id")
    account = snap.edges["FOR_ACCOUNT"].set_index("src")["dst"]
    owner = snap.edges["OWNED_BY"].set_index("src")["dst"]
    closed = set(snap.edges["HAS_OUTCOME"]["src"])
    open_ids = sorted(d for d in deals.index if d not in closed)[:40]
    def day(n):
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
                     "account_id": account[d], "owner_id": owner.get(d, ""),
                     "status": "won" if draw[i] < odds.get(d, 0.3) else "lost",
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


def served_state(store, ids: list[str]) -> dict[str, tuple[float, str, tuple[str, ...]]]:
    """Each deal's served probability, model and explanation path texts."""
    return {d: (s.probability, s.model_version, tuple(p.text for p in s.explanation.paths) if s.explanation else ())
            for d, s in store.latest_scores(ids).items()}


def test_the_owners_loop_end_to_end_every_step_audited_in_order(trained, tmp_path: Path) -> None:
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
            delta = shifted_delta(store, end, tmp_path / "delta", generic, trained.sample / "truth.csv")
            totals = load_delta(store, home, delta, "generic", ADMIN)
            assert totals["loaded"] == 80 and totals["reconciles"], totals

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

        # The guard: a strict share refuses the candidate and says why with both models' figures.
        before = served_state(store, open_deal_ids(store.snapshot()))  # the new deals have no score yet
        refused = retrain(store, home, share=1.5, config=QUICK, actor=ADMIN)
        assert not refused.promoted and ModelRegistry(home).current_version() == version
        serving = refused.figures["serving"]
        assert serving is not None and serving.version == version and f"{version} keeps serving" in refused.reason
        assert served_state(store, list(before)) == before  # nothing served changed

        # Promoted at a stated share; the new model's first scores that move a deal are held for review.
        policy = ReviewPolicy(min_amount=None, drop_points=None, new_model=True, min_move=0.02)
        promoted = retrain(store, home, share=0.9, policy=policy, config=QUICK, actor=ADMIN)
        c, s = promoted.figures["candidate"], promoted.figures["serving"]
        assert c is not None and s is not None and c.n == s.n > 0
        meets = c.auroc >= 0.9 * s.auroc and 1 - c.ece >= 0.9 * (1 - s.ece) and c.state == "skill"
        assert promoted.promoted == meets, promoted.reason
        assert promoted.promoted and ModelRegistry(home).current_version() == promoted.candidate, promoted.reason
        held = pending(store)
        assert promoted.held == len(held) > 0
        first = held[0]
        assert before[first.deal_id][0] == first.served_probability  # the previous score is still served
        assert store.latest_scores([first.deal_id])[first.deal_id].model_version == version

        with serve(create_app(store, home, settings=Settings(store=url, home=home))) as base:
            revops = Endpoint(base, create_key(home, Role.REVOPS))
            rep = Endpoint(base, create_key(home, Role.REP, rep_id=_owner(store, first.deal_id)))
            shown = gql(rep, SCORE_REVIEW, {"d": first.deal_id})["data"]["deal"]["score"]
            assert shown["modelVersion"] == version and shown["review"] == {"id": first.seq, "state": "pending_review"}
            refused_rep = gql(rep, DECIDE, {"i": first.seq})
            assert refused_rep["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            assert gql(revops, PENDING)["data"]["pendingReviews"][0]["id"] == first.seq
            accepted = gql(revops, DECIDE, {"i": first.seq})["data"]["decideReview"]
            shown = gql(rep, SCORE_REVIEW, {"d": first.deal_id})["data"]["deal"]["score"]
        assert accepted["action"] == "review_accept"
        assert shown["modelVersion"] == promoted.candidate and shown["review"] is None
        assert shown["probability"] == first.proposed.probability

        # Rollback: the previous model serves again, with the scores and explanations it served, not retrained.
        rolled = roll_back(store, home, ADMIN)
        assert rolled["after"] == version and ModelRegistry(home).current_version() == version
        assert served_state(store, list(before)) == before
        never = set(open_deal_ids(store.snapshot())) - set(before)  # opened by the delta: only these are scored now
        assert rolled["scored_now"] == len(never) and rolled["restored"] > 0
        assert {m for _, m, _ in served_state(store, list(never)).values()} <= {version}
        assert not pending(store)

        actions = [e.action for e in read_events(store)]
        assert [e.seq for e in read_events(store)] == sorted(e.seq for e in read_events(store))
        steps = ["feedback", "load", "alert", "alert_delivery", "retrain", "retrain", "review_hold", "review_accept",
                 "rollback"]
        positions = [actions.index(a, actions.index(steps[i - 1]) + 1 if i else 0) for i, a in enumerate(steps)]
        assert positions == sorted(positions), actions
        events = read_events(store)
        assert events[0].action == "feedback" and events[0].override_probability == 0.9
        retrains = [e for e in events if e.action == "retrain"]
        assert [e.detail["promoted"] for e in retrains] == [False, True]
        assert retrains[0].detail["figures"]["serving"]["auroc"] == serving.auroc
        deliveries = [e for e in events if e.action == "alert_delivery"]
        assert deliveries[0].detail == {"alert_seq": run.raised[0].seq, "attempt": 1, "ok": False,
                                        "outcome": "HTTP 503"}
        assert deliveries[1].detail["ok"] and deliveries[1].detail["alert_seq"] == run.raised[0].seq
    finally:
        store.close()


def _owner(store, deal_id: str) -> str:
    return store.neighbours("Deal", [deal_id], "OWNED_BY", "out")[deal_id][0].node["id"]
