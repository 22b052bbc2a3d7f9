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
from graph.ledger import Ledger
from graph.lineage import MergeRecord
from ontology.names import Rel
from tests.graph.test_store_contract import DATETIMES_IN, DATETIMES_OUT, add_accounts, add_deals

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


def test_a_batch_of_times_booleans_and_gaps_is_stored_as_each_value_alone(store, tmp_path):
    # A batch's columns are converted a column at a time (one type, None between): each value must be stored as
    # it is when written alone: UTC text cut to the second, a date as itself, a boolean as 0/1, None as NULL.
    store.upsert_nodes("Account", [
        {"id": "u", "name": "UTC", "created_at": datetime(2025, 3, 4, 10, 15, 30, 999999, tzinfo=UTC)},
        {"id": "gap", "name": "None", "created_at": None},
        *DATETIMES_IN,
    ])
    store.upsert_nodes("Rep", [{"id": "r1", "name": "On", "active": True}, {"id": "r2", "name": "Off", "active": False},
                               {"id": "r3", "name": "Unsaid", "active": None}])
    raw = sqlite3.connect(tmp_path / "graph.db")
    try:
        stored = dict(raw.execute("SELECT id, created_at FROM n_account"))
        active = dict(raw.execute("SELECT id, active FROM n_rep"))
    finally:
        raw.close()
    assert stored == {"u": "2025-03-04T10:15:30Z", "gap": None, **DATETIMES_OUT}
    assert active == {"r1": 1, "r2": 0, "r3": None}


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
        assert Ledger(s).lineage("a1")[0].provenance.load_id is None
        s.upsert_nodes("Account", [{"id": "a2", "name": "B", "_source_file": "x.csv", "_source_line": 2}], load_id="L")
        assert Ledger(s).lineage("a2")[0].provenance.source_file == "x.csv"


def test_a_store_from_before_the_ledger_opens_with_its_books(tmp_path):
    # The tables a store kept its books in before `graph.ledger`, with one load, one undone merge and a tombstone.
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.executescript("""
            CREATE TABLE loads (load_id TEXT PRIMARY KEY, source TEXT NOT NULL, mapping TEXT NOT NULL,
                mode TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, state TEXT NOT NULL,
                batches INTEGER NOT NULL DEFAULT 0, rows_written INTEGER NOT NULL DEFAULT 0, summary TEXT, error TEXT);
            CREATE TABLE merges (merge_id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, kept_id TEXT NOT NULL,
                merged_id TEXT NOT NULL, rule TEXT NOT NULL, score REAL NOT NULL, detail TEXT NOT NULL DEFAULT '',
                load_id TEXT NOT NULL, merged_row TEXT, redirects TEXT NOT NULL DEFAULT '[]',
                state TEXT NOT NULL DEFAULT 'active', created_at TEXT NOT NULL, undone_at TEXT);
            CREATE TABLE tombstones (kind TEXT NOT NULL, name TEXT NOT NULL, ident TEXT NOT NULL, load_id TEXT NOT NULL,
                reason TEXT NOT NULL, row TEXT NOT NULL, at TEXT NOT NULL);
            INSERT INTO loads VALUES ('L1', '/x', 'salesforce', 'full', '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z',
                'finished', 4, 40, '{"totals": {"read": 40}}', NULL);
            INSERT INTO merges (merge_id, label, kept_id, merged_id, rule, score, load_id, merged_row, state,
                created_at, undone_at)
                VALUES (7, 'Account', 'a1', 'a9', 'same_website', 1.0, 'L1', '{"id": "a9"}', 'undone',
                '2025-01-01T00:00:30Z', '2025-01-02T00:00:00Z');
            INSERT INTO tombstones VALUES ('node', 'Deal', '["d1"]', 'L1', 'missing from the export', '{"id": "d1"}',
                '2025-01-01T00:00:59Z');
        """)
    with open_store(sqlite_url(db)) as old:
        ledger = Ledger(old)
        [load] = ledger.loads()
        assert (load.load_id, load.state, load.batches, load.rows_written) == ("L1", "finished", 4, 40)
        assert load.summary == {"totals": {"read": 40}}
        [merge] = ledger.merges()
        assert (merge.merge_id, merge.merged_id, merge.state, merge.merged_row) == (7, "a9", "undone", {"id": "a9"})
        [stone] = ledger.tombstones("L1")
        assert (stone.name, stone.ident, stone.reason) == ("Deal", ("d1",), "missing from the export")
        add_accounts(old, "a1", "a2")
        [new] = ledger.record_merges([MergeRecord("Account", "a1", "a2", "same_name", 1.0, "L2")])
        assert new.merge_id > 7  # numbered above the old merges
    with open_store(sqlite_url(db)) as again:  # carried over once
        assert len(Ledger(again).loads()) == 1 and len(Ledger(again).merges()) == 2


def _indexes(db: Path) -> set[str]:
    raw = sqlite3.connect(db)
    try:
        return {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'e_%'")}
    finally:
        raw.close()


def test_edge_tables_index_dst_and_no_src_alone(store, tmp_path):
    """src lookups use the primary key's index; a store that had a src index loses it when opened."""
    assert "e_for_account_dst" in _indexes(tmp_path / "graph.db")
    assert not any(name.endswith("_src") for name in _indexes(tmp_path / "graph.db"))
    store.close()
    raw = sqlite3.connect(tmp_path / "graph.db")
    raw.execute("CREATE INDEX e_for_account_src ON e_for_account (src)")
    raw.commit()
    raw.close()
    open_store(sqlite_url(tmp_path / "graph.db")).close()
    assert "e_for_account_src" not in _indexes(tmp_path / "graph.db")
    raw = sqlite3.connect(tmp_path / "graph.db")
    plan = raw.execute("EXPLAIN QUERY PLAN SELECT dst FROM e_for_account WHERE src = 'x'").fetchall()
    raw.close()
    assert "sqlite_autoindex_e_for_account" in str(plan)


def test_bulk_writes_build_an_empty_tables_dst_index_afterwards(store, tmp_path):
    db = tmp_path / "graph.db"
    add_accounts(store, "a1")
    add_deals(store, "d1", "d2")
    store.upsert_edges(Rel.SUBSIDIARY_OF, [{"src": "a1", "dst": "a1"}])  # not empty: its index stays throughout
    with store.bulk_writes([Rel.FOR_ACCOUNT, Rel.SUBSIDIARY_OF]):
        assert "e_for_account_dst" not in _indexes(db)
        assert "e_subsidiary_of_dst" in _indexes(db)
        store.upsert_edges(Rel.FOR_ACCOUNT, [{"src": "d1", "dst": "a1"}, {"src": "d2", "dst": "a1"}])
    assert {"e_for_account_dst", "e_subsidiary_of_dst"} <= _indexes(db)
    with pytest.raises(RuntimeError), store.bulk_writes([Rel.INVOLVES]):
        assert "e_involves_dst" not in _indexes(db)
        raise RuntimeError("a load that fails half-way")
    assert "e_involves_dst" in _indexes(db)
    assert sorted(e["src"] for e in store.read_rows(Rel.FOR_ACCOUNT)) == ["d1", "d2"]
    assert store.check_integrity() == []
