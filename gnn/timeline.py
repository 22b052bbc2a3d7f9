"""What a rep sees on a deal, as features as of the cutoff: stage path, close-date pushes, amount changes, activity.

Everything here is read from the snapshot's `DealChange` and `Activity` nodes, never from the Deal row: a
snapshot as of a cutoff holds only the changes and activities recorded before it (`Snapshot.as_of`), the whole
store's snapshot (what `dealgraph score` reads) all of them up to now. So training and scoring compute the same
thing, and a deal without history (an export without `OpportunityHistory.csv`) has the same "unknown" inputs
at training and at scoring — never today's stage standing in for an earlier one.

Two families, each switched off as a whole by `FeatureSpec` (the model report compares with and without):

- history: stage (one-hot over the stages seen in training), days in it, stage changes and regressions (a
  move back to a stage the deal had left), close-date pushes, days overdue and days to the expected close,
  amount changes and the amount's ratio to its first value;
- activity: days since the last activity and since the last inbound one, counts by kind over the last 14 and
  60 days, inbound replies in 60 days, and contacts engaged (in any activity on the deal) over contacts on it.

Counts and days are log-scaled (`log1p`); a deal with no activity gets its age as "days since".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.dated_values import changes_of, stage_entries
from graph.snapshot import Snapshot
from ontology.names import Label, Rel

HISTORY, ACTIVITY = "history", "activity"
KINDS = ("email", "call", "meeting", "task")
WINDOWS = (14, 60)
MAX_STAGES = 12
HISTORY_COLUMNS = ("has_history", "days_in_stage", "stage_changes", "stage_regressions", "close_pushes",
                   "days_overdue", "days_to_close", "amount_changes", "amount_ratio")
ACTIVITY_COLUMNS = ("has_activity", "days_since_activity", "days_since_inbound",
                    *(f"{k}_{w}d" for w in WINDOWS for k in KINDS), "inbound_60d", "contacts_engaged_share")


def stage_values(snapshot: Snapshot) -> list[str]:
    """The stages recorded in a snapshot's history, most common first (at most MAX_STAGES), for one-hot columns."""
    changes = changes_of(snapshot.schema, snapshot.nodes, snapshot.edges, Label.DEAL)
    counts = changes["stage"].dropna().astype(str).value_counts() if "stage" in changes else pd.Series(dtype=int)
    return sorted(counts.index[:MAX_STAGES].tolist())


def column_names(families: list[str], stages: list[str]) -> list[str]:
    names: list[str] = []
    if HISTORY in families:
        names += [f"timeline:{c}" for c in HISTORY_COLUMNS] + [f"timeline:stage={s}" for s in [*stages, "other"]]
    if ACTIVITY in families:
        names += [f"timeline:{c}" for c in ACTIVITY_COLUMNS]
    return names


def timeline_columns(snapshot: Snapshot, now: pd.Timestamp, families: list[str], stages: list[str]) -> np.ndarray:
    """Per deal of `snapshot.nodes["Deal"]` (in order), the columns `column_names(families, stages)`."""
    deals = snapshot.nodes[Label.DEAL]
    ids = pd.Index(deals["id"])
    age = _days(now - deals["created_at"]).fillna(0).clip(lower=0).to_numpy(float)
    parts: list[np.ndarray] = []
    if HISTORY in families:
        parts.append(_history(snapshot, ids, now, stages))
    if ACTIVITY in families:
        parts.append(_activity(snapshot, ids, now, age))
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(ids), 0))


