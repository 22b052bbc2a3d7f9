"""Evidence paths from a deal through its computation graph, and the choice of the few shown as reasons.

A path runs from the deal along the messages that reach it and ends at evidence: a contact, an account, a
product, a rep, an activity, or a deal whose outcome was known. Every path gets an attribution weight
(`evidence_paths`, from the edge attributions); the strongest (`candidates`) are then measured by occlusion —
the model's own logit with the path's edges put back to their reference (`gnn.explain`) — and the reasons
shown are the paths whose measured effect is largest, one per first step (`reasons`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch_geometric.data import HeteroData

from graph.explanation import Phrase
from ontology.names import Label

if TYPE_CHECKING:
    from gnn.node_facts import Facts
    from gnn.subgraph import Piece

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class Step:
    label: str
    pos: int  # position in the full encoded graph
    edge_type: EdgeType | None = None  # the message edge type that reached the previous step
    edge_pos: int | None = None  # its position within the subgraph's edges of that type


def is_evidence(step: Step, facts: Facts) -> bool:
    if step.label != Label.DEAL:
        return True
    return facts.node_id(Label.DEAL, step.pos) in facts.result


def evidence_paths(sub: HeteroData, node_map: dict[str, torch.Tensor], target: int, masks: dict,
           hops: int) -> list[tuple[float, list[Step]]]:
    """Every simple path from the deal (in full-graph positions) with the attribution it carries.

    A path's weight is the edge into its last node plus everything that node passes on from its own
    neighbours: for "the account's record" the account edge and the edges of its earlier deals; for "an
    earlier deal at the account, which was won" that deal's edge alone. Summing a path's edges instead
    would credit a won deal with its whole account, which is how a won deal came to "lower" a score.
    """
    incoming: dict[tuple[str, int], list[tuple[EdgeType, int, int, float]]] = defaultdict(list)
    for edge_type, store in sub.edge_items():
        src, _, dst = edge_type
        attr = masks[edge_type].tolist()
        for k, (u, v) in enumerate(store.edge_index.t().tolist()):
            incoming[(dst, v)].append((edge_type, k, u, attr[k]))
    inflow = {node: sum(a for *_, a in edges) for node, edges in incoming.items()}
    out: list[tuple[float, list[Step]]] = []
    start = Step(Label.DEAL, target)
    positions = {t: v.tolist() for t, v in node_map.items()}  # a list per type: a tensor per lookup cost more

    def walk(path: list[Step], local: tuple[str, int], depth: int) -> None:
        if depth == hops:
            return
        for edge_type, k, u, a in incoming.get(local, []):
            label = edge_type[0]
            pos = positions[label][u]
            if any(s.label == label and s.pos == pos for s in path):
                continue
            nxt = path + [Step(label, pos, edge_type, k)]
            out.append((a + inflow.get((label, u), 0.0), nxt))
            walk(nxt, (label, u), depth + 1)

    local_target = positions[Label.DEAL].index(target)
    walk([start], (Label.DEAL, local_target), 0)
    return out


#: Paths measured by occlusion per deal, and at most this many sharing a first step: enough that the strongest
#: few by measured effect are among them (the attribution ranks them well, not exactly), few enough that their
#: occlusions cost less than the attributions did.
CANDIDATES, PER_FIRST_STEP = 12, 3


def candidates(evidence: list[tuple[float, list[Step]]], k: int = CANDIDATES,
               per_first_step: int = PER_FIRST_STEP) -> list[tuple[float, list[Step]]]:
    """The paths worth measuring: strongest attribution first, no first step taking more than its share."""
    out: list[tuple[float, list[Step]]] = []
    taken: defaultdict[tuple[str, int], int] = defaultdict(int)
    for c in sorted(evidence, key=lambda c: -abs(c[0])):
        key = (c[1][1].label, c[1][1].pos)
        if taken[key] < per_first_step:
            taken[key] += 1
            out.append(c)
            if len(out) == k:
                break
    return out


#: Below this a path's weight is no reason either way: "raises" by nothing would mislead.
MIN_WEIGHT = 5e-5


def reasons(weighted: list[tuple[float, list[Step]]], word: Callable[[list[Step]], tuple[Phrase, int]],
            top: int) -> tuple[list[tuple[float, list[Step], Phrase]], int]:
    """The paths shown as reasons — (weight, steps, phrase), strongest first, one per first step — and how many
    of the strongest were withheld because their words take the other side from their weight.

    `word` gives a path's phrase and the side its words take (+1, -1, 0: none); only the paths that can still be
    chosen are worded, strongest first, which is most of the cost of a reason."""
    ordered = sorted(weighted, key=lambda c: -abs(c[0]))
    worded: dict[int, tuple[Phrase, int]] = {}

    def words(i: int) -> tuple[Phrase, int]:
        if i not in worded:
            worded[i] = word(ordered[i][1])
        return worded[i]

    def first_step(i: int) -> tuple[str, int]:
        step = ordered[i][1][1]
        return step.label, step.pos

    strongest = top_distinct([(w, p, i) for i, (w, p) in enumerate(ordered)], top)
    withheld = sum(words(i)[1] * w < 0 for w, _, i in strongest)
    chosen: list[tuple[float, list[Step], Phrase]] = []
    taken: set[tuple[str, int]] = set()
    for i, (w, p) in enumerate(ordered):
        if len(chosen) == top or abs(w) < MIN_WEIGHT:
            break
        if first_step(i) in taken:
            continue
        phrase, polarity = words(i)
        if polarity * w >= 0:
            taken.add(first_step(i))
            chosen.append((w, p, phrase))
    return chosen, withheld


def edge_positions(piece: Piece, paths: list, into: dict) -> set[tuple[EdgeType, int]]:
    """Add the batch positions of the paths' edges to `into`; return them as (type, local position)."""
    local = set()
    for path in paths:
        for s in path[1][1:]:
            if (s.edge_type, s.edge_pos) not in local:
                local.add((s.edge_type, s.edge_pos))
                into[s.edge_type].append(piece.edge_start[s.edge_type] + s.edge_pos)
    return local


def random_like(candidates: list, chosen: list, rng: np.random.Generator) -> list:
    """Random evidence paths with the same lengths as the chosen ones, none of them chosen."""
    picked = {id(c[1]) for c in chosen}
    by_length: dict[int, list] = defaultdict(list)
    for c in candidates:
        if id(c[1]) not in picked:
            by_length[len(c[1])].append(c)
    out = []
    for c in chosen:
        pool = by_length.get(len(c[1]))
        if pool:
            out.append(pool.pop(int(rng.integers(len(pool)))))
    return out


def top_distinct(candidates: list, top: int) -> list:
    """The strongest paths, one per first step, so a single hub cannot fill the list."""
    candidates.sort(key=lambda c: -abs(c[0]))
    chosen, first_steps = [], set()
    for c in candidates:
        key = (c[1][1].label, c[1][1].pos)
        if key not in first_steps:
            first_steps.add(key)
            chosen.append(c)
            if len(chosen) == top:
                break
    return chosen
