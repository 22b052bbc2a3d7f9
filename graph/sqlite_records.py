"""The SQLite store's record log (`graph.records`): one append-only table.

A part of `SQLiteStore` (through `SQLiteParts`, its `_transaction()` and `_select()`). An append is a
graph write for `changes_since`, so cached API answers that read records are
dropped when one is added.
"""

from __future__ import annotations

import json
import sqlite3
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from graph.records import Record, check_names
from graph.store import GraphStore, StoreError
from graph.timefmt import parse_iso, to_iso

RECORDS_DDL = [
    """CREATE TABLE IF NOT EXISTS records (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL,
        body TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS records_kind_key ON records (kind, key, seq)",
]


def append_in(conn: sqlite3.Connection, entries: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Record]:
    """Append (kind, key, body) records inside the caller's transaction."""
    for kind, key, _ in entries:
        check_names(kind, key)
    at = datetime.now(UTC).replace(microsecond=0)
    out = []
    for kind, key, body in entries:
        text = json.dumps(dict(body), sort_keys=True, default=str)
        cur = conn.execute(
            "INSERT INTO records (kind, key, at, body) VALUES (?, ?, ?, ?)", (kind, key, to_iso(at), text)
        )
        out.append(Record(int(cur.lastrowid or 0), kind, key, at, json.loads(text)))
    return out


class SQLiteParts(GraphStore):
    """What the parts of `SQLiteStore` kept in modules of their own (`RecordLog`, `graph.sqlite_changes`) use of
    it: a transaction on the thread's connection and a read."""

    @abstractmethod
    def _transaction(self, graph_write: bool = True) -> AbstractContextManager[sqlite3.Connection]:
        """One BEGIN IMMEDIATE ... COMMIT transaction (`graph_write=False`: scores only, no graph change)."""

    @abstractmethod
    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """The rows `sql` reads (`StoreError` on a database error)."""


class RecordLog(SQLiteParts):
    """`append_records` / `read_records` on the SQLite store's connection."""

    def append_records(self, kind: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Record]:
        for key, _ in entries:
            check_names(kind, key)
        try:
            with self._transaction() as conn:
                return append_in(conn, [(kind, key, body) for key, body in entries])
        except sqlite3.Error as e:
            raise StoreError(f"appending {kind} records: {e}") from e

    def read_records(self, kind: str, key: str | None = None, after: int = 0, limit: int | None = None) -> list[Record]:
        sql = "SELECT seq, kind, key, at, body FROM records WHERE kind = ? AND seq > ?"
        params: list[Any] = [kind, after]
        if key is not None:
            sql += " AND key = ?"
            params.append(key)
        sql += " ORDER BY seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self._select(sql, params)
        return [Record(r["seq"], r["kind"], r["key"], parse_iso(r["at"]), json.loads(r["body"])) for r in rows]
