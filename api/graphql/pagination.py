"""Relay-style pagination and filters of open deals over the store's keyset `(rank, id)`.

A cursor is base64url of the JSON pair `[rank, id]`: rank is the deal's
probability (-1 when unscored), the order is rank desc then id asc. Unlike
offsets, keyset cursors do not skip or repeat deals when other deals are
added or closed between pages (a deal rescored between pages can still move
across the cursor). Clients must treat cursors as opaque.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import date
from enum import Enum

import strawberry

from api.graphql.context import GraphContext
from api.graphql.deal_query import DealQuery
from api.graphql.errors import UserInputError
from api.graphql.nodes import Deal

#: The largest page a client may ask for: keeps one request's work bounded.
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
#: Longer than any cursor this API issues (base64 of a score and a deal id of up to ~700 characters).
MAX_CURSOR_CHARS = 1024


def encode_cursor(rank: float, deal_id: str) -> str:
    raw = json.dumps([float(rank), deal_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The keyset pair in a cursor; `UserInputError` if it is not one this API issued."""
    shown = repr(cursor[:40])
    try:
        if len(cursor) > MAX_CURSOR_CHARS:  # before decoding: what is inside could nest deep enough to crash a parser
            raise ValueError("too long")
        padded = cursor + "=" * (-len(cursor) % 4)
        rank, deal_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        deal_id.encode("utf-8")  # a lone surrogate ("\ud800") is no id, and no database can look it up
    except (ValueError, TypeError, binascii.Error, UnicodeError, RecursionError, AttributeError):
        raise UserInputError(
            f"invalid cursor {shown}: pass an `endCursor` or edge `cursor` from a previous page, unchanged"
        ) from None
    rank_ok = isinstance(rank, (int, float)) and not isinstance(rank, bool) and math.isfinite(rank)
    if not rank_ok or not isinstance(deal_id, str):
        raise UserInputError(f"invalid cursor {shown}: it does not hold a (score, id) position")
    return float(rank), deal_id


def check_page_size(first: int) -> None:
    if first < 0:
        raise UserInputError(f"`first` must be 0 or more (got {first})")
    if first > MAX_PAGE_SIZE:
        raise UserInputError(f"`first` must be at most {MAX_PAGE_SIZE} (got {first}); page with `after: endCursor`")


@strawberry.enum(description="A score band, or no score yet.")
class ScoreBand(Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NO_SKILL = "no_skill"  # the model did not pass the serving gate: the base rate, not a judgement
    UNSCORED = "unscored"


@strawberry.input(description="Conditions on open deals; all that are set must hold.")
class DealFilter:
    rep_id: strawberry.ID | None = strawberry.field(default=None, description="Owned by this rep (OWNED_BY).")
    account_id: strawberry.ID | None = strawberry.field(default=None, description="For this account (FOR_ACCOUNT).")
    stage: str | None = strawberry.field(default=None, description="In this stage (case-insensitive).")
    score_band: ScoreBand | None = strawberry.field(default=None, description="Latest score in this band.")
    close_after: date | None = strawberry.field(default=None, description="Expected to close on or after this day.")
    close_before: date | None = strawberry.field(default=None, description="Expected to close before this day.")


def to_query(deal_filter: DealFilter | None, account_id: str | None = None) -> DealQuery:
    """The filter as a `DealQuery`; `account_id` (a parent account or the old argument) must also hold."""
    f = deal_filter or DealFilter()
    accounts = {a for a in (f.account_id, account_id) if a is not None}
    if f.close_after is not None and f.close_before is not None and f.close_after >= f.close_before:
        raise UserInputError(
            f"`closeAfter` ({f.close_after}) must be before `closeBefore` ({f.close_before}): the window is empty"
        )
    return DealQuery(
        rep_id=f.rep_id, account_id=next(iter(accounts), None), stage=f.stage,
        band=f.score_band.value if f.score_band is not None else None,
        close_before=f.close_before, close_after=f.close_after,
        empty=len(accounts) > 1,  # deals of two different accounts: none
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class DealEdge:
    cursor: str
    node: Deal


@strawberry.type(description="A page of open deals, highest score first.")
class DealConnection:
    edges: list[DealEdge]
    page_info: PageInfo
    total_count: int = strawberry.field(description="Open deals matching the filter, over all pages.")


async def deals_connection(
    context: GraphContext, query: DealQuery, first: int | None, after: str | None
) -> DealConnection:
    """One page of the open deals the caller may see that match `query`, after the `after` cursor."""
    first = DEFAULT_PAGE_SIZE if first is None else first  # an explicit `first: null` means the default page
    check_page_size(first)
    position = decode_cursor(after) if after is not None else None
    page = await context.loaders.deals_page(query, first, position)
    edges = [
        DealEdge(
            cursor=encode_cursor(deal["_rank"], deal["id"]),
            node=Deal.from_row({k: v for k, v in deal.items() if k != "_rank"}),
        )
        for deal in page.deals
    ]
    return DealConnection(
        edges=edges,
        page_info=PageInfo(has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None),
        total_count=page.total,
    )
