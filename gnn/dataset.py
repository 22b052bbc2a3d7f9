"""Leak-safe training examples: (deal, cutoff) pairs from each deal's life, RelBench-style.

The history is cut into buckets every `cutoff_days` (plus the split boundaries
T1 and T2, so no bucket straddles one). At each bucket's start T the graph is
rebuilt as it stood before T (`Snapshot.as_of`); its examples are

- the deals open at T (a sampled cutoff inside each long deal's open interval), and
- the deals created inside the bucket, each at its own creation: the graph as
  of T plus the deal itself and its edges, its outgoing messages removed so no
  deal sees another from after its own creation. A deal that opens and closes
  between two grid points is still an example (on a lead funnel most wins do).

Each example is weighted 1 / (its deal's examples in the split), so a deal open
for a year does not count twelve times a deal open for a week.

Labels: the deal's eventual outcome, or with a horizon H, won within H days of
the example's cutoff. Right-censoring: an example counts only once its label is
known by its split's deadline. Without a horizon that is "closed before the
deadline" (deals still open then are dropped, which favours quick resolvers
near each deadline); with a horizon, the whole window [cutoff, cutoff + H] must
lie before the deadline, whatever happened, so deals still open contribute a
"not won within H" and no outcome is preferred by when it resolved.

The temporal split keeps labels from leaking across periods: training examples
come from cutoffs before T1 and their labels are known before T1; validation
cutoffs lie in [T1, T2) with labels known before T2; test cutoffs from T2 on.
T1 and T2 are the 60% and 80% quantiles of the close times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from gnn.features import FeatureSpec, encode, latest_event_time
from gnn.forked import fork_map
from gnn.outcomes import OUTCOME, outcome_times, task_outcomes
from gnn.readiness import MIN_CLOSED
from gnn.task import WIN, Task
from graph.snapshot import Snapshot, Timeline
from graph.store import InvalidInput
from ontology.names import Label

SPLITS = ("train", "val", "test")


@dataclass
class CutoffExamples:
    """The examples of one bucket, with the graph as it stood at its start."""

    cutoff: pd.Timestamp
    split: str
    data: HeteroData
    index: torch.Tensor  # positions of the example deals in data["Deal"]
    labels: torch.Tensor
    deal_ids: list[str]
    weights: torch.Tensor | None = None  # 1 / the deal's examples in the split (`weigh_by_deal`); None: all 1
    # Neighbour samplers of `data` by (fanout, hops), built once and reused every epoch (`gnn.minibatch`).
    samplers: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def weight(self) -> torch.Tensor:
        return self.weights if self.weights is not None else torch.ones(len(self.deal_ids))


@dataclass(frozen=True)
class TemporalSplit:
    t1: pd.Timestamp
    t2: pd.Timestamp
    end: pd.Timestamp
    cutoffs: tuple[pd.Timestamp, ...]
    horizon_days: int | None = None  # None: the eventual outcome

    def split_of(self, cutoff: pd.Timestamp) -> str:
        return "train" if cutoff < self.t1 else "val" if cutoff < self.t2 else "test"

    def label_deadline(self, split: str) -> pd.Timestamp:
        return {"train": self.t1, "val": self.t2, "test": self.end}[split]

    def window(self, split: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The cutoffs' window of a split: [start, end)."""
        start = self.cutoffs[0] if self.cutoffs else self.t1
        return {"train": (start, self.t1), "val": (self.t1, self.t2), "test": (self.t2, self.end)}[split]

    def next_cutoff(self, cutoff: pd.Timestamp) -> pd.Timestamp:
        later = [c for c in self.cutoffs if c > cutoff]
        return later[0] if later else self.end


def temporal_split(full: Snapshot, cutoff_days: int = 30, horizon_days: int | None = None) -> TemporalSplit:
    if cutoff_days < 1 or (horizon_days is not None and horizon_days < 1):
        raise InvalidInput("--cutoff-every and --horizon are whole days, at least 1")
    closes = outcome_times(full)["closed_at"].dropna().sort_values()
    if len(closes) < MIN_CLOSED:
        raise InvalidInput(f"only {len(closes)} closed deals: too few to train on "
                           f"(need {MIN_CLOSED} spread over time); "
                           "no model is trained, so open deals stay unscored until an export brings more history")
    t1, t2 = closes.quantile(0.6), closes.quantile(0.8)
    end = latest_event_time(full)
    start = full.nodes[Label.DEAL]["created_at"].min().floor("D")
    grid = pd.date_range(start, end, freq=f"{cutoff_days}D", tz="UTC")
    cutoffs = tuple(sorted({*[c for c in grid if c < end], t1, t2}))
    return TemporalSplit(t1, t2, end, cutoffs, horizon_days)


