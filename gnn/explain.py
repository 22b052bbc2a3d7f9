"""Relationship-path explanations of a deal's score, from the model's own attributions against a typical deal.

For one deal: cut its computation graph (the nodes within the model's depth),
attribute the logit to every edge against a typical deal (`gnn.attribution`:
each neighbour replaced by the average node of its kind), then rank the simple
paths from the deal — each ending at evidence (a contact, an account, a
product, a rep, or a deal whose outcome was known). A path's weight is what
the model credits to its last node through it: the edge into the path's end
plus everything that node passes on from its own neighbours (its record).

Every path is worded with the evidence it stands for, compared with typical
("3 of 4 earlier deals won — above the 45% typical"), and that wording has a
polarity. A path whose polarity disagrees with its sign is not shown: the
model may have good reasons (the account's size, its other links), but a
sentence that says "won" beside "lowers" is one a rep cannot use.
`contradictions` is the independent, rule-based check on the words.

The top paths, with distinct first steps so one hub does not fill the list,
are rendered as typed steps and one sentence with facts from the same snapshot
the model saw; suggestions (`gnn.suggest`) are scored by the model on an
edited graph.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch_geometric.data import HeteroData
from torch_geometric.explain.algorithm import ExplainerAlgorithm

from gnn.attribution import EMPTY, TYPICAL, EdgeIntegratedGradients, Reference, make_explainer, masked_logits
from gnn.deal_facts import DealTimeline, activity_sentence
from gnn.features import latest_event_time
from gnn.model import HeteroSAGE
from gnn.outcomes import outcome_flags
from gnn.sampling import NeighbourSampler
from gnn.suggest import Edit, Proposal, proposals, suggest
from gnn.task import WIN, Task
from graph.explanation import Detail, ExplainedPath, Explanation, NodeRef, PathStep, Phrase, Segment
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

EdgeType = tuple[str, str, str]


@dataclass(frozen=True)
class Step:
    label: str
    pos: int  # position in the full encoded graph
    edge_type: EdgeType | None = None  # the message edge type that reached the previous step
    edge_pos: int | None = None  # its position within the subgraph's edges of that type


#: A record within this of typical is worded "about typical" and counts as neither good nor bad evidence.
NEAR_TYPICAL = 0.02


class Facts:
    """What the sentences and suggestions say about nodes, from the snapshot the model saw.

    Whose records are counted and what the typical rate is computed within come from the task's declaration
    (`gnn.task.Task.evidence`, `.segment`)."""

    def __init__(self, snapshot: Snapshot, data: HeteroData, task: Task = WIN, now: pd.Timestamp | None = None) -> None:
        self.ids = {t: data[t].node_id for t in data.node_types}
        self.positions = {t: {node_id: i for i, node_id in enumerate(ids)} for t, ids in self.ids.items()}
        self.names = {
            label: frame.set_index("id")[snapshot.schema.nodes[label].display].astype(str).to_dict()
            for label, frame in snapshot.nodes.items()
        }
        self.segment_label, prop = task.segment or (Label.ACCOUNT, "industry")
        frame = snapshot.nodes[self.segment_label]
        #: The segment (an account's industry) of each node of `segment_label` that has one.
        self.segment = frame.set_index(snapshot.schema.nodes[self.segment_label].key)[prop].dropna().to_dict()
        flags = outcome_flags(snapshot)
        self.result = {d: ("won" if r.won else "lost") for d, r in flags.iterrows()}
        self.deal_account = snapshot.edges[Rel.FOR_ACCOUNT].set_index("src")["dst"].to_dict()
        self.deal_owner = snapshot.edges[Rel.OWNED_BY].set_index("src")["dst"].to_dict()
        self.deal_products = snapshot.edges[Rel.FOR_PRODUCT].groupby("src")["dst"].agg(list).to_dict()
        involves = snapshot.edges[Rel.INVOLVES]
        self.deal_contacts = involves.groupby("src")["dst"].agg(set).to_dict()
        self.roles = dict(zip(zip(involves["src"], involves["dst"], strict=True), involves["role"], strict=True))
        self.contact_roles: dict[str, Counter[str]] = defaultdict(Counter)
        for (_, contact), role in self.roles.items():
            if isinstance(role, str):
                self.contact_roles[contact][role] += 1
        jobs = snapshot.edges[Rel.WORKS_AT]
        current = jobs[jobs["until"].isna()] if "until" in jobs else jobs
        self.employees = current.groupby("dst")["src"].agg(list).to_dict()
        self.record: dict[tuple[str, str], tuple[int, int]] = {}
        for label, rel in task.evidence.items():
            edges = snapshot.edges[rel].assign(result=lambda f: f["src"].map(self.result))
            counts = edges.groupby(["dst", "result"]).size().unstack(fill_value=0)
            for node_id, row in counts.iterrows():
                self.record[(label, node_id)] = (int(row.get("won", 0)), int(row.get("lost", 0)))
        # Won deals per (product, industry of the account, owner): whom to ask about selling this product here.
        self.wins_by: dict[tuple[str, str | None], Counter[str]] = defaultdict(Counter)
        for deal, result in self.result.items():
            if result == "won" and deal in self.deal_owner:
                industry = self.segment.get(self.deal_account.get(deal))
                for product in self.deal_products.get(deal, ()):
                    self.wins_by[(product, industry)][self.deal_owner[deal]] += 1
        # Typical: the share of closed deals won, overall and per industry of the deal's account.
        results = pd.Series(self.result, dtype=object)
        self.typical = float((results == "won").mean()) if len(results) else 0.5
        industry = results.index.map(lambda d: self.segment.get(self.deal_account.get(d)))
        by_industry = (results == "won").groupby(industry.to_numpy()).agg(["mean", "size"])
        self.industry_rate = {k: float(r["mean"]) for k, r in by_industry.iterrows() if r["size"] >= 5}
        # Activity and stage facts as of the scoring time, compared with the open deals of that time.
        open_deals = set(snapshot.nodes[Label.DEAL]["id"]) - set(self.result)
        self.timeline = DealTimeline(snapshot, latest_event_time(snapshot) if now is None else now, open_deals)

    def node_id(self, label: str, pos: int) -> str:
        return self.ids[label][pos]

    def ref_by_id(self, label: str, node_id: str) -> NodeRef:
        return NodeRef(label, node_id, self.names[label].get(node_id, node_id))

    def ref(self, label: str, pos: int) -> NodeRef:
        return self.ref_by_id(label, self.node_id(label, pos))

    def deal_account_ref(self, deal_id: str) -> NodeRef | None:
        account = self.deal_account.get(deal_id)
        return self.ref_by_id(Label.ACCOUNT, account) if account else None

    def typical_for(self, node: NodeRef) -> tuple[float, str]:
        """The win share a node's record is compared with, and the words for whose it is."""
        industry = self.segment.get(node.id) if node.label == self.segment_label else None
        if industry in self.industry_rate:
            return self.industry_rate[industry], f" for {industry} {self.segment_label.lower()}s"
        return self.typical, ""

    def judged_history(self, node: NodeRef, before: str) -> tuple[Detail, int]:
        """The node's record compared with typical, as a detail about it, and its polarity (+1 above typical,
        -1 below, 0 about typical or no record). A reader who may not see the node gets neither."""
        won, lost = self.record.get((node.label, node.id), (0, 0))
        if not won + lost:
            return Detail(before + "no closed deals yet", node), 0
        typical, whose = self.typical_for(node)
        share = won / (won + lost)
        polarity = 0 if abs(share - typical) < NEAR_TYPICAL else (1 if share > typical else -1)
        compared = {0: "about", 1: "above", -1: "below"}[polarity]
        words = f"{won} of {won + lost} earlier deals won — {compared} the {typical:.0%} typical{whose}"
        return Detail(before + words, node), polarity

    def record_words(self, node: NodeRef) -> Detail:
        """A track record in a suggestion: "(3 of 4 earlier deals won)"."""
        won, lost = self.record.get((node.label, node.id), (0, 0))
        return Detail(f" ({won} of {won + lost} earlier deals won)", node)


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


