"""Alerts to owners: recorded, signed, delivered to a real receiver on 127.0.0.1, retried, audited (step 3)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cli import main
from api.owners_alerts import check_alerts
from api.settings import Settings
from gnn.owners.audit import read_events
from graph import GraphStore, ScoreRecord, open_store, sqlite_url
from tests.api.book_data import RITA, SCORED_AT, build_book, explanation
from tests.gnn.owners.receiver import receiver

SECRET = "a-webhook-secret-of-32-bytes-or-more!!"


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[GraphStore]:
    s = open_store(sqlite_url(tmp_path / "graph.db"))
    build_book(s)
    # Rescored: Rita's top deal falls from 0.91 to 0.45.
    s.write_scores([ScoreRecord("006-r1", 0.45, "v1", SCORED_AT.replace(hour=11), "medium",
                                explanation=explanation("006-r1"))])
    yield s
    s.close()


def settings(tmp_path: Path, url: str | None, **more: object) -> Settings:
    return Settings(store=sqlite_url(tmp_path / "graph.db"), home=tmp_path, alert_webhook_url=url,
                    alert_webhook_secret=SECRET if url else None, alert_webhook_backoff_s=0.0,
                    alert_drop_min_amount=500.0, **more)


def test_a_sharp_drop_is_alerted_signed_and_retried_after_a_failed_attempt(store: GraphStore, tmp_path: Path) -> None:
    with receiver(503) as (url, got):
        run = check_alerts(store, tmp_path, settings(tmp_path, url))
    assert [a.detail["alert"] for a in run.raised] == ["score_drop"] and run.delivered == {run.raised[0].seq: True}
    assert [status for _, _, status in got.requests] == [503, 200]  # failed once, then accepted
    headers, body, _ = got.requests[1]
    assert got.requests[0][1] == body  # the retry sends the same alert
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-dealgraph-signature"], expected)
    sent = json.loads(body)
    assert (sent["alert"], sent["deal_id"], sent["probability"]) == ("score_drop", "006-r1", 0.45)
    assert "dropped from 91% to 45%" in sent["text"]
    # Its reason is the path that lowers it, as Rita (the owner) may see it: Bob's deal and contact are not named.
    assert "a deal you cannot see" in sent["text"]
    assert "Bobco" not in sent["text"] and "Bo Secret" not in sent["text"] and sent["detail"]["owner_rep_id"] == RITA
    events = read_events(store)
    assert [(e.action, e.detail.get("attempt"), e.detail.get("ok")) for e in events] == [
        ("alert", None, None), ("alert_delivery", 1, False), ("alert_delivery", 2, True)]
    assert events[1].text == "attempt 1 of 4: HTTP 503" and events[1].detail["alert_seq"] == events[0].seq


def test_an_alert_is_raised_once(store: GraphStore, tmp_path: Path) -> None:
    with receiver() as (url, got):
        assert len(check_alerts(store, tmp_path, settings(tmp_path, url)).raised) == 1
        assert check_alerts(store, tmp_path, settings(tmp_path, url)).raised == []
    assert len(got.requests) == 1


def test_retries_are_bounded_and_a_refusal_is_not_retried(store: GraphStore, tmp_path: Path) -> None:
    with receiver(500, 502, 503) as (url, got):
        run = check_alerts(store, tmp_path, settings(tmp_path, url, alert_webhook_attempts=3))
    assert list(run.delivered.values()) == [False] and len(got.requests) == 3
    last = read_events(store, action="alert_delivery")[-1]
    assert last.text == "attempt 3 of 3: HTTP 503 (giving up)"
    store.write_scores([ScoreRecord("006-r2", 0.55, "v1", SCORED_AT, "medium"),
                        ScoreRecord("006-r2", 0.10, "v1", SCORED_AT.replace(hour=12), "low")])
    with receiver(400) as (url, got):
        run = check_alerts(store, tmp_path, settings(tmp_path, url))
    assert list(run.delivered.values()) == [False] and len(got.requests) == 1  # 400: the receiver refused it


def test_cli_alerts_check_delivers_with_settings_from_the_environment(store: GraphStore, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    args = ["alerts", "check", "--store", sqlite_url(tmp_path / "graph.db"), "--home", str(tmp_path)]
    monkeypatch.setenv("DEALGRAPH_ALERT_DROP_MIN_AMOUNT", "500")
    monkeypatch.setenv("DEALGRAPH_ALERT_WEBHOOK_BACKOFF_S", "0")
    monkeypatch.setenv("DEALGRAPH_ALERT_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    assert main(args) == 2  # a URL without a secret is refused before anything runs
    assert "needs DEALGRAPH_ALERT_WEBHOOK_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("DEALGRAPH_ALERT_WEBHOOK_SECRET", SECRET)
    with receiver(503) as (url, got):
        monkeypatch.setenv("DEALGRAPH_ALERT_WEBHOOK_URL", url)
        assert main(args) == 0
    assert "[delivered]" in capsys.readouterr().out and len(got.requests) == 2
    assert main(["audit", "--json", *args[2:]]) == 0
    actions = [json.loads(line)["action"] for line in capsys.readouterr().out.splitlines()]
    assert actions == ["alert", "alert_delivery", "alert_delivery"]


def test_a_network_error_is_retried_and_audited(store: GraphStore, tmp_path: Path) -> None:
    nowhere = "http://127.0.0.1:9/nothing-listens"
    run = check_alerts(store, tmp_path, settings(tmp_path, nowhere, alert_webhook_attempts=2))
    assert list(run.delivered.values()) == [False]
    tries = read_events(store, action="alert_delivery")
    assert [t.detail["attempt"] for t in tries] == [1, 2] and "ConnectError" in tries[0].detail["outcome"]