def _with_newborns(full: Snapshot, snap: Snapshot, newborn: pd.DataFrame) -> Snapshot:
    """`snap` plus these deals and their edges out (never their outcomes) to nodes visible in it."""
    if newborn.empty:
        return snap
    schema = full.schema
    nodes = {**snap.nodes, Label.DEAL: pd.concat([snap.nodes[Label.DEAL], newborn], ignore_index=True)}
    edges = dict(snap.edges)
    ids = set(newborn["id"])
    for name, rel in schema.relations.items():
        if rel.source != Label.DEAL or rel.target == OUTCOME:
            continue
        frame = full.edges[name]
        visible = snap.nodes[rel.target][schema.nodes[rel.target].key]
        extra = frame[frame["src"].isin(ids) & frame["dst"].isin(visible)]
        edges[name] = pd.concat([snap.edges[name], extra], ignore_index=True)
    return Snapshot(schema, nodes, edges, snap.as_of_time)


def _mute(data: HeteroData, positions: np.ndarray) -> None:
    """Drop the messages these deals send: each is seen by nobody, so its existence (after the bucket's
    start) cannot reach another example."""
    mute = torch.zeros(data[Label.DEAL].num_nodes, dtype=torch.bool)
    mute[torch.from_numpy(positions)] = True
    for edge_type in data.edge_types:
        if edge_type[0] == Label.DEAL:
            ei = data[edge_type].edge_index
            kept = ~mute[ei[0]]
            data[edge_type].edge_index = ei[:, kept]
            if "time" in data[edge_type]:  # the edges' own times (`gnn.features.encode`) stay aligned
                data[edge_type].time = data[edge_type].time[kept]


def bucket(created: pd.Series, closed: pd.Series, split: TemporalSplit,
           cutoff: pd.Timestamp) -> tuple[pd.Series, pd.Series]:
    """The deals of the bucket starting at `cutoff`: (open at the cutoff, opened before the next cutoff)."""
    standing = (created < cutoff) & (closed.isna() | (closed >= cutoff))
    newborn = (created >= cutoff) & (created < split.next_cutoff(cutoff))
    return standing, newborn


def labelled(full: Snapshot, split: TemporalSplit, cutoff: pd.Timestamp, task: Task = WIN) -> pd.DataFrame:
    """The examples of the bucket starting at `cutoff`: per deal id, its own cutoff `at`, `label` (by `task`),
    `newborn`."""
    name = split.split_of(cutoff)
    target = full.schema.nodes[task.target]
    deals = full.nodes[target.name].set_index(target.key)
    ends = task_outcomes(full, task).reindex(deals.index)
    created, closed = deals[target.time], ends["closed_at"]
    standing, newborn = bucket(created, closed, split, cutoff)
    at = created.where(newborn, cutoff)
    deadline = split.label_deadline(name)
    if split.horizon_days is None:
        label = ends["positive"]
        known = closed < deadline
    else:
        horizon = pd.Timedelta(days=split.horizon_days)
        label = ((ends["positive"] == 1.0) & (closed < at + horizon)).astype(float)
        known = at + horizon <= deadline  # the whole window seen: no outcome preferred by when it resolved
    keep = (standing | newborn) & known.fillna(False).astype(bool)
    return pd.DataFrame({"at": at[keep], "label": label[keep].astype(float), "newborn": newborn[keep]})


def examples_at(full: Snapshot, spec: FeatureSpec, split: TemporalSplit, cutoff: pd.Timestamp,
                task: Task = WIN, timeline: Timeline | None = None) -> CutoffExamples | None:
    """The labelled examples of the bucket starting at `cutoff`, or None when there are none.

    `timeline`: `full.timeline()`, built once for many cutoffs (the same graph as `full.as_of`, cut faster)."""
    chosen = labelled(full, split, cutoff, task)
    if chosen.empty:
        return None
    deals = full.nodes[Label.DEAL]
    newborn_ids = chosen.index[chosen["newborn"]]
    past = (timeline or full).as_of(cutoff.to_pydatetime())
    snap = _with_newborns(full, past, deals[deals["id"].isin(newborn_ids)])
    data = encode(spec, snap, cutoff)
    node_index = pd.Index(data[Label.DEAL].node_id)
    _mute(data, node_index.get_indexer(newborn_ids))
    ids = chosen.index.tolist()
    index = node_index.get_indexer(ids)
    labels = chosen["label"].to_numpy(np.float32)
    return CutoffExamples(cutoff, split.split_of(cutoff), data, torch.from_numpy(index), torch.from_numpy(labels), ids)


def weigh_by_deal(examples: list[CutoffExamples]) -> None:
    """Weights 1 / (the deal's examples in these), so every deal counts once in the loss."""
    count = Counter(d for e in examples for d in e.deal_ids)
    for e in examples:
        e.weights = torch.tensor([1.0 / count[d] for d in e.deal_ids])


