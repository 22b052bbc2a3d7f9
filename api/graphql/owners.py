"""GraphQL of the owners' loop: the `giveFeedback` mutation and the `auditEvents` query.

Resolvers reach the loop only through `info.context.owners` (`api.owners_desk`),
which applies the visibility rule; errors the caller caused come back with
`BAD_USER_INPUT` or `FORBIDDEN` and say what was wrong.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import datetime
from enum import Enum

import strawberry
from graphql import GraphQLError

from api.graphql.errors import UserInputError
from gnn.owners.audit import AuditEvent as Event
from gnn.owners.review import Pending
from graph.store import DealgraphError, InvalidInput

MAX_EVENTS = 1000
log = logging.getLogger(__name__)


class ForbiddenError(GraphQLError):
    """The caller's role may not do this."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


@strawberry.enum(description="What feedback is about.")
class FeedbackTarget(Enum):
    SCORE = "score"
    REASON = "reason"


@strawberry.type(description="One append-only audit event (feedback, an alert, a delivery attempt).")
class AuditEvent:
    seq: int = strawberry.field(description="Position in the log: events are ordered by it.")
    at: datetime | None
    action: str = strawberry.field(description="feedback, alert or alert_delivery.")
    actor: str = strawberry.field(description="Who: the credential's subject (key:…, jwt:…, cli:…).")
    role: str
    deal_id: strawberry.ID | None
    model_version: str | None = strawberry.field(description="The model whose score it was about.")
    probability: float | None = strawberry.field(description="The deal's score when the event was recorded.")
    paths: list[str] = strawberry.field(description="The explanation's path texts then, strongest first.")
    target: str | None = strawberry.field(description="Feedback: score or reason.")
    path: int | None = strawberry.field(description="Feedback on a reason: index of the path in `paths`.")
    override_probability: float | None = strawberry.field(description="The probability the person would give.")
    text: str = strawberry.field(description="The free text: the reason given, or what the alert says.")

    @classmethod
    def of(cls, e: Event) -> AuditEvent:
        return cls(seq=e.seq, at=e.at, action=e.action, actor=e.actor.subject, role=e.actor.role,
                   deal_id=strawberry.ID(e.deal_id) if e.deal_id else None, model_version=e.model_version,
                   probability=e.probability, paths=list(e.paths), target=e.target, path=e.path,
                   override_probability=e.override_probability, text=e.text)


@strawberry.type(description="A score change held for a person (`docs/owners.md#review`): the score served "
                             "stays the previous one until RevOps accept the change.")
class ScoreReview:
    id: int = strawberry.field(description="The hold's audit seq: pass it to `decideReview`.")
    state: str = strawberry.field(description="pending_review.")
    deal_id: strawberry.ID
    proposed_probability: float = strawberry.field(description="The held score: not served until accepted.")
    proposed_model_version: str
    served_probability: float = strawberry.field(description="The score served meanwhile.")
    served_model_version: str
    reasons: list[str] = strawberry.field(description="Which high-risk rules it met (amount, drop, new model).")
    held_at: datetime | None

    @classmethod
    def of(cls, p: Pending) -> ScoreReview:
        return cls(id=p.seq, state="pending_review", deal_id=strawberry.ID(p.deal_id),
                   proposed_probability=p.proposed.probability, proposed_model_version=p.proposed.model_version,
                   served_probability=p.served_probability, served_model_version=p.served_version,
                   reasons=list(p.reasons), held_at=p.held_at)


@strawberry.type(description="Expected won amount of one group of open deals, with its interval.")
class ForecastRow:
    grain: str = strawberry.field(description="month, quarter or total.")
    period: str = strawberry.field(description="2025-04, 2025-Q2, `all`, or `no close date`.")
    rep_id: strawberry.ID | None = strawberry.field(description="The owner; null: every rep's deals in the period.")
    rep_name: str | None
    team: str | None = strawberry.field(description="A team's row (no repId), or the team of the rep's row.")
    deals: int
    pipeline: float = strawberry.field(description="Sum of the deals' amounts.")
    expected: float = strawberry.field(description="Sum of probability x amount.")
    low: float = strawberry.field(description="Lower end of the interval (Poisson-binomial over amounts).")
    high: float


