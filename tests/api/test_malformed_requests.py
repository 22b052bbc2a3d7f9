"""Malformed and hostile requests against the real server: each ends 2xx/4xx with a GraphQL-shaped error that says
what was wrong, never a 5xx (issue 15; `api/request_guard.py`, `api/graphql/extensions.py: OneOperation`,
`api/graphql/pagination.py: decode_cursor`)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from api.app import create_app
from api.settings import Settings
from tests.api.graph_data import SUB
from tests.helpers.server import serve

VIEWER = "{ viewer { role } }"
DEAL = "query Deal($id: ID!) { deal(id: $id) { id name } }"
PAGE = "query Page($after: String, $first: Int) { deals(first: $first, after: $after) { totalCount } }"
JSON = {"content-type": "application/json"}


def cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode()


@dataclass
class Case:
    """One request and what must come back: the status, the `extensions.code` and a piece of the message."""

    status: int
    code: str | None  # None: an answer with data and no errors
    says: str = ""
    method: str = "POST"
    body: bytes | None = None  # sent as is (with `headers`)
    payload: Any = None  # sent as JSON when `body` is None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


def post(payload: Any, status: int = 400, code: str | None = "BAD_REQUEST", says: str = "") -> Case:
    return Case(status, code, says, body=json.dumps(payload).encode())


def raw(body: bytes, status: int = 400, code: str | None = "BAD_REQUEST", says: str = "", **headers: str) -> Case:
    return Case(status, code, says, body=body, headers={**JSON, **headers})


def get(params: dict[str, str], status: int = 400, code: str | None = "BAD_REQUEST", says: str = "") -> Case:
    return Case(status, code, says, method="GET", params=params, headers={})


CASES: dict[str, Case] = {
    # ---- bodies that are not one JSON object of UTF-8 text
    "invalid utf-8": raw(b'{"query": "{ viewer { role } }\xff"}', says="not valid UTF-8: byte 0xff"),
    "overlong utf-8": raw(b'{"query": "\xc0\xaf"}', says="not valid UTF-8"),
    "utf-16 body": raw(json.dumps({"query": VIEWER}).encode("utf-16"), says="not valid UTF-8"),
    "json null": raw(b"null", says="not null"),
    "json string": raw(b'"{ viewer { role } }"', says="not a string"),
    "json number": raw(b"42", says="not a number"),
    "json boolean": raw(b"true", says="not a boolean"),
    "2000-level nesting": raw(b"[" * 2000 + b"]" * 2000, says="nests deeper than 64 levels"),
    "100-level nesting in variables": post({"query": DEAL, "variables": {"id": json.loads("[" * 100 + "]" * 100)}},
                                           says="nests deeper than 64 levels"),
    "empty body": raw(b"", says="not valid JSON"),
    "truncated json": raw(b'{"query": "{ viewer', says="not valid JSON"),
    "NaN": raw(b'{"query": "{ viewer { role } }", "variables": {"x": NaN}}', says="NaN is not a JSON number"),
    "Infinity": raw(b'{"query": "{ viewer { role } }", "variables": {"x": -Infinity}}', says="not a JSON number"),
    "5000-digit integer": raw(b'{"query": "{ viewer { role } }", "variables": {"x": ' + b"9" * 5000 + b"}}",
                              says="not valid JSON"),
    "byte order mark": raw(b"\xef\xbb\xbf" + json.dumps({"query": VIEWER}).encode(), says="not valid JSON"),
    "batched array": post([{"query": VIEWER}, {"query": VIEWER}], says="batched requests"),
    "empty array": post([], says="batched requests"),
    "empty object": post({}, says="no `query`"),
    "empty query": post({"query": ""}, says="no `query`"),
    "query a number": post({"query": 5}, says="`query` must be a string, not a number"),
    "query a list": post({"query": [VIEWER]}, says="`query` must be a string, not an array"),
    "operationName an object": post({"query": VIEWER, "operationName": {"a": 1}},
                                    says="`operationName` must be a string or null, not an object"),
    "operationName a list": post({"query": VIEWER, "operationName": ["A"]}, says="`operationName`"),
    "operationName a number": post({"query": VIEWER, "operationName": 1}, says="`operationName`"),
    "variables an array": post({"query": DEAL, "variables": [SUB]}, says="`variables` must be an object or null"),
    "variables a string": post({"query": DEAL, "variables": json.dumps({"id": SUB})}, says="not a string"),
    "variables a number": post({"query": DEAL, "variables": 7}, says="`variables`"),
    "extensions a string": post({"query": VIEWER, "extensions": "persisted"}, says="`extensions`"),
    # ---- text that is not Unicode: a lone surrogate in any string
    "lone surrogate id": raw(b'{"query": "query($id: ID!) { deal(id: $id) { id } }", "variables": {"id": "\\ud800"}}',
                             says="lone UTF-16 surrogate ('\\ud800'"),
    "lone low surrogate in the query": raw(b'{"query": "{ viewer { role } } # \\udfff"}', says="lone UTF-16 surrogate"),
    "lone surrogate in a variable name": raw(b'{"query": "{ viewer { role } }", "variables": {"\\ud83d": 1}}',
                                             says="lone UTF-16 surrogate"),
    "lone surrogate in operationName": raw(b'{"query": "{ viewer { role } }", "operationName": "A\\ud800"}',
                                           says="lone UTF-16 surrogate"),
    # ---- content types and methods
    "text/plain": raw(json.dumps({"query": VIEWER}).encode(), 415, "UNSUPPORTED_MEDIA_TYPE",
                      "Content-Type 'text/plain'",
                      **{"content-type": "text/plain"}),
    "form-urlencoded (curl's default)": raw(b"query=%7B%20viewer%20%7B%20role%20%7D%20%7D", 415,
                                            "UNSUPPORTED_MEDIA_TYPE", "application/json",
                                            **{"content-type": "application/x-www-form-urlencoded"}),
    "multipart": raw(b"--x\r\n\r\n--x--", 415, "UNSUPPORTED_MEDIA_TYPE",
                     **{"content-type": "multipart/form-data; boundary=x"}),
    "no content type": Case(415, "UNSUPPORTED_MEDIA_TYPE", "(none)", body=json.dumps({"query": VIEWER}).encode(),
                            headers={}),
    "json with a charset": raw(json.dumps({"query": VIEWER}).encode(), 200, None,
                               **{"content-type": "Application/JSON; charset=utf-8"}),
    "PUT": Case(405, "METHOD_NOT_ALLOWED", "PUT is not a GraphQL method", method="PUT", payload={"query": VIEWER}),
    "DELETE": Case(405, "METHOD_NOT_ALLOWED", "use POST", method="DELETE", headers={}),
    "PATCH": Case(405, "METHOD_NOT_ALLOWED", method="PATCH", payload={"query": VIEWER}),
    # ---- GET with a query string
    "GET variables an array": get({"query": DEAL, "variables": "[1]"}, says="`variables` must be an object"),
    "GET variables not json": get({"query": DEAL, "variables": "{id: 1}"},
                                  says="`variables` parameter is not valid JSON"),
    "GET variables nested": get({"query": DEAL, "variables": "[" * 3000 + "]" * 3000}, says="nests deeper"),
    "GET lone surrogate": get({"query": DEAL, "variables": '{"id": "\\ud800"}'}, says="lone UTF-16 surrogate"),
    "GET empty query": get({"query": ""}, says="no `query`"),
    "GET works": get({"query": VIEWER}, 200, None),
    "GET a mutation": get({"query": "mutation { viewer { role } }"}, 400, "BAD_REQUEST", "mutations are not allowed"),
    "GET a subscription": get({"query": "subscription { viewer { role } }"}, 200, "GRAPHQL_VALIDATION_FAILED",
                              "subscription operation is not supported"),
    "POST a mutation": post({"query": "mutation { viewer { role } }"}, 200, "GRAPHQL_VALIDATION_FAILED",
                            "mutation operation is not supported"),
    # ---- which operation runs (GraphQL spec: GetOperation)
    "two operations, no operationName": post({"query": "query A { viewer { role } } query B { model { version } }"},
                                             200, "OPERATION_RESOLUTION_FAILURE", "2 operations (A, B)"),
    "two operations, one anonymous": post({"query": "query A { viewer { role } } { model { version } }"},
                                          200, "OPERATION_RESOLUTION_FAILURE", "(anonymous)"),
    "unknown operationName": post({"query": "query A { viewer { role } }", "operationName": "Z"},
                                  200, "OPERATION_RESOLUTION_FAILURE", "'Z' names no operation"),
    "fragments only": post({"query": "fragment F on Query { viewer { role } }"},
                           200, "OPERATION_RESOLUTION_FAILURE", "no operation"),
    "two operations, one named": post({"query": "query A { viewer { role } } query B { viewer { repId } }",
                                       "operationName": "B"}, 200, None),
    "GET unknown operationName": get({"query": VIEWER, "operationName": "Nope"}, 200, "OPERATION_RESOLUTION_FAILURE"),
    # ---- cursors (opaque, but anything can be sent)
    "cursor of deeply nested json": post({"query": PAGE, "variables": {"after": cursor("[" * 5000 + "]" * 5000)}},
                                         200, "BAD_USER_INPUT", "invalid cursor"),
    "cursor with a lone surrogate id": post({"query": PAGE, "variables": {"after": cursor('[0.5, "\\ud800"]')}},
                                            200, "BAD_USER_INPUT", "invalid cursor"),
    "cursor of 100k characters": post({"query": PAGE, "variables": {"after": "A" * 100_000}}, 200, "BAD_USER_INPUT",
                                      "invalid cursor"),
    "cursor with an infinite score": post({"query": PAGE, "variables": {"after": cursor('[1e999, "x"]')}},
                                          200, "BAD_USER_INPUT", "(score, id)"),
    "cursor of a json object": post({"query": PAGE, "variables": {"after": cursor('{"rank": 1}')}},
                                    200, "BAD_USER_INPUT", "invalid cursor"),
    "cursor not base64": post({"query": PAGE, "variables": {"after": "!!!"}}, 200, "BAD_USER_INPUT", "invalid cursor"),
    # ---- ids and variables of the wrong shape
    "lone surrogate escape in a literal id": post({"query": '{ deal(id: "\\ud800") { id } }'},
                                                  200, "GRAPHQL_PARSE_FAILED", "Invalid Unicode escape"),
    "null byte in an id": post({"query": DEAL, "variables": {"id": "006\x00x"}}, 200, None),
    "id of 200k characters": post({"query": DEAL, "variables": {"id": "x" * 200_000}}, 200, None),
    "null byte in the document": post({"query": "{ viewer { role } }\x00"}, 200, "GRAPHQL_PARSE_FAILED",
                                      "Syntax Error"),
    "first a string": post({"query": PAGE, "variables": {"first": "ten"}}, 200, "GRAPHQL_VALIDATION_FAILED",
                           "Int cannot represent"),
    "first beyond 32 bits": post({"query": PAGE, "variables": {"first": 2**40}}, 200, "GRAPHQL_VALIDATION_FAILED",
                                 "32-bit"),
    "required variable missing": post({"query": DEAL}, 200, "GRAPHQL_VALIDATION_FAILED", "$id"),
    "id an object": post({"query": DEAL, "variables": {"id": {"$ne": None}}}, 200, "GRAPHQL_VALIDATION_FAILED",
                         "ID cannot represent"),
    "600 nested selections": post({"query": "{" + "deal(id: 1) {" * 600 + "id" + "}" * 601}, 200,
                                  "GRAPHQL_PARSE_FAILED"),
    # ---- headers
    "1 MB Authorization header": Case(431, "HEADERS_TOO_LARGE", "at most 16384", payload={"query": VIEWER},
                                      headers={"Authorization": "Bearer dgk_" + "a" * 1_000_000}),
    "many headers": Case(431, "HEADERS_TOO_LARGE", "request headers total", payload={"query": VIEWER},
                         headers={f"x-pad-{i}": "v" * 200 for i in range(100)}),
}


@pytest.fixture(scope="module")
def client(api_url) -> httpx.Client:
    with httpx.Client(base_url=api_url, timeout=30) as c:
        yield c


def send(client: httpx.Client, case: Case, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", **case.headers}
    if case.payload is not None:
        return client.request(case.method, "/graphql", json=case.payload, headers=headers)
    return client.request(case.method, "/graphql", content=case.body, params=case.params, headers=headers)


@pytest.mark.parametrize("name", list(CASES))
def test_a_malformed_request_gets_a_4xx_that_says_what_was_wrong(client: httpx.Client, api_url, name: str) -> None:
    case = CASES[name]
    response = send(client, case, api_url.token)
    assert response.status_code < 500, response.text
    assert response.status_code == case.status, (response.status_code, response.text[:500])
    body = response.json()
    if case.code is None:
        assert "errors" not in body and body["data"], body
        return
    errors = body["errors"]
    assert errors and all(e["message"] and e["extensions"]["code"] for e in errors), body
    assert errors[0]["extensions"]["code"] == case.code, body
    assert case.says in errors[0]["message"], errors[0]["message"]
    assert "internal error" not in response.text and "Traceback" not in response.text


def test_a_refused_method_names_the_allowed_ones(client: httpx.Client, api_url) -> None:
    response = send(client, CASES["PUT"], api_url.token)
    assert response.headers["allow"] == "GET, POST"


def test_malformed_requests_are_refused_before_authentication(client: httpx.Client) -> None:
    """No credential at all, yet the refusal is about the request: no auth work is spent on a malformed one."""
    for name in ("json null", "2000-level nesting", "operationName an object", "lone surrogate id"):
        response = client.post("/graphql", content=CASES[name].body, headers=JSON)
        assert response.status_code == 400 and response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


def test_the_graphiql_page_and_other_routes_pass_the_guard(client: httpx.Client) -> None:
    assert client.get("/graphql", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz", headers={"x-pad": "v" * 20_000}).status_code == 431


def test_a_query_string_over_the_body_limit_is_414(crm_store, crm_home) -> None:
    """A GET carries its query in the URL: the body limit holds there too. (uvicorn's httptools parser itself
    refuses URLs over ~64 KB with a plain 400 before the app runs; the default limit is 1 MB, so a small one here.)"""
    with serve(create_app(crm_store, crm_home, settings=Settings(max_body_bytes=4096))) as base_url:
        response = httpx.get(f"{base_url}/graphql", params={"query": VIEWER + " " * 10_000},
                             headers={"Authorization": "Bearer dgk_unchecked"})
        small = httpx.get(f"{base_url}/graphql", params={"query": VIEWER}, headers={"Authorization": "Bearer x"})
    assert response.status_code == 414, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "URI_TOO_LONG"
    assert "query string over 4096 bytes: send long queries by POST" in error["message"]
    assert small.status_code == 401  # under the limit it goes on to authentication


def test_refusals_are_counted_by_code_in_the_metrics(crm_store, crm_home, api_url) -> None:
    with serve(create_app(crm_store, crm_home)) as base_url, httpx.Client(base_url=base_url) as fresh:
        before = fresh.get("/metrics").text
        send(fresh, CASES["GET a mutation"], api_url.token)  # refused by Strawberry, answered by DealgraphRouter.run
        after = fresh.get("/metrics").text
    assert 'code="BAD_REQUEST"' not in before and 'code="BAD_REQUEST"' in after
