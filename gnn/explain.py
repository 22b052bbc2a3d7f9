"""Relationship-path explanations of a deal's score, from the model's own attributions.

For one deal: cut its computation graph (the nodes within the model's depth),
attribute the logit to every edge (`gnn.attribution`), then rank the simple
paths from the deal — each ending at evidence (a contact, an account, a
product, a rep, or a deal whose outcome was known) — by the sum of their
edges' attributions. The top paths, with distinct first steps so one hub does
not fill the list, are rendered as typed steps and one sentence with facts
from the same snapshot the model saw.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.data import HeteroData
from torch_geometric.explain.algorithm import ExplainerAlgorithm

from gnn.attribution import make_explainer, masked_logits
from graph.explanation import Detail, ExplainedPath, Explanation, NodeRef, PathStep, Phrase, Segment
from gnn.outcomes import outcome_flags
from gnn.suggest import suggest
from graph.snapshot import Snapshot

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class Step:
    label: str
    pos: int  # position in the full encoded graph
    edge_type: EdgeType | None = None  # the message edge type that reached the previous step
    edge_pos: int | None = None  # its position within the subgraph's edges of that type


class Facts:
    """What the sentences say about nodes, from the snapshot the model saw."""

    COUNTED = {"Contact": "INVOLVES", "Account": "FOR_ACCOUNT", "Product": "FOR_PRODUCT", "Rep": "OWNED_BY"}

    def __init__(self, snapshot: Snapshot, data: HeteroData) -> None:
        self.ids = {t: data[t].node_id for t in data.node_types}
        self.names = {
            label: frame.set_index("id")[snapshot.schema.nodes[label].display].astype(str).to_dict()
            for label, frame in snapshot.nodes.items()
        }
        self.extra = {
            "Account": snapshot.nodes["Account"].set_index("id")["industry"].dropna().to_dict(),
            "Product": snapshot.nodes["Product"].set_index("id")["family"].dropna().to_dict(),
        }
        flags = outcome_flags(snapshot)
        self.result = {d: ("won" if r.won else "lost") for d, r in flags.iterrows()}
        self.deal_account = snapshot.edges["FOR_ACCOUNT"].set_index("src")["dst"].to_dict()
        involves = snapshot.edges["INVOLVES"]
        self.deal_contacts = involves.groupby("src")["dst"].agg(set).to_dict()
        self.roles = dict(zip(zip(involves["src"], involves["dst"]), involves["role"]))
        jobs = snapshot.edges["WORKS_AT"]
        current = jobs[jobs["until"].isna()] if "until" in jobs else jobs
        self.employees = current.groupby("dst")["src"].agg(list).to_dict()
        self.record: dict[tuple[str, str], tuple[int, int]] = {}
        for label, rel in self.COUNTED.items():
            edges = snapshot.edges[rel].assign(result=lambda f: f["src"].map(self.result))
            counts = edges.groupby(["dst", "result"]).size().unstack(fill_value=0)
            for node_id, row in counts.iterrows():
                self.record[(label, node_id)] = (int(row.get("won", 0)), int(row.get("lost", 0)))

    def node_id(self, label: str, pos: int) -> str:
        return self.ids[label][pos]

    def ref_by_id(self, label: str, node_id: str) -> NodeRef:
        return NodeRef(label, node_id, self.names[label].get(node_id, node_id))

    def ref(self, label: str, pos: int) -> NodeRef:
        return self.ref_by_id(label, self.node_id(label, pos))

    def deal_account_ref(self, deal_id: str) -> NodeRef | None:
        account = self.deal_account.get(deal_id)
        return self.ref_by_id("Account", account) if account else None

    def history(self, node: NodeRef, before: str, after: str = "") -> Detail:
        """The node's won/lost record as a detail about it: a reader who may not see the node does not get it."""
        won, lost = self.record.get((node.label, node.id), (0, 0))
        words = f"{won} won and {lost} lost earlier deals" if won + lost else "no closed deals yet"
        return Detail(before + words + after, node)


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


def computation_subgraph(index: IncomingIndex, deal_pos: int, hops: int) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Node positions per type that can reach the deal within `hops` layers, and each one's distance."""
    types = {t for e in index.by_type for t in (e[0], e[2])} | {"Deal"}
    dist: dict[str, dict[int, int]] = {t: {} for t in types}
    dist["Deal"][deal_pos] = 0
    frontier: dict[str, list[int]] = {"Deal": [deal_pos]}
    for hop in range(1, hops + 1):
        nxt: dict[str, set[int]] = defaultdict(set)
        for edge_type in index.by_type:
            receivers = frontier.get(edge_type[2])
            if receivers:
                nxt[edge_type[0]].update(u for u in index.senders(edge_type, receivers).tolist() if u not in dist[edge_type[0]])
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
    for (src, rel, dst), store in sub.edge_items():
        ei = store.edge_index
        store.edge_index = ei[:, distance[dst][ei[1]] < hops]
    return sub


