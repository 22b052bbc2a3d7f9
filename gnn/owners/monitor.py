"""Model health: realised performance, input drift, score shift, data freshness, quarantine rate.

- Realised performance: deals closed after the newest fact the serving model
  saw (its report's split `end`), scored before they closed: AUROC, Brier and
  ECE with counts, and a bootstrap band (fixed seed) on AUROC and Brier.
- Input drift: population stability index (PSI) per feature family of the
  deal (each numeric property, each categorical one with few values, and the
  number of neighbours over each relation out of a deal) between the deals
  created in the model's training window (before its `t2`) and the deals
  created since its data ended. Properties the ontology marks
  `currentValueOnly` (a stage overwritten at close) are not features, so not here.
- Score shift: PSI of the serving model's scores of open deals now against its
  scores on its own held-out period (computed once per version, kept under
  `HOME/owners/`).
- Freshness: hours since the newest finished load; quarantine rate: rows
  quarantined / read over the latest loads.

Thresholds come from the caller (`api.settings`); `breaches` names what is past them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gnn.outcomes import deal_outcomes
from gnn.owners.backtest import training_split
from gnn.owners.feedback import override_scorecard
from gnn.registry import ModelRegistry
from graph.deals import OUTCOME_RELATION, DealShape
from graph.ledger import Ledger
from graph.snapshot import Snapshot
from graph.store import GraphStore, InvalidInput, ScoreRecord
from ontology.names import Label

MAX_CATEGORIES = 30  # more distinct values than this: an identifier or free text, not a category
MIN_DRIFT_DEALS = 20  # fewer new deals than this: PSI would be noise
RECENT_LOADS = 5
BOOTSTRAP = 200
EPS = 1e-4


@dataclass(frozen=True)
class Thresholds:
    min_auroc: float = 0.65
    max_ece: float = 0.15
    max_psi: float = 0.25
    max_stale_hours: float = 48.0
    max_quarantine_rate: float = 0.05
    min_closed: int = 30  # realised metrics are judged only on at least this many closed deals


@dataclass
class Health:
    model_version: str | None
    data_end: str | None
    realised: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, float | None] = field(default_factory=dict)
    new_deals: int = 0
    score_psi: float | None = None
    open_scored: int = 0
    hours_since_load: float | None = None
    quarantine_rate: float | None = None
    breaches: list[dict[str, str]] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)  # `owners.feedback.override_scorecard`

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def psi(reference: np.ndarray, current: np.ndarray, categorical: bool = False, bins: int = 10) -> float | None:
    """Population stability index of `current` against `reference` (None when either is empty)."""
    if len(reference) == 0 or len(current) == 0:
        return None
    if categorical:
        cats = pd.Index(pd.unique(reference))
        r = pd.Series(pd.Categorical(reference, cats)).value_counts(sort=False).to_numpy(float)
        c_codes = pd.Categorical(current, cats)
        c = np.append(pd.Series(c_codes).value_counts(sort=False).to_numpy(float), float(pd.isna(c_codes).sum()))
        r = np.append(r, 0.0)  # values never seen in training land in their own bin
    else:
        edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1]))
        r = np.bincount(np.searchsorted(edges, reference, "right"), minlength=len(edges) + 1).astype(float)
        c = np.bincount(np.searchsorted(edges, current, "right"), minlength=len(edges) + 1).astype(float)
    r, c = r / r.sum() + EPS, c / c.sum() + EPS
    return round(float(np.sum((c - r) * np.log(c / r))), 4)


def feature_families(snap: Snapshot) -> dict[str, tuple[pd.Series, bool]]:
    """Per family, the value of every deal (indexed by deal id) and whether it is categorical."""
    deals = snap.nodes[Label.DEAL].set_index("id")
    node = snap.schema.nodes[Label.DEAL]
    out: dict[str, tuple[pd.Series, bool]] = {}
    for p in node.properties:
        if p.current_value_only or p.name == node.time or p.datatype in ("date", "dateTime"):
            continue
        if p.datatype in ("decimal", "integer"):
            out[p.name] = (pd.to_numeric(deals[p.name], errors="coerce"), False)
        elif deals[p.name].nunique() <= MAX_CATEGORIES:
            out[p.name] = (deals[p.name].astype(object).where(deals[p.name].notna(), "(none)"), True)
    for rel in snap.schema.relations.values():
        if rel.source == Label.DEAL and rel.name != OUTCOME_RELATION and not rel.functional:
            counts = snap.edges[rel.name]["src"].value_counts()
            out[f"{rel.name.lower()} per deal"] = (counts.reindex(deals.index).fillna(0.0), False)
    return out


def _seen_at(score: ScoreRecord) -> pd.Timestamp:
    """The data time a score saw the graph at (`as_of` in its metadata; else when it was written): a deal that
    closed after it was still open when scored."""
    return pd.Timestamp(score.metadata.get("as_of") or score.scored_at)


def _realised(store: GraphStore, snap: Snapshot, end: pd.Timestamp, seed: int) -> dict[str, Any]:
    outcomes = deal_outcomes(snap)
    closed = outcomes[pd.to_datetime(outcomes["closed_at"], utc=True) > end]
    scores = store.latest_scores(closed.index.tolist())
    keep = np.array([d in scores and _seen_at(scores[d]) <= pd.Timestamp(c)
                     for d, c in zip(closed.index, closed["closed_at"], strict=True)], bool)
    closed = closed[keep] if len(closed) else closed
    y = (closed["result"] == "won").to_numpy(float)
    p = np.array([scores[d].probability for d in closed.index], float)
    if len(y) == 0:
        return {"n": 0, "won": 0}
    from gnn.metrics import metrics  # scikit-learn loads when there is something to measure, not on import

    out: dict[str, Any] = {**metrics(y, p), "won": int(y.sum())}
    rng = np.random.default_rng(seed)
    boot = [metrics(y[i], p[i]) for i in (rng.integers(0, len(y), len(y)) for _ in range(BOOTSTRAP))]
    for name in ("auroc", "brier"):
        values = np.array([b[name] for b in boot], float)
        values = values[~np.isnan(values)]
        out[f"{name}_band"] = [round(float(v), 4) for v in np.quantile(values, [0.05, 0.95])] if len(values) else None
    return {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in out.items()}


def _score_reference(store: GraphStore, home: Path, version: str, snap: Snapshot, split: dict) -> np.ndarray:
    """The model's scores on its held-out period, computed once per version and kept as JSON."""
    path = home / "owners" / f"score-reference-{version}.json"
    if path.exists():
        return np.array(json.loads(path.read_text()), float)
    from gnn.dataset import temporal_split
    from gnn.score import load_model, predict_split

    loaded = load_model(home, version)
    _, probs = predict_split(loaded, snap, temporal_split(snap, int(split.get("cutoff_days", 30))), "test")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([round(float(x), 5) for x in probs]))
    return probs


