"""What explanation sentences and suggestions say about nodes, from the snapshot the model saw.

A node's record (its earlier deals won and lost) is always compared with the typical share won, overall or
within the node's segment (an account's industry), so a sentence says what it is relative to.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import pandas as pd
from torch_geometric.data import HeteroData

from gnn.deal_facts import DealTimeline
from gnn.features import latest_event_time
from gnn.outcomes import outcome_flags
from gnn.task import WIN, Task
from graph.explanation import Detail, NodeRef
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

#: A record within this of typical is worded "about typical" and counts as neither good nor bad evidence.
NEAR_TYPICAL = 0.02
#: A record further from typical than this many binomial standard errors is worded above or below it
#: (1.96: what chance alone exceeds one time in twenty).
CHANCE_Z = 1.96


class ByLabel(Mapping[str, dict[Any, Any]]):
    """A dict per label, built on first use: an explanation looks up the nodes of a few labels, and building every
    label's (each activity's, each stage change's) up front was seconds of every scoring at 1M rows."""

    def __init__(self, labels: Iterable[str], build: Callable[[str], dict[Any, Any]]) -> None:
        self._labels = list(labels)
        self._build = build
        self._made: dict[str, dict[Any, Any]] = {}

    def __getitem__(self, label: str) -> dict[Any, Any]:
        if label not in self._made:
            if label not in self._labels:
                raise KeyError(label)
            self._made[label] = self._build(label)
        return self._made[label]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


class Facts:
    """What the sentences and suggestions say about nodes, from the snapshot the model saw.

    Whose records are counted and what the typical rate is computed within come from the task's declaration
    (`gnn.task.Task.evidence`, `.segment`)."""

    def __init__(self, snapshot: Snapshot, data: HeteroData, task: Task = WIN, now: pd.Timestamp | None = None) -> None:
        self.ids = {t: data[t].node_id for t in data.node_types}
        self.positions: Mapping[str, dict[str, int]] = ByLabel(
            self.ids, lambda t: {node_id: i for i, node_id in enumerate(self.ids[t])})
        self.names: Mapping[str, dict[str, str]] = ByLabel(snapshot.nodes, lambda label: dict(zip(
            snapshot.nodes[label]["id"].tolist(),
            snapshot.nodes[label][snapshot.schema.nodes[label].display].astype(str).tolist(), strict=True)))
        self.segment_label, prop = task.segment or (Label.ACCOUNT, "industry")
        frame = snapshot.nodes[self.segment_label]
        #: The segment (an account's industry) of each node of `segment_label` that has one.
        self.segment = frame.set_index(snapshot.schema.nodes[self.segment_label].key)[prop].dropna().to_dict()
        flags = outcome_flags(snapshot)
        self.result = {d: ("won" if won else "lost") for d, won in zip(flags.index, flags["won"], strict=True)}
        self.deal_account = snapshot.edges[Rel.FOR_ACCOUNT].set_index("src")["dst"].to_dict()
        self.deal_owner = snapshot.edges[Rel.OWNED_BY].set_index("src")["dst"].to_dict()
        self.deal_products = _grouped(snapshot.edges[Rel.FOR_PRODUCT], "src", "dst")
        involves = snapshot.edges[Rel.INVOLVES]
        self.deal_contacts = {d: set(c) for d, c in _grouped(involves, "src", "dst").items()}
        self.roles = dict(zip(zip(involves["src"], involves["dst"], strict=True), involves["role"], strict=True))
        self.contact_roles: dict[str, Counter[str]] = defaultdict(Counter)
        for (_, contact), role in self.roles.items():
            if isinstance(role, str):
                self.contact_roles[contact][role] += 1
        jobs = snapshot.edges[Rel.WORKS_AT]
        current = jobs[jobs["until"].isna()] if "until" in jobs else jobs
        self.employees = _grouped(current, "dst", "src")
        self.record: dict[tuple[str, str], tuple[int, int]] = {}
        for label, rel in task.evidence.items():
            edges = snapshot.edges[rel].assign(result=lambda f: f["src"].map(self.result))
            counts = edges.groupby(["dst", "result"]).size().unstack(fill_value=0)
            won, lost = (counts[r].tolist() if r in counts else [0] * len(counts) for r in ("won", "lost"))
            self.record.update({(label, node): (int(w), int(lo))
                                for node, w, lo in zip(counts.index, won, lost, strict=True)})
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
        -1 below, 0 about typical or no record). A reader who may not see the node gets
        neither.

        A record inside `CHANCE_Z` binomial standard errors of the typical share says so ("1 of 1 earlier deals
        won — above the 33% typical, within chance"): it is weak evidence, but it still reads as good or bad
        news, so it keeps its side for the sign check."""
        won, lost = self.record.get((node.label, node.id), (0, 0))
        if not won + lost:
            return Detail(before + "no closed deals yet", node), 0
        typical, whose = self.typical_for(node)
        share = won / (won + lost)
        chance = CHANCE_Z * math.sqrt(typical * (1 - typical) / (won + lost))
        if abs(share - typical) < NEAR_TYPICAL:
            return Detail(before + f"{won} of {won + lost} earlier deals won — about the {typical:.0%} typical"
                          f"{whose}", node), 0
        polarity, side = (1, "above") if share > typical else (-1, "below")
        # Within chance the record still leans one way, and a reader takes its side ("0 of 5 won" is bad news
        # whatever the test says): the words name the side and hedge it, and the polarity keeps it, so the
        # record is never shown as moving the score against the way it reads.
        hedge = ", within chance" if abs(share - typical) < chance else ""
        words = f"{won} of {won + lost} earlier deals won — {side} the {typical:.0%} typical{whose}{hedge}"
        return Detail(before + words, node), polarity

    def record_words(self, node: NodeRef) -> Detail:
        """A track record in a suggestion: "(3 of 4 earlier deals won)"."""
        won, lost = self.record.get((node.label, node.id), (0, 0))
        return Detail(f" ({won} of {won + lost} earlier deals won)", node)


def _grouped(frame: pd.DataFrame, key: str, value: str) -> dict[str, list]:
    """`frame.groupby(key)[value].agg(list).to_dict()` (rows with no key left out, each list in row order), in
    one pass over the rows: pandas' per-group Python aggregation took seconds at a million rows."""
    out: defaultdict[str, list] = defaultdict(list)
    for k, v in zip(frame[key].tolist(), frame[value].tolist(), strict=True):
        if not pd.isna(k):
            out[k].append(v)
    return dict(out)
