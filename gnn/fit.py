"""Fitting the graph model: full-batch or sampled mini-batch training, early stopping and tuning on validation,
calibration.

Validation decides everything here (epochs, the configuration, the calibration);
the test period is never read in this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from torch_geometric.data import HeteroData

from gnn.dataset import CutoffExamples
from gnn.features import FeatureSpec
from gnn.forked import fork_map
from gnn.minibatch import (
    batch_logits,
    cut_once,
    is_sampled,
    logits_of_cuts,
    sampled_logits,
    sampler_of,
    subset,
    training_batches,
)
from gnn.model import HeteroSAGE, ModelConfig
from gnn.sampling import Sample
from gnn.wide import WideLinear, WideSpec, fit_wide

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitConfig:
    """One candidate configuration of the graph model and its optimiser."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lr: float = 0.003
    weight_decay: float = 1e-4
    epochs: int = 80
    patience: int = 12
    seed: int = 0
    # Target deals per step when the model is sampled (`ModelConfig.fanout`); full-batch takes a cutoff a step.
    batch_size: int = 1024
    # Sampled only: about this many training examples an epoch (a fresh draw each), and validation examples read
    # for early stopping (a fixed draw); None: all. Above the default sample's counts, so its model is the same
    # as with all; at a million rows they keep an epoch's cost constant (docs/design.md, "Scale").
    epoch_examples: int | None = 20_000
    early_stop_examples: int | None = 20_000

    def to_dict(self) -> dict:
        out = {"model": self.model.to_dict(), "lr": self.lr, "weight_decay": self.weight_decay}
        sampled = {"batch_size": self.batch_size, "epoch_examples": self.epoch_examples,
                   "early_stop_examples": self.early_stop_examples}
        return out | (sampled if self.model.fanout is not None else {})


#: What tuning tries, chosen by validation AUROC. Two layers keep explanations cheap
#: (a third hop pulls whole product and rep hubs into every deal's computation graph);
#: two configurations keep training and scoring the default sample under five minutes.
DEFAULT_GRID = (
    FitConfig(model=ModelConfig(hidden=64, dropout=0.3, input_dropout=0.5), weight_decay=1e-3),
    FitConfig(model=ModelConfig(hidden=32, dropout=0.2, input_dropout=0.3)),
)


def concat(examples: list[CutoffExamples], fn: Callable[[CutoffExamples], np.ndarray]) -> np.ndarray:
    return np.concatenate([fn(e) for e in examples]) if examples else np.zeros(0)


def logits_of(model: torch.nn.Module, examples: list[CutoffExamples]) -> np.ndarray:
    """The logits of the target nodes, from `HeteroSAGE` or any part of it with the same inputs (its `wide`)."""
    model.eval()
    with torch.no_grad():
        if is_sampled(model):
            return concat(examples, lambda e: sampled_logits(model, e).numpy())  # type: ignore[arg-type]
        return concat(examples, lambda e: model(e.data.x_dict, e.data.edge_index_dict)[e.index].numpy())