def model_health(store: GraphStore, home: Path, thresholds: Thresholds | None = None, seed: int = 0,
                 now: datetime | None = None) -> Health:
    """The serving model's health now.

    Raises:
        InvalidInput: no model serves yet.
    """
    t = thresholds or Thresholds()
    registry = ModelRegistry(home)
    version = registry.current_version()
    if version is None:
        raise InvalidInput(f"no model serves yet under {home}: run `dealgraph train` first")
    split = training_split(registry, version)
    end, t2 = pd.Timestamp(split["end"]), pd.Timestamp(split["t2"])
    snap = store.snapshot()
    health = Health(version, end.isoformat())
    health.realised = _realised(store, snap, end, seed)

    created = pd.to_datetime(snap.nodes[Label.DEAL].set_index("id")["created_at"], utc=True)
    reference_ids, new_ids = created.index[created < t2], created.index[created > end]
    health.new_deals = len(new_ids)
    for family, (values, categorical) in feature_families(snap).items():
        ref, cur = values.reindex(reference_ids).dropna().to_numpy(), values.reindex(new_ids).dropna().to_numpy()
        health.drift[family] = psi(ref, cur, categorical) if len(new_ids) >= MIN_DRIFT_DEALS else None

    open_ids = DealShape.of(snap.schema).open_in(snap)
    current = [s.probability for s in store.latest_scores(open_ids).values() if s.model_version == version]
    health.open_scored = len(current)
    if current:
        health.score_psi = psi(_score_reference(store, home, version, snap, split), np.array(current, float))

    loads = [r for r in Ledger(store).loads() if r.state == "finished" and r.finished is not None][:RECENT_LOADS]
    if loads:
        newest = loads[0].finished
        assert newest is not None  # only finished loads are kept above
        health.hours_since_load = round(((now or datetime.now(UTC)) - newest).total_seconds() / 3600, 2)
        read = sum((ld.summary or {}).get("totals", {}).get("read", 0) for ld in loads)
        quarantined = sum((ld.summary or {}).get("totals", {}).get("quarantined", 0) for ld in loads)
        health.quarantine_rate = round(quarantined / read, 4) if read else None
    health.overrides = override_scorecard(store)
    health.breaches = breaches(health, t)
    return health


def breaches(h: Health, t: Thresholds) -> list[dict[str, str]]:
    """What is past its threshold: a stable `name` (alerts are raised once per name and model) and a `text`
    that says it with the figure and the threshold."""
    out: list[tuple[str, str]] = []
    r = h.realised
    if r.get("n", 0) >= t.min_closed:
        if r.get("auroc") is not None and r["auroc"] < t.min_auroc:
            out.append(("realised_auroc",
                        f"realised AUROC {r['auroc']:.3f} < {t.min_auroc} on {r['n']} deals closed since training"))
        if r.get("ece") is not None and r["ece"] > t.max_ece:
            out.append(("realised_ece",
                        f"realised ECE {r['ece']:.3f} > {t.max_ece} on {r['n']} deals closed since training"))
    for family, value in h.drift.items():
        if value is not None and value > t.max_psi:
            out.append((f"drift:{family}",
                        f"input drift: PSI {value:.3f} > {t.max_psi} for {family} ({h.new_deals} new deals)"))
    if h.score_psi is not None and h.score_psi > t.max_psi:
        out.append(("score_shift", f"score shift: PSI {h.score_psi:.3f} > {t.max_psi} on {h.open_scored} open deals"))
    if h.hours_since_load is not None and h.hours_since_load > t.max_stale_hours:
        out.append(("stale_data", f"stale data: last load {h.hours_since_load:.1f} h ago > {t.max_stale_hours} h"))
    if h.quarantine_rate is not None and h.quarantine_rate > t.max_quarantine_rate:
        out.append(("quarantine_rate",
                    f"quarantine rate {h.quarantine_rate:.1%} > {t.max_quarantine_rate:.1%} over recent loads"))
    return [{"name": name, "text": text} for name, text in out]
