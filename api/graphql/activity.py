"""Recent activity of a deal or an account: e-mails, calls, meetings and tasks, newest first, cursor-paged; a deal's
last activity and when it entered its stage (the widget's "last activity 12 days ago, a call", "in stage 24 days").

Visibility is the deals' (`api.graphql.visibility`): an activity about a deal is seen by whoever sees the
deal; one about no deal, by whoever sees its account. So an account's list leaves out what was done on a
deal of that account the caller does not see.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.graphql.pagination import DEFAULT_PAGE_SIZE, PageInfo, check_page_size, decode_cursor, encode_cursor
from api.graphql.values import as_datetime
from graph.dated_values import stage_entry_positions
from ontology.names import Label, Rel

if TYPE_CHECKING:
    from api.graphql.context import GraphContext
    from api.graphql.nodes import Contact


@strawberry.type(description="An e-mail, call, meeting or task, as the CRM logged it.")
class Activity:
    id: strawberry.ID
    kind: str | None = strawberry.field(description="email, call, meeting, task or other.")
    direction: str | None = strawberry.field(description="inbound, outbound, or null where the CRM does not say.")
    status: str | None
    subject: str | None
    occurred_at: datetime | None = strawberry.field(description="When the CRM learned of it.")

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Activity:
        return cls(id=strawberry.ID(row["id"]), kind=row.get("kind"), direction=row.get("direction"),
                   status=row.get("status"), subject=row.get("subject"),
                   occurred_at=as_datetime(row.get("occurred_at")))

    @strawberry.field(description="The buyer-side people it was with (those the caller may see).")
    async def contacts(self, info: strawberry.Info) -> list[Annotated[Contact, strawberry.lazy("api.graphql.nodes")]]:
        from api.graphql.nodes import Contact

        links = await info.context.loaders.neighbours(Label.ACTIVITY, Rel.WITH_CONTACT, "out").load(self.id)
        return [Contact.from_row(n.node) for n in links]


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type(description="A page of activities, newest first.")
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Activities the caller may see, over all pages.")


def _epoch(row: dict[str, Any]) -> float:
    when = as_datetime(row.get("occurred_at"))
    return when.timestamp() if when is not None else 0.0  # undated (none should be: the time is required) last


async def activity_connection(context: GraphContext, label: str, node_id: str, relation: str,
                              first: int | None, after: str | None) -> ActivityConnection:
    """One page of the activities linked to `node_id` by `relation`, newest first (then by id)."""
    first = DEFAULT_PAGE_SIZE if first is None else first
    check_page_size(first)
    links = await context.loaders.neighbours(label, relation, "in").load(node_id)
    rows = sorted((dict(n.node) for n in links), key=lambda r: (-_epoch(r), r["id"]))
    if after is not None:
        rank, last_id = decode_cursor(after)
        rows = [r for r in rows if (-_epoch(r), r["id"]) > (-rank, last_id)]
    page = rows[:first]
    edges = [ActivityEdge(cursor=encode_cursor(_epoch(r), r["id"]), node=Activity.from_row(r)) for r in page]
    total = len(links)
    return ActivityConnection(edges=edges, total_count=total,
                              page_info=PageInfo(has_next_page=len(rows) > first,
                                                 end_cursor=edges[-1].cursor if edges else None))


async def last_activity(context: GraphContext, deal_id: str) -> Activity | None:
    """The deal's newest activity among those the caller may see: the first of its `recentActivity` (same order,
    without sorting and paging every one of them)."""
    links = await context.loaders.neighbours(Label.DEAL, Rel.REGARDS, "in").load(deal_id)
    rows = [dict(n.node) for n in links]
    return Activity.from_row(min(rows, key=lambda r: (-_epoch(r), r["id"]))) if rows else None


async def stage_entered_at(context: GraphContext, deal_id: str) -> datetime | None:
    """When the deal entered the stage it is in, from its stage history (`DealChange` rows), by the rule the
    model reads (`graph.dated_values.stage_entry_positions`). None without a recorded stage: the current value
    alone says nothing of when."""
    links = await context.loaders.neighbours(Label.DEAL, Rel.CHANGE_OF, "in").load(deal_id)
    dated = sorted(((when, n.node.get("stage")) for n in links if (when := as_datetime(n.node.get("changed_at")))),
                   key=lambda ws: ws[0])
    entries = stage_entry_positions([deal_id] * len(dated), [stage for _, stage in dated])
    return dated[entries[-1]][0] if len(entries) else None
