"""The SQLite store's part of the ledger (`graph.ledger`): `apply` one change set, count a load's batch,
and carry the books of stores made before the ledger into its records.

A part of `SQLiteStore` (through `graph.sqlite_records.SQLiteParts`: its `schema`, `_transaction()` and `_select()`).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from graph.lineage import LINEAGE_COLUMNS, LOAD_KIND, MERGE_KIND, TOMBSTONE_KIND, progress_entry
from graph.records import Record
from graph.sqlite_records import SQLiteParts, append_in
from graph.store import ChangeSet, StoreError


def _tables() -> Any:
    import graph.sqlite as tables  # graph.sqlite imports this module

    return tables


class ChangeSets(SQLiteParts):
    """`apply` and the integrity check on the SQLite store's connection."""

    @staticmethod
    def _count_batch(conn: sqlite3.Connection, load_id: str, rows: int) -> None:
        append_in(conn, [(LOAD_KIND, *progress_entry(load_id, rows))])

    def apply(self, changes: ChangeSet) -> list[Record]:
        t = _tables()

        def put(table: str, columns: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
            columns = [*columns, *LINEAGE_COLUMNS]
            conn.executemany(
                f"INSERT OR REPLACE INTO {table} ({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})",
                [[t._to_sql(r.get(c, "" if c == "key" else None)) for c in columns] for r in rows],
            )

        try:
            with self._transaction() as conn:
                for rel, keys in changes.delete_edges.items():
                    conn.executemany(f"DELETE FROM {t.edge_table(rel)} WHERE src = ? AND dst = ? AND key = ?", keys)
                for label, ids in changes.delete_nodes.items():
                    key = self.schema.nodes[label].key
                    conn.executemany(f'DELETE FROM {t.node_table(label)} WHERE "{key}" = ?', [(i,) for i in ids])
                for label, rows in changes.put_nodes.items():
                    put(t.node_table(label), t.node_columns(self.schema.nodes[label]), rows)
                for rel, rows in changes.put_edges.items():
                    put(t.edge_table(rel), t.edge_columns(self.schema.relations[rel]), rows)
                return append_in(conn, list(changes.records))
        except sqlite3.Error as e:
            raise StoreError(f"applying a change to the graph: {e}") from e

    def check_integrity(self) -> list[str]:
        found = [r[0] for r in self._select("PRAGMA integrity_check") if r[0] != "ok"]
        return found + super().check_integrity()


def migrate_books(conn: sqlite3.Connection) -> None:
    """Stores made before the ledger kept loads, merges and tombstones in tables of their own: their rows become
    the ledger's records (merges keep their ids) and the tables are renamed `legacy_*`, once, in the open's
    transaction."""
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "loads" not in have:
        return
    entries: list[tuple[str, str, Mapping[str, Any]]] = []
    for r in conn.execute("SELECT * FROM loads ORDER BY started, rowid"):
        entries += [
            (
                LOAD_KIND,
                r["load_id"],
                {
                    "event": "begin",
                    "source": r["source"],
                    "mapping": r["mapping"],
                    "mode": r["mode"],
                    "started": r["started"],
                },
            ),
            (LOAD_KIND, r["load_id"], {"event": "batch", "batches": r["batches"], "rows": r["rows_written"]}),
        ]
        if r["state"] != "running":
            entries.append(
                (
                    LOAD_KIND,
                    r["load_id"],
                    {
                        "event": "finish",
                        "state": r["state"],
                        "finished": r["finished"],
                        "error": r["error"],
                        "summary": json.loads(r["summary"]) if r["summary"] else None,
                    },
                )
            )
    aside = (
        {r[0]: r[1] for r in conn.execute("SELECT merge_id, edges FROM merge_set_aside")}
        if "merge_set_aside" in have
        else {}
    )
    last = 0
    for r in conn.execute("SELECT * FROM merges ORDER BY merge_id"):
        body = {
            c: r[c] for c in ("merge_id", "kept_id", "merged_id", "rule", "score", "detail", "load_id", "created_at")
        }
        entries.append(
            (
                MERGE_KIND,
                r["label"],
                {
                    **body,
                    "event": "merge",
                    "label": r["label"],
                    "merged_row": json.loads(r["merged_row"]) if r["merged_row"] else None,
                    "redirects": json.loads(r["redirects"] or "[]"),
                    "set_aside": json.loads(aside.get(r["merge_id"]) or "[]"),
                },
            )
        )
        if r["state"] == "undone":
            entries.append(
                (MERGE_KIND, r["label"], {"event": "undo", "merge_id": r["merge_id"], "undone_at": r["undone_at"]})
            )
        last = r["merge_id"]
    for r in conn.execute("SELECT * FROM tombstones ORDER BY rowid"):
        entries.append(
            (
                TOMBSTONE_KIND,
                r["load_id"],
                {
                    "kind": r["kind"],
                    "name": r["name"],
                    "ident": json.loads(r["ident"]),
                    "reason": r["reason"],
                    "row": json.loads(r["row"]),
                    "at": r["at"],
                },
            )
        )
    append_in(conn, entries)
    # Later merges are numbered by record: above every id the old table gave.
    conn.execute("UPDATE sqlite_sequence SET seq = MAX(seq, ?) WHERE name = 'records'", (last,))
    for table in ("loads", "merges", "merge_set_aside", "tombstones"):
        if table in have:
            conn.execute(f"ALTER TABLE {table} RENAME TO legacy_{table}")
