"""Train the graph model beside its baselines on one temporal split, and register it.

Reported side by side on the test period (the latest): the class prior,
gradient-boosted trees on the same features flattened to one table, the
heterogeneous GraphSAGE, and — when the sample's `truth.csv` is given — the
oracle that knows each deal's true win probability. The graph model is tuned
and calibrated on validation only; the test period is read once, for the report.

With too little history (fewer than `MIN_WON` won or `MIN_LOST` lost deals
among the training examples) the served model is the class prior, and every
score says so in its metadata, rather than serving a network fitted to noise.

Every model, the first included, passes the serving gate (`gnn.gate`) or its
scores carry the "no skill" state: the base win rate, said to be that. Whether
it replaces the serving model is the one promotion rule `dealgraph retrain`
uses too (`gnn.gate.may_serve`: the gate, then a share of the serving model's
AUROC and 1 - ECE on the same test examples). Either way it is registered
(`dealgraph models promote` can still serve it by hand).
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier

from gnn.dataset import CutoffExamples, TemporalSplit, coverage, flat_table, leak_safe_examples, missing_splits
from gnn.families import WITHOUT, family_report, without_families
from gnn.features import FeatureSpec, latest_event_time
from gnn.fit import DEFAULT_GRID, FitConfig, calibrate, concat, fit_platt, logits_of, oracle_probabilities, tune
from gnn.forked import fork_map, workers_allowed
from gnn.gate import DEFAULT_SHARE, NO_SKILL, SKILL, ModelFigures, finite, judge, may_serve, quality
from gnn.leakage import refuse_leaks
from gnn.metrics import metrics, reliability_plot
from gnn.readiness import MIN_LOST, MIN_WON
from gnn.registry import ModelCard, ModelRegistry, new_version
from graph.snapshot import Snapshot
from graph.store import GraphStore, InvalidInput

log = logging.getLogger(__name__)

#: Senders per node and edge type when sampling (docs/design.md, "Scale": AUROC beside full-batch).
DEFAULT_FANOUT = 32


@dataclass(frozen=True)
class TrainConfig:
    grid: tuple[FitConfig, ...] = DEFAULT_GRID
    cutoff_days: int = 30
    # Label: won within this many days of the cutoff, censored strictly (`gnn.dataset`); None: eventual outcome.
    horizon_days: int | None = None
    seed: int = 0
    # The linear term on the deal's row and its crosses with its neighbours (`gnn.wide`); off = GraphSAGE alone.
    wide: bool = True
    # Also train the chosen configuration without the history and activity families, to report what they add
    # (`gnn.families`; `dealgraph train` does, tests that only need a model do not).
    compare_families: bool = False
    # Senders per node and edge type in each deal's sampled computation graph, the most recent first
    # (`gnn.sampling`): training, scoring and explaining cost stays bounded however busy a product is.
    # None: full-batch, the whole graph of every cutoff (slower on hubs; kept to compare with).
    fanout: int | None = DEFAULT_FANOUT
    batch_size: int = 1024  # target deals per training step when sampled
    # Sampled: training examples an epoch and validation examples for early stopping (`FitConfig`); None: all.
    epoch_examples: int | None = FitConfig.epoch_examples
    early_stop_examples: int | None = FitConfig.early_stop_examples
    promote_share: float = DEFAULT_SHARE  # of the serving model's AUROC and 1 - ECE (`gnn.gate.may_serve`)

    def fit_grid(self) -> tuple[FitConfig, ...]:
        """The grid with this run's sampling settings."""
        return tuple(replace(c, model=replace(c.model, fanout=self.fanout), batch_size=self.batch_size,
                             epoch_examples=self.epoch_examples, early_stop_examples=self.early_stop_examples)
                     for c in self.grid)


@dataclass
class TrainResult:
    card: ModelCard
    report: dict
    path: Path
    promoted: bool = True
    notes: list[str] = field(default_factory=list)


def _labels(examples: list[CutoffExamples]) -> np.ndarray:
    return concat(examples, lambda e: e.labels.numpy())


def _closed_deal_counts(examples: list[CutoffExamples]) -> tuple[int, int]:
    """Distinct won and lost deals among examples (a deal open at several cutoffs counts once)."""
    outcome = {d: float(y) for e in examples for d, y in zip(e.deal_ids, e.labels.tolist(), strict=True)}
    won = sum(1 for y in outcome.values() if y == 1.0)
    return won, len(outcome) - won


