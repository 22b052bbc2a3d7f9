"""The deal's own facts as reasons: its stage, close date, amount and activity, each against a typical deal.

The model reads these as the deal's own columns (`gnn.timeline`, as of the scoring time), and they carry most
of a score. Each group of columns below is one reason: its weight is the change of the deal's logit when the
group is put back to the typical open deal's values (`typical_open_deal`), measured in the explainer's batched
forward pass (`gnn.explain`). Its sentence states the deal's value beside that typical value ("Close date pushed
3 times — more than the 1 typical"), so "raises" and "lowers" are relative to the same thing the words compare
with.

Why the open deals' average and not the paths' `Reference` (the average of every deal of the graph): that one
averages in the closed deals, whose close dates passed long ago and whose activity stopped, so an open deal read
"0 days overdue — fewer than the 96 typical". A rep compares an open deal with the other open deals.

The values come from the deal's encoded row, which holds only what was recorded before the scoring time, and
the typical value from the typical open deal's (both log-scaled counts and days, shown back in days and counts).
The comparative words ("longer than", "more than", "fewer than", "shorter than", "busier than", "quieter than"
with "typical") are the ones `gnn.wording.contradiction` reads; stage and amount are stated without a side.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from torch import Tensor

from gnn.deal_facts import compared
from gnn.timeline import KINDS, WINDOWS
from graph.explanation import Phrase

PREFIX = "timeline:"
STAGE = f"{PREFIX}stage="
#: What a fact's weight is relative to.
FACT_TYPICAL = Phrase.of("a typical open deal: this fact at the average open deal's value")
#: Below this change of the logit a fact is no reason either way (about a point of probability near 50%).
MATERIAL = 0.05
#: The window activity is counted over in the sentence (the longer of the model's two).
WINDOW = max(WINDOWS)

#: Each reason and the timeline columns its weight puts back to typical (those the model has; names without the
#: prefix). Stage and time in it are separate reasons: a late stage can raise a score while a long stay lowers it.
GROUPS: dict[str, tuple[str, ...]] = {
    "stage": ("has_history", "stage_changes", "stage_regressions"),  # and every `stage=` one-hot column
    "time_in_stage": ("days_in_stage",),
    "close_pushes": ("close_pushes",),
    "overdue": ("days_overdue", "days_to_close"),
    "amount": ("amount_changes", "amount_ratio"),
    "recency": ("has_activity", "days_since_activity", "days_since_inbound"),
    "volume": (*(f"{k}_{w}d" for w in WINDOWS for k in KINDS), "inbound_60d", "contacts_engaged_share"),
}


@dataclass(frozen=True)
class FactGroup:
    """One reason's name and the positions of its columns among the deal's features."""

    name: str
    columns: tuple[int, ...]


def fact_groups(names: list[str]) -> list[FactGroup]:
    """The groups of `GROUPS` the model's deal columns (`FeatureSpec.column_names`) hold, in that order."""
    where = {n: i for i, n in enumerate(names)}
    out = []
    for name, members in GROUPS.items():
        columns = [where[PREFIX + m] for m in members if PREFIX + m in where]
        if name == "stage":
            columns += [i for n, i in where.items() if n.startswith(STAGE)]
        if columns:
            out.append(FactGroup(name, tuple(sorted(columns))))
    return out


def typical_open_deal(x: Tensor, names: list[str]) -> Tensor:
    """The average row of the open deals of `x` (neither outcome flag set, as of the scoring time); of every
    deal where the columns do not say (no names) or none is open."""
    if "won" in names and "lost" in names and len(names) == x.shape[1]:
        still_open = (x[:, names.index("won")] == 0) & (x[:, names.index("lost")] == 0)
        if bool(still_open.any()):
            return x[still_open].mean(0)
    return x.mean(0) if x.shape[0] else x.new_zeros(x.shape[1])


class DealRow:
    """A deal's timeline values and the typical deal's, read back from their encoded (log-scaled) form."""

    def __init__(self, names: list[str], row: Tensor, typical: Tensor) -> None:
        self.where = {n: i for i, n in enumerate(names)}
        self.row, self.typical = row, typical

    def has(self, column: str) -> bool:
        return PREFIX + column in self.where

    def raw(self, column: str, typical: bool = False) -> float:
        return float((self.typical if typical else self.row)[self.where[PREFIX + column]])

    def count(self, column: str, typical: bool = False) -> int:
        """A log1p-scaled count or number of days, back as a whole number."""
        return round(math.expm1(self.raw(column, typical)))

    def has_history(self) -> bool:
        """Whether the deal has stage/close/amount history to state (models without the column: assume so)."""
        return not self.has("has_history") or bool(self.raw("has_history"))

    def stage(self) -> str | None:
        """The deal's stage at the scoring time, or None where it has no stage history."""
        stages = {n.removeprefix(STAGE): float(self.row[i]) for n, i in self.where.items() if n.startswith(STAGE)}
        current = max(stages, key=lambda s: stages[s], default=None)
        if current is None or stages[current] < 0.5:
            return None
        return "a stage outside the model's list" if current == "other" else current


