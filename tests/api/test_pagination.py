"""Relay pagination of open deals: complete, stable, and strict about its arguments."""

from __future__ import annotations

import base64

import pytest

from tests.api.graph_data import Crm
from tests.api.queries import gql

PAGE = """query($first: Int, $after: String, $accountId: ID) {
  deals(first: $first, after: $after, accountId: $accountId) {
    totalCount
    edges { cursor node { id score { probability } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def walk(api_url: str, first: int, account_id: str | None = None) -> tuple[list[tuple[str, float]], list[int]]:
    """Every open deal as (id, rank), following endCursor; and the size of each page."""
    seen: list[tuple[str, float]] = []
    sizes: list[int] = []
    after = None
    while True:
        body = gql(api_url, PAGE, {"first": first, "after": after, "accountId": account_id})
        assert "errors" not in body, body
        conn = body["data"]["deals"]
        sizes.append(len(conn["edges"]))
        seen += [(e["node"]["id"], (e["node"]["score"] or {"probability": -1.0})["probability"]) for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            assert conn["pageInfo"]["endCursor"] == (conn["edges"][-1]["cursor"] if conn["edges"] else None)
            return seen, sizes
        after = conn["pageInfo"]["endCursor"]


def test_pages_walk_every_open_deal_once_in_score_order(api_url: str, crm: Crm) -> None:
    seen, sizes = walk(api_url, first=5)
    ids = [i for i, _ in seen]
    assert len(ids) == len(set(ids)) == crm.all_open  # each once, closed deal never
    assert crm.closed_deal not in ids
    assert sizes == [5, 5, 5, 2]
    # Score desc, ties by id asc, unscored (-1) last: the keyset order.
    assert seen == sorted(seen, key=lambda pair: (-pair[1], pair[0]))
    # The same walk with another page size gives the same order: pages are slices of one order.
    assert walk(api_url, first=3)[0] == seen
    assert walk(api_url, first=100)[0] == seen


def test_total_count_and_account_filter(api_url: str, crm: Crm) -> None:
    conn = gql(api_url, PAGE, {"first": 2, "accountId": crm.sub})["data"]["deals"]
    assert conn["totalCount"] == len(crm.sub_open_by_score)
    assert [e["node"]["id"] for e in conn["edges"]] == crm.sub_open_by_score[:2]
    seen, _ = walk(api_url, first=2, account_id=crm.sub)
    assert [i for i, _ in seen] == crm.sub_open_by_score  # same order as Account.openDeals
    assert gql(api_url, PAGE, {"first": 1})["data"]["deals"]["totalCount"] == crm.all_open


def test_first_above_100_is_a_clear_error(api_url: str) -> None:
    body = gql(api_url, PAGE, {"first": 1000})
    assert body["data"] is None
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "at most 100" in error["message"] and "1000" in error["message"]
    assert gql(api_url, PAGE, {"first": -1})["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!",
    base64.urlsafe_b64encode(b"[1,2,3]").decode(),
    base64.urlsafe_b64encode(b'["high","006-a"]').decode(),
    base64.urlsafe_b64encode(b"{}").decode(),
    "",
])
def test_bad_cursor_is_a_graphql_error_not_a_500(api_url: str, cursor: str) -> None:
    body = gql(api_url, PAGE, {"first": 2, "after": cursor})  # gql asserts HTTP 200
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "invalid cursor" in body["errors"][0]["message"]


def test_null_first_means_the_default_page(api_url: str, crm: Crm) -> None:
    conn = gql(api_url, PAGE, {"first": None})["data"]["deals"]
    assert len(conn["edges"]) == min(20, crm.all_open)
