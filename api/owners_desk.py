"""The owners' loop for one principal: feedback, the audit log, the forecast and model health, visibility applied.

Both faces use it: the GraphQL context (`GraphContext.owners`) and the CLI
(`dealgraph feedback` / `audit`, `desk_for`). It holds the store privately
(resolvers never reach it) and asks the request's `Loaders` whether the
principal may see a deal: a rep's feedback on a deal they cannot see is
refused exactly like feedback on a deal that does not exist, and what comes
back to them carries the explanation as `Visibility.redact` leaves it.
The audit log is readable by revops and admin only; the forecast covers the
deals the principal sees; model health (figures about the model, no deal) is
for every role.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from strawberry.dataloader import DataLoader

from api.auth import Principal, Role, Throttle
from api.graphql.store_reads import ScoreReads
from gnn.owners.audit import Actor, AuditEvent, read_events
from gnn.owners.feedback import record_feedback
from gnn.owners.forecast import Forecast, forecast
from gnn.owners.monitor import Health
from gnn.owners.review import Pending, decide, pending
from gnn.owners.trends import TrendRow, trends
from graph.errors import DealgraphError, InvalidInput
from graph.store import GraphStore
from ontology.names import Label

if TYPE_CHECKING:
    from api.graphql.context import Loaders
    from api.owners_health import HealthCache


class Forbidden(DealgraphError):
    """The principal's role may not do this (GraphQL code FORBIDDEN)."""


class RateLimited(DealgraphError):
    """The principal gave more feedback than `feedback_burst` in a row (GraphQL code RATE_LIMITED)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def actor_of(principal: Principal) -> Actor:
    return Actor(subject=principal.subject, role=principal.role.value, rep_id=principal.rep_id)


@dataclass
class OwnersDesk:
    """The loop for `loaders.principal`, through `loaders` (the request's, or the CLI's own)."""

    store: GraphStore
    loaders: Loaders
    health_cache: HealthCache | None = None
    score_reads: ScoreReads | None = None  # the request's, for the response cache: what it read of scores
    # Feedback events per principal: each is an audit record and, as a write, empties the response cache for
    # everyone, so one rep (or a faulty client sending 20 aliased mutations a request) must not give them unbounded.
    feedback_limit: Throttle | None = None
    # A request's `score { review }` of many deals reads their held changes in one worker-thread hop.
    _held: DataLoader[str, Pending | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._held = DataLoader(self._load_held)

    async def _load_held(self, deal_ids: list[str]) -> list[Pending | None]:
        def read() -> list[Pending | None]:
            return [(held[-1] if (held := pending(self.store, d)) else None) for d in deal_ids]

        return await asyncio.to_thread(read)

    @property
    def principal(self) -> Principal:
        return self.loaders.principal

    async def give_feedback(self, deal_id: str, target: str, text: str, override: float | None = None,
                            path: int | None = None) -> AuditEvent:
        """Record feedback on a deal the principal may see; returns the event as they may see it.

        Raises:
            InvalidInput: no deal they may see by that id, no score yet, or a bad argument.
        """
        if await self.loaders.nodes(Label.DEAL).load(deal_id) is None:
            raise InvalidInput(f"no deal {deal_id!r}")  # the same words whether it is missing or not theirs
        if self.feedback_limit is not None:
            wait = self.feedback_limit.retry_after(self.principal.subject)
            if wait is not None:
                raise RateLimited(f"too much feedback in a short time: try again in {math.ceil(wait)} s", wait)
            self.feedback_limit.spend(self.principal.subject)
        event = await asyncio.to_thread(record_feedback, self.store, actor_of(self.principal), deal_id, target, text,
                                        override, path)
        return await self.as_seen(event)

    async def as_seen(self, event: AuditEvent) -> AuditEvent:
        """The event with the path texts the principal may read: a rep gets them from the deal's explanation as
        `Visibility.redact` leaves it (the event was just taken from that explanation), never the stored text."""
        if self.principal.sees_everything or event.deal_id is None:
            return event
        explanation = await self.loaders.explanations.load(event.deal_id)
        return replace(event, paths=tuple(p.text for p in explanation.paths) if explanation else ())

    async def forecast(self) -> Forecast:
        """The forecast of the deals the principal sees: a rep's (or team's) own, everyone's for revops/admin."""
        from gnn.owners.backtest import cached_adjustment

        owners = await self.loaders.visible_owners()
        self._read_every_score()
        # As `dealgraph forecast` computed it for the serving model (docs/owners.md); independent deals until then.
        adjustment = cached_adjustment(self.health_cache.home) if self.health_cache is not None else None
        return await asyncio.to_thread(forecast, self.store, rep_ids=owners, adjustment=adjustment)

    async def trends(self) -> list[TrendRow]:
        """Win rate, cycle time and won amount per close quarter, over the deals the principal sees."""
        owners = await self.loaders.visible_owners()
        return await asyncio.to_thread(trends, self.store, owners)

    async def health(self) -> Health | None:
        """The serving model's health (no deal in it: every role may read it); None before training."""
        self._read_every_score()
        return await self.health_cache.aget() if self.health_cache is not None else None

    def _read_every_score(self) -> None:
        # Any score written can change a forecast or the health figures: a kept answer must be dropped then.
        if self.score_reads is not None:
            self.score_reads.every = True

    async def pending_review(self, deal_id: str) -> Pending | None:
        """The change held for review of a deal the principal sees (they asked through its score), if any."""
        return await self._held.load(deal_id)

    async def pending_reviews(self) -> list[Pending]:
        """Every held change: revops and admin only (they decide).

        Raises:
            Forbidden: a rep asked.
        """
        self._may_decide()
        return await asyncio.to_thread(pending, self.store)

    async def decide_review(self, hold_seq: int, accept: bool, note: str = "") -> AuditEvent:
        """Accept or reject a held change, audited: revops and admin only.

        Raises:
            Forbidden: a rep asked. InvalidInput: nothing pending by that id.
        """
        self._may_decide()
        return await asyncio.to_thread(decide, self.store, actor_of(self.principal), hold_seq, accept, note)

    def _may_decide(self) -> None:
        if not self.principal.sees_everything:
            raise Forbidden("held score changes are reviewed by revops and admin only")

    def audit(self, deal_id: str | None = None, action: str | None = None, after: int = 0,
              limit: int | None = None) -> list[AuditEvent]:
        """Audit events, oldest first: revops and admin only.

        Raises:
            Forbidden: a rep asked.
        """
        if not self.principal.sees_everything:
            raise Forbidden("the audit log is readable by revops and admin only")
        return read_events(self.store, deal_id=deal_id, action=action, after=after, limit=limit)


def desk_for(store: GraphStore, principal: Principal) -> OwnersDesk:
    """A desk outside any HTTP request (the CLI): its own reads, scoped to `principal`."""
    from api.graphql.context import Loaders  # the context builds desks too: import when called
    from api.graphql.store_reads import StoreReads
    from api.graphql.visibility import Visibility

    reads = StoreReads(store)
    return OwnersDesk(store, Loaders(reads, Visibility(principal, reads)))


def cli_principal(role: str, by: str, rep_id: str | None) -> Principal:
    """The principal the CLI acts as (`--role`, `--rep`, `--by`); a bad combination is `InvalidInput`."""
    try:
        return Principal(Role(role), subject=f"cli:{by}", method="cli", rep_id=rep_id if role == "rep" else None)
    except ValueError as e:
        raise InvalidInput(f"{e} (pass --rep REP_ID with --role rep)") from e


def run(coro: Any) -> Any:
    """Run one desk call from synchronous code."""
    return asyncio.run(coro)
