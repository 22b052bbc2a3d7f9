"""The response cache over a real server: answers repeat from memory, and every write they read is seen at once.

Each test gets its own store and server (the tests write). Writes go through the store from the test's thread,
that is another SQLite connection than the server's, as a scoring run or a load in another process would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.auth import KeyStore, Role
from api.graphql.store_reads import ScoreReads
from api.response_cache import ResponseCache
from api.router import CACHE_HEADER
from api.settings import Settings
from graph import GraphStore, open_store, sqlite_url
from tests.api.book_data import ACME, CLEO, RITA, BookServer, build_book
from tests.api.queries import post
from tests.helpers.server import serve

ACCOUNT = """query A($id: ID!) { account(id: $id) { id name openDeals { id score { probability } } } }"""
PAGE = """{ deals(first: 3) { edges { node { id score { probability } } } } }"""


@pytest.fixture()
def book(tmp_path: Path) -> Iterator[tuple[BookServer, GraphStore]]:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        book = build_book(store)
        with serve(create_app(store, tmp_path)) as base_url:
            yield BookServer(base_url, tmp_path, book), store
    finally:
        store.close()


def ask(endpoint: str, query: str, variables: dict | None = None) -> tuple[str | None, dict]:
    response = post(endpoint, query, variables)
    assert response.status_code == 200, response.text
    return response.headers.get(CACHE_HEADER), response.json()


def rescore(store: GraphStore, deal_id: str, probability: float) -> None:
    (record,) = store.latest_scores([deal_id]).values()
    store.write_scores([replace(record, probability=probability, scored_at=datetime.now(UTC))])


def test_a_repeated_question_is_answered_from_memory_with_the_same_answer(book):
    server, _ = book
    rita = server.as_(Role.REP, RITA)
    first = ask(rita, ACCOUNT, {"id": ACME})
    second = ask(rita, ACCOUNT, {"id": ACME})
    assert first[0] == "miss" and second[0] == "hit"
    assert first[1] == second[1] and first[1]["data"]["account"]["openDeals"]


def test_a_new_score_for_a_deal_the_answer_read_is_served_at_once(book):
    server, store = book
    rita = server.as_(Role.REP, RITA)
    _, before = ask(rita, ACCOUNT, {"id": ACME})
    deal_id = before["data"]["account"]["openDeals"][-1]["id"]
    rescore(store, deal_id, 0.99)
    state, after = ask(rita, ACCOUNT, {"id": ACME})
    assert state == "miss"
    deals = after["data"]["account"]["openDeals"]
    assert deals[0] == {"id": deal_id, "score": {"probability": 0.99}}  # new score, and the order follows it


def test_a_new_score_elsewhere_keeps_the_answer(book):
    server, store = book
    rita = server.as_(Role.REP, RITA)
    ask(rita, ACCOUNT, {"id": ACME})
    rescore(store, "006-c1", 0.05)  # Cleo's deal at Cleoco: nothing Rita's Acme answer read
    assert ask(rita, ACCOUNT, {"id": ACME})[0] == "hit"


def test_a_page_ordered_by_score_follows_a_score_written_anywhere(book):
    server, store = book
    admin = server.as_(Role.ADMIN)
    _, before = ask(admin, PAGE)
    shown = [e["node"]["id"] for e in before["data"]["deals"]["edges"]]
    assert "006-c1" not in shown
    rescore(store, "006-c1", 0.999)  # not on the page until now
    state, after = ask(admin, PAGE)
    assert state == "miss"
    assert after["data"]["deals"]["edges"][0]["node"]["id"] == "006-c1"


def test_a_graph_write_is_served_at_once(book):
    server, store = book
    rita = server.as_(Role.REP, RITA)
    ask(rita, ACCOUNT, {"id": ACME})
    store.upsert_nodes("Account", [{"id": ACME, "name": "Acme Renamed"}])
    state, after = ask(rita, ACCOUNT, {"id": ACME})
    assert state == "miss" and after["data"]["account"]["name"] == "Acme Renamed"


def test_one_callers_answer_is_never_anothers(book):
    server, _ = book
    assert ask(server.as_(Role.REP, RITA), ACCOUNT, {"id": ACME})[1]["data"]["account"] is not None
    state, cleo_sees = ask(server.as_(Role.REP, CLEO), ACCOUNT, {"id": ACME})
    assert state == "miss" and cleo_sees["data"]["account"] is None


def test_a_revoked_key_is_refused_even_for_a_kept_answer(book):
    server, _ = book
    keys = KeyStore(server.home / "api-keys.db")
    record, token = keys.create(Role.REP, rep_id=RITA, name="soon revoked")
    assert post(server.url, ACCOUNT, {"id": ACME}, token=token).headers[CACHE_HEADER] == "miss"
    assert post(server.url, ACCOUNT, {"id": ACME}, token=token).headers[CACHE_HEADER] == "hit"
    keys.revoke(record.id)
    deadline = time.monotonic() + 10  # the server re-reads the key file at most every half second
    while (status := post(server.url, ACCOUNT, {"id": ACME}, token=token).status_code) == 200:
        assert time.monotonic() < deadline, "the revoked key kept being answered"
        time.sleep(0.1)
    assert status == 401


def test_answers_with_errors_are_not_kept(book):
    server, _ = book
    admin = server.as_(Role.ADMIN)
    bad_cursor = '{ deals(first: 2, after: "not-a-cursor") { edges { cursor } } }'
    for _ in range(2):
        state, body = ask(admin, bad_cursor)
        assert body["errors"] and state == "miss"


def test_the_cache_can_be_switched_off(tmp_path: Path):
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        with serve(create_app(store, tmp_path, settings=Settings(response_cache_entries=0))) as base_url:
            token = KeyStore(tmp_path / "api-keys.db").create(Role.ADMIN, name="t")[1]
            states = {post(base_url, PAGE, token=token).headers.get(CACHE_HEADER) for _ in range(2)}
            metrics = httpx.get(f"{base_url}/metrics").text
    finally:
        store.close()
    assert states == {None}
    assert 'dealgraph_response_cache_total{result="hit"}' not in metrics


def test_hits_and_misses_are_counted_in_metrics(book):
    server, _ = book
    admin = server.as_(Role.ADMIN)
    for _ in range(3):
        ask(admin, PAGE)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'dealgraph_response_cache_total{result="hit"} 2.0' in metrics
    assert 'dealgraph_response_cache_total{result="miss"} 1.0' in metrics


def test_another_model_serving_outdates_answers_and_the_oldest_go_first(tmp_path: Path):
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        cache = ResponseCache(store, max_entries=2)
        mark = cache.look()
        for key in ("a", "b", "c"):
            cache.put(key, {"key": key}, "Q", mark, "model-1", ScoreReads())
        cache.look()
        assert cache.get("a", "model-1") is None  # the oldest made room
        assert cache.get("c", "model-1") == ({"key": "c"}, "Q")
        assert cache.get("c", "model-2") is None and len(cache) == 1  # dropped, not kept for model-1
        # Mutations never reach the cache (the router sends them past it), so a schema with some still keeps queries.
        assert ResponseCache(store, max_entries=10, has_mutations=True).enabled
    finally:
        store.close()
