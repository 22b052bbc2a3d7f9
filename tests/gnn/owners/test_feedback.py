"""Feedback and overrides, audited: over real HTTP, through the CLI, on a real SQLite store (issue 20, step 1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.app import create_app
from api.auth import Role
from api.cli import main
from graph import GraphStore, open_store, sqlite_url
from tests.api.book_data import BOB, RITA, build_book
from tests.api.queries import Endpoint, create_key, gql
from tests.helpers.server import serve

FEEDBACK = """mutation F($deal: ID!, $target: FeedbackTarget!, $reason: String!, $path: Int, $p: Float) {
  giveFeedback(dealId: $deal, target: $target, reason: $reason, path: $path, overrideProbability: $p) {
    seq action actor role dealId modelVersion probability paths target path overrideProbability text
  }
}"""
AUDIT = """query A($deal: ID) {
  auditEvents(dealId: $deal) { seq action role dealId probability paths text overrideProbability }
}"""
SECRET_WORDS = ("Bobco", "Bo Secret")  # in Rita's deal's second path: Bob's won deal and his contact


class Site:
    def __init__(self, url: str, home: Path, store: GraphStore) -> None:
        self.url, self.home, self.store = url, home, store

    def as_(self, role: Role, rep: str | None = None) -> Endpoint:
        return Endpoint(self.url, create_key(self.home, role, rep_id=rep))


@pytest.fixture()
def site(tmp_path: Path) -> Iterator[Site]:
    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        with serve(create_app(store, tmp_path)) as url:
            yield Site(url, tmp_path, store)
    finally:
        store.close()


def feedback(endpoint: Endpoint, deal: str, target: str = "SCORE", reason: str = "the champion left last week",
             path: int | None = None, p: float | None = None) -> dict:
    return gql(endpoint, FEEDBACK, {"deal": deal, "target": target, "reason": reason, "path": path, "p": p})


def test_a_rep_flags_a_reason_and_sees_only_what_she_may(site: Site) -> None:
    rita = site.as_(Role.REP, RITA)
    body = feedback(rita, "006-r1", "REASON", "Bob's deal has nothing to do with ours", path=1, p=0.5)
    assert "errors" not in body, body
    got = body["data"]["giveFeedback"]
    assert (got["action"], got["role"], got["dealId"], got["modelVersion"]) == ("feedback", "rep", "006-r1", "v1")
    assert (got["probability"], got["target"], got["path"], got["overrideProbability"]) == (0.91, "reason", 1, 0.5)
    assert len(got["paths"]) == 2 and not any(w in text for text in got["paths"] for w in SECRET_WORDS)
    assert "Bobco" not in json.dumps(body)  # not in any string she receives

    # RevOps read the audit log, with the texts as they stood (the log is theirs to read).
    events = gql(site.as_(Role.REVOPS), AUDIT, {"deal": "006-r1"})["data"]["auditEvents"]
    assert [(e["action"], e["role"], e["text"], e["overrideProbability"]) for e in events] == [
        ("feedback", "rep", "Bob's deal has nothing to do with ours", 0.5)]
    assert "Bobco Megadeal" in events[0]["paths"][1]


def test_a_rep_cannot_give_feedback_on_a_deal_she_cannot_see(site: Site) -> None:
    rita = site.as_(Role.REP, RITA)
    hidden, missing = feedback(rita, "006-b1"), feedback(rita, "006-nope")
    assert hidden["errors"][0]["message"] == "no deal '006-b1'"
    assert missing["errors"][0]["message"] == "no deal '006-nope'"  # the same words: a hidden deal looks missing
    assert hidden["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert gql(site.as_(Role.ADMIN), AUDIT)["data"]["auditEvents"] == []


def test_the_audit_log_is_for_revops_and_admin_only(site: Site) -> None:
    assert "errors" not in feedback(site.as_(Role.REP, BOB), "006-b1")
    denied = gql(site.as_(Role.REP, BOB), AUDIT)
    assert denied["data"] is None and denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "revops and admin" in denied["errors"][0]["message"]
    assert len(gql(site.as_(Role.ADMIN), AUDIT)["data"]["auditEvents"]) == 1


@pytest.mark.parametrize(("args", "says"), [
    ({"reason": "   "}, "reason: it is required"),
    ({"p": 1.5}, "between 0 and 1"),
    ({"target": "REASON", "path": 7}, "path 7 does not exist"),
    ({"target": "REASON"}, "names the path"),
    ({"path": 0}, "only for feedback on a reason"),
])
def test_bad_feedback_says_what_was_wrong_and_records_nothing(site: Site, args: dict, says: str) -> None:
    body = feedback(site.as_(Role.REVOPS), "006-r2", **args)
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT" and says in body["errors"][0]["message"]
    assert gql(site.as_(Role.ADMIN), AUDIT)["data"]["auditEvents"] == []


def test_mutations_bypass_the_response_cache_and_outdate_what_it_kept(site: Site) -> None:
    revops = site.as_(Role.REVOPS)
    assert gql(revops, AUDIT)["data"]["auditEvents"] == []  # kept by the cache now
    for _ in range(2):  # the same document twice: both executed, neither answered from memory
        assert "errors" not in feedback(revops, "006-r2", p=0.3)
    assert [e["seq"] for e in gql(revops, AUDIT)["data"]["auditEvents"]] == [1, 2]


def test_overrides_never_reach_the_graph_training_reads(site: Site) -> None:
    before = (site.store.read_tables(), site.store.counts(), site.store.latest_scores(["006-r2"]))
    assert "errors" not in feedback(site.as_(Role.REVOPS), "006-r2", p=0.99)
    assert (site.store.read_tables(), site.store.counts(), site.store.latest_scores(["006-r2"])) == before


def test_overrides_are_scored_against_the_model_when_their_deals_close(site: Site) -> None:
    from gnn.owners.feedback import override_scorecard

    assert "errors" not in feedback(site.as_(Role.REVOPS), "006-r2", p=0.9)  # the model says 0.55
    assert "errors" not in feedback(site.as_(Role.REVOPS), "006-r3", p=0.9)  # still open: not counted
    assert override_scorecard(site.store)["n"] == 0
    site.store.upsert_nodes("Outcome", [{"id": "o-006-r2", "result": "won", "closed_at": "2025-05-20T00:00:00Z"}])
    site.store.upsert_edges("HAS_OUTCOME", [{"src": "006-r2", "dst": "o-006-r2"}])
    card = override_scorecard(site.store)
    assert card == {"n": 1, "human_brier": 0.01, "model_brier": round(0.45**2, 4), "human_closer": 1.0}


def test_cli_feedback_and_audit_json_lines(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    url = sqlite_url(site.home / "graph.db")
    common = ["--store", url, "--home", str(site.home)]
    assert main(["feedback", "006-r1", "--reason", "budget frozen", "--override", "0.2", "--role", "rep",
                 "--rep", RITA, "--by", "rita", *common]) == 0
    assert "recorded feedback #1" in capsys.readouterr().out
    assert main(["feedback", "006-b1", "--reason", "x", "--role", "rep", "--rep", RITA, *common]) == 1
    assert "no deal '006-b1'" in capsys.readouterr().err
    assert main(["feedback", "006-r1", "--reason", "", *common]) == 1
    capsys.readouterr()
    assert main(["audit", "--json", *common]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["seq"], e["actor"]["subject"], e["actor"]["role"], e["override_probability"], e["text"])
            for e in lines] == [(1, "cli:rita", "rep", 0.2, "budget frozen")]
    assert lines[0]["model_version"] == "v1" and len(lines[0]["paths"]) == 2

    # ...and as PROV in the RDF export.
    from rdflib import PROV, RDF, RDFS, Graph

    from gnn.owners.prov import agent_iri
    from graph.rdf import model_run_iri, node_iri

    turtle = site.home / "graph.ttl"
    assert main(["export", "--audit", "--out", str(turtle), *common]) == 0
    g = Graph().parse(turtle)
    [activity] = list(g.subjects(RDF.type, PROV.Activity))
    assert str(g.value(activity, RDFS.comment)) == "budget frozen"
    assert set(g.objects(activity, PROV.used)) == {node_iri("Deal", "006-r1"), model_run_iri("v1")}
    assert g.value(activity, PROV.wasAssociatedWith) == agent_iri("cli:rita")
    [override] = list(g.subjects(PROV.wasGeneratedBy, activity))
    assert float(g.value(override, PROV.value)) == 0.2


def test_the_audit_log_prints_a_reps_words_on_one_line_without_terminal_controls(
        site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """A reason is the rep's free text: a newline must not forge an admin's line, an escape must not reach the
    terminal of whoever reads the log."""
    forged = "#99 2026-01-01 00:00:00 feedback by key:0000 (admin) deal 006-r1: approved"
    reason = f"fine\n{forged}\x1b[2J\x1b]0;title\x07 \u202eesrever"
    assert "errors" not in feedback(site.as_(Role.REP, RITA), "006-r1", reason=reason)
    assert main(["audit", "--store", sqlite_url(site.home / "graph.db"), "--home", str(site.home)]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("#1 ") and line.endswith(r"fine\n" + forged + r"\x1b[2J\x1b]0;title\x07 \u202eesrever")
    assert line.isprintable()


def test_promotions_and_rollbacks_are_audited_in_order(site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import UTC, datetime

    from gnn.registry import ModelCard, ModelRegistry

    registry = ModelRegistry(site.home)
    for version in ("v1", "v2"):  # cards only: promoting checks that a model file is there, not what it holds
        registry.save(ModelCard(version, "graphsage", datetime.now(UTC), "f", "s", {}), {"model.pt": b"-"},
                      promote=version == "v1")
    common = ["--store", sqlite_url(site.home / "graph.db"), "--home", str(site.home)]
    assert "errors" not in feedback(site.as_(Role.REVOPS), "006-r2")
    assert main(["models", "promote", "v2", *common]) == 0
    assert main(["models", "rollback", *common]) == 0
    capsys.readouterr()
    assert main(["audit", "--json", *common]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["action"], e["text"]) for e in events] == [
        ("feedback", "the champion left last week"), ("promote", "promote: v1 -> v2"),
        ("rollback", "rollback: v2 -> v1")]


def test_feedback_beyond_a_principals_burst_is_refused_and_records_nothing(tmp_path: Path) -> None:
    """Each feedback event is an audit record and empties every user's cached answers: one rep (or a client
    retrying in a loop) gets `feedback_burst` in a row, then RATE_LIMITED with the seconds to wait; others
    are not held up by her."""
    from api.settings import Settings

    store = open_store(sqlite_url(tmp_path / "graph.db"))
    try:
        build_book(store)
        with serve(create_app(store, tmp_path, settings=Settings(feedback_burst=2, feedback_per_minute=1))) as url:
            site = Site(url, tmp_path, store)
            rita, revops = site.as_(Role.REP, RITA), site.as_(Role.REVOPS)
            assert all("errors" not in feedback(rita, "006-r1") for _ in range(2))
            refused = feedback(rita, "006-r1")
            assert refused["data"] is None
            error = refused["errors"][0]
            assert error["extensions"]["code"] == "RATE_LIMITED" and 0 < error["extensions"]["retryAfter"] <= 60
            assert "try again in" in error["message"]
            assert "errors" not in feedback(revops, "006-r2")  # her bucket is her own
            assert len(gql(site.as_(Role.ADMIN), AUDIT)["data"]["auditEvents"]) == 3  # the refused one is not there
    finally:
        store.close()