def fit_graph_model(examples: dict[str, list[CutoffExamples]], config: FitConfig,
                    wide: WideLinear | None = None) -> tuple[HeteroSAGE, float, int]:
    """Training over the training cutoffs, early-stopped on validation AUROC: a step per cutoff on its whole graph
    (full-batch), or with `config.model.fanout` a step per mini-batch of deals on their sampled graphs.

    A `wide` part (fitted and frozen) is added to the logit and stays as it is: the rest learns what it leaves."""
    torch.manual_seed(config.seed)
    first = examples["train"][0].data
    model = HeteroSAGE({t: first[t].x.shape[1] for t in first.node_types}, first.edge_types, config.model, wide)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=config.lr, weight_decay=config.weight_decay)
    val = subset(examples["val"], config.early_stop_examples, config.seed) if is_sampled(model) else examples["val"]
    y_val = concat(val, lambda e: e.labels.numpy())
    # The validation examples' sampled graphs are the same every epoch: cut once (the same logits, bit for bit).
    val_cuts = cut_once(val, config.model) if is_sampled(model) else None
    # Examples are weighted by deal (`gnn.dataset.weigh_by_deal`); dividing by the mean weight per bucket keeps
    # the loss on the scale the learning rate was tuned for.
    # With mini-batches the scale is the mean weight per step, as a step per cutoff has.
    generator = torch.Generator().manual_seed(config.seed)
    # A budgeted epoch (`epoch_examples`) takes a share of the batches, each of the same mean weight.
    steps = sum(-(-len(e.index) // config.batch_size) for e in examples["train"]) if is_sampled(model) else None
    scale = sum(float(e.weight().sum()) for e in examples["train"]) / max(steps or len(examples["train"]), 1)
    best, best_state, best_epoch, waited = -1.0, None, 0, 0
    for epoch in range(config.epochs):
        model.train()
        for ex, rows in _steps(model, examples["train"], config, generator):
            opt.zero_grad()
            if rows is None:
                out, labels, weight = model(ex.data.x_dict, ex.data.edge_index_dict)[ex.index], ex.labels, ex.weight()
            else:
                out, labels, weight = batch_logits(model, ex, rows), ex.labels[rows], ex.weight()[rows]
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(out, labels, reduction="none")
                    * weight).sum() / scale
            loss.backward()
            opt.step()
        score = roc_auc_score(y_val, _val_logits(model, val, val_cuts)) if len(np.unique(y_val)) > 1 else 0.0
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
    return model, best, best_epoch


def _val_logits(model: HeteroSAGE, val: list[CutoffExamples],
                cuts: list[tuple[HeteroData, Sample]] | None) -> np.ndarray:
    if cuts is None:
        return logits_of(model, val)
    model.eval()
    with torch.no_grad():
        return logits_of_cuts(model, cuts).numpy()


def _steps(model: HeteroSAGE, train: list[CutoffExamples], config: FitConfig,
           generator: torch.Generator) -> list[tuple[CutoffExamples, torch.Tensor | None]]:
    """One epoch's steps: (cutoff, rows of its examples), rows None for the whole cutoff (full-batch)."""
    if is_sampled(model):
        return list(training_batches(train, config.batch_size, generator, config.epoch_examples))
    return [(ex, None) for ex in train]


def tune(
    examples: dict[str, list[CutoffExamples]], grid: tuple[FitConfig, ...], spec: FeatureSpec | None = None,
    workers: int = 1,
) -> tuple[HeteroSAGE, FitConfig, list[dict], dict | None]:
    """Fit the wide part (`gnn.wide`, when `spec` is given), then every configuration around it; keep the one
    with the best validation AUROC. Returns it, its configuration, what was tried, and the wide part's fit.

    `workers`: configurations fitted at once (`fit_each`)."""
    tried, best, wide, wide_report = [], None, None, None
    if spec is not None:
        wide_spec = WideSpec.from_features(spec, examples["train"][0].data.edge_types)
        wide, wide_report = fit_wide(wide_spec, examples["train"], examples["val"], workers)
        log.info("wide part: %s", wide_report)
    fitted = fit_each(examples, grid, wide, workers)
    for config, (model, val_auroc, epoch) in zip(grid, fitted, strict=True):
        tried.append({**config.to_dict(), "val_auroc": round(val_auroc, 4), "best_epoch": epoch})
        log.info("config %s: validation AUROC %.4f", config.to_dict(), val_auroc)
        if best is None or val_auroc > best[2]:
            best = (model, config, val_auroc)
    if best is None:
        raise ValueError("no model configuration to try: the grid is empty")
    return best[0], best[1], tried, wide_report


def fit_each(examples: dict[str, list[CutoffExamples]], grid: tuple[FitConfig, ...], wide: WideLinear | None,
             workers: int = 1) -> list[tuple[HeteroSAGE, float, int]]:
    """`fit_graph_model` of every configuration, in grid order; with `workers` > 1, several at once in forked
    processes (`gnn.forked`). Each fit seeds itself, so the models are those fitted one after another at the
    workers' thread count, bit for bit."""
    if min(workers, len(grid)) > 1:
        for part in ("train", "val"):  # the samplers, built once here and shared by every worker (copy-on-write)
            for ex in examples[part]:
                for config in grid:
                    if config.model.fanout is not None:
                        sampler_of(ex, config.model.fanout, config.model.layers)
    fitted = fork_map(lambda config: fit_graph_model(examples, config, wide), grid, workers)
    for model, _, _ in fitted:
        model.wide = wide  # the frozen part itself, as one after another, not a worker's copy of it
    return fitted


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
    return concat(examples, lambda e: truth.reindex(e.deal_ids).to_numpy(float))


