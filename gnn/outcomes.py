"""Deals' outcomes as a snapshot knows them: the one reader of Outcome nodes and their HAS_OUTCOME edges."""

from __future__ import annotations

import pandas as pd

from graph.snapshot import Snapshot

OUTCOME = "Outcome"  # node type folded into Deal features (`gnn.features`)
OUTCOME_EDGE = "HAS_OUTCOME"


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