def _is_evidence(step: Step, facts: Facts) -> bool:
    if step.label != "Deal":
        return True
    return facts.node_id("Deal", step.pos) in facts.result


def _paths(sub: HeteroData, node_map: dict[str, torch.Tensor], target: int, masks: dict, hops: int) -> list[tuple[float, list[Step]]]:
    """Every simple path from the deal (in full-graph positions) with its summed attribution."""
    incoming: dict[tuple[str, int], list[tuple[EdgeType, int, int, float]]] = defaultdict(list)
    for edge_type, store in sub.edge_items():
        src, _, dst = edge_type
        attr = masks[edge_type].tolist()
        for k, (u, v) in enumerate(store.edge_index.t().tolist()):
            incoming[(dst, v)].append((edge_type, k, u, attr[k]))
    out: list[tuple[float, list[Step]]] = []
    start = Step("Deal", target)

    def walk(path: list[Step], local: tuple[str, int], weight: float, depth: int) -> None:
        if depth == hops:
            return
        for edge_type, k, u, a in incoming.get(local, []):
            label = edge_type[0]
            pos = int(node_map[label][u])
            if any(s.label == label and s.pos == pos for s in path):
                continue
            nxt = path + [Step(label, pos, edge_type, k)]
            out.append((weight + a, nxt))
            walk(nxt, (label, u), weight + a, depth + 1)

    local_target = int((node_map["Deal"] == target).nonzero()[0, 0])
    walk([start], ("Deal", local_target), 0.0, 0)
    return out


def _relation(edge_type: EdgeType) -> tuple[str, str, str | None]:
    """(relation, direction along the path, role) of the message edge that a path step follows."""
    name = edge_type[1]
    forward = not name.startswith("rev_")
    base = name.removeprefix("rev_")
    relation, _, value = base.partition(":")
    # A message u -> v followed backwards from v: the path goes against the message.
    return relation, ("in" if forward else "out"), (value or None)


def sentence(steps: list[Step], facts: Facts) -> Phrase:
    """One plain sentence for a path, from the facts of the snapshot, naming nodes by reference."""
    first, last = steps[1], steps[-1]
    rel1, dir1, role = _relation(first.edge_type)
    role_text = f" ({role.replace('_', ' ')} on this deal)" if role and role != "unknown" else " (on this deal)"
    one = facts.ref(first.label, first.pos)
    if len(steps) == 2:
        if first.label == "Contact":
            return Phrase.of(one, role_text, facts.history(one, " has "))
        if first.label == "Account":
            industry = facts.extra["Account"].get(one.id)
            return Phrase.of("The account ", one, Detail(f" ({industry})" if industry else "", one), facts.history(one, " has "))
        if first.label == "Product":
            return Phrase.of(one, facts.history(one, " has ", " across accounts"))
        if first.label == "Rep":
            return Phrase.of("The owner ", one, facts.history(one, " has "))
        return Phrase.of(f"{first.label} ", one, " is linked to this deal")
    two = facts.ref(last.label, last.pos)
    rel2, dir2, role2 = _relation(last.edge_type)
    if last.label == "Deal":
        outcome = Detail(f", which was {facts.result.get(two.id, 'open')}", two)
        account = facts.deal_account_ref(two.id)
        at: tuple[Segment, ...] = (" at ", account) if account else ()
        if first.label == "Contact":
            role2 = role2 or facts.roles.get((two.id, one.id))
            part = f"{role2.replace('_', ' ')} on" if isinstance(role2, str) and role2 != "unknown" else "on"
            return Phrase.of(one, role_text, f" was {part} ", two, *at, outcome)
        if first.label == "Account":
            return Phrase.of("An earlier deal at ", one, ", ", two, outcome)
        if first.label == "Product":
            return Phrase.of(two, *at, ", also for ", one, outcome)
        if first.label == "Rep":
            return Phrase.of("The owner ", one, " also had ", two, *at, outcome)
    if first.label == "Account" and last.label == "Account":
        kin = "a subsidiary of" if dir2 == "out" else "the parent of"
        return Phrase.of(one, f" is {kin} ", two, facts.history(two, ", which has "))
    if first.label == "Contact" and last.label == "Account":
        return Phrase.of(one, role_text, " works or worked at ", two, facts.history(two, ", which has "))
    if first.label == "Account" and last.label == "Contact":
        return Phrase.of(two, " works or worked at ", one, facts.history(two, " and has "))
    parts: list[Segment] = []
    for s in steps:
        parts += [" → " if parts else "", f"{s.label} ", facts.ref(s.label, s.pos)]
    return Phrase.of(*parts)


