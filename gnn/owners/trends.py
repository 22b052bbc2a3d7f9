"""Win rate, cycle time and won amount per close quarter: the KPIs the forecast is read beside."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from gnn.outcomes import deal_outcomes
from graph.store import GraphStore
from ontology.names import Label, Rel

OWNER_RELATION = Rel.OWNED_BY


@dataclass(frozen=True)
class TrendRow:
    period: str  # close quarter, e.g. 2025-Q2
    closed: int
    won: int
    win_rate: float
    median_cycle_days: float | None  # created to closed, over closed deals
    won_amount: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def trends(store: GraphStore, rep_ids: Iterable[str] | None = None) -> list[TrendRow]:
    """Per close quarter, oldest first, over closed deals (of these reps' when `rep_ids` is given)."""
    snap = store.snapshot()
    deals = snap.nodes[Label.DEAL].set_index("id")
    closed = deal_outcomes(snap).join(deals[["created_at", "amount"]], how="inner")
    closed = closed[closed["result"].isin(["won", "lost"]) & closed["closed_at"].notna()]
    if rep_ids is not None:
        owner = snap.edges[OWNER_RELATION].drop_duplicates("src").set_index("src")["dst"]
        closed = closed[closed.index.map(owner).isin(set(rep_ids))]
    at = pd.to_datetime(closed["closed_at"], utc=True)
    cycle = (at - pd.to_datetime(closed["created_at"], utc=True)).dt.total_seconds() / 86400
    frame = pd.DataFrame({"period": at.dt.year.astype(str) + "-Q" + at.dt.quarter.astype(str),
                          "won": closed["result"] == "won", "cycle": cycle,
                          "amount": pd.to_numeric(closed["amount"], errors="coerce").fillna(0.0)})
    rows = []
    for period, g in frame.groupby("period", sort=True):
        cycles = g["cycle"].dropna()
        rows.append(TrendRow(str(period), len(g), int(g["won"].sum()), round(float(g["won"].mean()), 4),
                             round(float(cycles.median()), 1) if len(cycles) else None,
                             float(g.loc[g["won"], "amount"].sum())))
    return rows
