"""The prediction task as a declaration, as relbench declares one: what is scored, what makes an example
positive, over which horizon, and which related records are the evidence an explanation counts.

A second task is a new `Task`, not new code: the examples (`gnn.dataset`) and the explanations' counts
(`gnn.node_facts.Facts`) read the declaration. `WIN` is the product's task; `CLOSE_SOON` ("will this deal
close, won or lost, within 30 days", for the forecast) is declared beside it to keep that true.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd

from ontology.names import Label, Rel


@dataclass(frozen=True)
class Task:
    """A binary task over one node type.

    Attributes:
        name: how models and reports name it.
        target: the node type scored (its open ones: those with no `outcome` edge yet).
        outcome: the relation whose edge resolves an example (from `target` to the node holding the result).
        positive_when: property -> value of the outcome node that makes the label 1; empty: any outcome does.
        horizon_days: the label counts only an outcome within this many days of the example's cutoff;
            None: the eventual outcome (then `positive_when` must say which outcomes are positive).
        evidence: node type -> the relation from `target` by which its earlier results are counted
            ("3 of 4 earlier deals won").
        segment: (node type, property) whose value the typical rate is computed within ("for Retail accounts").
    """

    name: str
    target: str
    outcome: str
    positive_when: Mapping[str, str] = field(default_factory=dict)
    horizon_days: int | None = None
    evidence: Mapping[str, str] = field(default_factory=dict)
    segment: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if not self.positive_when and self.horizon_days is None:
            raise ValueError(f"task {self.name!r}: with every outcome positive, a horizon must say by when")

    def positive(self, outcomes: pd.DataFrame) -> pd.Series:
        """1.0 / 0.0 per resolved example, from its outcome's properties (one row per example)."""
        hit = pd.Series(True, index=outcomes.index)
        for prop, value in self.positive_when.items():
            hit &= outcomes[prop] == value
        return hit.astype(float)


_EVIDENCE = {
    Label.CONTACT: Rel.INVOLVES,
    Label.ACCOUNT: Rel.FOR_ACCOUNT,
    Label.PRODUCT: Rel.FOR_PRODUCT,
    Label.REP: Rel.OWNED_BY,
}

#: Will this open deal be won (eventually, or within the horizon training asks for)?
WIN = Task(
    "win",
    Label.DEAL,
    Rel.HAS_OUTCOME,
    positive_when={"result": "won"},
    evidence=_EVIDENCE,
    segment=(Label.ACCOUNT, "industry"),
)
#: Will this open deal close, won or lost, within 30 days?
CLOSE_SOON = Task(
    "close_within_30_days",
    Label.DEAL,
    Rel.HAS_OUTCOME,
    horizon_days=30,
    evidence=_EVIDENCE,
    segment=(Label.ACCOUNT, "industry"),
)
TASKS = {t.name: t for t in (WIN, CLOSE_SOON)}