def train(store: GraphStore, home: Path, truth: Path | None = None, config: TrainConfig | None = None,
          provenance: Mapping[str, str] | None = None, promote: bool = True) -> TrainResult:
    """Train, compare against the baselines, register, and serve it if it passes the gates.

    Args:
        promote: False: register only, never serve; the caller decides (`gnn.owners.retrain`'s guard).
        provenance: ontology term ("Deal.amount", "OWNED_BY") -> the mapping column it was loaded from, so a
            leak refusal names what the user can change (built by the CLI from the load's mapping).

    Raises:
        InvalidInput: a split has no examples (the message says which window lacks what), or a fanout below 1.
        LeakageError: an input alone predicts the outcome (`gnn.leakage`).
    """
    config = config or TrainConfig()
    if config.fanout is not None and config.fanout < 1:
        raise InvalidInput(f"--fanout is how many neighbours each node hears from per relation: at least 1 "
                           f"(got {config.fanout}); --full-batch trains on whole graphs")
    started = datetime.now(UTC)
    full = store.snapshot()
    # Independent steps (the cutoffs' examples, the grid's fits) run this many at once (`gnn.forked`).
    workers = workers_allowed()
    split, spec, examples = leak_safe_examples(full, config.cutoff_days, config.horizon_days, workers=workers)
    missing = missing_splits(split, examples)
    if missing:
        raise InvalidInput(missing)
    won, lost = _closed_deal_counts(examples["train"])
    fallback = won < MIN_WON or lost < MIN_LOST
    if not fallback:
        # The class prior reads no input, so only a model that does can be misled by one. On a handful of
        # deals some column separates the outcomes by chance (3 won deals, all in one country), and the guard
        # would refuse the very fallback the load summary promised.
        refuse_leaks(spec, examples["train"], provenance)
    y = {s: _labels(examples[s]) for s in examples}

    prior = float(y["train"].mean())
    flat = {s: flat_table(examples[s])[0] for s in ("train", "test")}
    gbt = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=config.seed)
    gbt.fit(flat["train"], y["train"], sample_weight=concat(examples["train"], lambda e: e.weight().numpy()))
    probs = {"prior": np.full(len(y["test"]), prior), "flat_gbt": gbt.predict_proba(flat["test"])[:, 1]}

    notes: list[str] = []
    tried: list[dict]
    if fallback:
        kind, model, chosen, tried, wide_fit, platt = "prior", None, None, [], None, (1.0, 0.0)
        notes.append(f"only {won} won and {lost} lost deals to learn from (need {MIN_WON} + {MIN_LOST}): "
                     "serving the class prior")
    else:
        kind = "graphsage"
        model, chosen, tried, wide_fit = tune(examples, config.fit_grid(), spec if config.wide else None, workers)
        # The linear term alone too, calibrated the same way: what the GraphSAGE part adds. Each read is
        # independent of the others, so they run in the workers as well.
        model.eval()  # as reading in this process leaves it
        reads = [(part, s) for part in (model, model.wide) if part is not None for s in ("val", "test")]
        logits = dict(zip(reads, fork_map(lambda read: logits_of(read[0], examples[read[1]]), reads, workers),
                          strict=True))
        platt = fit_platt(logits[model, "val"], y["val"])
        probs["graphsage"] = calibrate(logits[model, "test"], platt)
        if model.wide is not None:
            wide_platt = fit_platt(logits[model.wide, "val"], y["val"])
            probs["wide_only"] = calibrate(logits[model.wide, "test"], wide_platt)
        if config.compare_families and spec.timeline:
            probs[WITHOUT] = without_families(full, split, chosen, config.wide)
    signals, absent = family_report(spec)
    notes += absent
    test = {name: metrics(y["test"], p) for name, p in probs.items()}
    if truth is not None:
        oracle = oracle_probabilities(truth, examples["test"])
        known = ~np.isnan(oracle)
        test["oracle"] = metrics(y["test"][known], oracle[known])

    trained_at = datetime.now(UTC)
    version = new_version(trained_at)
    registry = ModelRegistry(home)
    gate = judge(test, kind, positives=int(y["test"].sum()))
    notes.append(gate.summary())
    if promote:
        promoted, why = _promotion_gate(registry, full, split, y["test"], test.get(kind, {}).get("auroc"), gate.passed,
                                        test.get(kind, {}).get("ece"), config.promote_share)
    else:
        promoted, why = False, "registered only: the caller decides whether it serves"
    notes.append(why)
    report = {
        "version": version,
        "kind": kind,
        "split": {"t1": split.t1.isoformat(), "t2": split.t2.isoformat(), "end": split.end.isoformat(),
                  "cutoff_days": config.cutoff_days, "horizon_days": config.horizon_days},
        "coverage": coverage(full, examples),
        "examples": {s: int(len(y[s])) for s in y},
        "won_share": {s: round(float(y[s].mean()), 4) for s in y},
        "train_deals": {"won": won, "lost": lost},
        "signals": signals,
        "tuning": tried,
        "wide": wide_fit,
        "chosen": chosen.to_dict() if chosen else None,
        "seconds": round((trained_at - started).total_seconds(), 1),
        "promoted": promoted,
        "gate": gate.to_dict(),
        "quality": quality(test, kind),
        "notes": notes,
        "test": test,
    }
    card = ModelCard(
        version=version, kind=kind, trained_at=trained_at, schema_fingerprint=store.schema.fingerprint,
        snapshot_id=snapshot_id(full), metrics=test,
        params={"fit": chosen.to_dict() if chosen else None, "wide": wide_fit, "cutoff_days": config.cutoff_days,
                "horizon_days": config.horizon_days,
                "platt": list(platt), "prior": prior, "state": gate.state, "gate": gate.to_dict(),
                "quality": quality(test, kind)},
    )
    files = {"model.pt": _artifact(kind, model, spec, platt, prior),
             "report.json": json.dumps(report, indent=2).encode()}
    path = registry.save(card, files, promote=promoted)
    curves = {name: (y["test"], p) for name, p in probs.items() if name not in ("prior", "wide_only", WITHOUT)}
    reliability_plot(curves, path / "reliability.png")
    return TrainResult(card, report, path, promoted, notes)


