"""High-risk score changes go to a person: held as "pending review" until RevOps accept or reject them.

A new score is high risk (`ReviewPolicy`, from settings) when, against the
score served now, it drops the deal by more than `drop_points`, or moves it by
at least `min_move` on a deal worth `min_amount` or more, or is the first
score a newly promoted model gives the deal (the served one came from another
version) and moves it by at least `min_move`. A deal's first score ever is
served at once: there is no earlier score to keep serving, and holding it
would leave the deal unscored.

What is served while a change waits: the previous score, unchanged, flagged
with the pending change (GraphQL `Score.review`). Reps keep acting on a
figure a person vouched for or the model produced under review-free rules;
the flag tells them a change is coming and why. Accepting writes the held
score (it becomes the latest, the old one archived for rollback); rejecting
keeps the served one. Either is audited with who decided.

Every step is an audit event (`owners.audit`): `review_hold` (the held score
in `detail["proposed"]`, the reasons), `review_accept` / `review_reject`
(`detail["hold"]` = the hold's seq), and `review_withdraw` when a later
scoring replaced or dropped the change before anyone decided. A hold is
pending while no later review event about its deal exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from gnn.owners.audit import Actor, AuditEvent, read_events, record_events
from gnn.owners.score_archive import archive_replaced
from graph.explanation import dump_explanation, load_explanation
from graph.store import GraphStore, InvalidInput, ScoreRecord

SYSTEM = Actor(subject="dealgraph:review", role="system")
DECIDERS = ("revops", "admin")
HOLD, ACCEPT, REJECT, WITHDRAW = "review_hold", "review_accept", "review_reject", "review_withdraw"
REVIEW_ACTIONS = (HOLD, ACCEPT, REJECT, WITHDRAW)


@dataclass(frozen=True)
class ReviewPolicy:
    """What makes a score change high risk; a rule set to None (or False) is off."""

    min_amount: float | None = 250_000.0
    drop_points: float | None = 0.2  # probability points as a share: 0.2 = 20 points
    new_model: bool = True
    min_move: float = 0.05  # the amount and new-model rules ignore moves smaller than this (rescoring noise)


@dataclass(frozen=True)
class Pending:
    """A held change: the hold's audit seq, the proposed score, and why it was held."""

    seq: int
    deal_id: str
    proposed: ScoreRecord
    served_probability: float
    served_version: str
    reasons: list[str]
    held_at: datetime | None


def risks(policy: ReviewPolicy, new: ScoreRecord, served: ScoreRecord | None, amount: float) -> list[str]:
    """Why replacing `served` with `new` is high risk (empty: it is not)."""
    if served is None:
        return []
    move = new.probability - served.probability
    out = []
    if policy.drop_points is not None and -move > policy.drop_points:
        out.append(f"drop of {-move * 100:.0f} points (more than {policy.drop_points * 100:.0f})")
    if abs(move) >= policy.min_move:
        if policy.min_amount is not None and amount >= policy.min_amount:
            out.append(f"amount {amount:,.0f} at or above {policy.min_amount:,.0f}")
        if policy.new_model and new.model_version != served.model_version:
            out.append(f"first score from newly promoted model {new.model_version} (served: {served.model_version})")
    return out


def _score_json(s: ScoreRecord) -> dict[str, Any]:
    return {"probability": s.probability, "model_version": s.model_version, "band": s.band,
            "scored_at": s.scored_at.isoformat(), "explanation": dump_explanation(s.explanation),
            "metadata": dict(s.metadata or {})}


def _pending_of(hold: AuditEvent) -> Pending:
    p, d = hold.detail["proposed"], hold.detail
    record = ScoreRecord(deal_id=str(hold.deal_id), probability=float(p["probability"]),
                         model_version=p["model_version"], scored_at=datetime.fromisoformat(p["scored_at"]),
                         band=p["band"], explanation=load_explanation(p["explanation"]), metadata=p["metadata"])
    return Pending(hold.seq, str(hold.deal_id), record, float(d["served_probability"]), str(d["served_version"]),
                   list(d["reasons"]), hold.at)


