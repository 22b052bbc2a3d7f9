"""Model inputs from a snapshot: node features and typed edges, derived from the Schema.

Which properties become features is read from the ontology, not listed here:
numbers (xsd:decimal / xsd:integer) become log-scaled standardised columns,
`dg:categorical` strings become one-hot columns over the values seen in
training, and anything marked `dg:currentValueOnly` (a deal's stage, its
expected close date) is never used from the deal's row, because only today's
value is exported and using it as of an earlier time would leak the future.
Where the export keeps their history (`DealChange` nodes), the stage, days in
it, close-date pushes and amount changes as of the cutoff are deal features,
and so is the deal's activity (`gnn.timeline`); activities are also nodes the
messages pass through (who was met, how recently).

Outcomes are folded into their deal as two flags (won, lost), visible only
once the outcome exists in the snapshot. That keeps "the contact's past deals
were won" two hops from a deal instead of three. A relation property with a
closed list of values (`sh:in`, e.g. a contact's role) splits the messages
into the relation's source by value, so a deal weighs its champion's history
differently from a user's; the messages the other way are pooled, so a
contact's history counts all its deals whatever the role.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData

from gnn import timeline as tl
from gnn.history import base_win_rate, records_at_open
from gnn.outcomes import OUTCOME, outcome_flags
from gnn.sampling import epoch_seconds
from graph.snapshot import Snapshot
from graph.timefmt import to_utc
from ontology import Schema
from ontology.names import Label

# Node types the model never sees as nodes: outcomes are folded into Deal flags, deal changes into the
# deal's timeline features; activities are nodes only while the activity family is on.
NOT_NODES = (OUTCOME, Label.DEAL_CHANGE)
MAX_CATEGORIES = 20


@dataclass
class FeatureSpec:
    """What each feature column means and how it is scaled; fitted once on training data, saved with the model."""

    numeric: dict[str, list[str]] = field(default_factory=dict)
    categories: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    mean: dict[str, list[float]] = field(default_factory=dict)
    std: dict[str, list[float]] = field(default_factory=dict)
    split_relations: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    # Relations out of a deal whose neighbours' records at the deal's opening are deal features (`gnn.history`),
    # and the training period's win rate those records are measured against. Empty in models saved before.
    history: list[str] = field(default_factory=list)
    base_rate: float = 0.5
    # Signal families of `gnn.timeline` this model reads ("history", "activity"), and the stages one-hot
    # encoded. Empty in models saved before, and where the training data had none.
    timeline: list[str] = field(default_factory=list)
    stages: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, schema: Schema, snapshot: Snapshot, families: tuple[str, ...] = (tl.HISTORY, tl.ACTIVITY)
            ) -> FeatureSpec:
        """Fit on the training period's snapshot; `families` limits the timeline families to those named
        (a family the snapshot has no data for is left out whatever is asked)."""
        spec = cls()
        spec.timeline = [f for f in families if _has_family(snapshot, f)]
        if tl.HISTORY in spec.timeline:
            spec.stages = tl.stage_values(snapshot)
        for label, node in schema.nodes.items():
            if label in NOT_NODES or (label == ACTIVITY_NODE and tl.ACTIVITY not in spec.timeline):
                continue
            frame = snapshot.nodes[label]
            usable = [p for p in node.properties if not p.current_value_only]
            spec.numeric[label] = [p.name for p in usable if p.datatype in ("decimal", "integer")]
            spec.categories[label] = {
                p.name: _top_values(frame[p.name]) for p in usable if p.categorical and p.datatype == "string"
            }
        for name, rel in schema.relations.items():
            closed = next((p for p in rel.properties if p.allowed), None)
            if closed is not None and closed.allowed:
                spec.split_relations[name] = (closed.name, list(closed.allowed))
            if rel.source == Label.DEAL and rel.target not in NOT_NODES:
                spec.history.append(name)
        spec.base_rate = base_win_rate(snapshot)
        # Scaling comes from the raw columns of the fitting snapshot (the training period).
        for label in spec.numeric:
            raw = _raw_columns(spec, label, snapshot, _reference_time(snapshot))
            spec.mean[label] = raw.mean(axis=0).tolist() if len(raw) else [0.0] * raw.shape[1]
            spec.std[label] = (raw.std(axis=0) + 1e-6).tolist() if len(raw) else [1.0] * raw.shape[1]
            if label == Label.DEAL and spec.timeline:
                # Timeline columns are log counts, log days, one-hots and shares already: left unscaled, since the
                # fitting snapshot (every deal as of T1, most of them closed) is not what examples look like, and a
                # column constant in it (every deal with a history) would blow up by 1 / 1e-6 where it is not.
                start = len(spec.numeric[label]) + 1 + len(spec.history)
                for i in range(start, start + len(tl.column_names(spec.timeline, spec.stages))):
                    spec.mean[label][i], spec.std[label][i] = 0.0, 1.0
        return spec

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("numeric", "categories", "mean", "std", "split_relations", "history",
                                              "base_rate", "timeline", "stages")}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureSpec:
        data = dict(data)
        data["split_relations"] = {k: tuple(v) for k, v in data.get("split_relations", {}).items()}
        return cls(**data)

    def column_names(self, label: str) -> list[str]:
        names = ["bias", *self.numeric[label]]
        if label == Label.DEAL:
            names += ["age_days", *(f"{HISTORY_PREFIX}{r}" for r in self.history),
                      *tl.column_names(self.timeline, self.stages), "won", "lost"]
        if label == ACTIVITY_NODE:
            names.append("age_days")
        for prop, values in self.categories[label].items():
            names += [f"{prop}={v}" for v in values] + [f"{prop}=other"]
        return names

    def category_columns(self, label: str) -> dict[str, list[int]]:
        """Per categorical property of `label`, its one-hot columns (values, then `other`): the last columns."""
        out, start = {}, len(self.column_names(label)) - sum(len(v) + 1 for v in self.categories[label].values())
        for prop, values in self.categories[label].items():
            out[prop] = list(range(start, start + len(values) + 1))
            start += len(values) + 1
        return out


HISTORY_PREFIX = "record_at_open:"
ACTIVITY_NODE = Label.ACTIVITY


def _has_family(snapshot: Snapshot, family: str) -> bool:
    """Whether the snapshot holds any data of a timeline family (the export had the files)."""
    label = Label.DEAL_CHANGE if family == tl.HISTORY else ACTIVITY_NODE
    return label in snapshot.nodes and not snapshot.nodes[label].empty


def table_columns(spec: FeatureSpec, label: str) -> list[int]:
    """The columns of `label`'s features a per-node table may use: all but the records at opening, which are
    the graph's history (`gnn.history`), not the node's own attributes."""
    return [i for i, name in enumerate(spec.column_names(label)) if not name.startswith(HISTORY_PREFIX)]


def _top_values(series: pd.Series) -> list[str]:
    counts = series.dropna().astype(str).value_counts()
    return sorted(counts.index[:MAX_CATEGORIES].tolist())


def _reference_time(snapshot: Snapshot) -> pd.Timestamp:
    if snapshot.as_of_time is not None:
        return pd.Timestamp(snapshot.as_of_time)
    return latest_event_time(snapshot)


def latest_event_time(snapshot: Snapshot) -> pd.Timestamp:
    """The time of the newest fact in a snapshot: "now" as far as the data knows."""
    times = []
    for label, frame in snapshot.nodes.items():
        col = frame[snapshot.schema.nodes[label].time]
        if col.notna().any():
            times.append(col.max())
    return max(times) + pd.Timedelta(seconds=1)


def _raw_columns(spec: FeatureSpec, label: str, snapshot: Snapshot, now: pd.Timestamp) -> np.ndarray:
    frame = snapshot.nodes[label]
    cols = [np.log1p(frame[n].clip(lower=0).fillna(0).to_numpy(float)) for n in spec.numeric[label]]
    if label == Label.DEAL:
        age = (now - frame["created_at"]).dt.total_seconds().fillna(0).to_numpy(float) / 86400.0
        cols.append(np.log1p(np.clip(age, 0, None)))
        cols += [records_at_open(snapshot, relation, spec.base_rate) for relation in spec.history]
        if spec.timeline:
            cols += list(tl.timeline_columns(snapshot, now, spec.timeline, spec.stages).T)
    if label == ACTIVITY_NODE:
        age = (now - frame[snapshot.schema.nodes[label].time]).dt.total_seconds().fillna(0).to_numpy(float) / 86400.0
        cols.append(np.log1p(np.clip(age, 0, None)))
    return np.stack(cols, axis=1) if cols else np.zeros((len(frame), 0))


def node_features(spec: FeatureSpec, snapshot: Snapshot, label: str, now: pd.Timestamp) -> np.ndarray:
    frame = snapshot.nodes[label]
    raw = _raw_columns(spec, label, snapshot, now)
    scaled = (raw - np.asarray(spec.mean[label])) / np.asarray(spec.std[label]) if raw.shape[1] else raw
    parts = [np.ones((len(frame), 1)), scaled]
    if label == Label.DEAL:
        flags = outcome_flags(snapshot).reindex(frame["id"]).fillna(0.0).to_numpy(float)
        parts.append(flags)
    for prop, values in spec.categories[label].items():
        # One lookup per row, not a string comparison per value: -1 is a missing value or one not in `values`.
        code = pd.Index(values, dtype=object).get_indexer(frame[prop].astype("string"))
        onehot = np.concatenate([code[:, None] == np.arange(len(values)), (code < 0)[:, None]], axis=1)
        parts.append(onehot.astype(float))
    return np.concatenate(parts, axis=1).astype(np.float32)


def encode(spec: FeatureSpec, snapshot: Snapshot, now: datetime | pd.Timestamp | None = None) -> HeteroData:
    """The snapshot as model input: `x` per node type, typed edges in both directions.

    Reverse edges are named `rev_<RELATION>`; split relations split only their reverse edges,
    `rev_<RELATION>:<value>`.
    Each node type keeps `node_id` (the store ids) in row order, `table_columns` (`table_columns`), and `time`
    (epoch seconds it became known, for `gnn.sampling`).
    """
    schema = snapshot.schema
    now_ts = pd.Timestamp(to_utc(now)) if isinstance(now, datetime) else (now or _reference_time(snapshot))
    data = HeteroData()
    for label in spec.numeric:
        data[label].x = torch.from_numpy(node_features(spec, snapshot, label, now_ts))
        data[label].node_id = snapshot.nodes[label]["id"].tolist()
        data[label].table_columns = table_columns(spec, label)
        # When each node became known: the neighbour sampler keeps a hub's most recent senders (`gnn.sampling`).
        data[label].time = epoch_seconds(snapshot.nodes[label][schema.nodes[label].time])
    for name, rel in schema.relations.items():
        if rel.source not in spec.numeric or rel.target not in spec.numeric:
            continue  # folded into deal features, or a family this model does not read
        index = snapshot.edge_index(name)
        frame = snapshot.edges[name]
        if name in spec.split_relations:
            prop, values = spec.split_relations[name]
            groups = [(f"{name}:{v}", (frame[prop] == v).to_numpy(bool)) for v in values]
            groups.append((f"{name}:unknown", (~frame[prop].isin(values)).to_numpy(bool)))
        else:
            groups = [(name, np.ones(index.shape[1], bool))]
        # Forward messages pool every edge (a contact's record counts all its deals, whatever the role);
        # the reverse ones are split, so a deal weighs its champion's record apart from a user's.
        data[rel.source, name, rel.target].edge_index = torch.from_numpy(index)
        when = epoch_seconds(frame[rel.valid_from]) if rel.valid_from else None  # a line item's, a role's time
        if when is not None:
            data[rel.source, name, rel.target].time = when
        for edge_name, keep in groups:
            data[rel.target, f"rev_{edge_name}", rel.source].edge_index = torch.from_numpy(index[:, keep]).flip(0)
            if when is not None:
                data[rel.target, f"rev_{edge_name}", rel.source].time = when[torch.from_numpy(keep.copy())]
    return data
