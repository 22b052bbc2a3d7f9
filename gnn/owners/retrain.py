"""Retraining that guards itself (`dealgraph retrain`, for cron): load a delta, train, compare, promote or keep.

1. Load the delta export, if one is given (audited as `load`, with its totals).
2. Train a candidate and register it without serving it (`gnn.train.train(promote=False)`).
3. Score both models on the same recent closed deals: the candidate's test period (the latest
   cutoffs, which the candidate was neither fitted, tuned nor calibrated on), each model with its
   own feature spec (`gnn.score.predict_split`). The serving model, trained earlier, may have
   seen a few of those outcomes in its own training: the comparison can only favour it, so the
   guard errs towards keeping.
4. Shadow-score the open pipeline with the candidate beside the served scores (how much would move).
5. Promote or keep by the one promotion rule `dealgraph train` uses too (`gnn.gate.may_serve`): the
   serving gate, then `share` (setting `retrain_min_share`, default 0.95) of the serving model's
   AUROC and of its calibration (1 - ECE). It says why, with both figures.
6. On promotion, rescore the open pipeline through the review gate (`owners.review.serve_scores`):
   the first scores of the new model that move a deal are held for a person under the default policy.

The decision, both models' figures, the shadow summary and the load are one `retrain` audit event.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gnn.gate import DEFAULT_SHARE, ModelFigures, Promotion, finite, may_serve
from gnn.owners.audit import Actor, AuditEvent, record_events
from gnn.owners.review import ReviewPolicy, serve_scores
from graph.snapshot import Snapshot, Timeline
from graph.store import DealgraphError, GraphStore, InvalidInput, ScoreRecord
from ontology.names import Label

if TYPE_CHECKING:  # torch loads only when a retrain runs: the API imports this module
    from gnn.dataset import TemporalSplit

SYSTEM = Actor(subject="dealgraph:retrain", role="system")
MOVE_POINTS = 0.1  # the shadow summary counts open deals the candidate would move by this much or more


@dataclass
class RetrainDecision:
    candidate: str
    serving: str | None
    promoted: bool
    reason: str
    share: float
    figures: dict[str, ModelFigures | None]
    shadow: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] | None = None
    served: int = 0  # open deals whose new score was served at once
    held: int = 0  # ... and held for review
    seq: int = 0  # the `retrain` audit event

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _finite(x: Any) -> float | None:
    x = finite(x)
    return None if x is None else round(x, 4)


def figures_on(home: Path, version: str, full: Snapshot, split: TemporalSplit,
               timeline: Timeline | None = None) -> ModelFigures:
    """A registered model's metrics on the test period of `split` (the candidate's)."""
    from gnn.metrics import metrics
    from gnn.score import load_model, predict_split

    loaded = load_model(home, version)
    y, p = predict_split(loaded, full, split, "test", timeline)
    m = metrics(y, p) if len(y) else {}
    return ModelFigures(version, loaded.card.state, _finite(m.get("auroc")), _finite(m.get("ece")), int(len(y)),
                        _finite(m.get("brier")))


def shadow(store: GraphStore, home: Path, candidate: str, full: Snapshot) -> dict[str, Any]:
    """The candidate's scores of the open pipeline beside the served ones (nothing is written)."""
    from gnn.features import latest_event_time
    from gnn.score import load_model, open_deal_ids, score_snapshot

    ids = open_deal_ids(full)
    if not ids:
        return {"open": 0}
    new = score_snapshot(load_model(home, candidate), full, latest_event_time(full), ids)
    served = store.latest_scores(ids)
    both = [d for d in ids if d in served]
    change = np.array([new[d] - served[d].probability for d in both], float)
    return {"open": len(ids), "compared": len(both),
            "candidate_mean": round(float(np.mean(list(new.values()))), 4),
            "served_mean": round(float(np.mean([served[d].probability for d in both])), 4) if both else None,
            "mean_abs_change": round(float(np.abs(change).mean()), 4) if both else None,
            f"moved_{int(MOVE_POINTS * 100)}_points_or_more": int((np.abs(change) >= MOVE_POINTS).sum())}


def rescore(store: GraphStore, home: Path, policy: ReviewPolicy, top: int = 3, progress: bool = False,
            changed_only: bool = False) -> tuple[list[ScoreRecord], int]:
    """Score the open pipeline with the serving model through the review gate; returns (served, held).

    `changed_only`: only deals whose sampled computation graph changed since their latest score (`gnn.score`)."""
    from gnn.score import score_open_deals

    records = score_open_deals(store, home, top=top, progress=progress, write=False, changed_only=changed_only)
    nodes = store.get_nodes(Label.DEAL, [r.deal_id for r in records])
    amounts = {d: _amount(n.get("amount")) for d, n in nodes.items()}
    written, holds = serve_scores(store, records, policy, amounts)
    return written, len(holds)


