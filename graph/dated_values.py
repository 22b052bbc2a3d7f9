"""Dated values: a property's value as known at a time, from the nodes that keep its history.

The ontology marks a property with `dg:historyClass` when its dated values are
kept as nodes of their own (a deal's stage, amount and close date as
`DealChange` nodes, from Salesforce `OpportunityHistory` or a generic
`stage_history.csv`). As of t the value is the last one recorded strictly
before t (the store's time rule). Where no change is recorded before t, the
current value stands in only if the ontology says that is safe: a property
marked `dg:currentValueOnly` (the stage, the close date) is then unknown,
because today's value says nothing true about an earlier time.

A deal's time in its stage is read from the same changes (`stage_entries`), by the model's features
(`gnn.timeline`) and by the widget's "in stage N days" (`api.graphql.activity`) alike.

Example:
    >>> changes = changes_of(snapshot, "Deal")          # id, changed_at, stage, amount, close_date
    >>> deals = known_values(snapshot, "Deal", snapshot.nodes["Deal"])
    >>> entered = stage_entries(changes).groupby("node")["changed_at"].last()  # when each entered its stage
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ontology import Schema


def changes_of(schema: Schema, nodes: Mapping[str, pd.DataFrame], edges: Mapping[str, pd.DataFrame],
               label: str) -> pd.DataFrame:
    """Every recorded change of `label`'s dated properties in these tables, oldest first.

    Columns: `node` (the id of the changed node), the history node's time column and the dated properties.
    Empty (with those columns) where the ontology keeps no history for `label`.
    """
    found = schema.history_of(label)
    dated = [p.name for p in schema.dated_properties(label)]
    if found is None:
        return pd.DataFrame(columns=["node", "changed_at", *dated])
    history, relation = found
    time = schema.nodes[history].time
    link = edges[relation][["src", "dst"]].rename(columns={"src": "change", "dst": "node"})
    rows = nodes[history][[schema.nodes[history].key, time, *dated]].rename(
        columns={schema.nodes[history].key: "change", time: "changed_at"})
    merged = link.merge(rows, on="change", how="inner").drop(columns="change")
    # Ties at one instant keep the file's order of ids: deterministic, whichever the store returned first.
    return merged.sort_values(["node", "changed_at"], kind="stable", ignore_index=True)


def known_values(schema: Schema, nodes: Mapping[str, pd.DataFrame], edges: Mapping[str, pd.DataFrame],
                 label: str) -> pd.DataFrame:
    """`nodes[label]` with each dated property replaced by its last recorded value in these tables.

    The tables are meant to be a snapshot's as of a time, so "last recorded" is "known then". Without a
    recorded value the current one stays, unless the property is current-value-only: then it is missing.
    """
    frame = nodes[label]
    dated = schema.dated_properties(label)
    if not dated:
        return frame
    key = schema.nodes[label].key
    changes = changes_of(schema, nodes, edges, label)
    frame = frame.copy()
    ids = frame[key]
    for prop in dated:
        seen = changes.dropna(subset=[prop.name])
        last = seen.groupby("node", sort=False)[prop.name].last()
        has_value = ids.isin(last.index).to_numpy()
        column = frame[prop.name].copy()
        if prop.current_value_only:
            column[~has_value] = None  # today's value says nothing true about an earlier time
        if has_value.any():
            column[has_value] = ids[has_value].map(last).to_numpy()
        frame[prop.name] = column
    return frame


def stage_entries(changes: pd.DataFrame) -> pd.DataFrame:
    """The changes that put a node in a stage (`stage_entry_positions`); a node's last one is when it entered the
    stage it is in.

    `changes` as `changes_of` gives them: columns `node`, `changed_at` and `stage`, each node's rows together and
    oldest first. Empty where no stage is recorded.
    """
    if "stage" not in changes:
        return changes.iloc[0:0]
    return changes.iloc[stage_entry_positions(changes["node"].to_numpy(), changes["stage"].to_numpy())]


def stage_entry_positions(nodes: Sequence[Any] | np.ndarray, stages: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Positions of the changes that put their node in a stage: those recording a stage other than the node's
    previous recorded one. A change that records no stage (an amount only) or the same stage again does not
    restart it, so a node's last entry is the first change of its latest run of one stage.

    `nodes[i]` / `stages[i]`: the node a change is of and the stage it recorded (None or NaN: none), each node's
    changes together and oldest first. Plain arrays, so one deal's few changes (the widget) cost microseconds
    and a snapshot's (the model's features) one pass.
    """
    recorded = np.flatnonzero(~pd.isna(np.asarray(stages, dtype=object)))
    node, stage = np.asarray(nodes, dtype=object)[recorded], np.asarray(stages, dtype=object)[recorded]
    entered = np.ones(len(recorded), dtype=bool)
    entered[1:] = (node[1:] != node[:-1]) | (stage[1:] != stage[:-1])
    return recorded[entered]
