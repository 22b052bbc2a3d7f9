"""Abuse limits: depth, tokens, aliases (fragments included), expanded size, introspection, timeout, faults."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import parse

from api.app import create_app
from api.graphql.extensions import expanded_fields
from api.settings import Settings
from graph.sqlite import SQLiteStore
from ontology import load_schema
from tests.api.queries import Endpoint, as_admin, gql, post
from tests.helpers.server import serve

LIMITS = {"max_depth": 5, "max_tokens": 400, "max_aliases": 3}


@pytest.fixture(scope="module")
def limited(crm_store: Any, crm_home: Path) -> Iterator[Endpoint]:
    with serve(create_app(crm_store, crm_home, settings=Settings(**LIMITS, introspection=False))) as base_url:
        yield as_admin(base_url, crm_home)


def error(body: dict) -> dict:
    assert body["data"] is None, body
    assert len(body["errors"]) == 1, body
    return body["errors"][0]


def test_depth_limit(limited: Endpoint, crm: Any) -> None:
    ok = '{ deals(first: 1) { edges { node { account { parent { id } } } } } }'  # depth 5 (leaf fields do not count)
    assert "errors" not in gql(limited, ok)
    deep = '{ deals(first: 1) { edges { node { account { parent { parent { id } } } } } } }'
    e = error(gql(limited, deep))
    assert "exceeds maximum operation depth of 5" in e["message"]
    assert e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # Hiding the depth in fragments does not help.
    hidden = ('{ deals(first: 1) { ...E } } fragment E on DealConnection { edges { node { account { ...P } } } } '
              'fragment P on Account { parent { parent { id } } }')
    assert "exceeds maximum operation depth" in error(gql(limited, hidden))["message"]


def test_token_limit(limited: Endpoint) -> None:
    huge = "{ " + " ".join(f"f{i}: __typename" for i in range(150)) + " }"
    e = error(gql(limited, huge))
    assert "token limit" in e["message"].lower() or "tokens" in e["message"].lower(), e
    assert e["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


def test_alias_limit_counts_aliases_inside_fragment_spreads(limited: Endpoint, crm: Any) -> None:
    direct = '{ a: model { version } b: model { version } c: model { version } d: model { version } }'
    assert "4 aliases found. Allowed: 3" in error(gql(limited, direct))["message"]
    # The bypass fixed in Strawberry (PR #4421): aliases inside a fragment were not counted where it was spread.
    # Two spreads of a fragment with two aliases are four aliases.
    spread = '{ ...M ...M } fragment M on Query { a: model { version } b: model { version } }'
    e = error(gql(limited, spread))
    assert "4 aliases found. Allowed: 3" in e["message"], e
    nested = ('{ account(id: "x") { ...A } } fragment A on Account { p: parent { ...B } q: parent { ...B } } '
              'fragment B on Account { r: parent { id } }')
    assert "aliases found" in error(gql(limited, nested))["message"]
    assert "errors" not in gql(limited, '{ a: model { version } b: model { version } c: model { version } }')


def test_fragment_fan_out_is_refused_before_the_validators_expand_it(api_url: Endpoint) -> None:
    # 40 fragments, each spreading the next twice: ~600 tokens (under the default 2000) but 2^40 fields once
    # expanded. Strawberry's depth and alias validators walk every expansion; without the guard this request
    # would hold the event loop for days (the 30 s client timeout in `gql` fails the test instead).
    n = 40
    doc = "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(n))
    doc += f" fragment F{n} on Query {{ __typename }}"
    assert expanded_fields(parse(doc)) == 2**n
    e = error(gql(api_url, doc))
    assert e["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert f"{2**n} fields" in e["message"] and "at most 500" in e["message"]


def test_expanded_fields_counts_each_use_of_a_fragment() -> None:
    doc = parse("{ a { ...X } b { ...X ...X } } fragment X on T { c d { e } }")
    assert expanded_fields(doc) == 2 + 3 * 3
    assert expanded_fields(parse("{ ...L } fragment L on Q { ...L }")) == 0  # cycles are validation's to report


def test_introspection_can_be_switched_off(limited: Endpoint, api_url: Endpoint) -> None:
    body = gql(limited, "{ __schema { queryType { name } } }")
    assert body["data"] is None
    e = body["errors"][0]
    assert "introspection has been disabled" in e["message"] and e["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert gql(limited, "{ __typename }") == {"data": {"__typename": "Query"}}
    assert "errors" not in gql(api_url, "{ __schema { queryType { name } } }")  # on by default


class SlowStore(SQLiteStore):
    def get_nodes(self, label: str, ids: Any) -> Any:
        time.sleep(1.0)
        return super().get_nodes(label, ids)


class BrokenStore(SQLiteStore):
    def neighbours(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk /secret/path/graph.db on fire")


def test_a_slow_query_times_out_with_a_clear_error(tmp_path: Path) -> None:
    store = SlowStore(tmp_path / "graph.db", load_schema())
    try:
        with serve(create_app(store, tmp_path, settings=Settings(request_timeout_s=0.2)), ready_path=None) as url:
            e = error(gql(as_admin(url, tmp_path), '{ deal(id: "006-x") { id } }'))
        assert e["extensions"] == {"code": "TIMEOUT"}
        assert "longer than 0.2s" in e["message"]
    finally:
        store.close()


def test_faults_come_back_without_details_but_with_the_request_id(tmp_path: Path, caplog: Any) -> None:
    store = BrokenStore(tmp_path / "graph.db", load_schema())
    store.upsert_nodes("Account", [{"id": "001-a", "name": "A"}])
    try:
        with serve(create_app(store, tmp_path), ready_path=None) as url, caplog.at_level("ERROR"):
            response = post(as_admin(url, tmp_path), '{ account(id: "001-a") { name parent { id } } }',
                            headers={"X-Request-ID": "req-42"})
        assert response.status_code == 200 and response.headers["x-request-id"] == "req-42"
        body = response.json()
        assert body["data"] == {"account": {"name": "A", "parent": None}}
        (e,) = body["errors"]
        assert e["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
        assert e["path"] == ["account", "parent"]
        assert "secret" not in response.text and "Traceback" not in response.text
        assert "RuntimeError" not in response.text
        assert "on fire" in caplog.text  # the server log keeps the detail
    finally:
        store.close()


def test_bad_arguments_say_what_was_wrong(api_url: Endpoint) -> None:
    window = '{ deals(filter: {closeAfter: "2025-06-01", closeBefore: "2025-01-01"}) { totalCount } }'
    e = error(gql(api_url, window))
    assert e["extensions"]["code"] == "BAD_USER_INPUT" and "window is empty" in e["message"]
    bad_date = error(gql(api_url, '{ deals(filter: {closeAfter: "June"}) { totalCount } }'))
    assert bad_date["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "cannot represent a Date" in bad_date["message"]
    bad_band = error(gql(api_url, "{ deals(filter: {scoreBand: SUPER}) { totalCount } }"))
    assert "ScoreBand" in bad_band["message"]
    unknown = error(gql(api_url, "{ deals { nope } }"))
    assert "Cannot query field 'nope'" in unknown["message"]