def _days(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / 86400.0


def _recorded(changes: pd.DataFrame, column: str) -> pd.DataFrame:
    """The changes that recorded `column` (none where the ontology keeps no history of it)."""
    return changes.dropna(subset=[column]) if column in changes else changes.iloc[0:0]


def _history(snapshot: Snapshot, ids: pd.Index, now: pd.Timestamp, stages: list[str]) -> np.ndarray:
    changes = changes_of(snapshot.schema, snapshot.nodes, snapshot.edges, Label.DEAL)
    rows = pd.RangeIndex(len(ids))
    out = pd.DataFrame(0.0, index=rows, columns=list(HISTORY_COLUMNS))
    onehot = np.zeros((len(ids), len(stages) + 1))
    if changes.empty:
        return np.concatenate([out.to_numpy(float), onehot], axis=1)
    changes = _by_row(changes, "node", ids)
    out.loc[out.index.isin(changes["node"]), "has_history"] = 1.0
    steps = stage_entries(changes)
    if not steps.empty:
        last = steps.groupby("node").last()
        out.loc[last.index, "days_in_stage"] = np.log1p(_days(now - last["changed_at"]).clip(lower=0)).to_numpy()
        out.loc[last.index, "stage_changes"] = np.log1p(steps.groupby("node").size() - 1).reindex(last.index)
        # A regression: entering a stage the deal had already left (order-free, so any CRM's stage names work).
        seen_before = steps.groupby(["node", "stage"]).cumcount() > 0
        out.loc[last.index, "stage_regressions"] = seen_before.groupby(steps["node"]).sum().reindex(last.index)
        current = last["stage"].astype(str).reindex(rows)
        for i, s in enumerate(stages):
            onehot[:, i] = (current == s).to_numpy()
        onehot[:, -1] = (current.notna() & ~current.isin(stages)).to_numpy()
    dated = _recorded(changes, "close_date")
    if not dated.empty:
        pushed = dated["close_date"] > dated.groupby("node")["close_date"].shift()
        out.loc[:, "close_pushes"] = np.log1p(pushed.groupby(dated["node"]).sum().reindex(rows).fillna(0)).to_numpy()
        expected = dated.groupby("node")["close_date"].last().reindex(rows)
        gap = _days(expected - now)
        out.loc[:, "days_overdue"] = np.log1p((-gap).clip(lower=0).fillna(0)).to_numpy()
        out.loc[:, "days_to_close"] = np.log1p(gap.clip(lower=0).fillna(0)).to_numpy()
    valued = _recorded(changes, "amount")
    if not valued.empty:
        moved = valued["amount"].ne(valued.groupby("node")["amount"].shift()) & valued.duplicated("node")
        out.loc[:, "amount_changes"] = np.log1p(moved.groupby(valued["node"]).sum().reindex(rows).fillna(0)).to_numpy()
        first, last_amount = valued.groupby("node")["amount"].first(), valued.groupby("node")["amount"].last()
        ratio = np.log((last_amount.clip(lower=1) / first.clip(lower=1)).reindex(rows).fillna(1.0))
        out.loc[:, "amount_ratio"] = ratio.to_numpy()
    return np.concatenate([out.to_numpy(float), onehot], axis=1)


def _by_row(frame: pd.DataFrame, column: str, ids: pd.Index) -> pd.DataFrame:
    """The rows of `frame` about these deals, `column` (a deal's id) replaced by the deal's row in `ids`: grouping
    by an integer is several times cheaper than by the id's text (a 1M-row graph's scoring, docs/design.md)."""
    rows = ids.get_indexer(frame[column])
    keep = rows >= 0
    return frame[keep].assign(**{column: rows[keep]})


def _activity(snapshot: Snapshot, ids: pd.Index, now: pd.Timestamp, age: np.ndarray) -> np.ndarray:
    rows = pd.RangeIndex(len(ids))
    out = pd.DataFrame(0.0, index=rows, columns=list(ACTIVITY_COLUMNS))
    out["days_since_activity"] = np.log1p(age)
    out["days_since_inbound"] = np.log1p(age)
    if Label.ACTIVITY not in snapshot.nodes or snapshot.nodes[Label.ACTIVITY].empty:
        return out.to_numpy(float)
    acts = snapshot.nodes[Label.ACTIVITY][["id", "kind", "direction", "occurred_at"]]
    about = snapshot.edges[Rel.REGARDS][["src", "dst"]].rename(columns={"src": "id", "dst": "deal"})
    acts = _by_row(about.merge(acts, on="id"), "deal", ids)
    if acts.empty:
        return out.to_numpy(float)
    acts = acts.assign(days=_days(now - acts["occurred_at"]).clip(lower=0))
    by_deal = acts.groupby("deal")
    out.loc[by_deal.size().index, "has_activity"] = 1.0
    out.loc[:, "days_since_activity"] = np.log1p(by_deal["days"].min().reindex(rows)).fillna(
        out["days_since_activity"]).to_numpy()
    inbound = acts[acts["direction"] == "inbound"]
    since_in = np.log1p(inbound.groupby("deal")["days"].min().reindex(rows))
    out.loc[:, "days_since_inbound"] = since_in.fillna(out["days_since_inbound"]).to_numpy()
    for window in WINDOWS:
        recent = acts[acts["days"] <= window]
        counts = recent.groupby(["deal", "kind"]).size().unstack(fill_value=0).reindex(rows).fillna(0)
        for kind in KINDS:
            if kind in counts:
                out.loc[:, f"{kind}_{window}d"] = np.log1p(counts[kind]).to_numpy()
    out.loc[:, "inbound_60d"] = np.log1p(
        inbound[inbound["days"] <= 60].groupby("deal").size().reindex(rows).fillna(0)).to_numpy()
    people = snapshot.edges[Rel.WITH_CONTACT][["src", "dst"]].rename(columns={"src": "id", "dst": "contact"})
    engaged = acts[["id", "deal"]].merge(people, on="id").groupby("deal")["contact"].nunique().reindex(rows)
    on_deal = _by_row(snapshot.edges[Rel.INVOLVES], "src", ids).groupby("src")["dst"].nunique().reindex(rows)
    share = (engaged.fillna(0) / on_deal.clip(lower=1)).fillna(0).clip(upper=1.0)
    out.loc[:, "contacts_engaged_share"] = share.to_numpy()
    return out.to_numpy(float)
