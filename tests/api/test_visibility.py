"""A rep reads only their own book: not by id, list, filter, nested relation, explanation or cursor.

Every check compares what Rita (a rep) gets for Bob's objects with what she
gets for ids that do not exist: a forbidden object must look exactly like a
missing one. revops and admin see everything; a team-scoped rep sees the team.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.auth import Role
from tests.api.book_data import (
    ACME,
    ACME_GROUP,
    ACME_LABS,
    BOB,
    BOBCO,
    CLEO,
    CLEOCO,
    OPEN,
    RITA,
    SHARED,
    BookServer,
)
from tests.api.queries import Endpoint, create_key, gql

PAGE = """query($filter: DealFilter, $first: Int, $after: String) {
  deals(filter: $filter, first: $first, after: $after) {
    totalCount edges { cursor node { id owner { id } account { id } } } pageInfo { hasNextPage endCursor }
  }
}"""
EVERYTHING_ABOUT_AN_ACCOUNT = """query($id: ID!) { account(id: $id) {
  id name parent { id } subsidiaries { id } contacts { id name }
  openDeals { id owner { id } }
  deals(first: 100) { totalCount edges { node { id } } }
} }"""


@pytest.fixture(scope="module")
def rita(book_server: BookServer) -> Endpoint:
    return book_server.as_(Role.REP, RITA)


@pytest.fixture(scope="module")
def bob(book_server: BookServer) -> Endpoint:
    return book_server.as_(Role.REP, BOB)


def ids(conn: dict) -> list[str]:
    return [e["node"]["id"] for e in conn["edges"]]


def walk(endpoint: Endpoint, first: int, deal_filter: dict | None = None, after: str | None = None) -> list[str]:
    """Every deal id over all pages."""
    seen: list[str] = []
    while True:
        conn = gql(endpoint, PAGE, {"filter": deal_filter, "first": first, "after": after})["data"]["deals"]
        seen += ids(conn)
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        after = conn["pageInfo"]["endCursor"]


def test_by_id_a_forbidden_deal_or_account_is_exactly_a_missing_one(rita: Endpoint) -> None:
    query = "query($d: ID!, $a: ID!) { deal(id: $d) { id name } account(id: $a) { id name } }"
    forbidden = gql(rita, query, {"d": "006-b1", "a": BOBCO})
    missing = gql(rita, query, {"d": "006-nope", "a": "001-nope"})
    assert forbidden == missing == {"data": {"deal": None, "account": None}}
    # Cleo's (another team) and Bob's closed deal too; her own closed deal is readable.
    for deal_id in ("006-c1", "006-b5"):
        assert gql(rita, "query($d: ID!) { deal(id: $d) { id } }", {"d": deal_id}) == {"data": {"deal": None}}
    own = gql(rita, "query { deal(id: \"006-r5\") { id outcome { result } } }")
    assert own == {"data": {"deal": {"id": "006-r5", "outcome": {"result": "won"}}}}


def test_the_list_holds_only_her_open_deals_in_order(rita: Endpoint, book_server: BookServer) -> None:
    conn = gql(rita, PAGE, {"first": 100})["data"]["deals"]
    assert ids(conn) == book_server.book.open_of(RITA)
    assert conn["totalCount"] == len(book_server.book.open_of(RITA))
    assert {e["node"]["owner"]["id"] for e in conn["edges"]} == {RITA}
    assert walk(rita, first=1) == book_server.book.open_of(RITA)  # page by page: the same, nothing else


@pytest.mark.parametrize("deal_filter", [
    {"repId": BOB}, {"repId": CLEO}, {"accountId": BOBCO}, {"accountId": ACME_GROUP}, {"accountId": ACME_LABS},
    {"repId": BOB, "accountId": SHARED}, {"accountId": CLEOCO, "stage": "Proposal"},
])
def test_filters_on_other_reps_objects_find_what_a_missing_id_finds(rita: Endpoint, deal_filter: dict) -> None:
    forbidden = gql(rita, PAGE, {"filter": deal_filter, "first": 10})
    missing = gql(rita, PAGE, {"filter": {k: "nope" if k.endswith("Id") else v for k, v in deal_filter.items()},
                               "first": 10})
    assert forbidden == missing
    assert forbidden["data"]["deals"] == {"totalCount": 0, "edges": [],
                                          "pageInfo": {"hasNextPage": False, "endCursor": None}}


def test_filters_narrow_her_own_book_only(rita: Endpoint, book_server: BookServer) -> None:
    shared = gql(rita, PAGE, {"filter": {"accountId": SHARED}, "first": 10})["data"]["deals"]
    assert ids(shared) == ["006-r4"] and shared["totalCount"] == 1  # Bob's 006-b2 on the same account: absent
    proposals = gql(rita, PAGE, {"filter": {"stage": "proposal"}, "first": 10})["data"]["deals"]
    assert ids(proposals) == ["006-r1", "006-r3"]
    mine = gql(rita, PAGE, {"filter": {"repId": RITA}, "first": 10})["data"]["deals"]
    assert ids(mine) == book_server.book.open_of(RITA)
    high = gql(rita, PAGE, {"filter": {"scoreBand": "HIGH"}, "first": 10})["data"]["deals"]
    assert ids(high) == ["006-r1"]  # Bob's 0.95 and 0.70 and Cleo's 0.60 are high too, and absent


def test_nested_relations_do_not_lead_out_of_her_book(rita: Endpoint) -> None:
    acme = gql(rita, EVERYTHING_ABOUT_AN_ACCOUNT, {"id": ACME})["data"]["account"]
    # The parent and the subsidiary carry only Bob's deals: to Rita they do not exist.
    assert acme["parent"] is None and acme["subsidiaries"] == []
    assert acme["contacts"] == [{"id": "003-ana", "name": "Ana Silva"}]
    assert {d["id"] for d in acme["openDeals"]} == {"006-r1", "006-r2", "006-r3"}
    shared = gql(rita, EVERYTHING_ABOUT_AN_ACCOUNT, {"id": SHARED})["data"]["account"]
    assert [d["id"] for d in shared["openDeals"]] == ["006-r4"]
    assert shared["deals"] == {"totalCount": 1, "edges": [{"node": {"id": "006-r4"}}]}
    # From her deal to its account and on: still only her deals.
    deal = gql(rita, """{ deal(id: "006-r4") { account { id openDeals { id } deals { totalCount }
                        parent { id } } contacts { contact { id } } } }""")["data"]["deal"]
    assert deal["account"] == {"id": SHARED, "openDeals": [{"id": "006-r4"}], "deals": {"totalCount": 1},
                               "parent": None}


def test_the_parent_and_subsidiary_look_like_accounts_that_do_not_exist(rita: Endpoint, bob: Endpoint) -> None:
    for account_id in (ACME_GROUP, ACME_LABS, BOBCO):
        assert gql(rita, EVERYTHING_ABOUT_AN_ACCOUNT, {"id": account_id}) == {"data": {"account": None}}
    # Bob sees his side of the hierarchy (he has deals on the parent and the subsidiary, not on Acme).
    labs = gql(bob, "query($id: ID!) { account(id: $id) { parent { id } } }", {"id": ACME_LABS})["data"]["account"]
    assert labs == {"parent": None}
    group = gql(bob, "query($id: ID!) { account(id: $id) { subsidiaries { id } } }", {"id": ACME_GROUP})
    assert group["data"]["account"] == {"subsidiaries": []}


def test_explanations_do_not_name_what_she_cannot_see(rita: Endpoint, bob: Endpoint) -> None:
    query = """{ deal(id: "006-r1") { explanation { paths { text steps { label id name } }
                                                   suggestions { kind text contactId } } } }"""
    explanation = gql(rita, query)["data"]["deal"]["explanation"]
    paths = explanation["paths"]
    mine, theirs = paths
    assert [s["id"] for s in mine["steps"]] == ["006-r1", "003-ana", ACME]  # her own contact and account
    assert mine["text"] == "Ana Silva (champion on this deal) works at Acme"
    assert [(s["label"], s["id"], s["name"]) for s in theirs["steps"]] == [
        ("Deal", "006-r1", "Acme renewal"), ("Product", "01t-core", "Core Platform"),
        ("Deal", None, None), ("Contact", None, None), ("Account", None, None),
    ]
    for secret in ("006-b5", "Bobco", "Megadeal", "Bo Secret", "003-bo", BOBCO, "won"):
        assert secret not in str(explanation)
    # The sentence is rendered from its node references: hidden ones unnamed, their facts ("which was won") left out.
    assert theirs["text"] == "a contact you cannot see was on a deal you cannot see at an account you cannot see"
    # Suggestions naming a hidden node (the risk of Bob's deal, involving Bob's contact) are not hers to act on.
    assert explanation["suggestions"] == [
        {"kind": "keep", "text": "Keep Ana Silva closely involved.", "contactId": None}]
    # Bob reading his own deal's explanation sees the paths as stored (the same data, his book).
    bob_paths = gql(bob, """{ deal(id: "006-b1") { explanation { paths { steps { id } } } } }""")
    assert bob_paths["data"]["deal"]["explanation"]["paths"][1]["steps"][2]["id"] == "006-b5"


def test_cursors_from_another_reps_pages_only_page_her_own_book(rita: Endpoint, bob: Endpoint,
                                                                book_server: BookServer) -> None:
    bobs_first = gql(bob, PAGE, {"first": 1})["data"]["deals"]
    assert ids(bobs_first) == ["006-b1"]
    after_bobs_cursor = gql(rita, PAGE, {"first": 100, "after": bobs_first["pageInfo"]["endCursor"]})["data"]["deals"]
    # A cursor is a position in the order (score 0.95, then id), not a grant: she gets her deals after it.
    assert ids(after_bobs_cursor) == book_server.book.open_of(RITA)
    assert not set(ids(after_bobs_cursor)) - set(book_server.book.open_of(RITA))


def test_no_cache_between_her_and_the_server_may_keep_her_answers(rita: Endpoint) -> None:
    """Her answer is what her key may see: a proxy that caches GETs by URL (nginx ignores `Authorization`) or a
    shared machine's browser cache must not keep it for the next person; hits of the server's own cache included."""
    query = {"query": "{ deals { edges { node { id name } } } }"}
    sent = {"Authorization": f"Bearer {rita.token}"}
    answers = [httpx.get(f"{rita}/graphql", params=query, headers=sent) for _ in range(2)]
    answers += [httpx.post(f"{rita}/graphql", json=query, headers=sent),
                httpx.get(f"{rita}/graphql", params={"query": "mutation { viewer }"}, headers=sent)]
    assert answers[1].headers["x-dealgraph-cache"] == "hit"
    assert [r.headers.get("cache-control") for r in answers] == ["no-store"] * 4, [r.headers for r in answers]


def test_revops_and_admin_see_every_open_deal(book_server: BookServer) -> None:
    for role in (Role.REVOPS, Role.ADMIN):
        endpoint = book_server.as_(role)
        assert set(walk(endpoint, first=3)) == OPEN
        acme = gql(endpoint, EVERYTHING_ABOUT_AN_ACCOUNT, {"id": ACME})["data"]["account"]
        assert acme["parent"] == {"id": ACME_GROUP} and acme["subsidiaries"] == [{"id": ACME_LABS}]
        assert gql(endpoint, '{ deal(id: "006-b1") { id } }') == {"data": {"deal": {"id": "006-b1"}}}


def test_team_scope_adds_the_team_and_nothing_more(book_server: BookServer) -> None:
    rita_team = book_server.as_(Role.REP, RITA, team_scope=True)
    book = book_server.book
    assert walk(rita_team, first=2) == book.open_of(RITA, BOB)
    assert gql(rita_team, '{ deal(id: "006-c1") { id } }') == {"data": {"deal": None}}  # Cleo is in APAC
    viewer = gql(rita_team, "{ viewer { role repId teamScope } }")["data"]["viewer"]
    assert viewer == {"role": "rep", "repId": RITA, "teamScope": True}


def test_a_rep_key_for_a_rep_with_no_deals_sees_nothing(book_server: BookServer) -> None:
    nobody = book_server.as_(Role.REP, "005-nobody")
    assert gql(nobody, PAGE, {"first": 100})["data"]["deals"]["totalCount"] == 0
    assert gql(nobody, EVERYTHING_ABOUT_AN_ACCOUNT, {"id": ACME}) == {"data": {"account": None}}


def test_resolvers_have_no_way_around_the_visibility_layer() -> None:
    """Resolver modules reach the graph only through `info.context.loaders`: no store, no raw reads."""
    import ast

    from api.graphql.context import GraphContext

    api = Path(__file__).resolve().parents[2] / "api"
    for module in ("schema.py", "graphql/nodes.py", "graphql/pagination.py", "graphql/scores.py"):
        tree = ast.parse((api / module).read_text())
        names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        names |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        store_names = {"store", "_store", "_reads", "StoreReads", "GraphStore", "open_deals_page"}
        assert not store_names & (names | imported), module
    assert "store" not in GraphContext.__init__.__code__.co_names  # kept only inside the loaders


def test_a_reassigned_deal_moves_between_books(tmp_path: Path) -> None:
    """Books are re-read after DEALGRAPH_BOOK_TTL_S (0 here: every request); a cached book stays until then."""
    from api.app import create_app
    from api.settings import Settings
    from graph import open_store, sqlite_url
    from tests.api.book_data import build_book
    from tests.helpers.server import serve

    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        query = '{ deal(id: "006-r2") { id } }'
        with serve(create_app(store, tmp_path, settings=Settings(book_ttl_s=0))) as url:
            rita = Endpoint(url, create_key(tmp_path, Role.REP, RITA))
            bob = Endpoint(url, create_key(tmp_path, Role.REP, BOB))
            assert gql(rita, query) == {"data": {"deal": {"id": "006-r2"}}}
            assert gql(bob, query) == {"data": {"deal": None}}
            store.upsert_edges("OWNED_BY", [{"src": "006-r2", "dst": BOB}])  # a load reassigns it
            assert gql(rita, query) == {"data": {"deal": None}}
            assert gql(bob, query) == {"data": {"deal": {"id": "006-r2"}}}
        with serve(create_app(store, tmp_path, settings=Settings(book_ttl_s=3600))) as url:
            bob = Endpoint(url, create_key(tmp_path, Role.REP, BOB))
            assert gql(bob, query) == {"data": {"deal": {"id": "006-r2"}}}
            store.upsert_edges("OWNED_BY", [{"src": "006-r2", "dst": RITA}])
            assert gql(bob, query) == {"data": {"deal": {"id": "006-r2"}}}  # his cached book, until the TTL
    finally:
        store.close()