def build_examples(
    full: Snapshot, spec: FeatureSpec, split: TemporalSplit, only: str | None = None, task: Task = WIN,
    timeline: Timeline | None = None, workers: int = 1,
) -> dict[str, list[CutoffExamples]]:
    """Examples of every bucket, by split (or only those of split `only`), labelled by `task`, weighted by deal.

    `timeline`: `full.timeline()` when the caller builds examples of `full` more than once (it depends on the
    snapshot only, not on the spec or the split). `workers`: cutoffs built at once (`gnn.forked`; training)."""
    out: dict[str, list[CutoffExamples]] = {s: [] for s in SPLITS}
    if timeline is None:
        timeline = full.timeline()  # every cutoff's graph from one pass over the tables' times and edge ends
    cutoffs = [c for c in split.cutoffs if only is None or split.split_of(c) == only]
    built = fork_map(lambda cutoff: examples_at(full, spec, split, cutoff, task, timeline), cutoffs, workers)
    for ex in built:
        if ex is not None:
            out[ex.split].append(ex)
    for part in out.values():
        weigh_by_deal(part)
    return out


def coverage(full: Snapshot, examples: dict[str, list[CutoffExamples]]) -> dict[str, int]:
    """How many closed deals have at least one example, and how many none (censored at a split deadline)."""
    closed = set(outcome_times(full).index)
    seen = {d for part in examples.values() for e in part for d in e.deal_ids}
    return {"closed_deals": len(closed), "with_examples": len(closed & seen), "without": len(closed - seen)}


def missing_splits(split: TemporalSplit, examples: dict[str, list[CutoffExamples]]) -> str | None:
    """What each empty split lacks, in words (None when every split has examples)."""
    problems = []
    names = {"train": "training", "val": "validation", "test": "test"}
    for part in SPLITS:
        start, stop = split.window(part)
        where = f"the {names[part]} window {start:%Y-%m-%d} .. {stop:%Y-%m-%d}"
        labels = np.concatenate([e.labels.numpy() for e in examples[part]]) if examples[part] else np.zeros(0)
        if not len(labels):
            lacks = ("deals open or created in it whose outcome is known by "
                     f"{split.label_deadline(part):%Y-%m-%d}")
            if split.horizon_days is not None:
                lacks += (f" (with --horizon {split.horizon_days}, "
                          f"a cutoff needs {split.horizon_days} days seen after it)")
            problems.append(f"{where} has no {lacks}")
    if not problems:
        return None
    return "cannot split the history into train / validation / test: " + "; ".join(problems) + (
        ". T1 and T2 are the 60% and 80% quantiles of close times; a longer export, a shorter --horizon or a "
        "smaller --cutoff-every may help")


def flat_features(data: HeteroData, index: torch.Tensor) -> np.ndarray:
    """The same inputs flattened to one table: a deal's own features (not its neighbours' records at its
    opening, `gnn.history`, which are the graph's), then the mean features and count of its neighbours
    over each edge type into deals.

    This is what a per-deal table sees: direct neighbours' attributes, but not
    the history behind them (whose past deals were won) — that takes the graph.
    """
    own = getattr(data[Label.DEAL], "table_columns", None)
    parts = [data[Label.DEAL].x if own is None else data[Label.DEAL].x[:, own]]
    for (src, _, dst), store in sorted(data.edge_items(), key=lambda kv: kv[0]):
        if dst != Label.DEAL or src == Label.DEAL:
            continue
        x_src = data[src].x
        ei = store.edge_index
        total = torch.zeros(data[Label.DEAL].num_nodes, x_src.shape[1]).index_add_(0, ei[1], x_src[ei[0]])
        count = torch.zeros(data[Label.DEAL].num_nodes).index_add_(0, ei[1], torch.ones(ei.shape[1]))
        parts += [total / count.clamp(min=1).unsqueeze(1), count.unsqueeze(1)]
    return torch.cat(parts, dim=1)[index].numpy()


def leak_safe_examples(
    full: Snapshot, cutoff_days: int = 30, horizon_days: int | None = None, task: Task = WIN, workers: int = 1
) -> tuple[TemporalSplit, FeatureSpec, dict[str, list[CutoffExamples]]]:
    """The temporal split, the feature spec fitted on the training period, and every split's examples.

    This is what `gnn.train.train` trains and evaluates on, so a model of your own
    evaluated on `examples["test"]` is compared on the same deals at the same cutoffs.

    Args:
        full: the whole graph (`store.snapshot()`); each cutoff sees only its past.
        cutoff_days: days between the buckets' start cutoffs (deals also get one at their creation).
        horizon_days: label "won within this many days of the cutoff"; None: the task's own (`gnn.task`; the
            eventual outcome for `WIN`).
        task: what is predicted and how an example is labelled (`gnn.task.WIN` unless said).
        workers: cutoffs built at once in forked processes (`gnn.forked`); the same examples.

    Returns:
        `(split, spec, examples)`, examples keyed "train", "val", "test".

    Raises:
        InvalidInput: too few closed deals to split.

    Example:
        >>> split, spec, examples = leak_safe_examples(store.snapshot())
        >>> x_train, y_train = flat_table(examples["train"])
    """
    split = temporal_split(full, cutoff_days, horizon_days if horizon_days is not None else task.horizon_days)
    # Scaling and category lists come from the training period only: later data must not shape the inputs.
    spec = FeatureSpec.fit(full.schema, full.as_of(split.t1.to_pydatetime()))
    return split, spec, build_examples(full, spec, split, task=task, workers=workers)


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