@strawberry.type(description="Closed deals of one close quarter: win rate, cycle time, won amount.")
class TrendRow:
    period: str
    closed: int
    won: int
    win_rate: float
    median_cycle_days: float | None = strawberry.field(description="Created to closed, median over closed deals.")
    won_amount: float


@strawberry.type(description="The open pipeline's forecast (`docs/owners.md#forecast`).")
class Forecast:
    level: float = strawberry.field(description="Nominal coverage of each interval, e.g. 0.9.")
    draws: int = strawberry.field(description="Monte Carlo draws of every deal's outcome.")
    seed: int
    unscored: int = strawberry.field(description="Open deals left out: not scored yet.")
    model_versions: list[str]
    rows: list[ForecastRow]


@strawberry.type(description="A population stability index of one feature family.")
class DriftFigure:
    family: str
    psi: float | None = strawberry.field(description="Null: too few new deals to say.")


@strawberry.type(description="A threshold crossed now.")
class Breach:
    name: str
    text: str


@strawberry.type(description="The serving model's health (`docs/owners.md#monitoring`).")
class ModelHealth:
    model_version: str | None
    data_end: str | None = strawberry.field(description="The newest fact the model saw.")
    closed_deals: int = strawberry.field(description="Deals closed since, scored before they closed.")
    won_deals: int
    auroc: float | None
    auroc_band: list[float] | None = strawberry.field(description="90% bootstrap band.")
    brier: float | None
    brier_band: list[float] | None
    ece: float | None
    drift: list[DriftFigure] = strawberry.field(description="PSI per feature family: new deals vs training.")
    new_deals: int
    score_psi: float | None = strawberry.field(description="PSI of open deals' scores vs the held-out ones.")
    hours_since_load: float | None
    quarantine_rate: float | None
    breaches: list[Breach]
    overrides_closed: int = strawberry.field(description="Overrides whose deals have closed since they were given.")
    overrides_brier: float | None = strawberry.field(description="Brier of those overrides (lower is better)...")
    overrides_model_brier: float | None = strawberry.field(description="...and of the model's scores beside them.")


