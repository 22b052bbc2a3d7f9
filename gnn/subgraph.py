"""A deal's computation graph: the nodes and edges whose messages reach it, and disjoint batches of them.

One forward pass explains (or scores the edits of) many deals at once: their computation graphs are laid side
by side as one graph (`batch`), each deal remembering where its nodes and edges sit (`Piece`).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import HeteroData

from ontology.names import Label

EdgeType = tuple[str, str, str]


class IncomingIndex:
    """For each edge type, the senders of messages into each node (CSR by receiver), for fast BFS."""

    def __init__(self, data: HeteroData) -> None:
        self.by_type: dict[EdgeType, tuple[np.ndarray, np.ndarray]] = {}
        for edge_type, store in data.edge_items():
            src, dst = store.edge_index.numpy()
            order = np.argsort(dst, kind="stable")
            ptr = np.concatenate([[0], np.cumsum(np.bincount(dst, minlength=data[edge_type[2]].num_nodes))])
            self.by_type[edge_type] = (src[order], ptr)

    def senders(self, edge_type: EdgeType, receivers: list[int]) -> np.ndarray:
        src, ptr = self.by_type[edge_type]
        if not receivers:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([src[ptr[v] : ptr[v + 1]] for v in receivers])


def computation_subgraph(index: IncomingIndex, deal_pos: int, hops: int,
                         label: str = Label.DEAL) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Node positions per type that can reach the deal (or the `label` node at `deal_pos`) within `hops`
    layers, and each one's distance."""
    types = {t for e in index.by_type for t in (e[0], e[2])} | {Label.DEAL, label}
    dist: dict[str, dict[int, int]] = {t: {} for t in types}
    dist[label][deal_pos] = 0
    frontier: dict[str, list[int]] = {label: [deal_pos]}
    for hop in range(1, hops + 1):
        nxt: dict[str, set[int]] = defaultdict(set)
        for edge_type in index.by_type:
            receivers = frontier.get(edge_type[2])
            if receivers:
                seen = dist[edge_type[0]]
                nxt[edge_type[0]].update(u for u in index.senders(edge_type, receivers).tolist() if u not in seen)
        for t, nodes in nxt.items():
            for u in nodes:
                dist[t][u] = hop
        frontier = {t: sorted(v) for t, v in nxt.items()}
    node_map = {t: torch.tensor(sorted(d), dtype=torch.long) for t, d in dist.items()}
    distance = {t: torch.tensor([dist[t][u] for u in node_map[t].tolist()], dtype=torch.long) for t in dist}
    return node_map, distance


def prune_to_messages(sub: HeteroData, distance: dict[str, torch.Tensor], hops: int) -> HeteroData:
    """Drop edges into the outermost ring: their messages cannot reach the deal within `hops`
    layers, so the deal's score is exactly the same without them, at a fraction of the cost."""
    for (_, _, dst), store in sub.edge_items():
        ei = store.edge_index
        store.edge_index = ei[:, distance[dst][ei[1]] < hops]
    return sub


@dataclass
class Piece:
    """One deal's pruned computation graph, placed in a batch of disjoint graphs."""

    deal_pos: int
    node_map: dict[str, torch.Tensor]
    sub: HeteroData
    local: int  # the deal's row in the batch
    edge_start: dict[EdgeType, int]  # where its edges start in the batch's edge arrays


def batch(pieces_subs: list[tuple[int, dict, HeteroData]]) -> tuple[list[Piece], dict, dict]:
    """Disjoint union of subgraphs: one forward pass explains them all."""
    node_off: dict[str, int] = defaultdict(int)
    edge_off: dict[EdgeType, int] = defaultdict(int)
    xs: dict[str, list[torch.Tensor]] = defaultdict(list)
    eis: dict[EdgeType, list[torch.Tensor]] = defaultdict(list)
    pieces = []
    for deal_pos, node_map, sub in pieces_subs:
        local = int((node_map[Label.DEAL] == deal_pos).nonzero()[0, 0]) + node_off[Label.DEAL]
        pieces.append(Piece(deal_pos, node_map, sub, local, {e: edge_off[e] for e in sub.edge_types}))
        for (src, rel, dst), store in sub.edge_items():
            shift = torch.tensor([[node_off[src]], [node_off[dst]]])
            eis[(src, rel, dst)].append(store.edge_index + shift)
            edge_off[(src, rel, dst)] += store.edge_index.shape[1]
        for t in sub.node_types:
            xs[t].append(sub[t].x)
            node_off[t] += sub[t].num_nodes
    return pieces, {t: torch.cat(v) for t, v in xs.items()}, {e: torch.cat(v, dim=1) for e, v in eis.items()}

