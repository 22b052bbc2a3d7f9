"""`dealgraph export` and `dealgraph copy` through the real CLI entry point, on a small loaded store."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import RDF, BNode, Graph, Namespace

from api.cli import main
from graph import GraphStore, ScoreRecord, open_store, sqlite_url, store_identity
from graph.explanation import Explanation
from loaders import load_export, load_mapping
from loaders.sample import generate_sample
from ontology import shapes_graph
from tests.graph.backends import PASSWORD_VAR, USER_VAR, needs_neo4j, neo4j_store_url, wipe_neo4j

DG = Namespace("https://dealgraph.dev/ns/crm#")
PROV = Namespace("http://www.w3.org/ns/prov#")
T = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample export loaded into SQLite through the loader, with two rounds of scores on its open deals."""
    root = tmp_path_factory.mktemp("cli_graph")
    generate_sample(root / "export", accounts=25, seed=3)
    with open_store(sqlite_url(root / "graph.db")) as store:
        load_export(store, root / "export", load_mapping("salesforce", store.schema), root / "quarantine")
        open_ids = [d["id"] for d in store.open_deals_page(first=1000).deals]
        assert open_ids
        store.write_scores([ScoreRecord(d, 0.25, "v1", T, "low", Explanation("m1"), metadata={"run": 1})
                            for d in open_ids])
        store.write_scores([ScoreRecord(d, 0.75, "v2", T + timedelta(hours=1), "high", Explanation(d),
                                        metadata={"run": 2})
                            for d in open_ids])
    return root / "graph.db"


@pytest.fixture
def store_copy(loaded: Path, tmp_path: Path) -> str:
    """A private copy of the loaded store (tests may write to it)."""
    shutil.copy(loaded, tmp_path / "graph.db")
    return sqlite_url(tmp_path / "graph.db")


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- export


def test_export_turtle_conforms_to_the_shapes_with_score_lineage(loaded, tmp_path, capsys):
    out = tmp_path / "graph.ttl"
    code, stdout, _ = run(capsys, "export", "--store", sqlite_url(loaded), "--format", "turtle", "--out", str(out),
                          "--json")
    assert code == 0
    summary = json.loads(stdout)
    g = Graph().parse(out, format="turtle")
    assert summary["triples"] == len(g)
    conforms, _, text = validate(g, shacl_graph=shapes_graph())
    assert conforms, text
    with open_store(sqlite_url(loaded)) as store:
        counts = store.counts()
        latest = store.latest_scores(store.node_ids("Deal"))
    for label in store.schema.nodes:
        assert len(set(g.subjects(RDF.type, DG[label]))) == counts[label], label
    scores = set(g.subjects(RDF.type, DG.Score))
    assert len(scores) == summary["scores"] == len(latest)
    for score in scores:
        run_iri = g.value(score, PROV.wasGeneratedBy)
        assert (run_iri, RDF.type, DG.ModelRun) in g
        assert str(g.value(run_iri, DG.modelVersion)) == "v2"  # the latest score, and the model that made it
        assert (g.value(score, DG.scoresDeal), RDF.type, DG.Deal) in g


def test_export_jsonld_is_the_same_graph_as_turtle(loaded, tmp_path, capsys):
    url = sqlite_url(loaded)
    assert run(capsys, "export", "--store", url, "--out", str(tmp_path / "g.ttl"))[0] == 0
    assert run(capsys, "export", "--store", url, "--format", "jsonld", "--out", str(tmp_path / "g.jsonld"))[0] == 0
    document = json.loads((tmp_path / "g.jsonld").read_text("utf-8"))
    assert document["@context"]["dg"] == str(DG)
    turtle = Graph().parse(tmp_path / "g.ttl", format="turtle")
    jsonld = Graph().parse(tmp_path / "g.jsonld", format="json-ld")
    # Same triples: the ground ones exactly, the qualified (blank) nodes by predicate
    # (rdflib's isomorphism check takes ~20 s on this graph).
    assert len(turtle) == len(jsonld)
    assert ground(turtle) == ground(jsonld)
    assert Counter(p for _, p, _ in turtle) == Counter(p for _, p, _ in jsonld)


def ground(g: Graph) -> set:
    return {t for t in g if not isinstance(t[0], BNode) and not isinstance(t[2], BNode)}


def test_export_to_stdout_and_as_of(loaded, capsys):
    code, stdout, _ = run(capsys, "export", "--store", sqlite_url(loaded), "--as-of", "2000-01-01T00:00:00Z")
    assert code == 0
    g = Graph().parse(data=stdout, format="turtle")
    assert not set(g.subjects(RDF.type, DG.Deal))  # nothing was known in 2000
    assert not set(g.subjects(RDF.type, DG.Score))


def test_export_bad_input_exits_1(loaded, capsys):
    code, _, err = run(capsys, "export", "--store", sqlite_url(loaded), "--json")
    assert code == 1 and "--out" in err
    code, _, err = run(capsys, "export", "--store", sqlite_url(loaded), "--as-of", "yesterday")
    assert code == 1 and "ISO 8601" in err


# ---- copy