@strawberry.type
class OwnersQuery:
    @strawberry.field(description="Win rate, cycle time and won amount per close quarter, oldest first, over the "
                                  "deals the caller sees.")
    async def win_trends(self, info: strawberry.Info) -> list[TrendRow]:
        return [TrendRow(period=r.period, closed=r.closed, won=r.won, win_rate=r.win_rate,
                         median_cycle_days=r.median_cycle_days, won_amount=r.won_amount)
                for r in await info.context.owners.trends()]

    @strawberry.field(description="The serving model's realised performance, drift and data health; null before "
                                  "the first training.")
    async def model_health(self, info: strawberry.Info) -> ModelHealth | None:
        try:
            h = await info.context.owners.health()
        except (DealgraphError, OSError, KeyError, ValueError) as e:
            # The model's files or the store are the problem, not the caller: say so without a 5xx or a trace.
            log.warning("modelHealth: %s: %s", type(e).__name__, e)
            raise GraphQLError("model health cannot be computed now; `dealgraph monitor` on the server says why",
                               extensions={"code": "HEALTH_UNAVAILABLE"}) from e
        if h is None:
            return None
        r = h.realised
        return ModelHealth(
            model_version=h.model_version, data_end=h.data_end, closed_deals=r.get("n", 0), won_deals=r.get("won", 0),
            auroc=r.get("auroc"), auroc_band=r.get("auroc_band"), brier=r.get("brier"),
            brier_band=r.get("brier_band"), ece=r.get("ece"),
            drift=[DriftFigure(family=k, psi=v) for k, v in h.drift.items()], new_deals=h.new_deals,
            score_psi=h.score_psi, hours_since_load=h.hours_since_load, quarantine_rate=h.quarantine_rate,
            breaches=[Breach(name=b["name"], text=b["text"]) for b in h.breaches],
            overrides_closed=h.overrides.get("n", 0), overrides_brier=h.overrides.get("human_brier"),
            overrides_model_brier=h.overrides.get("model_brier"))

    @strawberry.field(description="Expected won amount per close month and quarter, per rep and in total, with "
                                  "intervals; a rep gets the forecast of the deals they see.")
    async def forecast(self, info: strawberry.Info) -> Forecast:
        f = await info.context.owners.forecast()
        rows = [ForecastRow(grain=r.grain, period=r.period, rep_id=strawberry.ID(r.rep_id) if r.rep_id else None,
                            rep_name=r.rep_name, team=r.team, deals=r.deals, pipeline=r.pipeline, expected=r.expected,
                            low=r.low,
                            high=r.high) for r in f.rows]
        return Forecast(level=f.level, draws=f.draws, seed=f.seed, unscored=f.unscored,
                        model_versions=f.model_versions, rows=rows)

    @strawberry.field(description="The audit log, oldest first: revops and admin only.")
    async def audit_events(self, info: strawberry.Info, deal_id: strawberry.ID | None = None,
                           action: str | None = None, after: int = 0, first: int = 100) -> list[AuditEvent]:
        from api.owners_desk import Forbidden

        if not 0 <= first <= MAX_EVENTS:
            raise UserInputError(f"`first` must be between 0 and {MAX_EVENTS} (got {first}); page with `after: seq`")
        try:
            # In a worker thread: a networked store (Neo4j) must not hold the event loop.
            events = await asyncio.to_thread(info.context.owners.audit, deal_id, action, after, first)
        except Forbidden as e:
            raise ForbiddenError(str(e)) from e
        return [AuditEvent.of(e) for e in events]

    @strawberry.field(description="Score changes held for review, oldest first: revops and admin only.")
    async def pending_reviews(self, info: strawberry.Info) -> list[ScoreReview]:
        from api.owners_desk import Forbidden

        try:
            held = await info.context.owners.pending_reviews()
        except Forbidden as e:
            raise ForbiddenError(str(e)) from e
        return [ScoreReview.of(p) for p in held]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Flag a deal's score as off or one of its reasons (paths) as wrong, with a "
                                     "required reason and optionally the probability you would give. Recorded "
                                     "in the audit log; never used as a training label.")
    async def give_feedback(self, info: strawberry.Info, deal_id: strawberry.ID, target: FeedbackTarget,
                            reason: str, path: int | None = None,
                            override_probability: float | None = None) -> AuditEvent:
        from api.owners_desk import RateLimited

        try:
            event = await info.context.owners.give_feedback(str(deal_id), target.value, reason,
                                                            override_probability, path)
        except InvalidInput as e:
            raise UserInputError(str(e)) from e
        except RateLimited as e:
            raise GraphQLError(str(e), extensions={"code": "RATE_LIMITED",
                                                   "retryAfter": math.ceil(e.retry_after_s)}) from e
        return AuditEvent.of(event)

    @strawberry.mutation(description="Accept (serve the held score) or reject (keep the served one) a score change "
                                     "held for review; revops and admin only; audited with your note.")
    async def decide_review(self, info: strawberry.Info, id: int, accept: bool,
                            note: str | None = None) -> AuditEvent:
        from api.owners_desk import Forbidden

        try:
            event = await info.context.owners.decide_review(id, accept, note or "")
        except Forbidden as e:
            raise ForbiddenError(str(e)) from e
        except InvalidInput as e:
            raise UserInputError(str(e)) from e
        return AuditEvent.of(event)
