"""What only SQLiteStore promises: how it stores times, WAL mode, and its store URLs.

The contract every backend keeps is tested in `test_store_contract.py`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from graph import GraphStore, InvalidInput, StoreError, open_store, sqlite_url
from tests.graph.test_store_contract import DATETIMES_IN, DATETIMES_OUT, add_accounts

T = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GraphStore]:
    s = open_store(sqlite_url(tmp_path / "graph.db"))
    yield s
    s.close()


def test_datetimes_stored_as_utc_text(store, tmp_path):
    store.upsert_nodes("Account", DATETIMES_IN)
    expected = DATETIMES_OUT
    assert {k: v["created_at"] for k, v in store.get_nodes("Account", expected).items()} == expected
    raw = sqlite3.connect(tmp_path / "graph.db")
    try:
        assert dict(raw.execute("SELECT id, created_at FROM n_account")) == expected
    finally:
        raw.close()


def test_journal_is_wal(store, tmp_path):
    add_accounts(store, "a1", created=T - timedelta(days=1))
    raw = sqlite3.connect(tmp_path / "graph.db")
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_open_store_without_file_is_invalid():
    with pytest.raises(InvalidInput, match=r"sqlite:///.*names no file"):
        open_store("sqlite:///")


def test_open_store_unknown_scheme_is_invalid():
    # bolt:// is Neo4j now; an unknown scheme still says which URLs work.
    with pytest.raises(InvalidInput, match=r"unsupported store URL 'postgres://x'.*sqlite:///.*neo4j://"):
        open_store("postgres://x")


def test_open_store_neo4j_url_without_server_is_a_store_error():
    # Nothing listens on port 1: the Neo4j backend is chosen, and says it cannot connect.
    with pytest.raises(StoreError, match=r"cannot reach Neo4j at bolt://127\.0\.0\.1:1"):
        open_store("bolt://127.0.0.1:1", user="neo4j", password="not-used")


def test_sqlite_url_round_trip(tmp_path):
    url = sqlite_url(tmp_path / "sub" / "g.db")
    assert url.startswith("sqlite:////")
    with open_store(url) as s:
        add_accounts(s, "a1")
    with open_store(url) as s:
        assert s.node_ids("Account") == {"a1"}


def test_integrity_check_reports_edges_without_ends(store):
    # SQLite keeps no foreign keys between the tables: the check is what notices a dangling edge.
    add_accounts(store, "a1")
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "a1", "dst": "nowhere"}])
    assert store.check_integrity() == ["SUBSIDIARY_OF: 1 edge(s) whose dst names no Account"]


def test_a_store_made_before_lineage_gets_its_columns(tmp_path):
    path = tmp_path / "old.db"
    raw = sqlite3.connect(path)
    from graph.sqlite import LINEAGE_DDL, node_ddl
    from ontology import load_schema

    [ddl] = node_ddl(load_schema().nodes["Account"])
    raw.execute(ddl.replace(f", {LINEAGE_DDL}", ""))  # the table as it was before lineage
    raw.execute("INSERT INTO n_account (id, name) VALUES ('a1', 'Acme')")
    raw.commit()
    raw.close()
    with open_store(sqlite_url(path)) as s:
        assert s.lineage("a1")[0].provenance.load_id is None
        s.upsert_nodes("Account", [{"id": "a2", "name": "B", "_source_file": "x.csv", "_source_line": 2}], load_id="L")
        assert s.lineage("a2")[0].provenance.source_file == "x.csv"
