"""Deals' outcomes as a snapshot knows them: the one reader of Outcome nodes and their HAS_OUTCOME edges."""

from __future__ import annotations

import pandas as pd

from gnn.task import Task
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

OUTCOME = Label.OUTCOME  # node type folded into Deal features (`gnn.features`)
OUTCOME_EDGE = Rel.HAS_OUTCOME


def deal_outcomes(snapshot: Snapshot) -> pd.DataFrame:
    """Per deal id with an outcome in the snapshot: `closed_at` and `result` ("won", "lost")."""
    edges = snapshot.edges[OUTCOME_EDGE]
    frame = snapshot.nodes[OUTCOME].set_index("id").reindex(edges["dst"].to_numpy())[["closed_at", "result"]]
    frame.index = pd.Index(edges["src"].to_numpy(), name="deal")
    return frame


def outcome_flags(snapshot: Snapshot) -> pd.DataFrame:
    """Per deal id: won / lost flags for outcomes visible in this snapshot."""
    result = deal_outcomes(snapshot)["result"]
    return pd.DataFrame({"won": (result == "won").astype(float), "lost": (result == "lost").astype(float)})


def outcome_times(snapshot: Snapshot) -> pd.DataFrame:
    """Per deal id: closed_at and won (1.0 / 0.0) for every closed deal."""
    outcomes = deal_outcomes(snapshot)
    return pd.DataFrame({"closed_at": outcomes["closed_at"], "won": (outcomes["result"] == "won").astype(float)})


def task_outcomes(snapshot: Snapshot, task: Task) -> pd.DataFrame:
    """Per `task.target` id resolved in the snapshot: when (`closed_at`, the outcome node's time) and
    `positive` (1.0 / 0.0 by the task's label rule)."""
    rel = snapshot.schema.relations[task.outcome]
    node = snapshot.schema.nodes[rel.target]
    edges = snapshot.edges[task.outcome]
    frame = snapshot.nodes[node.name].set_index(node.key).reindex(edges["dst"].to_numpy())
    frame.index = pd.Index(edges["src"].to_numpy(), name=task.target)
    return pd.DataFrame({"closed_at": frame[node.time], "positive": task.positive(frame)})