def _artifact(kind: str, model, spec: FeatureSpec, platt: tuple[float, float], prior: float) -> bytes:
    blob = io.BytesIO()
    payload: dict = {"kind": kind, "spec": spec.to_dict(), "platt": list(platt), "prior": prior}
    if model is not None:
        payload |= {"state_dict": model.state_dict(), "in_dims": model.in_dims, "edge_types": model.edge_types,
                    "config": model.config.to_dict(), "wide": model.wide.spec.to_dict() if model.wide else None}
    torch.save(payload, blob)
    return blob.getvalue()


def _promotion_gate(registry: ModelRegistry, full: Snapshot, split: TemporalSplit, y_test: np.ndarray,
                    new_auroc: float | None, skill: bool = True, new_ece: float | None = None,
                    share: float = DEFAULT_SHARE) -> tuple[bool, str]:
    """Whether the new model may serve, by the one promotion rule (`gnn.gate.may_serve`, `retrain` uses it too);
    the current model is re-scored on the same test examples with its own features when the figures decide."""
    from gnn.score import load_model, predict_split  # scoring imports training helpers: import here to avoid a cycle

    current = registry.current_version()
    serving = None
    if current is not None:
        state, old = registry.card(current).state, {}
        if skill and state == SKILL:
            _, old_probs = predict_split(load_model(registry.root.parent, current), full, split, "test")
            old = metrics(y_test, old_probs) if len(old_probs) == len(y_test) else {}
        serving = ModelFigures(current, state, finite(old.get("auroc")), finite(old.get("ece")), len(y_test))
    candidate = ModelFigures("candidate", SKILL if skill else NO_SKILL, finite(new_auroc), finite(new_ece),
                             len(y_test))
    verdict = may_serve(candidate, serving, share)
    return verdict.serve, verdict.line()


def snapshot_id(full: Snapshot) -> str:
    """Identifies the data a model saw: node/edge counts and the newest fact's time."""
    counts = "-".join(str(len(f)) for f in [*full.nodes.values(), *full.edges.values()])
    return f"{latest_event_time(full).strftime('%Y%m%dT%H%M%SZ')}-{counts}"
