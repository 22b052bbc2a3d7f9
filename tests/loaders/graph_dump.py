"""Helpers the load tests share: a canonical dump of a graph, and rows per load id in a SQLite store."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from graph import GraphStore


def canonical(store: GraphStore) -> dict[str, Any]:
    """Every node and edge as sorted tuples: equal for two stores holding the same graph.

    `read_tables` returns the ontology's properties only, so load bookkeeping
    (load id, source file and line) is left out by construction.
    """
    nodes, edges = store.read_tables()
    dump = {label: sorted(_row(r) for r in rows) for label, rows in nodes.items()}
    dump |= {rel: sorted(_row(r) for r in rows) for rel, rows in edges.items()}
    return dump


def _row(row: dict[str, Any]) -> tuple:
    # repr makes None and numbers comparable, and keeps 1 and 1.0 apart as the store does.
    return tuple((k, repr(v)) for k, v in sorted(row.items()))


def rows_tagged(db: Path, load_id: str) -> int:
    """Graph rows (nodes and edges) whose `_load_id` is `load_id`, straight from the SQLite file."""
    conn = sqlite3.connect(db)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                             "(name LIKE 'n\\_%' ESCAPE '\\' OR name LIKE 'e\\_%' ESCAPE '\\')")]
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t} WHERE _load_id = ?", (load_id,)).fetchone()[0]
                   for t in tables)
    finally:
        conn.close()