def pending(store: GraphStore, deal_id: str | None = None) -> list[Pending]:
    """Held changes nobody decided yet (of one deal), oldest first."""
    last: dict[str, AuditEvent] = {}
    for e in read_events(store, deal_id=deal_id):
        if e.action in REVIEW_ACTIONS and e.deal_id:
            last[e.deal_id] = e
    return sorted((_pending_of(e) for e in last.values() if e.action == HOLD), key=lambda p: p.seq)


def serve_scores(store: GraphStore, records: Sequence[ScoreRecord], policy: ReviewPolicy,
                 amounts: Mapping[str, float]) -> tuple[list[ScoreRecord], list[AuditEvent]]:
    """Write the scores that are not high risk; hold the others for review. Returns (written, holds).

    The served scores that written ones replace with another model's are archived first (`score_archive`);
    a change still pending for a deal whose new score is served or held anew is withdrawn.
    """
    ids = [r.deal_id for r in records]
    served = store.latest_scores(ids)
    waiting = {p.deal_id: p for p in pending(store)}
    write: list[ScoreRecord] = []
    events: list[AuditEvent] = []
    for r in records:
        old = served.get(r.deal_id)
        reasons = risks(policy, r, old, float(amounts.get(r.deal_id, 0.0)))
        if r.deal_id in waiting and not reasons:
            events.append(AuditEvent(action=WITHDRAW, actor=SYSTEM, deal_id=r.deal_id, model_version=r.model_version,
                                     probability=r.probability, text="a later score is not high risk: served",
                                     detail={"hold": waiting[r.deal_id].seq}))
        if not reasons:
            write.append(r)
            continue
        assert old is not None  # a first score is never high risk
        events.append(AuditEvent(
            action=HOLD, actor=SYSTEM, deal_id=r.deal_id, model_version=r.model_version, probability=r.probability,
            text=f"held for review: {old.probability:.0%} -> {r.probability:.0%} ({'; '.join(reasons)})",
            detail={"proposed": _score_json(r), "served_probability": old.probability,
                    "served_version": old.model_version, "reasons": reasons}))
    archive_replaced(store, write)
    store.write_scores(write)
    recorded = record_events(store, events) if events else []
    return write, [e for e in recorded if e.action == HOLD]


def decide(store: GraphStore, actor: Actor, hold_seq: int, accept: bool, note: str = "") -> AuditEvent:
    """Accept (serve the held score) or reject (keep the served one) a pending change, audited.

    Raises:
        InvalidInput: the actor is not revops or admin, or no change with that id is pending.
    """
    if actor.role not in DECIDERS:
        raise InvalidInput(f"only revops or admin may accept or reject a held score change (you are {actor.role})")
    hold = next((p for p in pending(store) if p.seq == hold_seq), None)
    if hold is None:
        raise InvalidInput(f"no score change #{hold_seq} is pending review (decided, withdrawn, or no such id)")
    if accept:
        record = replace(hold.proposed, scored_at=datetime.now(UTC),
                         metadata={**hold.proposed.metadata, "accepted_hold": hold_seq})
        archive_replaced(store, [record])
        store.write_scores([record])
    verdict = "accepted: now served" if accept else "rejected: the served score stays"
    event = AuditEvent(action=ACCEPT if accept else REJECT, actor=actor, deal_id=hold.deal_id,
                       model_version=hold.proposed.model_version, probability=hold.proposed.probability,
                       text=f"{verdict} ({hold.served_probability:.0%} -> {hold.proposed.probability:.0%})"
                            + (f": {note.strip()}" if note.strip() else ""),
                       detail={"hold": hold_seq, "accepted": accept})
    return record_events(store, [event])[0]


def withdraw_version(store: GraphStore, version: str, why: str) -> int:
    """Withdraw every pending change proposed by `version` (it no longer serves); returns how many."""
    events = [AuditEvent(action=WITHDRAW, actor=SYSTEM, deal_id=p.deal_id, model_version=version,
                         probability=p.proposed.probability, text=why, detail={"hold": p.seq})
              for p in pending(store) if p.proposed.model_version == version]
    return len(record_events(store, events)) if events else 0
