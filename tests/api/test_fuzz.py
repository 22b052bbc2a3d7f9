"""Property-based fuzzing of the served schema (hypothesis-graphql) against the running app.

Bounded: a fixed number of examples per run, a client timeout per request (a
hang fails the test), no database writes. Properties: never a 5xx, never an
INTERNAL_SERVER_ERROR, always a well-formed GraphQL body; for a rep, no
other rep's deal or account id in any response.
"""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, nodes

from api.auth import Role
from api.schema import schema
from tests.api.book_data import ACME, BOB, BOBCO, CLEO, CLEOCO, DEALS, RITA, SHARED, BookServer

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.NonInteractiveExampleWarning")

SDL = schema.as_str()
ACCOUNT_IDS = [ACME, SHARED, BOBCO, CLEOCO, "001-acme-group", "001-acme-labs"]
DEAL_IDS = [d.id for d in DEALS]
OTHER_IDS = [RITA, BOB, CLEO, "003-ana"]


def scalars(ids: list[str]) -> dict:
    """Custom scalar strategies; IDs are real ones most of the time, so resolvers walk real data."""
    return {
        "Date": st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 1, 1)).map(nodes.String),
        "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat())),
        "ID": st.one_of(st.sampled_from(ids), st.sampled_from(ids), st.text(max_size=20)).map(nodes.String),
    }


CUSTOM = scalars(ACCOUNT_IDS + DEAL_IDS + OTHER_IDS)
#: Root fields fuzzed one at a time, each with the ids it takes.
ROOTS = {"deal": DEAL_IDS, "account": ACCOUNT_IDS, "deals": ACCOUNT_IDS + OTHER_IDS}
FORBIDDEN_TO_RITA = [d.id for d in DEALS if d.owner != RITA] + [BOBCO, CLEOCO, "003-bo", "Bobco", "Bo Secret"]
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TIMEOUT_S = 30.0  # per request: far above any legitimate query here; exceeding it is a hang


def send(client: httpx.Client, query: str) -> dict:
    response = client.post("/graphql", json={"query": query}, timeout=TIMEOUT_S)
    assert response.status_code < 500, (query, response.status_code, response.text)
    assert response.status_code in (200, 400), (query, response.status_code, response.text)
    body = response.json()  # every answer is JSON, refusals too (api/request_guard.py, api/router.py)
    if response.status_code == 400:  # e.g. an operation type this endpoint refuses
        assert body["errors"][0]["message"] and body["errors"][0]["extensions"]["code"] == "BAD_REQUEST", body
        return {}
    assert set(body) <= {"data", "errors", "extensions"} and ("data" in body or "errors" in body), body
    codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors", [])}
    assert "INTERNAL_SERVER_ERROR" not in codes, (query, body)
    assert None not in codes, (query, body)  # every error says what kind it is
    return body


@pytest.fixture(scope="module")
def rita_client(book_server: BookServer) -> httpx.Client:
    key = book_server.as_(Role.REP, RITA).token
    with httpx.Client(base_url=book_server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


@pytest.fixture(scope="module")
def admin_client(book_server: BookServer) -> httpx.Client:
    key = book_server.as_(Role.ADMIN).token
    with httpx.Client(base_url=book_server.url, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


@pytest.mark.parametrize("root", sorted(ROOTS))
@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_valid_queries_as_a_rep_never_fail_the_server_or_leak(rita_client: httpx.Client, root: str,
                                                               data: st.DataObject) -> None:
    query = data.draw(from_schema(SDL, fields=[root, "viewer"], custom_scalars=scalars(ROOTS[root])))
    body = send(rita_client, query)
    text = str(body.get("data"))
    leaked = [s for s in FORBIDDEN_TO_RITA if s in text]
    assert not leaked, (query, leaked, body)


@FUZZ
@given(query=from_schema(SDL, custom_scalars=CUSTOM))
def test_valid_queries_as_admin_never_fail_the_server(admin_client: httpx.Client, query: str) -> None:
    send(admin_client, query)


@settings(FUZZ, max_examples=60)
@given(query=from_schema(SDL, custom_scalars=CUSTOM, mode=Mode.NEGATIVE))
def test_invalid_queries_are_client_errors(admin_client: httpx.Client, query: str) -> None:
    body = send(admin_client, query)
    assert body == {} or body.get("errors"), (query, body)


@settings(FUZZ, max_examples=60)
@given(raw=st.text(max_size=300))
def test_arbitrary_text_is_a_client_error(admin_client: httpx.Client, raw: str) -> None:
    body = send(admin_client, raw)
    assert body == {} or body.get("errors") or body.get("data") is not None, (raw, body)
