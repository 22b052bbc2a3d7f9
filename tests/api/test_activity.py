"""An account's and a deal's recent activity over GraphQL: newest first, paged, and seen as the deals are."""

from __future__ import annotations

import pytest

from api.auth import Role
from tests.api.book_data import ACME, BOB, RITA, SHARED, BookServer
from tests.api.queries import Endpoint, gql

DEAL_ACTIVITY = """query($id: ID!, $first: Int, $after: String) { deal(id: $id) {
  recentActivity(first: $first, after: $after) {
    totalCount edges { cursor node { id kind direction occurredAt contacts { id } } } pageInfo { hasNextPage endCursor }
  } } }"""
ACCOUNT_ACTIVITY = """query($id: ID!) { account(id: $id) { recentActivity(first: 50) {
  totalCount edges { node { id kind } } } } }"""


@pytest.fixture(scope="module")
def rita(book_server: BookServer) -> Endpoint:
    return book_server.as_(Role.REP, RITA)


def ids(conn: dict) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


def test_deal_activity_is_newest_first_and_pages(rita):
    first = gql(rita, DEAL_ACTIVITY, {"id": "006-r1", "first": 2})["data"]["deal"]["recentActivity"]
    assert ids(first) == ["a-r1-3", "a-r1-2"] and first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"]
    assert first["edges"][0]["node"]["contacts"] == [{"id": "003-ana"}]
    rest = gql(rita, DEAL_ACTIVITY, {"id": "006-r1", "first": 2, "after": first["pageInfo"]["endCursor"]})
    page = rest["data"]["deal"]["recentActivity"]
    assert ids(page) == ["a-r1-1"] and not page["pageInfo"]["hasNextPage"]
    assert page["edges"][0]["node"]["direction"] == "outbound"


def test_account_activity_leaves_out_deals_the_rep_does_not_see(rita, book_server):
    seen = gql(rita, ACCOUNT_ACTIVITY, {"id": SHARED})["data"]["account"]["recentActivity"]
    assert ids(seen) == ["a-shared", "a-r4"]  # Bob's call on his deal there is not Rita's to read
    assert seen["totalCount"] == 2
    bob = book_server.as_(Role.REP, BOB)
    assert ids(gql(bob, ACCOUNT_ACTIVITY, {"id": SHARED})["data"]["account"]["recentActivity"]) == ["a-shared", "a-b2"]
    revops = book_server.as_(Role.REVOPS)
    assert len(ids(gql(revops, ACCOUNT_ACTIVITY, {"id": SHARED})["data"]["account"]["recentActivity"])) == 3
    assert ids(gql(rita, ACCOUNT_ACTIVITY, {"id": ACME})["data"]["account"]["recentActivity"]) == [
        "a-r1-3", "a-r1-2", "a-r1-1"]


def test_a_hidden_deals_activity_is_not_reachable(rita):
    assert gql(rita, DEAL_ACTIVITY, {"id": "006-b2"})["data"]["deal"] is None


LAST = """query($id: ID!) { deal(id: $id) { stageEnteredAt lastActivity { id kind occurredAt } } }"""


def test_a_deals_last_activity_and_stage_entry_are_read_as_the_deal_is(rita, book_server):
    deal = gql(rita, LAST, {"id": "006-r1"})["data"]["deal"]
    assert deal["lastActivity"] == {"id": "a-r1-3", "kind": "meeting", "occurredAt": "2025-02-03T09:00:00+00:00"}
    # Entered Proposal on 20 January; the amount change after it does not restart the stage.
    assert deal["stageEnteredAt"].startswith("2025-01-20T09:00:00")
    other = gql(rita, LAST, {"id": "006-r3"})["data"]["deal"]
    assert other == {"stageEnteredAt": None, "lastActivity": None}  # no history, no activity: unknown, not today
    bob = book_server.as_(Role.REP, BOB)
    assert gql(bob, LAST, {"id": "006-r1"})["data"]["deal"] is None