def _times(n: int) -> str:
    return f"{n} time{'' if n == 1 else 's'}"


def _stage(d: DealRow) -> tuple[str, int] | None:
    stage = d.stage()
    return (f"At stage {stage}", 0) if stage else None


def _time_in_stage(d: DealRow) -> tuple[str, int] | None:
    stage = d.stage()
    if stage is None:
        return None
    days, typical = d.count("days_in_stage"), d.count("days_in_stage", True)
    words, side = compared(days, typical, 0, "longer than", "shorter than")
    return f"In {stage} for {days} days — {words} the {typical} typical", side


def _close_pushes(d: DealRow) -> tuple[str, int] | None:
    if not d.has_history():
        return None
    pushes, typical = d.count("close_pushes"), d.count("close_pushes", True)
    words, side = compared(pushes, typical, 0, "more than", "fewer than")
    pushed = f"pushed {_times(pushes)}" if pushes else "never pushed"
    return f"Close date {pushed} — {words} the {typical} typical", side


def _overdue(d: DealRow) -> tuple[str, int] | None:
    if not d.has_history():
        return None
    days, typical = d.count("days_overdue"), d.count("days_overdue", True)
    words, side = compared(days, typical, 0, "more than", "fewer than")
    ahead = f" (expected in {d.count('days_to_close')} days)" if not days and d.has("days_to_close") else ""
    return f"Close date {days} days overdue{ahead} — {words} the {typical} typical", side


def _amount(d: DealRow) -> tuple[str, int] | None:
    if not d.has_history():
        return None
    changes = d.count("amount_changes")
    if not changes:
        return "Amount never changed", 0
    ratio = math.exp(d.raw("amount_ratio")) if d.has("amount_ratio") else None
    now = f", now {ratio:.0%} of its first value" if ratio is not None else ""
    return f"Amount changed {_times(changes)}{now}", 0


def _recency(d: DealRow) -> tuple[str, int] | None:
    days, typical = d.count("days_since_activity"), d.count("days_since_activity", True)
    words, side = compared(days, typical, 0, "longer than", "shorter than")
    if d.has("has_activity") and not d.raw("has_activity"):
        return f"No activity yet, {days} days since it opened — {words} the {typical} typical", side
    if not days:
        return f"Last activity less than a day ago — {words} the {typical} typical", side
    return f"No activity for {days} days — {words} the {typical} typical", side


def _volume(d: DealRow) -> tuple[str, int] | None:
    kinds = [k for k in KINDS if d.has(f"{k}_{WINDOW}d")]
    if not kinds:
        return None
    n = sum(d.count(f"{k}_{WINDOW}d") for k in kinds)
    typical = sum(d.count(f"{k}_{WINDOW}d", True) for k in kinds)
    # More activity is good news: "busier" / "quieter", not "more" / "fewer", which the check reads as bad.
    words, side = compared(n, typical, 0, "busier than", "quieter than")
    return f"{n} activit{'y' if n == 1 else 'ies'} in the last {WINDOW} days — {words} the {typical} typical", -side


SENTENCES: dict[str, Callable[[DealRow], tuple[str, int] | None]] = {
    "stage": _stage, "time_in_stage": _time_in_stage, "close_pushes": _close_pushes, "overdue": _overdue,
    "amount": _amount, "recency": _recency, "volume": _volume,
}


#: The groups whose sentence states a value the deal's CRM record also shows (its stage, its close date).
RECORDED = {"stage": "stage", "time_in_stage": "stage", "overdue": "close_date"}


def disagrees_with_record(group: str, row: DealRow, record: dict, now: pd.Timestamp) -> bool:
    """Whether a fact's sentence would contradict the deal's record as stored now. The model reads the stage and
    close date from their history (the last change before the scoring time); where the export's history stops
    short of the record — a close date changed without a history row, history trimmed by the CRM's retention —
    a rep would read "44 days overdue" beside a close date still ahead. Such a fact is not shown: the rep checks it
    against the record and it fails, whatever the model saw."""
    field = RECORDED.get(group)
    if field is None or record.get(field) is None:
        return False
    if field == "stage":
        stage = row.stage()
        return stage is not None and stage != "a stage outside the model's list" and stage != str(record[field])
    close = pd.to_datetime(record[field], utc=True, errors="coerce")
    if pd.isna(close) or not row.has("days_overdue"):
        return False
    gap = (close - now).total_seconds() / 86400
    seen = -row.count("days_overdue") if row.count("days_overdue") else row.count("days_to_close")
    return abs(seen - gap) > 1.5


def fact_sentence(group: str, row: DealRow) -> tuple[str, int] | None:
    """The sentence for one group of a deal's facts and the side its words take (+1 good news, -1 bad, 0 none),
    or None where the deal has nothing to state (no stage history, say)."""
    return SENTENCES[group](row)
