"""Relay-style pagination of open deals over the store's keyset `(rank, id)`.

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

import strawberry

from api.graphql.context import GraphContext
from api.graphql.errors import UserInputError
from api.graphql.nodes import Deal

#: The largest page a client may ask for: keeps one request's work bounded.
MAX_PAGE_SIZE = 100


def encode_cursor(rank: float, deal_id: str) -> str:
    raw = json.dumps([float(rank), deal_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The keyset pair in a cursor; `UserInputError` if it is not one this API issued."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        rank, deal_id = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, TypeError, binascii.Error, UnicodeError):
        raise UserInputError(
            f"invalid cursor {cursor[:40]!r}: pass an `endCursor` or edge `cursor` from a previous page, unchanged"
        ) from None
    rank_ok = isinstance(rank, (int, float)) and not isinstance(rank, bool) and math.isfinite(rank)
    if not rank_ok or not isinstance(deal_id, str):
        raise UserInputError(f"invalid cursor {cursor[:40]!r}: it does not hold a (score, id) position")
    return float(rank), deal_id


def check_page_size(first: int) -> None:
    if first < 0:
        raise UserInputError(f"`first` must be 0 or more (got {first})")
    if first > MAX_PAGE_SIZE:
        raise UserInputError(f"`first` must be at most {MAX_PAGE_SIZE} (got {first}); page with `after: endCursor`")


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


async def open_deals_connection(
    context: GraphContext, first: int, after: str | None, account_id: str | None
) -> DealConnection:
    """One page of open deals after the `after` cursor, optionally of one account."""
    check_page_size(first)
    position = decode_cursor(after) if after is not None else None
    page = await context.call(context.store.open_deals_page, first, position, account_id)
    context.loaders.prime_open_deals(page.deals)
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
