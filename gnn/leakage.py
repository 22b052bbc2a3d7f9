"""The leak guard: an input that alone nearly decides the label is refused, not trained on.

Features are built from the graph as of each cutoff, so a property of the
deal's own future cannot enter by construction, except one whose history the
export does not keep: a source that overwrites a deal's stage at close, fills a
contact's title only once the deal is won, or assigns an owner only to won
leads, hands the outcome to the model. The ontology marks such properties
(`dg:currentValueOnly`) and features skip them; this guard is the second line,
for a property marked wrongly or a new mapping. On the training examples it
tests, each alone, every input the model sees:

- the deal's own columns (amount, lead source, ...);
- each neighbour attribute, as the mean over the deal's edges of one type
  (its owner's team, its contacts' titles, ...);
- the existence of edges: how many edges of each type the deal has;
- the existence of nodes: each rep, product, contact or account the deal links
  to, as an indicator, and as a purity test (one node on many deals, all won or
  all lost, beyond what the base rate makes plausible).

A column whose AUROC is beyond `LEAK_AUROC` (either way), or a node that fails
the purity test, is a leak until proven otherwise: training stops and names it,
with the mapping column it came from when the caller says (`provenance`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score

from gnn.dataset import CutoffExamples
from gnn.features import HISTORY_PREFIX, FeatureSpec
from graph.errors import DealgraphError
from ontology.names import Label

# The strongest honest single inputs measured: 0.70 on the default sample (a record at opening), 0.75 on the
# lead-funnel fixture (a deal's age); a days-to-close column mapped as a deal field scored exactly 0.95 there,
# which the former limit of 0.95 let through.
LEAK_AUROC = 0.90
NODE_MIN_DEALS = 15  # fewer deals on one node say nothing about purity
NODE_CHANCE = 1e-9  # all-won / all-lost on a node less likely than this under the base rate is a leak


@dataclass(frozen=True)
class Leak:
    """One input that alone predicts the outcome: what it is, how it was found, and where it came from."""

    input: str  # as the model sees it, e.g. "OWNED_BY -> Rep.team=East"
    kind: str  # own column | neighbour attribute | edge existence | node existence
    source: str  # the ontology term it is built from: "Deal.amount", "Rep.team", "OWNED_BY"
    evidence: str  # "AUROC 0.99" or "all 40 deals won (chance 1e-16 at base rate 0.4)"
    auroc: float | None = None  # the input's own AUROC, where that is how it was found

    def describe(self, provenance: Mapping[str, str] | None = None) -> str:
        where = (provenance or {}).get(self.source)
        return f"{self.input} [{self.kind}, {self.evidence}; from {where or self.source}]"


class LeakageError(DealgraphError):
    """An input predicts the label too well to be honest; `leaks` lists each."""

    def __init__(self, message: str, leaks: list[Leak], provenance: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.leaks = leaks
        self.provenance = dict(provenance or {})


def _auroc(y: np.ndarray, x: np.ndarray) -> float | None:
    if np.ptp(x) == 0:
        return None  # constant: predicts nothing
    a = float(roc_auc_score(y, x))
    return max(a, 1 - a)


def _relation(edge_name: str) -> str:
    """The ontology relation behind a model edge type: "rev_INVOLVES:champion" -> "INVOLVES"."""
    return edge_name.removeprefix("rev_").split(":")[0]


def _column_source(label: str, column: str) -> str:
    if column.startswith(HISTORY_PREFIX):
        return column.removeprefix(HISTORY_PREFIX)  # a record over that relation's neighbours
    if column == "age_days":
        return f"{label}.created_at"
    return f"{label}.{column.split('=')[0]}"


def _labels(examples: list[CutoffExamples]) -> np.ndarray:
    return np.concatenate([e.labels.numpy() for e in examples])


def _table(examples: list[CutoffExamples], spec: FeatureSpec) -> dict[tuple[str, str, str], np.ndarray]:
    """Every tested input as one column over the examples: {(name, kind, source): values}."""
    first = examples[0].data
    cols: dict[tuple[str, str, str], list[np.ndarray]] = defaultdict(list)
    for e in examples:
        at = e.index.numpy()
        x = e.data[Label.DEAL].x[e.index].numpy()
        for j, name in enumerate(spec.column_names(Label.DEAL)):
            cols[(name, "own column", _column_source(Label.DEAL, name))].append(x[:, j])
        for (src, rel, dst) in first.edge_types:
            if dst != Label.DEAL or src == Label.DEAL:
                continue
            ei = e.data[src, rel, dst].edge_index
            x_src = e.data[src].x
            n = e.data[Label.DEAL].num_nodes
            count = np.bincount(ei[1].numpy(), minlength=n).astype(float)
            total = np.zeros((n, x_src.shape[1]))
            np.add.at(total, ei[1].numpy(), x_src[ei[0]].numpy())
            mean = total / np.clip(count, 1, None)[:, None]
            base, shown = _relation(rel), rel.removeprefix("rev_")  # shown keeps a split relation's value
            cols[(f"number of {shown} edges", "edge existence", base)].append(count[at])
            for j, name in enumerate(spec.column_names(src)):
                if name == "bias":
                    continue
                key = (f"{shown} -> {src}.{name}", "neighbour attribute", _column_source(src, name))
                cols[key].append(mean[at, j])
    return {k: np.concatenate(v) for k, v in cols.items()}


def _node_leaks(examples: list[CutoffExamples], y_all: np.ndarray) -> list[Leak]:
    """Neighbour nodes whose deals are all won or all lost, or whose presence alone ranks the examples."""
    base = float(y_all.mean())
    deal_label: dict[str, float] = {}
    linked: dict[tuple[str, str, str], set[str]] = defaultdict(set)  # (type, id, relation) -> deal ids
    for e in examples:
        pos_to_deal = dict(zip(e.index.tolist(), e.deal_ids, strict=True))
        for d, yv in zip(e.deal_ids, e.labels.tolist(), strict=True):
            deal_label[d] = max(deal_label.get(d, 0.0), yv)
        for (src, rel, dst) in e.data.edge_types:
            if dst != Label.DEAL or src == Label.DEAL:
                continue
            ei = e.data[src, rel, dst].edge_index.numpy()
            ids = e.data[src].node_id
            for s, t in zip(ei[0].tolist(), ei[1].tolist(), strict=True):
                if t in pos_to_deal:
                    linked[(src, ids[s], _relation(rel))].add(pos_to_deal[t])
    leaks = []
    deals = list(deal_label)
    y = np.array([deal_label[d] for d in deals])
    for (src, node, relation), on in linked.items():
        won = sum(deal_label[d] for d in on)
        n = len(on)
        chance = base**n if won == n else (1 - base) ** n if won == 0 else 1.0
        if n >= NODE_MIN_DEALS and chance < NODE_CHANCE:
            outcome = "won" if won == n else "lost"
            leaks.append(Leak(f"{src} {node} via {relation}", "node existence", relation,
                              f"on {n} deals, all {outcome} (chance {chance:.0e} at base rate {base:.2f})"))
            continue
        if len(np.unique(y)) == 2 and n >= NODE_MIN_DEALS:
            a = _auroc(y, np.array([d in on for d in deals], float))
            if a is not None and a > LEAK_AUROC:
                leaks.append(Leak(f"{src} {node} via {relation}", "node existence", relation, f"AUROC {a:.4f}", a))
    return leaks


def find_leaks(spec: FeatureSpec, examples: list[CutoffExamples]) -> list[Leak]:
    """Every input that alone separates won from lost on these examples (none with one outcome only)."""
    if not examples:
        return []
    y = _labels(examples)
    if len(np.unique(y)) < 2:
        return []
    leaks = []
    for (name, kind, source), x in _table(examples, spec).items():
        a = _auroc(y, x)
        if a is not None and a > LEAK_AUROC:
            leaks.append(Leak(name, kind, source, f"AUROC {a:.4f}", a))
    return leaks + _node_leaks(examples, y)


def suspicious_columns(spec: FeatureSpec, examples: list[CutoffExamples]) -> dict[str, float]:
    """Deal feature columns whose own AUROC on the examples is beyond the guard, with that AUROC."""
    return {leak.input: round(leak.auroc, 4) for leak in find_leaks(spec, examples)
            if leak.kind == "own column" and leak.auroc}


def refuse_leaks(
    spec: FeatureSpec, examples: list[CutoffExamples], provenance: Mapping[str, str] | None = None
) -> None:
    """Raise `LeakageError` naming every input that alone separates won from lost, and where it came from.

    `provenance` maps an ontology term ("Deal.amount", "OWNED_BY") to the mapping column that fills it
    ("salesforce: Opportunity.csv column Amount"), so the advice points at what the user can change."""
    leaks = find_leaks(spec, examples)
    if leaks:
        listed = "; ".join(leak.describe(provenance) for leak in leaks)
        raise LeakageError(
            f"refusing to train: {len(leaks)} input(s) alone predict the outcome: {listed}. "
            "Each is filled in at or after a deal's close in this export, or only for one outcome. "
            "Fix the mapping: drop that column (`ignore_columns`) or map it from a field that is known while "
            "the deal is open; then load and train again.",
            leaks,
            provenance,
        )
