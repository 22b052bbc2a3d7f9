"""The GraphQL schema of the deal-scoring API (Strawberry, async resolvers).

Root fields are thin: look-ups go through the request's DataLoaders
(`api.graphql.context`), the types live in `api.graphql.nodes` and
`api.graphql.scores`, deal pagination in `api.graphql.pagination`.
Unknown ids resolve to null, bad arguments to a GraphQL error with
`extensions.code = "BAD_USER_INPUT"`.
"""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionContext

from api.graphql.context import GraphContext
from api.graphql.errors import UserInputError
from api.graphql.nodes import Account, Deal
from api.graphql.pagination import DealConnection, open_deals_connection
from api.graphql.scores import ModelInfo

Info = strawberry.Info[GraphContext, None]


@strawberry.type
class Query:
    @strawberry.field(description="One account with its people and open deals: the CRM widget's query.")
    async def account(self, info: Info, id: strawberry.ID) -> Account | None:
        row = await info.context.loaders.nodes("Account").load(id)
        return Account.from_row(row) if row else None

    @strawberry.field(description="One deal, open or closed.")
    async def deal(self, info: Info, id: strawberry.ID) -> Deal | None:
        row = await info.context.loaders.nodes("Deal").load(id)
        return Deal.from_row(row) if row else None

    @strawberry.field(description="Open deals, highest score first (unscored last), Relay-style pages of at most 100.")
    async def deals(
        self, info: Info, first: int | None = 20, after: str | None = None, account_id: strawberry.ID | None = None
    ) -> DealConnection:
        # An explicit `first: null` means the default page, as if it were left out.
        return await open_deals_connection(info.context, 20 if first is None else first, after, account_id)

    @strawberry.field(description="The model that serves scores now; null before the first training.")
    async def model(self, info: Info) -> ModelInfo | None:
        card = await info.context.call(info.context.registry.current)
        return ModelInfo.from_card(card) if card else None


class DealgraphSchema(strawberry.Schema):
    """Logs server faults only: a bad cursor is the client's error, not an incident."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        faults = [e for e in errors if not isinstance(e.original_error or e, UserInputError)]
        if faults:
            super().process_errors(faults, execution_context)


def build_schema() -> strawberry.Schema:
    """The schema served at `/graphql`."""
    return DealgraphSchema(query=Query)


schema = build_schema()
