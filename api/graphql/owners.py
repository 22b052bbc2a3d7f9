"""GraphQL of the owners' loop: the `giveFeedback` mutation and the `auditEvents` query.

Resolvers reach the loop only through `info.context.owners` (`api.owners_desk`),
which applies the visibility rule; errors the caller caused come back with
`BAD_USER_INPUT` or `FORBIDDEN` and say what was wrong.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
import strawberry
from graphql import GraphQLError

from api.graphql.errors import UserInputError
from graph.store import InvalidInput
from owners.audit import AuditEvent as Event

MAX_EVENTS = 1000


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
    def of(cls, e: Event) -> "AuditEvent":
        return cls(seq=e.seq, at=e.at, action=e.action, actor=e.actor.subject, role=e.actor.role,
                   deal_id=strawberry.ID(e.deal_id) if e.deal_id else None, model_version=e.model_version,
                   probability=e.probability, paths=list(e.paths), target=e.target, path=e.path,
                   override_probability=e.override_probability, text=e.text)




@strawberry.type
class OwnersQuery:
    @strawberry.field(description="The audit log, oldest first: revops and admin only.")
    async def audit_events(self, info: strawberry.Info, deal_id: strawberry.ID | None = None,
                           action: str | None = None, after: int = 0, first: int = 100) -> list[AuditEvent]:
        from api.owners_desk import Forbidden

        if not 0 <= first <= MAX_EVENTS:
            raise UserInputError(f"`first` must be between 0 and {MAX_EVENTS} (got {first}); page with `after: seq`")
        try:
            events = info.context.owners.audit(deal_id=deal_id, action=action, after=after, limit=first)
        except Forbidden as e:
            raise ForbiddenError(str(e)) from e
        return [AuditEvent.of(e) for e in events]


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Flag a deal's score as off or one of its reasons (paths) as wrong, with a "
                                     "required reason and optionally the probability you would give. Recorded "
                                     "in the audit log; never used as a training label.")
    async def give_feedback(self, info: strawberry.Info, deal_id: strawberry.ID, target: FeedbackTarget,
                            reason: str, path: int | None = None,
                            override_probability: float | None = None) -> AuditEvent:
        try:
            event = await info.context.owners.give_feedback(str(deal_id), target.value, reason,
                                                            override_probability, path)
        except InvalidInput as e:
            raise UserInputError(str(e)) from e
        return AuditEvent.of(event)
