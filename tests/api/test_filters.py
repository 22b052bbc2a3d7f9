"""`deals(filter: …)` and `Account.deals`: every filter, their combinations, stable order, complete pages."""

from __future__ import annotations

import pytest

from api.auth import Role
from tests.api.book_data import ACME, BOB, CLEO, DEALS, RITA, SHARED, BookServer, Deal, band
from tests.api.queries import Endpoint, gql

PAGE = """query($filter: DealFilter, $first: Int, $after: String) {
  deals(filter: $filter, first: $first, after: $after) {
    totalCount edges { cursor node { id } } pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture(scope="module")
def revops(book_server: BookServer) -> Endpoint:
    return book_server.as_(Role.REVOPS)


def expected(keep: callable) -> list[str]:
    """Open deals that `keep` accepts, in the API's order."""
    chosen = [d for d in DEALS if not d.closed and keep(d)]
    return [d.id for d in sorted(chosen, key=lambda d: (-(d.p if d.p is not None else -1.0), d.id))]


def walk(endpoint: Endpoint, deal_filter: dict, first: int) -> tuple[list[str], set[int]]:
    seen, totals, after = [], set(), None
    while True:
        conn = gql(endpoint, PAGE, {"filter": deal_filter, "first": first, "after": after})["data"]["deals"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        totals.add(conn["totalCount"])
        assert len(conn["edges"]) <= first
        if not conn["pageInfo"]["hasNextPage"]:
            return seen, totals
        after = conn["pageInfo"]["endCursor"]


def _band(d: Deal) -> str:
    return band(d.p) if d.p is not None else "unscored"


CASES: list[tuple[dict, callable]] = [
    ({}, lambda d: True),
    ({"repId": BOB}, lambda d: d.owner == BOB),
    ({"accountId": SHARED}, lambda d: d.account == SHARED),
    ({"stage": "PROPOSAL"}, lambda d: d.stage == "Proposal"),
    ({"scoreBand": "HIGH"}, lambda d: _band(d) == "high"),
    ({"scoreBand": "UNSCORED"}, lambda d: d.p is None),
    ({"closeAfter": "2025-05-01"}, lambda d: d.close >= "2025-05-01"),
    ({"closeBefore": "2025-05-01"}, lambda d: d.close < "2025-05-01"),
    ({"closeAfter": "2025-04-01", "closeBefore": "2025-06-01"}, lambda d: "2025-04-01" <= d.close < "2025-06-01"),
    ({"repId": RITA, "stage": "proposal"}, lambda d: d.owner == RITA and d.stage == "Proposal"),
    ({"repId": BOB, "accountId": SHARED, "scoreBand": "HIGH"},
     lambda d: d.owner == BOB and d.account == SHARED and _band(d) == "high"),
    ({"accountId": ACME, "closeAfter": "2025-05-01"}, lambda d: d.account == ACME and d.close >= "2025-05-01"),
    ({"repId": CLEO, "scoreBand": "LOW"}, lambda d: False),
]


@pytest.mark.parametrize(("deal_filter", "keep"), CASES, ids=[str(c[0]) for c in CASES])
def test_filter_selects_exactly_the_matching_open_deals_in_order(revops: Endpoint, deal_filter: dict,
                                                                  keep: callable) -> None:
    want = expected(keep)
    for first in (1, 2, 100):  # pages are slices of one order, whatever their size
        seen, totals = walk(revops, deal_filter, first)
        assert seen == want, (first, deal_filter)
        assert totals == {len(want)}


def test_account_deals_is_the_same_list_as_the_account_filter(revops: Endpoint) -> None:
    query = """query($id: ID!, $f: DealFilter) { account(id: $id) { deals(filter: $f, first: 2) {
        totalCount edges { node { id } } } openDeals { id } } }"""
    acme = gql(revops, query, {"id": ACME})["data"]["account"]
    assert acme["deals"]["totalCount"] == 3
    assert [e["node"]["id"] for e in acme["deals"]["edges"]] == expected(lambda d: d.account == ACME)[:2]
    assert [d["id"] for d in acme["openDeals"]] == expected(lambda d: d.account == ACME)
    # A filter naming another account inside an account's deals matches nothing.
    other = gql(revops, query, {"id": ACME, "f": {"accountId": SHARED}})["data"]["account"]["deals"]
    assert other == {"totalCount": 0, "edges": []}
    proposals = gql(revops, query, {"id": ACME, "f": {"stage": "Proposal"}})["data"]["account"]["deals"]
    assert proposals["totalCount"] == 2


def test_the_old_account_id_argument_still_works(revops: Endpoint) -> None:
    body = gql(revops, 'query($a: ID) { deals(accountId: $a) { totalCount } }', {"a": SHARED})
    assert body == {"data": {"deals": {"totalCount": 2}}}
