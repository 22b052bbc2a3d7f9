"""The GraphQL schema of the deal-scoring API (Strawberry, async resolvers).

Root fields are thin: look-ups go through the request's scoped DataLoaders
(`api.graphql.context`), which return only what the caller may see; the
types live in `api.graphql.nodes` and `api.graphql.scores`, deal pages and
filters in `api.graphql.pagination`. Unknown and forbidden ids both resolve
to null; bad arguments to a GraphQL error with `extensions.code =
"BAD_USER_INPUT"`; limits and timeouts to their own codes
(`api.graphql.extensions`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext, ExecutionResult

from api.graphql.context import GraphContext
from api.graphql.extensions import Limits, is_fault, request_info, sanitise, schema_extensions
from api.graphql.nodes import Account, Deal
from api.graphql.owners import Mutation, OwnersQuery
from api.graphql.pagination import DealConnection, DealFilter, deals_connection, to_query
from api.graphql.scores import ModelInfo
from ontology.names import Label

Info = strawberry.Info[GraphContext, None]
log = logging.getLogger(__name__)


@strawberry.type(description="Who the API thinks you are.")
class Viewer:
    role: str = strawberry.field(description="rep, revops or admin.")
    rep_id: strawberry.ID | None = strawberry.field(description="The Rep a rep credential acts for.")
    team_scope: bool = strawberry.field(description="A rep also sees the deals of their team.")


@strawberry.type
class Query(OwnersQuery):  # the owners' loop's fields live in api.graphql.owners
    @strawberry.field(description="One account with its people and open deals: the CRM widget's query.")
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:  # noqa: A002
        row = await info.context.loaders.nodes(Label.ACCOUNT).load(id)
        return Account.from_row(row) if row else None

    @strawberry.field(description="One deal, open or closed.")
    async def deal(self, info: Info, id: strawberry.ID) -> Deal | None:  # noqa: A002
        row = await info.context.loaders.nodes(Label.DEAL).load(id)
        return Deal.from_row(row) if row else None

    @strawberry.field(description="Open deals, highest score first (unscored last, ties by id), Relay-style pages of "
                                  "at most 100.")
    async def deals(
        self,
        info: Info,
        filter: DealFilter | None = None,  # noqa: A002
        first: int | None = 20,
        after: str | None = None,
        account_id: Annotated[
            strawberry.ID | None, strawberry.argument(deprecation_reason="Use `filter: {accountId: …}`.")
        ] = None,
    ) -> DealConnection:
        return await deals_connection(info.context, to_query(filter, account_id), first, after)

    @strawberry.field(description="The model that serves scores now; null before the first training.")
    async def model(self, info: Info) -> ModelInfo | None:
        card = info.context.model_card()  # cached per version: one small file read
        return ModelInfo.from_card(card) if card else None

    @strawberry.field(description="The role and scope of the credential this request was sent with.")
    def viewer(self, info: Info) -> Viewer:
        p = info.context.principal
        return Viewer(role=p.role.value, rep_id=strawberry.ID(p.rep_id) if p.rep_id else None, team_scope=p.team_scope)


class DealgraphSchema(strawberry.Schema):
    """Adds the request timeout, and logs server faults only (a bad cursor is the client's error, not an incident)."""

    def __init__(self, *args: Any, timeout_s: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_s = timeout_s

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            async with asyncio.timeout(self.timeout_s):
                result = await super().execute(*args, **kwargs)
        except TimeoutError:
            log.warning("query cancelled after %gs", self.timeout_s)
            message = (f"the query took longer than {self.timeout_s:g}s and was cancelled: "
                       "ask for fewer fields, fewer deals per page, or a narrower filter")
            result = ExecutionResult(data=None, errors=[GraphQLError(message, extensions={"code": "TIMEOUT"})])
        if result.errors:
            # Here, not in an extension: parse errors skip the extensions' exit hooks.
            result.errors = sanitise(result.errors, request_info(kwargs.get("context_value")))
        return result

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        faults = [e for e in errors if is_fault(e)]
        if faults:
            super().process_errors(faults, execution_context)


def build_schema(limits: Limits | None = None) -> strawberry.Schema:
    """The schema served at `/graphql`, with its abuse limits (defaults: `Limits()`)."""
    limits = limits or Limits()
    return DealgraphSchema(query=Query, mutation=Mutation, extensions=schema_extensions(limits),
                           timeout_s=limits.timeout_s)


schema = build_schema()
