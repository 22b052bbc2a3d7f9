"""Train the graph model beside its baselines on one temporal split, and register it.

Reported side by side on the test period (the latest): the class prior,
gradient-boosted trees on the same features flattened to one table, the
heterogeneous GraphSAGE, and — when the sample's `truth.csv` is given — the
oracle that knows each deal's true win probability. The graph model is tuned
only on validation (early stopping), calibrated on validation (Platt scaling),
and the test period is read once, for the report.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from gnn.dataset import CutoffExamples, build_examples, flat_features, temporal_split
from gnn.features import FeatureSpec, latest_event_time
from gnn.model import HeteroSAGE, ModelConfig
from gnn.registry import ModelCard, ModelRegistry
from graph.snapshot import Snapshot
from graph.store import GraphStore, InvalidInput

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    cutoff_days: int = 30
    epochs: int = 80
    patience: int = 12
    lr: float = 0.003
    weight_decay: float = 1e-4
    seed: int = 0


@dataclass
class TrainResult:
    card: ModelCard
    report: dict
    path: Path


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    if len(np.unique(y)) < 2:
        return {"auroc": float("nan"), "auprc": float("nan"), "brier": float(brier_score_loss(y, p)), "n": int(len(y))}
    return {
        "auroc": round(float(roc_auc_score(y, p)), 4),
        "auprc": round(float(average_precision_score(y, p)), 4),
        "brier": round(float(brier_score_loss(y, p)), 4),
        "n": int(len(y)),
    }


def _concat(examples: list[CutoffExamples], fn: Callable[[CutoffExamples], np.ndarray]) -> np.ndarray:
    return np.concatenate([fn(e) for e in examples]) if examples else np.zeros(0)


def _logits(model: HeteroSAGE, examples: list[CutoffExamples]) -> np.ndarray:
    model.eval()
    with torch.no_grad():
        return _concat(examples, lambda e: model(e.data.x_dict, e.data.edge_index_dict)[e.index].numpy())


def fit_graph_model(examples: dict[str, list[CutoffExamples]], config: TrainConfig) -> tuple[HeteroSAGE, int]:
    """Full-batch training over the training cutoffs, early-stopped on validation AUROC."""
    torch.manual_seed(config.seed)
    first = examples["train"][0].data
    model = HeteroSAGE({t: first[t].x.shape[1] for t in first.node_types}, first.edge_types, config.model)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    y_val = _concat(examples["val"], lambda e: e.labels.numpy())
    best, best_state, best_epoch, waited = -1.0, None, 0, 0
    for epoch in range(config.epochs):
        model.train()
        for ex in examples["train"]:
            opt.zero_grad()
            out = model(ex.data.x_dict, ex.data.edge_index_dict)[ex.index]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(out, ex.labels)
            loss.backward()
            opt.step()
        score = roc_auc_score(y_val, _logits(model, examples["val"])) if len(np.unique(y_val)) > 1 else 0.0
        if score > best + 1e-4:
            best, best_epoch, waited = score, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            waited += 1
            if waited >= config.patience:
                break
        log.info("epoch %d val auroc %.4f", epoch, score)
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, best_epoch


def fit_platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Calibration on validation: p = sigmoid(a * logit + b)."""
    if len(np.unique(y)) < 2:
        return 1.0, 0.0
    lr = LogisticRegression(C=1e6).fit(logits.reshape(-1, 1), y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])


def calibrate(logits: np.ndarray, platt: tuple[float, float]) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(platt[0] * logits + platt[1])))


def oracle_probabilities(truth_path: Path, examples: list[CutoffExamples]) -> np.ndarray:
    truth = pd.read_csv(truth_path, dtype={"OpportunityId": str}).set_index("OpportunityId")["win_probability"]
    return _concat(examples, lambda e: truth.reindex(e.deal_ids).to_numpy(float))


def train(store: GraphStore, home: Path, truth: Path | None = None, config: TrainConfig | None = None) -> TrainResult:
    """Train, compare against the baselines, and register the graph model as the current one."""
    config = config or TrainConfig()
    started = datetime.now(UTC)
    full = store.snapshot()
    split = temporal_split(full, config.cutoff_days)
    spec = FeatureSpec.fit(store.schema, full.as_of(split.t1.to_pydatetime()))
    examples = build_examples(full, spec, split)
    if not examples["train"] or not examples["val"] or not examples["test"]:
        raise InvalidInput("the history is too short for a train / validation / test split")

    model, best_epoch = fit_graph_model(examples, config)
    platt = fit_platt(_logits(model, examples["val"]), _concat(examples["val"], lambda e: e.labels.numpy()))

    y = {s: _concat(examples[s], lambda e: e.labels.numpy()) for s in examples}
    flat = {s: _concat(examples[s], lambda e: flat_features(e.data, e.index)) for s in ("train", "test")}
    gbt = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, random_state=config.seed)
    gbt.fit(flat["train"], y["train"])
    prior = float(y["train"].mean())
    test = {
        "prior": metrics(y["test"], np.full(len(y["test"]), prior)),
        "flat_gbt": metrics(y["test"], gbt.predict_proba(flat["test"])[:, 1]),
        "graphsage": metrics(y["test"], calibrate(_logits(model, examples["test"]), platt)),
    }
    if truth is not None:
        oracle = oracle_probabilities(truth, examples["test"])
        known = ~np.isnan(oracle)
        test["oracle"] = metrics(y["test"][known], oracle[known])

    trained_at = datetime.now(UTC)
    version = trained_at.strftime("%Y%m%dT%H%M%SZ")
    report = {
        "version": version,
        "split": {"t1": split.t1.isoformat(), "t2": split.t2.isoformat(), "end": split.end.isoformat(), "cutoff_days": config.cutoff_days},
        "examples": {s: int(len(y[s])) for s in y},
        "won_share": {s: round(float(y[s].mean()), 4) for s in y},
        "best_epoch": best_epoch,
        "seconds": round((trained_at - started).total_seconds(), 1),
        "test": test,
    }
    card = ModelCard(
        version=version,
        kind="graphsage",
        trained_at=trained_at,
        schema_fingerprint=store.schema.fingerprint,
        snapshot_id=snapshot_id(full),
        metrics=test,
        params={"model": config.model.to_dict(), "cutoff_days": config.cutoff_days, "platt": list(platt)},
    )
    blob = io.BytesIO()
    torch.save(
        {
            "state_dict": model.state_dict(),
            "in_dims": model.in_dims,
            "edge_types": model.edge_types,
            "config": config.model.to_dict(),
            "spec": spec.to_dict(),
            "platt": list(platt),
        },
        blob,
    )
    path = ModelRegistry(home).save(card, {"model.pt": blob.getvalue(), "report.json": json.dumps(report, indent=2).encode()})
    return TrainResult(card, report, path)


def snapshot_id(full: Snapshot) -> str:
    """Identifies the data a model saw: node/edge counts and the newest fact's time."""
    counts = "-".join(str(len(f)) for f in [*full.nodes.values(), *full.edges.values()])
    return f"{latest_event_time(full).strftime('%Y%m%dT%H%M%SZ')}-{counts}"
