"""Operations: readiness, Prometheus metrics, request ids and JSON request logs."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.ops import JsonFormatter
from gnn.registry import ModelCard, ModelRegistry
from graph import open_store, sqlite_url
from tests.api.queries import Endpoint, as_admin, gql, post
from tests.helpers.server import serve


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{(.*)\} (\S+)$", line) or re.match(r"^(\w+)() (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted(m.group(2).split(","))) == want:
            return float(m.group(3))
    return 0.0


def test_readyz_needs_the_store_and_a_model(tmp_path: Path) -> None:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        with serve(create_app(store, tmp_path)) as base_url:
            response = httpx.get(f"{base_url}/readyz")
            assert response.status_code == 503
            assert response.json() == {"status": "not ready", "reasons": [
                f"model: none trained yet under {tmp_path}/models (run `dealgraph train`)"]}
            card = ModelCard(version="v-ready", kind="graphsage", trained_at=datetime(2025, 3, 4, tzinfo=UTC),
                             schema_fingerprint="f", snapshot_id="s", metrics={})
            ModelRegistry(tmp_path).save(card, {"model.pt": b"x"})
            response = httpx.get(f"{base_url}/readyz")
            assert response.status_code == 200 and response.json() == {"status": "ready", "model": "v-ready"}
            assert httpx.get(f"{base_url}/healthz").json() == {"status": "ok"}  # liveness never needs a model
    finally:
        store.close()


def test_readyz_reports_an_unreadable_store(tmp_path: Path) -> None:
    db = tmp_path / "graph.db"
    store = open_store(sqlite_url(db))
    store.close()
    for extra in (tmp_path / "graph.db-wal", tmp_path / "graph.db-shm"):
        extra.unlink(missing_ok=True)
    db.write_bytes(b"this is not a SQLite database" * 100)
    try:
        with serve(create_app(store, tmp_path)) as base_url:
            response = httpx.get(f"{base_url}/readyz")
        assert response.status_code == 503
        reasons = response.json()["reasons"]
        assert reasons[0].startswith("store: ") and "not a database" in reasons[0]
        assert reasons[1].startswith("model: none trained yet")
    finally:
        store.close()


def test_metrics_by_operation_errors_and_store_calls(api_url: Endpoint, crm: object) -> None:
    before = httpx.get(f"{api_url}/metrics").text
    for _ in range(3):
        probe = 'query WidgetProbe { account(id: "001-sub") { name openDeals { id score { band } } } }'
        assert "errors" not in gql(api_url, probe)
    gql(api_url, "query PageProbe { deals(first: 1000) { totalCount } }")  # BAD_USER_INPUT
    post(api_url, "query Unauth { model { version } }", token="dgk_000000000000_nope")  # 401
    response = httpx.get(f"{api_url}/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    count = "dealgraph_http_request_duration_seconds_count"
    assert metric(text, count, route="/graphql", operation="WidgetProbe") - metric(
        before, count, route="/graphql", operation="WidgetProbe") == 3
    assert metric(text, "dealgraph_http_request_duration_seconds_bucket", route="/graphql", operation="WidgetProbe",
                  le="10.0") >= 3
    assert metric(text, "dealgraph_http_requests_total", route="/graphql", operation="WidgetProbe", status="200") >= 3
    assert metric(text, "dealgraph_graphql_errors_total", operation="PageProbe", code="BAD_USER_INPUT") >= 1
    assert metric(text, "dealgraph_graphql_errors_total", operation="-", code="UNAUTHENTICATED") >= 1
    assert metric(text, "dealgraph_http_requests_total", route="/graphql", operation="-", status="401") >= 1
    for method in ("get_nodes", "open_deals_page", "latest_scores"):
        assert metric(text, "dealgraph_store_call_duration_seconds_count", method=method) > 0, method


def test_operation_names_cannot_blow_up_the_label_set(api_url: Endpoint) -> None:
    for i in range(80):
        gql(api_url, f"query Flood{i} {{ __typename }}")
    text = httpx.get(f"{api_url}/metrics").text
    names = set(re.findall(r'dealgraph_http_requests_total\{operation="([^"]+)"', text))
    names |= set(re.findall(r'operation="(Flood\d+)"', text))
    assert len({n for n in names if n.startswith("Flood")}) <= 64
    assert metric(text, "dealgraph_http_requests_total", route="/graphql", operation="other", status="200") > 0


@pytest.mark.parametrize("kind", ["account", "deal"])
def test_widget_pages_get_one_route_label_not_one_per_id(api_url: Endpoint, kind: str) -> None:
    for node in ("0x1-a", "0x1-b", "0x1-c"):
        assert httpx.get(f"{api_url}/widget/{kind}/{node}").status_code == 200
    text = httpx.get(f"{api_url}/metrics").text
    assert metric(text, "dealgraph_http_requests_total", route=f"/widget/{kind}", operation="-", status="200") >= 3
    assert "0x1-a" not in text


def test_request_id_is_echoed_or_made(api_url: Endpoint) -> None:
    given = post(api_url, "{ __typename }", headers={"X-Request-ID": "crm-widget-7f3a"})
    assert given.headers["x-request-id"] == "crm-widget-7f3a"
    made = post(api_url, "{ __typename }")
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    hostile = post(api_url, "{ __typename }", headers={"X-Request-ID": "a b\tc" + "x" * 300})
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])  # not echoed into logs or headers
    assert httpx.get(f"{api_url}/healthz").headers["x-request-id"]


def test_one_json_log_line_per_request_with_its_id(api_url: Endpoint, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="api.access"):
        post(api_url, "query LogProbe { viewer { role } }", headers={"X-Request-ID": "log-probe-1"})
        post(api_url, "query LogProbe { viewer { role } }", headers={"X-Request-ID": "log-probe-2"})
    records = [r for r in caplog.records if r.name == "api.access" and "LogProbe" in str(getattr(r, "fields", ""))]
    assert len(records) == 2
    line, again = (json.loads(JsonFormatter().format(r)) for r in records)
    assert (line["cache"], again["cache"]) == ("miss", "hit")  # executed, then answered from the response cache
    assert line["request_id"] == "log-probe-1"
    assert line["operation"] == "LogProbe" and line["status"] == 200 and line["role"] == "admin"
    assert line["path"] == "/graphql" and line["duration_ms"] > 0 and line["level"] == "info"
    assert line["subject"].startswith("key:")


def test_demo_app_serves_without_a_model_until_one_is_promoted(tmp_path: Path) -> None:
    # The model card is cached per version, but a promotion shows up on the next request.
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        with serve(create_app(store, tmp_path)) as base_url:
            admin = as_admin(base_url, tmp_path)
            assert gql(admin, "{ model { version } }") == {"data": {"model": None}}
            for version in ("v1", "v2"):
                card = ModelCard(version=version, kind="graphsage", trained_at=datetime(2025, 3, 4, tzinfo=UTC),
                                 schema_fingerprint="f", snapshot_id="s", metrics={})
                ModelRegistry(tmp_path).save(card, {"model.pt": b"x"})
                assert gql(admin, "{ model { version } }") == {"data": {"model": {"version": version}}}
    finally:
        store.close()


def test_a_body_over_the_limit_is_413_before_anything_reads_it(crm_store: object, crm_home: Path) -> None:
    from api.settings import Settings

    with serve(create_app(crm_store, crm_home, settings=Settings(max_body_bytes=2048))) as base_url:
        admin = as_admin(base_url, crm_home)
        padding = "#" + "x" * 4000 + "\n{ __typename }"
        response = post(admin, padding)
        assert response.status_code == 413
        assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"

        def chunks():  # no Content-Length: the limit is applied while reading
            yield b'{"query": "'
            for _ in range(10):
                yield b"x" * 500
            yield b'"}'

        chunked = httpx.post(f"{base_url}/graphql", content=chunks(), headers={
            "Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"})
        assert chunked.status_code == 413
        small = httpx.post(f"{base_url}/graphql", content=iter([b'{"query": "{ __typename }"}']), headers={
            "Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"})
        assert small.json() == {"data": {"__typename": "Query"}}


def test_cors_only_for_configured_origins(crm_store: object, crm_home: Path) -> None:
    from api.settings import Settings

    crm = "https://acme.lightning.force.com"
    with serve(create_app(crm_store, crm_home, settings=Settings(cors_origins=[crm]))) as base_url:
        preflight = {"Origin": crm, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,content-type"}
        allowed = httpx.options(f"{base_url}/graphql", headers=preflight)
        assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == crm
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        other = httpx.options(f"{base_url}/graphql", headers={**preflight, "Origin": "https://evil.test"})
        assert "access-control-allow-origin" not in other.headers
    with serve(create_app(crm_store, crm_home)) as base_url:  # default: no cross-origin callers
        assert "access-control-allow-origin" not in httpx.options(f"{base_url}/graphql", headers=preflight).headers