def _path_step(step: Step, facts: Facts) -> PathStep:
    relation, direction = (None, None)
    if step.edge_type is not None:
        relation, direction, _ = _relation(step.edge_type)
    return PathStep(step.label, facts.ref(step.label, step.pos), relation, direction)


@dataclass
class _Piece:
    """One deal's pruned computation graph, placed in a batch of disjoint graphs."""

    deal_pos: int
    node_map: dict[str, torch.Tensor]
    sub: HeteroData
    local: int  # the deal's row in the batch
    edge_start: dict[EdgeType, int]  # where its edges start in the batch's edge arrays


def _batch(pieces_subs: list[tuple[int, dict, HeteroData]]) -> tuple[list[_Piece], dict, dict]:
    """Disjoint union of subgraphs: one forward pass explains them all."""
    node_off: dict[str, int] = defaultdict(int)
    edge_off: dict[EdgeType, int] = defaultdict(int)
    xs: dict[str, list[torch.Tensor]] = defaultdict(list)
    eis: dict[EdgeType, list[torch.Tensor]] = defaultdict(list)
    pieces = []
    for deal_pos, node_map, sub in pieces_subs:
        local = int((node_map["Deal"] == deal_pos).nonzero()[0, 0]) + node_off["Deal"]
        pieces.append(_Piece(deal_pos, node_map, sub, local, {e: edge_off[e] for e in sub.edge_types}))
        for (src, rel, dst), store in sub.edge_items():
            shift = torch.tensor([[node_off[src]], [node_off[dst]]])
            eis[(src, rel, dst)].append(store.edge_index + shift)
            edge_off[(src, rel, dst)] += store.edge_index.shape[1]
        for t in sub.node_types:
            xs[t].append(sub[t].x)
            node_off[t] += sub[t].num_nodes
    return pieces, {t: torch.cat(v) for t, v in xs.items()}, {e: torch.cat(v, dim=1) for e, v in eis.items()}


