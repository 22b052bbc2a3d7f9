"""Property-based fuzzing of whole HTTP requests (issue 15): bodies, cursors and ids against the real server.

`test_fuzz.py` draws GraphQL documents; here hypothesis draws what surrounds them: raw
bytes, any JSON where the request object goes, any JSON as `operationName`,
`variables` and `extensions`, cursors (text, base64 of bytes, base64 of JSON) and ids
(any text, lone surrogates included). Properties: never a 5xx, never
INTERNAL_SERVER_ERROR, and every error is GraphQL-shaped with a message and a code.
Bounded: a fixed number of derandomised examples, a client timeout per request (a hang fails).
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.graph_data import SUB

FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
TIMEOUT_S = 30.0
DOCUMENTS = [
    "{ viewer { role } }",
    "query Deal($id: ID!) { deal(id: $id) { id name account { id } } }",
    "query Account($id: ID!) { account(id: $id) { id deals(first: 2) { edges { cursor } } } }",
    "query Page($after: String, $first: Int) { deals(first: $first, after: $after) { totalCount } }",
    "query A { viewer { role } } query B { model { version } }",
]
#: Any text, lone UTF-16 surrogates included (which JSON can carry as `\ud800` escapes).
SURROGATES = [chr(c) for c in (0xD800, 0xDBFF, 0xDC00, 0xDFFF)]
#: Text holding at least one lone surrogate (hypothesis draws them only rarely by itself).
BROKEN_TEXT = st.builds(lambda a, s, b: a + s + b, st.text(max_size=8), st.sampled_from(SURROGATES),
                        st.text(max_size=8))
ANY_TEXT = st.text(max_size=40) | BROKEN_TEXT
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner, max_size=4),
    max_leaves=12,
)
CURSORS = st.one_of(
    ANY_TEXT,
    st.binary(max_size=60).map(lambda b: base64.urlsafe_b64encode(b).decode()),
    JSON_VALUES.map(lambda v: base64.urlsafe_b64encode(json.dumps(v).encode()).decode()),
    st.integers(1, 3000).map(lambda n: base64.urlsafe_b64encode(("[" * n + "]" * n).encode()).decode()),
)
IDS = st.one_of(st.just(SUB), ANY_TEXT, st.text(max_size=2000), JSON_VALUES)


@pytest.fixture(scope="module")
def client(api_url) -> httpx.Client:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {api_url.token}"},
                      timeout=TIMEOUT_S) as c:
        yield c


def check(response: httpx.Response) -> dict[str, Any]:
    """The response is a 2xx/4xx GraphQL answer; every error in it says what it is."""
    assert response.status_code < 500, response.text[:500]
    body = response.json()
    assert isinstance(body, dict) and ("data" in body or "errors" in body), body
    for error in body.get("errors") or []:
        assert error["message"] and error["extensions"]["code"], body
        assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
    if response.status_code >= 400:
        assert body.get("errors"), body
    return body


def post_raw(client: httpx.Client, body: bytes) -> httpx.Response:
    return client.post("/graphql", content=body, headers={"content-type": "application/json"})


@FUZZ
@given(body=st.binary(max_size=300))
def test_any_bytes_as_a_body(client: httpx.Client, body: bytes) -> None:
    check(post_raw(client, body))


@FUZZ
@given(value=JSON_VALUES)
def test_any_json_as_the_request(client: httpx.Client, value: Any) -> None:
    check(post_raw(client, json.dumps(value).encode()))


@FUZZ
@given(query=st.sampled_from(DOCUMENTS) | ANY_TEXT, operation=JSON_VALUES | st.sampled_from(["A", "B", "Deal"]),
       variables=JSON_VALUES, extensions=st.none() | JSON_VALUES)
def test_any_members_of_the_request(client: httpx.Client, query: str, operation: Any, variables: Any,
                                    extensions: Any) -> None:
    request = {"query": query, "operationName": operation, "variables": variables, "extensions": extensions}
    check(post_raw(client, json.dumps(request).encode()))


@FUZZ
@given(after=CURSORS, first=st.none() | st.integers(-5, 200))
def test_any_cursor(client: httpx.Client, after: str, first: int | None) -> None:
    body = check(post_raw(client, json.dumps({"query": DOCUMENTS[3], "variables": {"after": after, "first": first}})
                          .encode()))
    assert body.get("data") is None or body.get("errors") or body["data"]["deals"]["totalCount"] >= 0


@FUZZ
@given(deal=IDS, account=IDS, by_get=st.booleans())
def test_any_id(client: httpx.Client, deal: Any, account: Any, by_get: bool) -> None:
    for query, value in ((DOCUMENTS[1], deal), (DOCUMENTS[2], account)):
        variables = json.dumps({"id": value})
        if by_get:
            check(client.get("/graphql", params={"query": query, "variables": variables}))
        else:
            check(post_raw(client, json.dumps({"query": query, "variables": {"id": value}}).encode()))