def _is_evidence(step: Step, facts: Facts) -> bool:
    if step.label != Label.DEAL:
        return True
    return facts.node_id(Label.DEAL, step.pos) in facts.result


def _paths(sub: HeteroData, node_map: dict[str, torch.Tensor], target: int, masks: dict,
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

    def walk(path: list[Step], local: tuple[str, int], depth: int) -> None:
        if depth == hops:
            return
        for edge_type, k, u, a in incoming.get(local, []):
            label = edge_type[0]
            pos = int(node_map[label][u])
            if any(s.label == label and s.pos == pos for s in path):
                continue
            nxt = path + [Step(label, pos, edge_type, k)]
            out.append((a + inflow.get((label, u), 0.0), nxt))
            walk(nxt, (label, u), depth + 1)

    local_target = int((node_map[Label.DEAL] == target).nonzero()[0, 0])
    walk([start], (Label.DEAL, local_target), 0)
    return out


def _relation(edge_type: EdgeType | None) -> tuple[str, str, str | None]:
    """(relation, direction along the path, role) of the message edge that a path step follows."""
    if edge_type is None:
        raise ValueError("a path's first step (the deal itself) follows no edge")
    name = edge_type[1]
    forward = not name.startswith("rev_")
    base = name.removeprefix("rev_")
    relation, _, value = base.partition(":")
    # A message u -> v followed backwards from v: the path goes against the message.
    return relation, ("in" if forward else "out"), (value or None)


def sentence(steps: list[Step], facts: Facts, hops: int) -> tuple[Phrase, int]:
    """One plain sentence for a path, naming nodes by reference, and the polarity of the evidence it states:
    +1 for evidence that should raise a score compared with typical (a won deal, a record above typical),
    -1 for the opposite, 0 where the words take no side. A node's record is stated only where the model can
    see it: its neighbours' messages reach the deal only when the node is less than `hops` steps away."""
    first, last = steps[1], steps[-1]
    if first.label == Label.ACTIVITY and (worded := activity_sentence(steps, facts)) is not None:
        return worded
    rel1, dir1, role = _relation(first.edge_type)
    role_text = f" ({role.replace('_', ' ')} on this deal)" if role and role != "unknown" else " (on this deal)"
    one = facts.ref(first.label, first.pos)
    sees_record = len(steps) - 1 < hops
    if len(steps) == 2:
        record, polarity = facts.judged_history(one, ": ") if sees_record else (Detail("", one), 0)
        if first.label == Label.CONTACT:
            return Phrase.of(one, role_text, record), polarity
        if first.label == Label.ACCOUNT:
            return Phrase.of("The account ", one, record), polarity
        if first.label == Label.PRODUCT:
            return Phrase.of("The product ", one, record), polarity
        if first.label == Label.REP:
            return Phrase.of("The owner ", one, record), polarity
        return Phrase.of(f"{first.label} ", one, " is linked to this deal"), 0
    two = facts.ref(last.label, last.pos)
    rel2, dir2, role2 = _relation(last.edge_type)
    if last.label == Label.DEAL:
        result = facts.result.get(two.id, "open")
        outcome = Detail(f", which was {result}", two)
        polarity = {"won": 1, "lost": -1}.get(result, 0)
        account = facts.deal_account_ref(two.id)
        at: tuple[Segment, ...] = (" at ", account) if account else ()
        if first.label == Label.CONTACT:
            role2 = role2 or facts.roles.get((two.id, one.id))
            part = f"{role2.replace('_', ' ')} on" if isinstance(role2, str) and role2 != "unknown" else "on"
            return Phrase.of(one, role_text, f" was {part} ", two, *at, outcome), polarity
        if first.label == Label.ACCOUNT:
            return Phrase.of("An earlier deal at ", one, ", ", two, outcome), polarity
        if first.label == Label.PRODUCT:
            return Phrase.of(two, *at, ", also for ", one, outcome), polarity
        if first.label == Label.REP:
            return Phrase.of("The owner ", one, " also had ", two, *at, outcome), polarity
    record, polarity = facts.judged_history(two, ", whose record: ") if sees_record else (Detail("", two), 0)
    if first.label == Label.ACCOUNT and last.label == Label.ACCOUNT:
        kin = "a subsidiary of" if dir2 == "out" else "the parent of"
        return Phrase.of(one, f" is {kin} ", two, record), polarity
    if first.label == Label.CONTACT and last.label == Label.ACCOUNT:
        return Phrase.of(one, role_text, " works or worked at ", two, record), polarity
    if first.label == Label.ACCOUNT and last.label == Label.CONTACT:
        return Phrase.of(two, " works or worked at ", one, record), polarity
    parts: list[Segment] = []
    for s in steps:
        parts += [" → " if parts else "", f"{s.label} ", facts.ref(s.label, s.pos)]
    return Phrase.of(*parts), 0


#: Wording that takes a side, and the direction it takes. A path worded one way and weighted the other is a
#: contradiction a rep would see at once ("... which was won" shown as lowering the score).
_FOR = (re.compile(r"which was won\b"), re.compile(r"\babove the \d+% typical"),
        re.compile(r"\b(shorter|fewer) than the \d+ typical"))
_AGAINST = (re.compile(r"which was lost\b"), re.compile(r"\bbelow the \d+% typical"),
            re.compile(r"\b(longer|more) than the \d+ typical"))
_UNANCHORED = re.compile(r"\b(\d+) won and (\d+) lost\b")  # how records were worded before "typical"


def contradiction(path: ExplainedPath) -> str | None:
    """Why a path's words contradict its sign, or None: a rule on the rendered text, independent of how the
    sentence was built, so it also judges explanations stored by earlier versions."""
    text = path.text
    pro = any(p.search(text) for p in _FOR)
    con = any(p.search(text) for p in _AGAINST)
    match = _UNANCHORED.search(text)
    if match and not (pro or con):
        won, lost = int(match[1]), int(match[2])
        pro, con = won > lost, lost > won
    if pro and path.direction == "lowers":
        return "good evidence worded, lowers the score"
    if con and path.direction == "raises":
        return "bad evidence worded, raises the score"
    return None


def contradictions(explanations: Iterable[Explanation | None]) -> list[tuple[str, str]]:
    """Every contradicting path sentence among the explanations, as (reason, sentence)."""
    return [(why, path.text) for e in explanations if e is not None for path in e.paths
            if (why := contradiction(path)) is not None]


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
        local = int((node_map[Label.DEAL] == deal_pos).nonzero()[0, 0]) + node_off[Label.DEAL]
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
        'Dana Wu (champion on this deal): 3 of 4 earlier deals won — above the 45% typical'
    """

    METHOD = "edge-integrated-gradients"

    def __init__(self, model: HeteroSAGE, data: HeteroData, snapshot: Snapshot, hops: int,
                 algorithm: ExplainerAlgorithm | None = None, reference: Reference | None | str = "typical",
                 platt: tuple[float, float] | None = None, now: pd.Timestamp | None = None,
                 sampler: NeighbourSampler | None = None) -> None:
        """`algorithm`: the edge attribution (default: integrated gradients; bench_explain compares GNNExplainer).
        `reference`: what attributions and fidelity are relative to — "typical" (the average node of each type
        in `data`), a `Reference`, or None for the empty graph (how explanations were made before).
        `platt`: the model's calibration, so suggestions state changes of the probability a rep is shown.
        `now`: the scoring time; deal facts in sentences are those known before it (default: the newest fact).
        `sampler`: the scoring run's sampler of `data` (built here when not given)."""
        self.model = model.eval()
        self.hops = hops
        self.facts = Facts(snapshot, data, now=now)
        self.incoming = IncomingIndex(data)
        if isinstance(reference, str) and reference != "typical":
            raise ValueError(f"reference: 'typical', a Reference or None, not {reference!r}")
        # A sampled model (`ModelConfig.fanout`) is explained on the graph it scores from: each deal's sampled
        # computation graph, whose size the fanout bounds however many deals share its product.
        fanout = getattr(getattr(model, "config", None), "fanout", None)
        if fanout is None:
            self.sampler = None
        else:
            self.sampler = sampler if sampler is not None else NeighbourSampler(data, fanout, hops)
        self.reference = Reference.mean_of(data.x_dict) if isinstance(reference, str) else reference
        words = TYPICAL if self.reference is not None else EMPTY
        # Another algorithm's masks (GNNExplainer's) are learned importances, relative to nothing stated.
        self.reference_words = Phrase.of(words if algorithm is None else f"none: {type(algorithm).__name__} masks")
        self.platt = platt or (1.0, 0.0)
        # Only tensors can be cut into subgraphs; the ids stay in `facts`, by full-graph position.
        self.tensors = HeteroData({t: {"x": data[t].x} for t in data.node_types})
        for edge_type in data.edge_types:
            self.tensors[edge_type].edge_index = data[edge_type].edge_index
        self.method = self.METHOD if algorithm is None else type(algorithm).__name__
        self.explainer = make_explainer(model, algorithm or EdgeIntegratedGradients(reference=self.reference))

    def probability(self, logits: torch.Tensor) -> torch.Tensor:
        """Calibrated probabilities, as the deal's score is shown."""
        return torch.sigmoid(self.platt[0] * logits + self.platt[1])

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
        subs = [(pos, *self._computation_graph(pos)) for pos in deal_positions]
        pieces, x, ei = _batch(subs)
        locals_ = torch.tensor([p.local for p in pieces])
        # Edge types with no edge in this batch are left out: the model skips them anyway, and some
        # algorithms (PyG's GNNExplainer) cannot initialise a mask for an empty type.
        present = {e: v for e, v in ei.items() if v.shape[1]}
        explained = self.explainer(x, present, index=locals_)
        masks = {e: explained[e].edge_mask if e in present else torch.zeros(0) for e in ei}
        chosen_all, randoms, withheld = [], [], []
        for piece in pieces:
            piece_masks = {
                e: masks[e][piece.edge_start[e] : piece.edge_start[e] + piece.sub[e].edge_index.shape[1]]
                for e in piece.sub.edge_types
            }
            evidence = [
                (w, p) for w, p in _paths(piece.sub, piece.node_map, piece.deal_pos, piece_masks, self.hops)
                if _is_evidence(p[-1], self.facts)
            ]
            chosen, held = reasons([(w, p, *sentence(p, self.facts, self.hops)) for w, p in evidence], top)
            chosen_all.append(chosen)
            withheld.append(held)
            randoms.append(_random_like(evidence, chosen, np.random.default_rng(piece.deal_pos)))
        full, fidelity = self._fidelity(pieces, chosen_all, randoms, x, ei, locals_)
        paths_all = [
            tuple(ExplainedPath(round(float(w), 4), phrase, tuple(_path_step(s, self.facts) for s in steps),
                                self.reference_words)
                  for w, steps, phrase in chosen)
            for chosen in chosen_all
        ]
        found = [proposals(self.facts.node_id(Label.DEAL, piece.deal_pos), paths, self.facts)
                 for piece, paths in zip(pieces, paths_all, strict=True)]
        effects = self._effects(pieces, found, full)
        out = []
        for paths, fid, deal_found, deal_effects, held in zip(paths_all, fidelity, found, effects, withheld,
                                                              strict=True):
            out.append(Explanation(
                method=self.method, paths=paths, suggestions=suggest(deal_found, deal_effects),
                fidelity=fid["plus"], fidelity_minus=fid["minus"], random_fidelity=fid["random"],
                fidelity_each=fid["each"], random_fidelity_each=fid["random_each"],
                # Strong paths not shown because their words would contradict their sign (see the docstring).
                extra={"reference": self.reference_words.text(), "withheld": held},
            ))
        return out

    def _computation_graph(self, deal_pos: int,
                           joining: int | None = None) -> tuple[dict[str, torch.Tensor], HeteroData]:
        """The graph the model scores the deal from, as (node positions per type, subgraph): its sampled one for a
        sampled model, else every node within the model's depth. `joining`: a contact treated as on the deal."""
        if self.sampler is None:
            node_map, distance = computation_subgraph(self.incoming, deal_pos, self.hops)
            return node_map, prune_to_messages(self.tensors.subgraph(node_map), distance, self.hops)
        extra = {Label.CONTACT: torch.tensor([joining])} if joining is not None else None
        sample = self.sampler.sample(Label.DEAL, torch.tensor([deal_pos]), joining=extra)
        sub = HeteroData({t: {"x": x} for t, x in sample.x_dict.items()})
        for edge_type, index in sample.edge_index_dict.items():
            sub[edge_type].edge_index = index
        return sample.nodes, sub

    def _effects(self, pieces: list[_Piece], found: list[list[Proposal]], now: torch.Tensor) -> list[dict[int, float]]:
        """The model's expected change in each deal's probability for each proposed edit, all in one forward pass.

        Each edit is scored on the deal's computation graph joined with the added contact's own neighbourhood
        (so their record reaches the deal as it would), plus the two edges of the contact's role on the deal.
        The deal's own columns (its records at opening) are left as they are: the edit changes its graph only.
        """
        graphs, keys = [], []
        for i, (piece, deal_found) in enumerate(zip(pieces, found, strict=True)):
            for j, proposal in enumerate(deal_found):
                if proposal.edit is None:
                    continue
                edited = self._with_contact(piece.deal_pos, proposal.edit)
                if edited is not None:
                    graphs.append(edited)
                    keys.append((i, j))
        out: list[dict[int, float]] = [{} for _ in pieces]
        if not graphs:
            return out
        batch, x, ei = _batch(graphs)
        with torch.no_grad():
            after = self.probability(self.model(x, ei)[torch.tensor([p.local for p in batch])])
        for (i, j), p in zip(keys, after.tolist(), strict=True):
            out[i][j] = p - float(now[i])
        return out

    def _with_contact(self, deal_pos: int, edit: Edit) -> tuple[int, dict, HeteroData] | None:
        """The deal's computation graph with `edit.contact` on the deal in `edit.role`, for `_batch`."""
        contact = self.facts.positions[Label.CONTACT].get(edit.contact)
        known = (Label.CONTACT, f"rev_INVOLVES:{edit.role}", Label.DEAL) in self.tensors.edge_types
        role = edit.role if known else "unknown"
        back = (Label.CONTACT, f"rev_INVOLVES:{role}", Label.DEAL)
        if contact is None or back not in self.tensors.edge_types:
            return None
        if self.sampler is not None:
            node_map, sub = self._computation_graph(deal_pos, joining=contact)
        else:
            node_map, sub = self._whole_with_contact(deal_pos, contact)
        d_local = int((node_map[Label.DEAL] == deal_pos).nonzero()[0, 0])
        c_local = int((node_map[Label.CONTACT] == contact).nonzero()[0, 0])
        fanout = self.sampler.fanout if self.sampler is not None else None
        for edge_type, pair in (
            ((Label.DEAL, Rel.INVOLVES, Label.CONTACT), [d_local, c_local]),
            (back, [c_local, d_local]),
        ):
            index = sub[edge_type].edge_index if edge_type in sub.edge_types else torch.zeros(2, 0, dtype=torch.long)
            into = (index[1] == pair[1]).nonzero().flatten()
            if fanout is not None and len(into) >= fanout:
                # The new edge is the newest: the sampler would take it and leave the receiver's oldest sender.
                index = index[:, torch.arange(index.shape[1]) != into[-1]]
            sub[edge_type].edge_index = torch.cat([index, torch.tensor([pair]).t()], dim=1)
        return deal_pos, node_map, sub

    def _whole_with_contact(self, deal_pos: int, contact: int) -> tuple[dict[str, torch.Tensor], HeteroData]:
        """The deal's whole computation graph joined with the contact's, the contact one step from the deal."""
        deal_map, deal_dist = computation_subgraph(self.incoming, deal_pos, self.hops)
        contact_map, contact_dist = computation_subgraph(self.incoming, contact, self.hops - 1, Label.CONTACT)
        node_map, distance = {}, {}
        for t in deal_map:
            dist = dict(zip(deal_map[t].tolist(), deal_dist[t].tolist(), strict=True))
            for u, d in zip(
                contact_map.get(t, torch.zeros(0, dtype=torch.long)).tolist(),
                contact_dist.get(t, torch.zeros(0, dtype=torch.long)).tolist(),
                strict=True,
            ):
                dist[u] = min(dist.get(u, self.hops), d + 1)  # the contact is one step from the deal now
            node_map[t] = torch.tensor(sorted(dist), dtype=torch.long)
            distance[t] = torch.tensor([dist[u] for u in node_map[t].tolist()], dtype=torch.long)
        return node_map, prune_to_messages(self.tensors.subgraph(node_map), distance, self.hops)

    def _fidelity(
        self, pieces: list[_Piece], chosen_all: list, randoms: list, x: dict, ei: dict, locals_: torch.Tensor
    ) -> tuple[torch.Tensor, list[dict]]:
        """Each deal's probability, and the faithfulness of each explanation, in four forward passes.

        Taking a path away means putting the reference in its place (a typical neighbour, or no edge against
        the empty graph): the same counterfactual its weight is measured against.
        plus:   |probability change| when the top paths' edges are taken away (high: the paths matter);
        minus:  |probability change| when only the top paths' edges are kept (low: they suffice);
        random: `plus` for random evidence paths of the same lengths from the same neighbourhood;
        each, random_each: the mean |change| when each of those paths alone is taken away. Taking paths away
                together lets a raising and a lowering one cancel; a rep reads each reason on its own.
        """
        top: defaultdict[EdgeType, list[int]] = defaultdict(list)
        rand: defaultdict[EdgeType, list[int]] = defaultdict(list)
        others: defaultdict[EdgeType, list[int]] = defaultdict(list)
        for piece, chosen, random_paths in zip(pieces, chosen_all, randoms, strict=True):
            kept = _edge_positions(piece, chosen, top)
            _edge_positions(piece, random_paths, rand)
            for e in piece.sub.edge_types:
                n = piece.sub[e].edge_index.shape[1]
                others[e] += [piece.edge_start[e] + k for k in range(n) if (e, k) not in kept]
        as_tensors = lambda d: {e: torch.tensor(v, dtype=torch.long) for e, v in d.items()}  # noqa: E731

        def prob(drop: dict) -> torch.Tensor:
            return self.probability(masked_logits(self.model, x, ei, locals_, as_tensors(drop), self.reference))

        full, without_top, only_top, without_random = prob({}), prob(top), prob(others), prob(rand)
        # Each path alone: the k-th path of every deal at once (the deals' graphs are disjoint).
        each = {
            name: torch.zeros(len(pieces), max((len(c) for c in paths), default=0))
            for name, paths in (("top", chosen_all), ("random", randoms))
        }
        for name, paths_all in (("top", chosen_all), ("random", randoms)):
            for k in range(each[name].shape[1]):
                drop: dict = defaultdict(list)
                for piece, paths in zip(pieces, paths_all, strict=True):
                    if k < len(paths):
                        _edge_positions(piece, [paths[k]], drop)
                each[name][:, k] = (full - prob(drop)).abs()

        def mean_each(name: str, i: int, n: int) -> float | None:
            return round(float(each[name][i, :n].mean()), 4) if n else None

        out = []
        for i, chosen in enumerate(chosen_all):
            if not chosen:
                out.append(dict.fromkeys(("plus", "minus", "random", "each", "random_each")))
                continue
            out.append(
                {
                    "plus": round(abs(float(full[i] - without_top[i])), 4),
                    "minus": round(abs(float(full[i] - only_top[i])), 4),
                    "random": round(abs(float(full[i] - without_random[i])), 4) if randoms[i] else None,
                    "each": mean_each("top", i, len(chosen)),
                    "random_each": mean_each("random", i, len(randoms[i])),
                }
            )
        return full, out


#: Below this a path's weight is no reason either way: "raises" by nothing would mislead.
MIN_WEIGHT = 5e-5


def reasons(worded: list[tuple[float, list[Step], Phrase, int]], top: int) -> tuple[list, int]:
    """The paths shown as reasons — (weight, steps, phrase), strongest first, one per first step — and how many
    of the strongest were withheld because their words take the other side from their weight."""
    agreeing = [(w, p, phrase) for w, p, phrase, polarity in worded if polarity * w >= 0 and abs(w) >= MIN_WEIGHT]
    withheld = sum(polarity * w < 0 for w, _, _, polarity in _top_distinct(list(worded), top))
    return _top_distinct(agreeing, top), withheld


def _edge_positions(piece: _Piece, paths: list, into: dict) -> set[tuple[EdgeType, int]]:
    """Add the batch positions of the paths' edges to `into`; return them as (type, local position)."""
    local = set()
    for path in paths:
        for s in path[1][1:]:
            if (s.edge_type, s.edge_pos) not in local:
                local.add((s.edge_type, s.edge_pos))
                into[s.edge_type].append(piece.edge_start[s.edge_type] + s.edge_pos)
    return local


def _random_like(candidates: list, chosen: list, rng: np.random.Generator) -> list:
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


def _top_distinct(candidates: list, top: int) -> list:
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
