"""A snapshot of the graph in memory: pandas tables, and exports to PyG and networkx.

`Snapshot.as_of(t)` applies the store contract's time rule to the tables, so
a model trained on a snapshot as of t sees exactly what was known before t.

Example:
    >>> snap = store.snapshot()                      # everything
    >>> past = snap.as_of(datetime(2026, 1, 1, tzinfo=UTC))
    >>> data = past.to_pyg()                         # HeteroData
    >>> g = past.to_networkx()                       # MultiDiGraph
    >>> past.nodes["Deal"].head()                    # pandas
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd

from graph.dated_values import known_values
from graph.timefmt import to_timestamps, to_utc
from ontology import NodeType, Relation, Schema

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData

TIME_TYPES = ("date", "dateTime")


def pyg_edge_type(schema: Schema, relation: str) -> tuple[str, str, str]:
    """The one naming rule for PyG edge types: (source label, relation, target label)."""
    rel = schema.relations[relation]
    return (rel.source, rel.name, rel.target)


@dataclass(frozen=True)
class Snapshot:
    """Node tables by label and edge tables by relation, all as pandas frames."""

    schema: Schema
    nodes: Mapping[str, pd.DataFrame]
    edges: Mapping[str, pd.DataFrame]
    as_of_time: datetime | None = None
    # Node indexes by label and edge ends' positions by relation, made on first use: the tables never change, and
    # every reader of a big graph wants them (encoding, fingerprints, the timeline), each a hash of every id.
    _positions: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_rows(cls, schema: Schema, nodes: Mapping[str, list[dict]], edges: Mapping[str, list[dict]]) -> Snapshot:
        node_frames = {label: pd.DataFrame(nodes.get(label, []), columns=snapshot_columns(node_type))
                       for label, node_type in schema.nodes.items()}
        edge_frames = {name: pd.DataFrame(edges.get(name, []), columns=snapshot_columns(rel))
                       for name, rel in schema.relations.items()}
        return cls.from_frames(schema, node_frames, edge_frames)

    @classmethod
    def from_frames(cls, schema: Schema, nodes: Mapping[str, pd.DataFrame], edges: Mapping[str, pd.DataFrame],
                    ordered: bool = False) -> Snapshot:
        """From raw tables with the columns `snapshot_columns` names, values as stored (times as text).

        `ordered`: the rows already come in the snapshot's order (nodes by key, edges by src and dst; a store
        reading them sorted by its index), so the frames are not sorted again (most of a 1M-row read's cost)."""
        node_frames = {}
        for label, node_type in schema.nodes.items():
            frame = _typed(nodes[label], node_type.properties)
            node_frames[label] = frame if ordered else frame.sort_values(node_type.key, ignore_index=True)
        snap = cls(schema, node_frames, {})
        edge_frames, ends = {}, {}
        for name, rel in schema.relations.items():
            frame = _typed(edges[name], rel.properties)
            src = snap.node_index(rel.source).get_indexer(frame["src"])
            dst = snap.node_index(rel.target).get_indexer(frame["dst"])
            # Edges whose ends are missing cannot be drawn; the loader prevents them anyway.
            ok = (src >= 0) & (dst >= 0)
            kept = frame if ok.all() else frame[ok].reset_index(drop=True)
            edge_frames[name] = kept if ordered else kept.sort_values(["src", "dst"], ignore_index=True)
            ends[name] = (src[ok], dst[ok])
        snap = cls(schema, node_frames, edge_frames)
        if ordered:  # the positions found are the edges' (unsorted ones are found again on first use)
            snap._positions.update({("ends", name): _frozen(*pair) for name, pair in ends.items()})
        return snap

    def as_of(self, t: datetime) -> Snapshot:
        """The graph as known strictly before `t` (see `graph.store` for the rule).

        A property with dated values (`dg:historyClass`: a deal's stage, amount, close date) takes the last
        value recorded before `t`; without one it keeps today's only where the ontology says that is safe
        (`graph.dated_values`).
        """
        at = pd.Timestamp(to_utc(t))
        nodes = {}
        for label, frame in self.nodes.items():
            time = frame[self.schema.nodes[label].time]
            nodes[label] = frame[time.isna() | (time < at)].reset_index(drop=True)
        edges = {}
        for name, frame in self.edges.items():
            rel = self.schema.relations[name]
            keep = frame["src"].isin(nodes[rel.source][self.schema.nodes[rel.source].key])
            keep &= frame["dst"].isin(nodes[rel.target][self.schema.nodes[rel.target].key])
            if rel.valid_from:
                keep &= frame[rel.valid_from].isna() | (frame[rel.valid_from] < at)
            if rel.valid_to:
                keep &= frame[rel.valid_to].isna() | (frame[rel.valid_to] > at)
            edges[name] = frame[keep].reset_index(drop=True)
        for label in self.schema.nodes:
            nodes[label] = known_values(self.schema, nodes, edges, label)
        return Snapshot(self.schema, nodes, edges, to_utc(at.to_pydatetime()))

    def timeline(self) -> Timeline:
        """`as_of` for many times at once: the time rule on positions computed once (`Timeline`)."""
        return Timeline(self)

    def node_index(self, label: str) -> pd.Index:
        """Position of each node id in this snapshot's tables (and in `to_pyg()`)."""
        key = ("nodes", label)
        if key not in self._positions:
            self._positions[key] = pd.Index(self.nodes[label][self.schema.nodes[label].key])
        index: pd.Index = self._positions[key]
        return index

    def edge_ends(self, relation: str) -> tuple[np.ndarray, np.ndarray]:
        """Positions of each edge's source and target among their nodes (-1: not in this snapshot)."""
        key = ("ends", relation)
        if key not in self._positions:
            rel, frame = self.schema.relations[relation], self.edges[relation]
            self._positions[key] = _frozen(self.node_index(rel.source).get_indexer(frame["src"]),
                                           self.node_index(rel.target).get_indexer(frame["dst"]))
        ends: tuple[np.ndarray, np.ndarray] = self._positions[key]
        return ends

    def edge_index(self, relation: str) -> np.ndarray:
        """The relation's edges as a 2 x E array of node positions."""
        return np.vstack(self.edge_ends(relation)).astype(np.int64)

    def to_pyg(self) -> HeteroData:
        """Structure as PyG `HeteroData`: `num_nodes` and `node_id` per type, `edge_index` per relation.

        Features are the model's business (`gnn.features`); this export carries
        only the graph and the ids, so any model can add its own.
        """
        # Imported here: the API reads the store without needing torch.
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for label in self.schema.nodes:
            ids = self.node_index(label)
            data[label].num_nodes = len(ids)
            data[label].node_id = list(ids)
        for name in self.schema.relations:
            data[pyg_edge_type(self.schema, name)].edge_index = torch.from_numpy(self.edge_index(name))
        data.validate()
        return data

    def to_networkx(self) -> nx.MultiDiGraph:
        """A MultiDiGraph with nodes keyed `(label, id)`, their properties, and typed edges."""
        g = nx.MultiDiGraph(as_of=self.as_of_time)
        for label, frame in self.nodes.items():
            key = self.schema.nodes[label].key
            for row in frame.to_dict("records"):
                g.add_node((label, row[key]), label=label, **_clean(row))
        for name, frame in self.edges.items():
            rel = self.schema.relations[name]
            for row in frame.to_dict("records"):
                props = _clean(row)
                src, dst = props.pop("src"), props.pop("dst")
                g.add_edge((rel.source, src), (rel.target, dst), key=name, relation=name, **props)
        return g


class Timeline:
    """The snapshot as of any time, cut from times and edge ends computed once, not from ids per cut.

    `Snapshot.as_of` matches every edge's ends against the surviving nodes' ids; training cuts the graph at
    every cutoff, and those id lookups were a fifth of building its examples. Here each node table's times and
    each edge's end positions are read once, so a cut is boolean masks on arrays. Same rule, same frames
    (tested against `as_of`).
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        schema = snapshot.schema
        self.node_time = {label: _nanos(frame[schema.nodes[label].time], missing=_EARLIEST)
                          for label, frame in snapshot.nodes.items()}
        self.ends: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.valid: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {}
        for name, frame in snapshot.edges.items():
            rel = schema.relations[name]
            self.ends[name] = snapshot.edge_ends(name)
            self.valid[name] = (_nanos(frame[rel.valid_from], missing=_EARLIEST) if rel.valid_from else None,
                                _nanos(frame[rel.valid_to], missing=_LATEST) if rel.valid_to else None)

    def as_of(self, t: datetime) -> Snapshot:
        """The same frames as `Snapshot.as_of(t)`."""
        at = pd.Timestamp(to_utc(t))
        cut = at.as_unit("ns").value
        kept = {label: times < cut for label, times in self.node_time.items()}
        nodes = {label: frame[kept[label]].reset_index(drop=True) for label, frame in self.snapshot.nodes.items()}
        edges = {}
        for name, frame in self.snapshot.edges.items():
            rel = self.snapshot.schema.relations[name]
            src, dst = self.ends[name]
            keep = (src >= 0) & (dst >= 0)
            keep[keep] &= kept[rel.source][src[keep]] & kept[rel.target][dst[keep]]
            since, until = self.valid[name]
            if since is not None:
                keep &= since < cut
            if until is not None:
                keep &= until > cut
            edges[name] = frame[keep].reset_index(drop=True)
        for label in self.snapshot.schema.nodes:  # dated values as known then, the rule `Snapshot.as_of` applies
            nodes[label] = known_values(self.snapshot.schema, nodes, edges, label)
        return Snapshot(self.snapshot.schema, nodes, edges, to_utc(at.to_pydatetime()))


_EARLIEST = np.iinfo(np.int64).min  # a missing time: known before any cut (as `as_of` keeps NaT)
_LATEST = np.iinfo(np.int64).max  # a missing end: still valid


def _nanos(times: pd.Series, missing: int) -> np.ndarray:
    """Times as int64 nanoseconds since the epoch (UTC); a missing one as `missing`."""
    values = pd.to_datetime(times, utc=True).dt.as_unit("ns")
    out = np.full(len(values), missing, dtype=np.int64)
    known = values.notna().to_numpy()
    out[known] = values[known].astype("int64").to_numpy()
    return out


def _frozen(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Read-only, as they are shared by every reader of the snapshot."""
    src.setflags(write=False)
    dst.setflags(write=False)
    return src, dst


def snapshot_columns(typed: NodeType | Relation) -> list[str]:
    """The columns of a node type's or relation's snapshot table: key and properties, or src, dst and properties."""
    if isinstance(typed, NodeType):
        return [typed.key, *typed.property_names]
    return ["src", "dst", *typed.property_names]


def _typed(frame: pd.DataFrame, properties: tuple) -> pd.DataFrame:
    frame = frame.copy()
    for p in properties:
        if p.datatype in TIME_TYPES:
            frame[p.name] = to_timestamps(frame[p.name])
        elif p.datatype in ("decimal", "integer"):
            frame[p.name] = pd.to_numeric(frame[p.name], errors="coerce").astype("float64")
        elif p.datatype == "boolean":
            frame[p.name] = frame[p.name].astype("boolean")
    return frame


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    """Drop missing values so networkx attributes are only the known facts."""
    return {k: v for k, v in row.items()
            if v is not None and not (isinstance(v, float) and np.isnan(v)) and v is not pd.NaT}