class PathExplainer:
    """Explains deals of one encoded snapshot with one model, many deals per forward pass.

    Example:
        >>> explainer = PathExplainer(model, data, snapshot, hops=2)
        >>> explainer.explain_many([deal_pos], top=3)[0].paths[0].text
        'Dana Wu (champion on this deal) has 3 won and 1 lost earlier deals'
    """

    METHOD = "edge-integrated-gradients"

    def __init__(self, model: torch.nn.Module, data: HeteroData, snapshot: Snapshot, hops: int,
                 algorithm: ExplainerAlgorithm | None = None) -> None:
        """`algorithm`: the edge attribution (default: integrated gradients; bench_explain compares GNNExplainer)."""
        self.model = model.eval()
        self.method = self.METHOD if algorithm is None else type(algorithm).__name__
        self.hops = hops
        self.facts = Facts(snapshot, data)
        self.incoming = IncomingIndex(data)
        # Only tensors can be cut into subgraphs; the ids stay in `facts`, by full-graph position.
        self.tensors = HeteroData({t: {"x": data[t].x} for t in data.node_types})
        for edge_type in data.edge_types:
            self.tensors[edge_type].edge_index = data[edge_type].edge_index
        self.explainer = make_explainer(model, algorithm)

    def explain(self, deal_pos: int, top: int = 3) -> Explanation:
        return self.explain_many([deal_pos], top)[0]

    def explain_many(self, deal_positions: list[int], top: int = 3, batch_size: int = 8) -> list[Explanation]:
        """Explain deals `batch_size` at a time: larger batches of interpolated graphs cost more than they
        save (allocation of big tensors dominates; 8 was fastest on the default sample, 135 ms a deal)."""
        out: list[Explanation] = []
        for i in range(0, len(deal_positions), batch_size):
            out += self._explain_batch(deal_positions[i : i + batch_size], top)
        return out

    def _explain_batch(self, deal_positions: list[int], top: int) -> list[Explanation]:
        subs = []
        for pos in deal_positions:
            node_map, distance = computation_subgraph(self.incoming, pos, self.hops)
            subs.append((pos, node_map, prune_to_messages(self.tensors.subgraph(node_map), distance, self.hops)))
        pieces, x, ei = _batch(subs)
        locals_ = torch.tensor([p.local for p in pieces])
        # Edge types with no edge in this batch are left out: the model skips them anyway, and some
        # algorithms (PyG's GNNExplainer) cannot initialise a mask for an empty type.
        present = {e: v for e, v in ei.items() if v.shape[1]}
        explained = self.explainer(x, present, index=locals_)
        masks = {e: explained[e].edge_mask if e in present else torch.zeros(0) for e in ei}
        chosen_all, randoms = [], []
        for piece in pieces:
            piece_masks = {
                e: masks[e][piece.edge_start[e] : piece.edge_start[e] + piece.sub[e].edge_index.shape[1]]
                for e in piece.sub.edge_types
            }
            candidates = [
                (w, p) for w, p in _paths(piece.sub, piece.node_map, piece.deal_pos, piece_masks, self.hops)
                if _is_evidence(p[-1], self.facts)
            ]
            chosen = _top_distinct(candidates, top)
            chosen_all.append(chosen)
            randoms.append(_random_like(candidates, chosen, np.random.default_rng(piece.deal_pos)))
        fidelity = self._fidelity(pieces, chosen_all, randoms, x, ei, locals_)
        out = []
        for piece, chosen, fid in zip(pieces, chosen_all, fidelity, strict=True):
            paths = tuple(
                ExplainedPath(round(float(w), 4), sentence(steps, self.facts),
                              tuple(_path_step(s, self.facts) for s in steps))
                for w, steps in chosen
            )
            deal_id = self.facts.node_id("Deal", piece.deal_pos)
            out.append(Explanation(
                method=self.method, paths=paths, suggestions=suggest(deal_id, paths, self.facts),
                fidelity=fid["plus"], fidelity_minus=fid["minus"], random_fidelity=fid["random"],
            ))
        return out

    def _fidelity(self, pieces: list[_Piece], chosen_all: list, randoms: list, x: dict, ei: dict,
                  locals_: torch.Tensor) -> list[dict]:
        """Faithfulness of each explanation, all deals of the batch in four forward passes.

        plus:   |probability change| when the top paths' edges are removed (high: the paths matter);
        minus:  |probability change| when only the top paths' edges are kept (low: they suffice);
        random: `plus` for random evidence paths of the same lengths from the same neighbourhood.
        """
        top, rand, others = defaultdict(list), defaultdict(list), defaultdict(list)
        for piece, chosen, random_paths in zip(pieces, chosen_all, randoms, strict=True):
            kept = _edge_positions(piece, chosen, top)
            _edge_positions(piece, random_paths, rand)
            for e in piece.sub.edge_types:
                n = piece.sub[e].edge_index.shape[1]
                others[e] += [piece.edge_start[e] + k for k in range(n) if (e, k) not in kept]
        as_tensors = lambda d: {e: torch.tensor(v, dtype=torch.long) for e, v in d.items()}  # noqa: E731
        full = torch.sigmoid(masked_logits(self.model, x, ei, locals_, {}))
        without_top = torch.sigmoid(masked_logits(self.model, x, ei, locals_, as_tensors(top)))
        only_top = torch.sigmoid(masked_logits(self.model, x, ei, locals_, as_tensors(others)))
        without_random = torch.sigmoid(masked_logits(self.model, x, ei, locals_, as_tensors(rand)))
        out = []
        for i, chosen in enumerate(chosen_all):
            if not chosen:
                out.append({"plus": None, "minus": None, "random": None})
                continue
            out.append({
                "plus": round(abs(float(full[i] - without_top[i])), 4),
                "minus": round(abs(float(full[i] - only_top[i])), 4),
                "random": round(abs(float(full[i] - without_random[i])), 4) if randoms[i] else None,
            })
        return out


def _edge_positions(piece: _Piece, paths: list, into: dict) -> set[tuple[EdgeType, int]]:
    """Add the batch positions of the paths' edges to `into`; return them as (type, local position)."""
    local = set()
    for _, steps in paths:
        for s in steps[1:]:
            if (s.edge_type, s.edge_pos) not in local:
                local.add((s.edge_type, s.edge_pos))
                into[s.edge_type].append(piece.edge_start[s.edge_type] + s.edge_pos)
    return local


def _random_like(candidates: list, chosen: list, rng: np.random.Generator) -> list:
    """Random evidence paths with the same lengths as the chosen ones, none of them chosen."""
    picked = {id(p) for _, p in chosen}
    by_length: dict[int, list] = defaultdict(list)
    for c in candidates:
        if id(c[1]) not in picked:
            by_length[len(c[1])].append(c)
    out = []
    for _, steps in chosen:
        pool = by_length.get(len(steps))
        if pool:
            out.append(pool.pop(int(rng.integers(len(pool)))))
    return out


def _top_distinct(candidates: list, top: int) -> list:
    """The strongest paths, one per first step, so a single hub cannot fill the list."""
    candidates.sort(key=lambda wp: -abs(wp[0]))
    chosen, first_steps = [], set()
    for weight, steps in candidates:
        key = (steps[1].label, steps[1].pos)
        if key not in first_steps:
            first_steps.add(key)
            chosen.append((weight, steps))
            if len(chosen) == top:
                break
    return chosen
