"""Append-only audit events: who did what to which deal, with the score as it stood then.

Events are records of kind `audit` in the store's record log (`graph.records`),
keyed by deal id ("" when about no deal), so they are ordered, never edited,
and readable on any backend. Who may read them is decided at the edge (`api`):
revops and admin.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.records import Record
from graph.store import GraphStore, ScoreRecord

AUDIT_KIND = "audit"
#: What an event records. `feedback` may carry an override probability; alerts and their delivery attempts
#: come from `owners.alerts`; `promote` and `rollback` from `dealgraph models`; `train` from `dealgraph train`;
#: `load` and `retrain` (the guard's decision, with both models' figures) from `owners.retrain`; `review_*`
#: (a high-risk score change held, accepted, rejected or withdrawn) from `owners.review`.
ACTIONS = ("feedback", "alert", "alert_delivery", "promote", "rollback", "train", "load", "retrain", "review_hold",
           "review_accept", "review_reject", "review_withdraw")


@dataclass(frozen=True)
class Actor:
    """Who acts: the credential's subject (`key:3f9c…`, `jwt:ana`, `cli:rita`) and role; a rep's Rep id."""

    subject: str
    role: str
    rep_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    """One audit event. `seq` and `at` are set by the store when it is appended (0 / None before)."""

    action: str
    actor: Actor
    text: str = ""
    deal_id: str | None = None
    model_version: str | None = None
    probability: float | None = None
    paths: tuple[str, ...] = ()  # the explanation's path texts at the time, strongest first
    target: str | None = None  # feedback: `score` or `reason`
    path: int | None = None  # feedback on a reason: index of the path in `paths`
    override_probability: float | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0
    at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        """The event as one JSON object (`dealgraph audit --json` prints one per line)."""
        out = dataclasses.asdict(self)
        out["at"] = self.at.isoformat() if self.at else None
        out["paths"] = list(self.paths)
        return out

    @classmethod
    def from_record(cls, record: Record) -> AuditEvent:
        body = dict(record.body)
        body["actor"] = Actor(**body["actor"])
        body["paths"] = tuple(body.get("paths") or ())
        return cls(**{**body, "seq": record.seq, "at": record.at})


def score_state(score: ScoreRecord | None) -> dict[str, Any]:
    """The fields an event keeps of the deal's score when it was recorded."""
    if score is None:
        return {"model_version": None, "probability": None, "paths": ()}
    texts = tuple(p.text for p in score.explanation.paths) if score.explanation else ()
    return {"model_version": score.model_version, "probability": float(score.probability), "paths": texts}


def record_events(store: GraphStore, events: list[AuditEvent]) -> list[AuditEvent]:
    """Append events in one transaction; returns them with their `seq` and time."""
    entries = []
    for e in events:
        body = e.to_json()
        del body["seq"], body["at"]  # the store's to set
        entries.append((e.deal_id or "", body))
    return [AuditEvent.from_record(r) for r in store.append_records(AUDIT_KIND, entries)]


def read_events(store: GraphStore, deal_id: str | None = None, action: str | None = None, after: int = 0,
                limit: int | None = None) -> list[AuditEvent]:
    """Events oldest first (of one deal, of one action), with `seq` above `after`."""
    events = [AuditEvent.from_record(r) for r in store.read_records(AUDIT_KIND, key=deal_id, after=after)]
    if action is not None:
        events = [e for e in events if e.action == action]
    return events[:limit] if limit is not None else events