def _amount(value: Any) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def load_delta(store: GraphStore, home: Path, delta: Path, mapping: str, actor: Actor) -> dict[str, Any]:
    """Load a delta export and audit it; returns its totals (and whether they reconcile)."""
    from loaders import load_export, load_mapping

    summary = load_export(store, delta, load_mapping(mapping, store.schema), home / "quarantine")
    totals = {**summary.totals(), "reconciles": summary.reconciles}
    record_events(store, [AuditEvent(action="load", actor=actor, text=f"delta load of {delta.name} ({mapping}): "
                                     + ", ".join(f"{k} {v}" for k, v in summary.totals().items()),
                                     detail={"source": str(delta), "mapping": mapping, "totals": totals})])
    return totals


def retrain(store: GraphStore, home: Path, delta: Path | None = None, mapping: str = "salesforce",
            share: float = DEFAULT_SHARE, policy: ReviewPolicy | None = None, config: Any = None,
            actor: Actor = SYSTEM) -> RetrainDecision:
    """Load, train, compare, shadow-score, then promote or keep (see the module doc). Audited.

    Args:
        config: a `gnn.train.TrainConfig` (default: its defaults).

    Raises:
        InvalidInput: `share` is not in (0, 2], or training refused (too little history; the message says what).
        LeakageError: an input alone predicts the outcome: nothing is trained.
    """
    from gnn.dataset import temporal_split
    from gnn.registry import ModelRegistry
    from gnn.train import TrainConfig, train

    if not 0 < share <= 2:
        raise InvalidInput(f"the retraining share is a fraction of the serving model's quality, e.g. 0.95 "
                           f"(got {share})")
    config = config or TrainConfig()
    load = load_delta(store, home, delta, mapping, actor) if delta is not None else None
    registry = ModelRegistry(home)
    serving_version = registry.current_version()
    try:
        result = train(store, home, config=config, promote=False)
    except DealgraphError as e:  # a refusal to train is a decision too: cron's log and the audit say why
        record_events(store, [AuditEvent(action="retrain", actor=actor, model_version=serving_version,
                                         text=Promotion(False, f"training refused, {serving_version} keeps "
                                                                  f"serving: {e}").line(),
                                         detail={"promoted": False, "serving": serving_version, "load": load})])
        raise
    full = store.snapshot()
    split, timeline = temporal_split(full, config.cutoff_days, config.horizon_days), full.timeline()  # built once
    candidate = figures_on(home, result.card.version, full, split, timeline)
    serving = (figures_on(home, serving_version, full, split, timeline)
               if serving_version else None)
    verdict = may_serve(candidate, serving, share)
    promoted = verdict.serve
    decision = RetrainDecision(result.card.version, serving_version, promoted, verdict.reason, share,
                               {"candidate": candidate, "serving": serving},
                               shadow(store, home, result.card.version, full), load)
    if promoted:
        registry.promote(result.card.version)
    event = AuditEvent(action="retrain", actor=actor, model_version=result.card.version,
                       text=verdict.line(),
                       detail={k: v for k, v in decision.to_json().items() if k not in ("seq", "served", "held")})
    decision.seq = record_events(store, [event])[0].seq
    if promoted:  # after the decision in the log: the holds it causes follow it
        written, decision.held = rescore(store, home, policy or ReviewPolicy())
        decision.served = len(written)
    return decision


def roll_back(store: GraphStore, home: Path, actor: Actor) -> dict[str, Any]:
    """Serve the previously served model again, with the scores and explanations it served (archived when
    they were replaced, `owners.score_archive`): nothing is retrained. Open deals it never scored (new since)
    are scored by it now; the rolled-back model's pending review changes are withdrawn. Audited as `rollback`.

    Raises:
        RegistryError: no model was served before the current one.
    """
    from gnn.owners.review import withdraw_version
    from gnn.owners.score_archive import archive_replaced, restore
    from gnn.registry import ModelRegistry
    from gnn.score import open_deal_ids, score_open_deals

    registry = ModelRegistry(home)
    before = registry.current_version()
    after = registry.rollback()
    open_ids = open_deal_ids(store.snapshot())
    served = store.latest_scores(open_ids)
    # A deal whose change was held for review still serves `after`'s score: nothing to restore there.
    restored = restore(store, after, [d for d in open_ids if d not in served or served[d].model_version != after])
    have = {r.deal_id for r in restored} | {d for d, s in served.items() if s.model_version == after}
    missing = set(open_ids) - have
    fresh: list[ScoreRecord] = []
    note = None
    try:
        fresh = score_open_deals(store, home, write=False, only=missing) if missing else []
    except (DealgraphError, OSError, RuntimeError, ValueError, pickle.UnpicklingError) as e:
        # The rollback itself stands (the registry serves `after`); the deals it never scored wait for
        # `dealgraph score`, and the audit says why.
        note = f"{len(missing)} deal(s) it never scored could not be scored now: {type(e).__name__}: {e}"
    archive_replaced(store, fresh)
    store.write_scores(fresh)
    withdrawn = withdraw_version(store, before, f"model {before} was rolled back") if before else 0
    detail = {"before": before, "after": after, "restored": len(restored), "scored_now": len(fresh),
              "withdrawn_reviews": withdrawn, "note": note}
    record_events(store, [AuditEvent(
        action="rollback", actor=actor, model_version=after, detail=detail,
        text=f"rollback: {before} -> {after}")])  # the counts are in `detail`
    return detail
