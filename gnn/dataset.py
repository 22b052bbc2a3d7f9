"""Leak-safe training examples: (deal, cutoff) pairs over the history, RelBench-style.

At each cutoff T the graph is rebuilt as it stood before T (`Snapshot.as_of`);
its examples are the deals open at T, labelled by how they ended later. The
deal's own outcome is after T, so it is not in its graph; other deals'
outcomes are visible only if they closed before T.

The temporal split keeps labels from leaking across periods too: training
examples come from cutoffs before T1 and their deals closed before T1;
validation cutoffs lie in [T1, T2) with closes before T2; test cutoffs from T2
on. T1 and T2 are the 60% and 80% quantiles of the close times.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from gnn.features import FeatureSpec, encode, latest_event_time
from gnn.outcomes import outcome_times
from gnn.readiness import MIN_CLOSED
from graph.snapshot import Snapshot
from graph.store import InvalidInput

SPLITS = ("train", "val", "test")


@dataclass
class CutoffExamples:
    """The deals open at one cutoff, with the graph as it stood then."""

    cutoff: pd.Timestamp
    split: str
    data: HeteroData
    index: torch.Tensor  # positions of the example deals in data["Deal"]
    labels: torch.Tensor
    deal_ids: list[str]


@dataclass(frozen=True)
class TemporalSplit:
    t1: pd.Timestamp
    t2: pd.Timestamp
    end: pd.Timestamp
    cutoffs: tuple[pd.Timestamp, ...]

    def split_of(self, cutoff: pd.Timestamp) -> str:
        return "train" if cutoff < self.t1 else "val" if cutoff < self.t2 else "test"

    def label_deadline(self, split: str) -> pd.Timestamp:
        return {"train": self.t1, "val": self.t2, "test": self.end}[split]


def temporal_split(full: Snapshot, cutoff_days: int = 30) -> TemporalSplit:
    closes = outcome_times(full)["closed_at"].dropna().sort_values()
    if len(closes) < MIN_CLOSED:
        raise InvalidInput(f"only {len(closes)} closed deals: too few to train on (need {MIN_CLOSED} spread over time); "
                           "no model is trained, so open deals stay unscored until an export brings more history")
    t1, t2 = closes.quantile(0.6), closes.quantile(0.8)
    end = latest_event_time(full)
    start = full.nodes["Deal"]["created_at"].min() + pd.Timedelta(days=cutoff_days)
    cutoffs = tuple(pd.date_range(start, end, freq=f"{cutoff_days}D", tz="UTC"))
    return TemporalSplit(t1, t2, end, cutoffs)


def examples_at(full: Snapshot, spec: FeatureSpec, split: TemporalSplit, cutoff: pd.Timestamp) -> CutoffExamples | None:
    """The labelled examples at one cutoff, or None when there are none."""
    name = split.split_of(cutoff)
    deals = full.nodes["Deal"]
    ends = outcome_times(full).reindex(deals["id"])
    open_then = (deals["created_at"] < cutoff).to_numpy() & (ends["closed_at"].isna() | (ends["closed_at"] >= cutoff)).to_numpy()
    labelled = (ends["closed_at"] < split.label_deadline(name)).to_numpy()
    chosen = deals["id"][open_then & labelled].tolist()
    if not chosen:
        return None
    snap = full.as_of(cutoff.to_pydatetime())
    data = encode(spec, snap, cutoff)
    index = pd.Index(data["Deal"].node_id).get_indexer(chosen)
    labels = ends.loc[chosen, "won"].to_numpy(np.float32)
    return CutoffExamples(cutoff, name, data, torch.from_numpy(index), torch.from_numpy(labels), chosen)


def build_examples(
    full: Snapshot, spec: FeatureSpec, split: TemporalSplit, only: str | None = None
) -> dict[str, list[CutoffExamples]]:
    """Examples at every cutoff, by split (or only those of split `only`)."""
    out: dict[str, list[CutoffExamples]] = {s: [] for s in SPLITS}
    for cutoff in split.cutoffs:
        if only is not None and split.split_of(cutoff) != only:
            continue
        ex = examples_at(full, spec, split, cutoff)
        if ex is not None:
            out[ex.split].append(ex)
    return out


def flat_features(data: HeteroData, index: torch.Tensor) -> np.ndarray:
    """The same inputs flattened to one table: a deal's own features (not its neighbours' records at its
    opening, `gnn.history`, which are the graph's), then the mean features and count of its neighbours
    over each edge type into deals.

    This is what a per-deal table sees: direct neighbours' attributes, but not
    the history behind them (whose past deals were won) — that takes the graph.
    """
    own = getattr(data["Deal"], "table_columns", None)
    parts = [data["Deal"].x if own is None else data["Deal"].x[:, own]]
    for (src, rel, dst), store in sorted(data.edge_items(), key=lambda kv: kv[0]):
        if dst != "Deal" or src == "Deal":
            continue
        x_src = data[src].x
        ei = store.edge_index
        total = torch.zeros(data["Deal"].num_nodes, x_src.shape[1]).index_add_(0, ei[1], x_src[ei[0]])
        count = torch.zeros(data["Deal"].num_nodes).index_add_(0, ei[1], torch.ones(ei.shape[1]))
        parts += [total / count.clamp(min=1).unsqueeze(1), count.unsqueeze(1)]
    return torch.cat(parts, dim=1)[index].numpy()


def leak_safe_examples(
    full: Snapshot, cutoff_days: int = 30
) -> tuple[TemporalSplit, FeatureSpec, dict[str, list[CutoffExamples]]]:
    """The temporal split, the feature spec fitted on the training period, and every split's examples.

    This is what `gnn.train.train` trains and evaluates on, so a model of your own
    evaluated on `examples["test"]` is compared on the same deals at the same cutoffs.

    Args:
        full: the whole graph (`store.snapshot()`); each cutoff sees only its past.
        cutoff_days: days between cutoffs.

    Returns:
        `(split, spec, examples)`, examples keyed "train", "val", "test".

    Raises:
        InvalidInput: too few closed deals to split.

    Example:
        >>> split, spec, examples = leak_safe_examples(store.snapshot())
        >>> x_train, y_train = flat_table(examples["train"])
    """
    split = temporal_split(full, cutoff_days)
    # Scaling and category lists come from the training period only: later data must not shape the inputs.
    spec = FeatureSpec.fit(full.schema, full.as_of(split.t1.to_pydatetime()))
    return split, spec, build_examples(full, spec, split)


def flat_table(examples: list[CutoffExamples]) -> tuple[np.ndarray, np.ndarray]:
    """Examples as one table for a non-graph model: `flat_features` rows and their labels.

    Example:
        >>> x_test, y_test = flat_table(examples["test"])
        >>> LogisticRegression().fit(*flat_table(examples["train"])).predict_proba(x_test)[:, 1]
    """
    if not examples:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.float32)
    x = np.concatenate([flat_features(e.data, e.index) for e in examples])
    return x, np.concatenate([e.labels.numpy() for e in examples])
