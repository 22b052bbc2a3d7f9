"""Sampled computation graphs: each target deal sees a bounded, most-recent-first neighbourhood.

Full-batch message passing costs the whole graph per cutoff, and a deal's
computation graph (two hops: deal <- product <- every deal of the product)
grows with its busiest neighbour: hubs, not rows, drive the cost. Here each
node hears from at most `fanout` senders per edge type, the most recent ones
(by the latest of the edge's own time and its two ends' times), and a mini-batch of target deals runs
the model on the union of their sampled neighbourhoods only.

Why not PyG's `NeighborLoader`: it needs pyg-lib or torch-sparse, which have
no wheels here. This sampler is small and vectorised: per edge type one CSR
by receiver, senders ordered newest first, so capping a node is taking the
first `fanout` entries of its row.

Properties the rest relies on:
- Generic: every node and edge type of the encoded graph, whatever the schema declares.
- Time-respecting: it samples from the graph it is given, the snapshot as of a
  cutoff (`gnn.dataset`), so nothing after the cutoff is there to be seen.
- Deterministic: a node's sampled senders do not depend on which other deals
  share its batch, so a deal's score is the same in any batch (incremental
  scoring relies on it), and with `fanout` above every degree the sampled
  model computes exactly the full-batch model's predictions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

EdgeType = tuple[str, str, str]

#: Node times are epoch seconds; a node without a time counts as the oldest.
NO_TIME = -(2**62)  # far below any epoch second, and negatable (newest-first order negates times)


@dataclass
class Sample:
    """One sampled computation graph: nodes (positions in the full graph, per type) and edges between them.

    `x_dict` and `edge_index_dict` are what the model takes; `seeds` are the target deals' rows in it.
    """

    nodes: dict[str, Tensor]  # global positions, per node type, in local order
    edge_index_dict: dict[EdgeType, Tensor]  # local positions
    x_dict: dict[str, Tensor]
    seeds: Tensor  # local rows of the target nodes, in the order asked
    target: str
    hops: int


class NeighbourSampler:
    """Per edge type, the senders into each node newest first; `sample` cuts a batch's computation graph.

    Example:
        >>> sampler = NeighbourSampler(data, fanout=32, hops=2)
        >>> s = sampler.sample("Deal", torch.tensor([0, 5, 9]))
        >>> logits = model(s.x_dict, s.edge_index_dict)[s.seeds]
    """

    def __init__(self, data: HeteroData, fanout: int | None, hops: int) -> None:
        """`fanout`: senders per node and edge type (None: all, the full computation graph). Times are the
        encoded `data[t].time` and edge `time` (`gnn.features.encode`); without them, all equal."""
        self.data = data
        self.fanout = fanout
        self.hops = hops
        self.num_nodes = {t: int(data[t].num_nodes) for t in data.node_types}
        # Local row of each node in the sample being cut (-1: not in it); reset after each cut, so a cut costs
        # its own size, not the graph's (explaining cuts one deal's graph at a time). Not for concurrent use.
        # numpy, as are the CSRs below: a deal's cut is many small steps, and numpy's cost less each than torch's.
        self._local = {t: np.full(n, -1, dtype=np.int64) for t, n in self.num_nodes.items()}
        self.csr: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
        for edge_type in data.edge_types:
            src_t, _, dst_t = edge_type
            ei = data[edge_type].edge_index
            src, dst = ei[0].numpy(), ei[1].numpy()
            when = np.maximum(_times(data, src_t)[src], _times(data, dst_t)[dst])
            if "time" in data[edge_type]:  # the edge's own time (a line item added later), when it has one
                when = np.maximum(when, data[edge_type].time.numpy())
            # Receiver ascending, then newest first; ties by sender so the order never depends on the input's.
            order = np.lexsort((src, -when if len(when) else when, dst))
            counts = np.bincount(dst, minlength=self.num_nodes[dst_t])
            ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self.csr[edge_type] = (ptr, src[order].copy())

    def sample(self, target: str, seeds: Tensor, hops: int | None = None,
               joining: dict[str, Tensor] | None = None) -> Sample:
        """The union of the seeds' sampled computation graphs (edges only into nodes within `hops - 1`).

        `joining`: nodes treated as one step from the seeds (a contact a suggestion would add to the deal):
        they are sampled as the seeds' neighbours are; the edges that join them are the caller's to add."""
        nodes: dict[str, list[np.ndarray]] = {t: [] for t in self.num_nodes}
        try:
            return self._cut(target, seeds.long().numpy(), self.hops if hops is None else hops,
                             {t: v.long().numpy() for t, v in (joining or {}).items()}, nodes)
        finally:  # whatever happened, the next cut starts from a clean slate
            for t, parts in nodes.items():
                for pos in parts:
                    self._local[t][pos] = -1

    def _cut(self, target: str, seeds: np.ndarray, hops: int, joining: dict[str, np.ndarray],
             nodes: dict[str, list[np.ndarray]]) -> Sample:
        local = self._local
        count = dict.fromkeys(self.num_nodes, 0)

        def admit(t: str, positions: np.ndarray) -> np.ndarray:
            """Give unseen positions local rows; returns the newly admitted ones (the next frontier)."""
            fresh = np.unique(positions[local[t][positions] < 0])
            local[t][fresh] = np.arange(count[t], count[t] + len(fresh))
            count[t] += len(fresh)
            nodes[t].append(fresh)
            return fresh

        unique_seeds = np.unique(seeds)
        nodes[target].append(unique_seeds)
        local[target][unique_seeds] = np.arange(len(unique_seeds))
        count[target] = len(unique_seeds)
        frontier: dict[str, np.ndarray] = {target: unique_seeds}
        edges: dict[EdgeType, list[tuple[np.ndarray, np.ndarray]]] = {e: [] for e in self.csr}
        for hop in range(hops):
            found: dict[str, list[np.ndarray]] = {}
            for edge_type, (ptr, senders) in self.csr.items():
                receivers = frontier.get(edge_type[2])
                if receivers is None or not len(receivers):
                    continue
                rows = _capped_rows(ptr, receivers, self.fanout)
                receiver_of = np.repeat(receivers, _row_counts(ptr, receivers, self.fanout))
                edges[edge_type].append((senders[rows], receiver_of))
                found.setdefault(edge_type[0], []).append(senders[rows])
            # New senders are admitted after every edge type of the hop, so the frontier is exactly the
            # nodes first reached at this distance.
            frontier = {t: admit(t, np.concatenate(parts)) for t, parts in found.items()}
            if hop == 0 and joining:
                for t, positions in joining.items():
                    frontier[t] = np.concatenate([frontier.get(t, np.zeros(0, dtype=np.int64)), admit(t, positions)])
        node_pos = {t: torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, dtype=torch.long)
                    for t, parts in nodes.items()}
        edge_index = {}
        for edge_type, parts in edges.items():
            if not parts:
                continue
            src = np.concatenate([p[0] for p in parts])
            dst = np.concatenate([p[1] for p in parts])
            edge_index[edge_type] = torch.from_numpy(np.stack([local[edge_type[0]][src], local[edge_type[2]][dst]]))
        x = {t: self.data[t].x[pos] for t, pos in node_pos.items() if "x" in self.data[t]}
        return Sample(node_pos, edge_index, x, torch.from_numpy(local[target][seeds]), target, hops)

    def digests(self, target: str, positions: Tensor) -> list[str]:
        """Per target node, a fingerprint of its sampled computation graph: every node's id and inputs and the
        sampled edges, unrolled `hops` deep (Weisfeiler-Lehman style, over every node's capped senders at once).
        Equal fingerprints, equal scores: the sampler is deterministic. Incremental scoring compares them."""
        state = {t: _node_hashes(self.data, t) for t in self.num_nodes}
        own = dict(state)
        edges = {}
        for edge_type, (ptr, senders) in self.csr.items():
            # Every node's capped senders at once, receivers in order: the slots of each CSR row below `fanout`.
            receiver_of = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            slots = np.arange(len(receiver_of))
            if self.fanout is not None:
                slots = np.flatnonzero(slots - ptr[receiver_of] < self.fanout)
                receiver_of = receiver_of[slots]
            first = np.flatnonzero(np.r_[True, receiver_of[1:] != receiver_of[:-1]]) if len(slots) else slots
            edges[edge_type] = (senders[slots], receiver_of[first], first, _text_hash(str(edge_type)))
        for _ in range(self.hops):
            heard = {t: np.zeros(n, dtype=np.uint64) for t, n in self.num_nodes.items()}
            for (src_t, _, dst_t), (src, receivers, first, salt) in edges.items():
                total = np.zeros(self.num_nodes[dst_t], dtype=np.uint64)
                if len(src):  # a sum per receiver (its senders are contiguous): the multiset, as a mean reads it
                    total[receivers] = np.add.reduceat(_mix(state[src_t][src]), first)
                heard[dst_t] += _mix(total ^ salt)
            state = {t: _mix(own[t] * _ODD + heard[t]) for t in self.num_nodes}
        return [f"{v:016x}" for v in state[target][positions.numpy()].tolist()]

    def batches(self, target: str, seeds: Tensor, batch_size: int) -> Iterator[tuple[Tensor, Sample]]:
        """`(rows of seeds, Sample)` per mini-batch of `batch_size` seeds, in the order given."""
        for i in range(0, len(seeds), batch_size):
            rows = torch.arange(i, min(i + batch_size, len(seeds)))
            yield rows, self.sample(target, seeds[rows])


def epoch_seconds(times: pd.Series) -> Tensor:
    """Node times as epoch seconds for `data[t].time` (`gnn.features.encode`); a missing time as the oldest."""
    values = pd.to_datetime(times.reset_index(drop=True), utc=True)
    out = np.full(len(values), NO_TIME, dtype=np.int64)
    known = values.notna().to_numpy()
    out[known] = ((values[known] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
    return torch.from_numpy(out)


def _row_counts(ptr: np.ndarray, receivers: np.ndarray, fanout: int | None) -> np.ndarray:
    """Each receiver's senders, capped at `fanout`."""
    degree = ptr[receivers + 1] - ptr[receivers]
    return degree if fanout is None else degree.clip(max=fanout)


def _capped_rows(ptr: np.ndarray, receivers: np.ndarray, fanout: int | None) -> np.ndarray:
    """Positions in the CSR of each receiver's first `fanout` senders (its newest), receivers in order."""
    counts = _row_counts(ptr, receivers, fanout)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.repeat(ptr[receivers], counts)
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return starts + offsets


def _times(data: HeteroData, node_type: str) -> np.ndarray:
    if "time" in data[node_type]:
        return data[node_type].time.numpy().astype(np.int64)
    return np.zeros(int(data[node_type].num_nodes), dtype=np.int64)


_ODD = np.uint64(0x9E3779B97F4A7C15)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, elementwise (uint64 arithmetic wraps, as it should here)."""
    z = x + _ODD
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _text_hash(text: str) -> np.uint64:
    return np.uint64(int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little"))


def _node_hashes(data: HeteroData, node_type: str) -> np.ndarray:
    """Per node: its type, its id and its input row, hashed to 64 bits."""
    n = int(data[node_type].num_nodes)
    ids = getattr(data[node_type], "node_id", None)
    id_hash = (pd.util.hash_array(np.asarray(ids, dtype=object), categorize=False) if ids is not None  # distinct
               else np.arange(n, dtype=np.uint64))
    x = getattr(data[node_type], "x", None)
    x_hash = (pd.util.hash_pandas_object(pd.DataFrame(x.numpy()), index=False, categorize=False).to_numpy(np.uint64)
              if x is not None and x.shape[1] else np.zeros(n, dtype=np.uint64))
    return _mix(_mix(id_hash ^ _text_hash(node_type)) + x_hash)
