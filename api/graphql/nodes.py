"""The CRM node types: Account, Contact, Rep, Product, Outcome and Deal.

Objects are built from stored rows (`from_row`) and resolve their relations
through the request's DataLoaders, so a list of deals asks the store for all
their owners, contacts or products in one call each.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.graphql.context import GraphContext
from api.graphql.scores import Explanation, Score
from api.graphql.values import as_date, as_datetime, as_float, as_int
from ontology.names import Label, Rel

if TYPE_CHECKING:
    from api.graphql.activity import Activity, ActivityConnection
    from api.graphql.pagination import DealConnection, DealFilter

Info = strawberry.Info[GraphContext, None]


@strawberry.type(description="A company: customer, prospect or partner.")
class Account:
    id: strawberry.ID
    name: str | None
    industry: str | None
    country: str | None
    employees: int | None
    website: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Account:
        return cls(
            id=strawberry.ID(row["id"]), name=row.get("name"), industry=row.get("industry"),
            country=row.get("country"), employees=as_int(row.get("employees")), website=row.get("website"),
        )

    @strawberry.field(description="The account this one is a subsidiary of.")
    async def parent(self, info: Info) -> Account | None:
        links = await info.context.loaders.neighbours(Label.ACCOUNT, Rel.SUBSIDIARY_OF, "out").load(self.id)
        return Account.from_row(links[0].node) if links else None

    @strawberry.field(description="Accounts that are subsidiaries of this one.")
    async def subsidiaries(self, info: Info) -> list[Account]:
        links = await info.context.loaders.neighbours(Label.ACCOUNT, Rel.SUBSIDIARY_OF, "in").load(self.id)
        return [Account.from_row(n.node) for n in links]

    @strawberry.field(description="People who work here now (employment with no end date).")
    async def contacts(self, info: Info) -> list[Contact]:
        links = await info.context.loaders.neighbours(Label.ACCOUNT, Rel.WORKS_AT, "in").load(self.id)
        return [Contact.from_row(n.node, job_title=n.edge.get("title")) for n in links if n.edge.get("until") is None]

    @strawberry.field(description="Deals without an outcome, highest score first (all of them; `deals` pages).")
    async def open_deals(self, info: Info) -> list[Deal]:
        rows = await info.context.loaders.open_deals.load(self.id)
        return [Deal.from_row(r) for r in rows]

    @strawberry.field(description="This account's open deals, filtered and paged like `Query.deals`.")
    async def deals(
        self,
        info: Info,
        filter: Annotated[DealFilter, strawberry.lazy("api.graphql.pagination")] | None = None,  # noqa: A002
        first: int | None = 20,
        after: str | None = None,
    ) -> Annotated[DealConnection, strawberry.lazy("api.graphql.pagination")]:
        from api.graphql.pagination import deals_connection, to_query

        return await deals_connection(info.context, to_query(filter, self.id), first, after)

    @strawberry.field(description="E-mails, calls, meetings and tasks at this account, newest first "
                                  "(those about deals the caller does not see are left out).")
    async def recent_activity(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated[ActivityConnection, strawberry.lazy("api.graphql.activity")]:
        from api.graphql.activity import activity_connection

        return await activity_connection(info.context, Label.ACCOUNT, self.id, Rel.AT_ACCOUNT, first, after)


@strawberry.type(description="A person at an account.")
class Contact:
    id: strawberry.ID
    name: str | None
    email: str | None
    title: str | None

    @classmethod
    def from_row(cls, row: Mapping[str, Any], job_title: str | None = None) -> Contact:
        name = row.get("name") or " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p) or None
        # The contact's own title wins; the employment's title fills in when the CRM left it empty.
        return cls(id=strawberry.ID(row["id"]), name=name, email=row.get("email"), title=row.get("title") or job_title)


@strawberry.type(description="A sales rep: the owner of deals.")
class Rep:
    id: strawberry.ID
    name: str | None
    email: str | None
    team: str | None


@strawberry.type(description="Something a deal sells.")
class Product:
    id: strawberry.ID
    name: str | None
    family: str | None


@strawberry.type(description="How a closed deal ended.")
class Outcome:
    result: str | None = strawberry.field(description="won or lost.")
    closed_at: datetime | None
    amount: float | None
    reason: str | None


@strawberry.type(description="A contact's part in a deal.")
class DealContact:
    contact: Contact
    role: str | None
    is_primary: bool


@strawberry.type(description="A product on a deal.")
class LineItem:
    product: Product
    quantity: float | None
    amount: float | None


@strawberry.type(description="A sales opportunity.")
class Deal:
    id: strawberry.ID
    name: str | None
    amount: float | None
    stage: str | None
    created_at: datetime | None
    close_date: date | None = strawberry.field(description="Expected close while open, actual close once closed.")

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Deal:
        return cls(
            id=strawberry.ID(row["id"]), name=row.get("name"), amount=as_float(row.get("amount")),
            stage=row.get("stage"), created_at=as_datetime(row.get("created_at")),
            close_date=as_date(row.get("close_date")),
        )

    async def _one(self, info: Info, relation: str) -> Mapping[str, Any] | None:
        links = await info.context.loaders.neighbours(Label.DEAL, relation, "out").load(self.id)
        return links[0].node if links else None

    @strawberry.field
    async def account(self, info: Info) -> Account | None:
        row = await self._one(info, Rel.FOR_ACCOUNT)
        return Account.from_row(row) if row else None

    @strawberry.field
    async def owner(self, info: Info) -> Rep | None:
        row = await self._one(info, Rel.OWNED_BY)
        if not row:
            return None
        return Rep(id=strawberry.ID(row["id"]), name=row.get("name"), email=row.get("email"), team=row.get("team"))

    @strawberry.field
    async def contacts(self, info: Info) -> list[DealContact]:
        links = await info.context.loaders.neighbours(Label.DEAL, Rel.INVOLVES, "out").load(self.id)
        return [
            DealContact(
                contact=Contact.from_row(n.node), role=n.edge.get("role"), is_primary=bool(n.edge.get("is_primary"))
            )
            for n in links
        ]

    @strawberry.field
    async def products(self, info: Info) -> list[LineItem]:
        links = await info.context.loaders.neighbours(Label.DEAL, Rel.FOR_PRODUCT, "out").load(self.id)
        return [
            LineItem(
                product=Product(id=strawberry.ID(n.node["id"]), name=n.node.get("name"), family=n.node.get("family")),
                quantity=as_float(n.edge.get("quantity")),
                amount=as_float(n.edge.get("amount")),
            )
            for n in links
        ]

    @strawberry.field(description="Null while the deal is open.")
    async def outcome(self, info: Info) -> Outcome | None:
        row = await self._one(info, Rel.HAS_OUTCOME)
        if not row:
            return None
        return Outcome(
            result=row.get("result"), closed_at=as_datetime(row.get("closed_at")),
            amount=as_float(row.get("amount")), reason=row.get("reason"),
        )

    @strawberry.field(description="E-mails, calls, meetings and tasks about this deal, newest first.")
    async def recent_activity(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Annotated[ActivityConnection, strawberry.lazy("api.graphql.activity")]:
        from api.graphql.activity import activity_connection

        return await activity_connection(info.context, Label.DEAL, self.id, Rel.REGARDS, first, after)

    @strawberry.field(description="Its newest e-mail, call, meeting or task the caller may see; null if none.")
    async def last_activity(self, info: Info) -> Annotated[Activity, strawberry.lazy("api.graphql.activity")] | None:
        from api.graphql.activity import last_activity

        return await last_activity(info.context, self.id)

    @strawberry.field(description="When the deal entered its current stage, from its stage history; null where the "
                                  "export kept no stage history (today's stage alone does not say since when).")
    async def stage_entered_at(self, info: Info) -> datetime | None:
        from api.graphql.activity import stage_entered_at

        return await stage_entered_at(info.context, self.id)

    @strawberry.field(description="The latest score; null before the deal is first scored.")
    async def score(self, info: Info) -> Score | None:
        record = await info.context.loaders.scores.load(self.id)
        return Score.from_record(record) if record else None

    @strawberry.field(description="The relationship paths behind the latest score, strongest first.")
    async def explanation(self, info: Info, top: int | None = 3) -> Explanation | None:
        top = 3 if top is None else top
        explanation = await info.context.loaders.explanations.load(self.id)
        return Explanation.of(explanation, top) if explanation else None
