"""The prediction task is a declaration: a second task labels the same deals its own way, with no new code."""

from __future__ import annotations

import pandas as pd
import pytest

from gnn.dataset import TemporalSplit, labelled
from gnn.task import CLOSE_SOON, TASKS, WIN, Task
from graph.snapshot import Snapshot
from ontology import load_schema

CUTOFF = pd.Timestamp("2025-01-01", tz="UTC")


def deals_closing(*closes: tuple[str, str, str]) -> Snapshot:
    """Deals created before the cutoff, each closed (`result`) on its day, or still open (day "")."""
    nodes = {"Deal": [], "Outcome": []}
    edges = {"HAS_OUTCOME": []}
    for deal, result, day in closes:
        nodes["Deal"].append({"id": deal, "name": deal, "created_at": "2024-11-01T00:00:00Z"})
        if day:
            nodes["Outcome"].append({"id": f"o-{deal}", "result": result, "closed_at": f"{day}T00:00:00Z"})
            edges["HAS_OUTCOME"].append({"src": deal, "dst": f"o-{deal}"})
    return Snapshot.from_rows(load_schema(), nodes, edges)


def split(horizon_days: int | None) -> TemporalSplit:
    end = pd.Timestamp("2025-12-31", tz="UTC")
    return TemporalSplit(end, end, end, (CUTOFF,), horizon_days)  # everything in "train", labels known until `end`


def test_two_tasks_label_the_same_deals_by_their_declarations():
    full = deals_closing(("won-soon", "won", "2025-01-10"), ("lost-soon", "lost", "2025-01-20"),
                         ("won-late", "won", "2025-06-01"), ("open", "", ""))
    win = labelled(full, split(None), CUTOFF, WIN)["label"].to_dict()
    soon = labelled(full, split(CLOSE_SOON.horizon_days), CUTOFF, CLOSE_SOON)["label"].to_dict()
    assert win == {"lost-soon": 0.0, "won-late": 1.0, "won-soon": 1.0}  # the open deal's outcome is not known yet
    assert soon == {"lost-soon": 1.0, "open": 0.0, "won-late": 0.0, "won-soon": 1.0}


def test_a_task_that_counts_every_outcome_needs_a_horizon():
    with pytest.raises(ValueError, match="horizon"):
        Task("closes", "Deal", "HAS_OUTCOME")
    assert set(TASKS) == {WIN.name, CLOSE_SOON.name}