def same_content(a: GraphStore, b: GraphStore) -> None:
    assert a.counts() == b.counts()
    a_nodes, a_edges = a.read_tables()
    b_nodes, b_edges = b.read_tables()
    for label, rows in a_nodes.items():
        key = a.schema.nodes[label].key
        assert sorted(rows, key=lambda r: r[key]) == sorted(b_nodes[label], key=lambda r: r[key]), label

    def order(r: dict) -> tuple:
        return (r["src"], r["dst"], r["key"])

    for rel, rows in a_edges.items():
        assert sorted(rows, key=order) == sorted(b_edges[rel], key=order), rel


def test_copy_sqlite_to_sqlite_is_verified_by_counts(loaded, tmp_path, capsys):
    target = sqlite_url(tmp_path / "copy.db")
    code, stdout, _ = run(capsys, "copy", "--from", sqlite_url(loaded), "--to", target, "--batch", "7", "--json")
    assert code == 0
    report = json.loads(stdout)
    assert report["ok"] is True and report["differences"] == {}
    assert report["counts"]["Deal"][0] == report["counts"]["Deal"][1] > 0
    assert report["history_copied"] is True  # every store lists its score history (`read_scores`)
    with open_store(sqlite_url(loaded)) as source, open_store(target) as copy:
        same_content(source, copy)
        ids = source.node_ids("Deal")
        before, after = source.latest_scores(ids), copy.latest_scores(ids)
        assert set(before) == set(after) and before
        for deal, score in before.items():
            got = after[deal]
            assert (got.probability, got.model_version, got.scored_at, got.band, got.explanation, got.metadata) == (
                score.probability, score.model_version, score.scored_at, score.band, score.explanation, score.metadata)
    # Copying again changes nothing and still verifies.
    assert run(capsys, "copy", "--from", sqlite_url(loaded), "--to", target)[0] == 0


def test_copy_exits_2_when_counts_differ(store_copy, tmp_path, capsys):
    target = sqlite_url(tmp_path / "busy.db")
    with open_store(target) as busy:
        busy.upsert_nodes("Account", [{"id": "not-in-the-source", "name": "Other"}])
    code, stdout, _ = run(capsys, "copy", "--from", store_copy, "--to", target)
    assert code == 2
    assert "Account" in stdout and "differs" in stdout and "DIFFER" in stdout


def test_copy_onto_itself_is_bad_input(store_copy, capsys):
    path = store_copy[len("sqlite:///"):]
    code, _, err = run(capsys, "copy", "--from", store_copy, "--to", f"sqlite:///{os.path.relpath(path)}")
    assert code == 1 and "same store" in err


def test_store_identity_reads_urls_as_open_store_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert store_identity("sqlite:///g.db") == store_identity(sqlite_url(tmp_path / "g.db"))
    assert store_identity("sqlite:///g.db") != store_identity("sqlite:///h.db")
    assert store_identity("neo4j://u:pw@host/neo4j") == store_identity("bolt://host:7687/neo4j/")
    assert store_identity("neo4j://host/neo4j") != store_identity("neo4j://host/other")
    assert store_identity("postgres://x") == ("postgres://x",)


def test_copy_defaults_from_the_configured_store(store_copy, tmp_path, capsys):
    code, stdout, _ = run(capsys, "copy", "--store", store_copy, "--to", sqlite_url(tmp_path / "c.db"), "--json")
    assert code == 0 and json.loads(stdout)["ok"]


@needs_neo4j
def test_copy_sqlite_to_neo4j_and_back(loaded, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DEALGRAPH_NEO4J_USER", os.environ.get(USER_VAR, ""))
    monkeypatch.setenv("DEALGRAPH_NEO4J_PASSWORD", os.environ.get(PASSWORD_VAR, ""))
    wipe_neo4j()
    neo4j_url = neo4j_store_url()
    code, stdout, _ = run(capsys, "copy", "--from", sqlite_url(loaded), "--to", neo4j_url, "--json")
    assert code == 0, stdout
    back = sqlite_url(tmp_path / "back.db")
    code, stdout, _ = run(capsys, "copy", "--from", neo4j_url, "--to", back, "--json")
    assert code == 0, stdout
    assert json.loads(stdout)["history_copied"] is True
    with open_store(sqlite_url(loaded)) as source, open_store(back) as copy:
        same_content(source, copy)
        assert {d: s.probability for d, s in source.latest_scores(source.node_ids("Deal")).items()} == {
            d: s.probability for d, s in copy.latest_scores(copy.node_ids("Deal")).items()}


def test_cli_text_never_drives_the_readers_terminal(store_copy: str, capsys: pytest.CaptureFixture) -> None:
    """A deal's name comes from a CRM export: an escape sequence or a bidi override in it is printed as an escape
    (`api.cli.safe_text`, which every command's human output goes through, its own lines and tabs kept)."""
    with open_store(store_copy) as store:
        deal = store.open_deals_page(first=1).deals[0]
        record = {**store.get_node("Deal", deal["id"]), "name": "Acme\x1b]0;pwned\x07 \u202eevil"}
        store.upsert_nodes("Deal", [record])
    code, out, _ = run(capsys, "explain", deal["id"], "--store", store_copy)
    assert code == 0
    assert out.startswith(r"Acme\x1b]0;pwned\x07 \u202eevil: win probability 75% (high)")
    assert all(line.isprintable() for line in out.splitlines())
