"""The SQLite store's load bookkeeping: loads, lineage reads, merges and tombstones (`graph.lineage`).

A mixin of `SQLiteStore`: it uses the store's `schema`, `_transaction()` and
`_select()`. Each method that changes anything is one transaction, so a
crash leaves the books and the graph consistent with each other.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

from graph.lineage import (
    LINEAGE_COLUMNS,
    LOAD_ID,
    SOURCE_FILE,
    SOURCE_LINE,
    EdgeLineage,
    LoadRecord,
    LoadState,
    MergeRecord,
    MergeState,
    NodeLineage,
    Provenance,
    Redirect,
    SetAside,
    Tombstone,
    redirects_from_json,
    redirects_to_json,
    set_aside_from_json,
    set_aside_to_json,
)
from graph.store import InvalidInput, StoreError
from graph.timefmt import parse_iso, to_iso

BOOKS_DDL = [
    """CREATE TABLE IF NOT EXISTS loads (
        load_id TEXT PRIMARY KEY, source TEXT NOT NULL, mapping TEXT NOT NULL, mode TEXT NOT NULL,
        started TEXT NOT NULL, finished TEXT, state TEXT NOT NULL, batches INTEGER NOT NULL DEFAULT 0,
        rows_written INTEGER NOT NULL DEFAULT 0, summary TEXT, error TEXT)""",
    """CREATE TABLE IF NOT EXISTS merges (
        merge_id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL, kept_id TEXT NOT NULL,
        merged_id TEXT NOT NULL, rule TEXT NOT NULL, score REAL NOT NULL, detail TEXT NOT NULL DEFAULT '',
        load_id TEXT NOT NULL, merged_row TEXT, redirects TEXT NOT NULL DEFAULT '[]',
        state TEXT NOT NULL DEFAULT 'active', created_at TEXT NOT NULL, undone_at TEXT)""",
    # One active decision per merged id: a record merges into one kept record.
    "CREATE UNIQUE INDEX IF NOT EXISTS merges_active ON merges (label, merged_id) WHERE state = 'active'",
    # Relations of a merged record the kept one could not take, for undo (a table of its own: stores made
    # before it existed need no new column).
    """CREATE TABLE IF NOT EXISTS merge_set_aside (
        merge_id INTEGER PRIMARY KEY REFERENCES merges (merge_id), edges TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS tombstones (
        kind TEXT NOT NULL, name TEXT NOT NULL, ident TEXT NOT NULL, load_id TEXT NOT NULL,
        reason TEXT NOT NULL, row TEXT NOT NULL, at TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS tombstones_load ON tombstones (load_id)",
]


def _tables() -> Any:
    # graph.sqlite imports this module; the table names are looked up when first needed.
    import graph.sqlite as tables

    return tables


def _now() -> str:
    return to_iso(datetime.now(UTC))


def _time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


class LoadBooks:
    """Loads, lineage, merges and tombstones on the SQLite store's connection."""

    schema: Any

    # ---- loads
    @staticmethod
    def _count_batch(conn: sqlite3.Connection, load_id: str, rows: int) -> None:
        conn.execute(
            "UPDATE loads SET batches = batches + 1, rows_written = rows_written + ? WHERE load_id = ?", (rows, load_id)
        )

    def begin_load(self, record: LoadRecord) -> None:
        with self._write("recording the load") as conn:
            conn.execute(
                "INSERT INTO loads (load_id, source, mapping, mode, started, state) VALUES (?, ?, ?, ?, ?, 'running')",
                (record.load_id, record.source, record.mapping, record.mode, to_iso(record.started)),
            )

    def finish_load(self, load_id: str, state: LoadState, summary: Mapping[str, Any] | None = None,
                    error: str | None = None) -> None:
        with self._write("recording the load") as conn:
            conn.execute(
                "UPDATE loads SET state = ?, finished = ?, summary = ?, error = ? WHERE load_id = ?",
                (state, _now(), json.dumps(summary, default=str) if summary is not None else None, error, load_id),
            )
            if state == "finished":
                conn.execute(
                    "UPDATE loads SET state = 'interrupted' WHERE state = 'running' AND load_id != ? AND started <= "
                    "(SELECT started FROM loads WHERE load_id = ?) AND (source, mapping) = "
                    "(SELECT source, mapping FROM loads WHERE load_id = ?)",
                    (load_id, load_id, load_id),
                )

    def loads(self, load_id: str | None = None) -> list[LoadRecord]:
        where, params = ("WHERE load_id = ?", [load_id]) if load_id else ("", [])
        rows = self._select(f"SELECT * FROM loads {where} ORDER BY started DESC, rowid DESC", params)
        return [
            LoadRecord(
                load_id=r["load_id"], source=r["source"], mapping=r["mapping"], started=parse_iso(r["started"]),
                mode=r["mode"], state=r["state"], finished=_time(r["finished"]), batches=r["batches"],
                rows_written=r["rows_written"], summary=json.loads(r["summary"]) if r["summary"] else None,
                error=r["error"],
            )
            for r in rows
        ]

    # ---- lineage
    def lineage(self, node_id: str) -> list[NodeLineage]:
        t = _tables()
        lineage_cols = ", ".join(f'"{c}"' for c in LINEAGE_COLUMNS)
        out = []
        for label, node in self.schema.nodes.items():
            found = self._select(f'SELECT {lineage_cols} FROM {t.node_table(label)} WHERE "{node.key}" = ?', [node_id])
            if not found:
                continue
            edges = []
            for rel in self.schema.relations_touching(label):
                for end in ("src", "dst"):
                    if (rel.source if end == "src" else rel.target) != label:
                        continue
                    sql = (f"SELECT src, dst, key, {lineage_cols} FROM {t.edge_table(rel.name)} WHERE {end} = ? "
                           "ORDER BY src, dst, key")
                    direction: Literal["out", "in"] = "out" if end == "src" else "in"
                    edges += [EdgeLineage(rel.name, direction, r["src"], r["dst"], r["key"], Provenance.of(r))
                              for r in self._select(sql, [node_id])]
            out.append(NodeLineage(label, node_id, Provenance.of(found[0]), tuple(edges)))
        return out

    def edge_keys(self, relation: str) -> set[tuple[str, str, str]]:
        return {(r[0], r[1], r[2]) for r in self._select(f"SELECT src, dst, key FROM {_tables().edge_table(relation)}")}

    # ---- incremental loads
    def end_edges(self, relation: str, keys: Iterable[tuple[str, str, str]], at: date, load_id: str,
                  reason: str) -> int:
        rel = self.schema.relations[relation]
        if not rel.valid_to:
            raise ValueError(f"{relation} has no end time to set")
        sql = (
            f'UPDATE {_tables().edge_table(relation)} SET "{rel.valid_to}" = ?, "{LOAD_ID}" = ?, "{SOURCE_FILE}" = ?, '
            f'"{SOURCE_LINE}" = NULL WHERE src = ? AND dst = ? AND key = ? AND "{rel.valid_to}" IS NULL'
        )
        params = [(at.isoformat(), load_id, reason, s, d, k) for s, d, k in keys]
        if not params:
            return 0
        with self._write(f"ending {relation} edges") as conn:
            ended = conn.executemany(sql, params).rowcount
            self._count_batch(conn, load_id, ended)
        return ended

    def retire(self, load_id: str, nodes: Mapping[str, Iterable[str]],
               edges: Mapping[str, Iterable[tuple[str, str, str]]], reason: str) -> dict[str, int]:
        t = _tables()
        counts: dict[str, int] = {}
        at = _now()

        def bury(conn: sqlite3.Connection, kind: str, name: str, table: str, where: str, params: list,
                 why: str) -> None:
            rows = [dict(r) for r in conn.execute(f"SELECT * FROM {table} WHERE {where}", params)]
            if not rows:
                return
            for row in rows:
                ident = [row[self.schema.nodes[name].key]] if kind == "node" else [row["src"], row["dst"], row["key"]]
                conn.execute("INSERT INTO tombstones VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (kind, name, json.dumps(ident), load_id, why, json.dumps(row, default=str), at))
            conn.execute(f"DELETE FROM {table} WHERE {where}", params)
            counts[name] = counts.get(name, 0) + len(rows)

        with self._write("retiring records") as conn:
            for label, ids in nodes.items():
                key = self.schema.nodes[label].key
                for node_id in ids:
                    # Edges first: an edge never outlives either of its ends.
                    for rel in self.schema.relations_touching(label):
                        for end in ("src", "dst"):
                            if (rel.source if end == "src" else rel.target) == label:
                                bury(conn, "edge", rel.name, t.edge_table(rel.name), f"{end} = ?", [node_id],
                                     f"{reason}; its {label} {node_id} was retired")
                    bury(conn, "node", label, t.node_table(label), f'"{key}" = ?', [node_id], reason)
            for relation, keys in edges.items():
                for s, d, k in keys:
                    bury(conn, "edge", relation, t.edge_table(relation), "src = ? AND dst = ? AND key = ?",
                         [s, d, k], reason)
            self._count_batch(conn, load_id, 0)
        return counts

    def tombstones(self, load_id: str | None = None) -> list[Tombstone]:
        where, params = ("WHERE load_id = ?", [load_id]) if load_id else ("", [])
        return [
            Tombstone(r["kind"], r["name"], tuple(json.loads(r["ident"])), r["load_id"], r["reason"],
                      json.loads(r["row"]), _time(r["at"]))
            for r in self._select(f"SELECT * FROM tombstones {where} ORDER BY rowid", params)
        ]

    # ---- merges
    def record_merges(self, merges: Sequence[MergeRecord]) -> list[MergeRecord]:
        t = _tables()
        ids = []
        with self._write("recording merges") as conn:
            for m in merges:
                moved_row, moved = self._move_node(conn, m.label, m.merged_id, m.kept_id)
                redirects = [*m.redirects, *moved, *self._close(conn, m)]
                row = {k: t._to_sql(v) for k, v in m.merged_row.items()} if m.merged_row is not None else moved_row
                existing = conn.execute(
                    "SELECT merge_id, redirects, merged_row FROM merges "
                    "WHERE label = ? AND merged_id = ? AND state = 'active'",
                    (m.label, m.merged_id),
                ).fetchone()
                if existing is None:
                    cur = conn.execute(
                        "INSERT INTO merges (label, kept_id, merged_id, rule, score, detail, load_id, merged_row, "
                        "redirects, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (m.label, m.kept_id, m.merged_id, m.rule, float(m.score), m.detail, m.load_id,
                         json.dumps(row, default=str) if row is not None else None, redirects_to_json(redirects),
                         _now()),
                    )
                    assert cur.lastrowid is not None  # set by the INSERT
                    ids.append(cur.lastrowid)
                    self._set_aside(conn, cur.lastrowid, m.set_aside)
                    continue
                # Already decided: keep the decision, add the edges this load re-pointed.
                known = redirects_from_json(existing["redirects"])
                known += [r for r in redirects if r not in known]
                conn.execute(
                    "UPDATE merges SET kept_id = ?, redirects = ?, merged_row = COALESCE(merged_row, ?) "
                    "WHERE merge_id = ?",
                    (m.kept_id, redirects_to_json(known), json.dumps(row, default=str) if row is not None else None,
                     existing["merge_id"]),
                )
                ids.append(existing["merge_id"])
                self._set_aside(conn, existing["merge_id"], m.set_aside)
        by_id = {m.merge_id: m for m in self.merges()}
        return [by_id[i] for i in ids]

    def _move_node(
        self, conn: sqlite3.Connection, label: str, merged: str, kept: str
    ) -> tuple[dict | None, list[Redirect]]:
        """A merged id that lives in the graph: remove it, re-pointing its edges to the kept id."""
        t = _tables()
        key = self.schema.nodes[label].key
        found = conn.execute(f'SELECT * FROM {t.node_table(label)} WHERE "{key}" = ?', (merged,)).fetchone()
        if found is None:
            return None, []
        redirects = []
        for rel in self.schema.relations_touching(label):
            table = t.edge_table(rel.name)
            if rel.source == label and rel.target == label:  # an edge between the two would become a loop
                conn.execute(f"DELETE FROM {table} WHERE (src = ? AND dst = ?) OR (src = ? AND dst = ?)",
                             (merged, kept, kept, merged))
            for end in ("src", "dst"):
                if (rel.source if end == "src" else rel.target) != label:
                    continue
                rows = conn.execute(f"SELECT src, dst, key FROM {table} WHERE {end} = ?", (merged,)).fetchall()
                conn.execute(f"UPDATE OR REPLACE {table} SET {end} = ? WHERE {end} = ?", (kept, merged))
                redirects += [
                    Redirect(rel.name, kept if end == "src" else s, kept if end == "dst" else d, k, end)
                    for s, d, k in rows
                ]
        conn.execute(f'DELETE FROM {t.node_table(label)} WHERE "{key}" = ?', (merged,))
        return dict(found), redirects

    @staticmethod
    def _set_aside(conn: sqlite3.Connection, merge_id: int, edges: Sequence[SetAside]) -> None:
        if not edges:
            return
        found = conn.execute("SELECT edges FROM merge_set_aside WHERE merge_id = ?", (merge_id,)).fetchone()
        known = set_aside_from_json(found[0] if found else None)
        known += [e for e in set_aside_from_json(set_aside_to_json(edges)) if e not in known]  # as stored: comparable
        conn.execute("INSERT OR REPLACE INTO merge_set_aside (merge_id, edges) VALUES (?, ?)",
                     (merge_id, set_aside_to_json(known)))

    def _close(self, conn: sqlite3.Connection, m: MergeRecord) -> list[Redirect]:
        """End the stored jobs `m.closes` names that are still open; each one ended, as a redirect for undo."""
        out = []
        for c in m.closes:
            until = self.schema.relations[c.relation].valid_to
            ended = conn.execute(
                f'UPDATE {_tables().edge_table(c.relation)} SET "{until}" = ? '
                f'WHERE src = ? AND dst = ? AND key = ? AND "{until}" IS NULL',
                (c.at.isoformat(), c.src, c.dst, c.key),
            ).rowcount
            if ended:
                out.append(Redirect(c.relation, c.src, c.dst, c.key, None, (until,)))
        return out

    def merges(self, label: str | None = None, state: MergeState | None = None) -> list[MergeRecord]:
        conds, params = [], []
        for column, value in (("label", label), ("state", state)):
            if value is not None:
                conds.append(f"{column} = ?")
                params.append(value)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (f"SELECT m.*, a.edges AS set_aside FROM merges m LEFT JOIN merge_set_aside a USING (merge_id) "
               f"{where} ORDER BY merge_id")
        return [_merge(r) for r in self._select(sql, params)]

    def undo_merge(self, merge_id: int) -> MergeRecord:
        t = _tables()
        with self._write("undoing a merge") as conn:
            found = conn.execute("SELECT m.*, a.edges AS set_aside FROM merges m LEFT JOIN merge_set_aside a "
                                 "USING (merge_id) WHERE merge_id = ?", (merge_id,)).fetchone()
            if found is None:
                raise InvalidInput(f"no merge {merge_id}")
            m = _merge(found)
            if m.state != "active":
                raise InvalidInput(f"merge {merge_id} is already undone")
            if m.merged_row:
                columns = list(m.merged_row)
                conn.execute(
                    f"INSERT OR REPLACE INTO {t.node_table(m.label)} "
                    f"({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    [m.merged_row[c] for c in columns],
                )
            # Times first, while every edge is still named as the merge left it: they were empty in the export.
            for r in m.redirects:
                names = self.schema.relations[r.relation].property_names
                emptied = ", ".join(f'"{p}" = NULL' for p in r.filled if p in names)
                if emptied:
                    conn.execute(f"UPDATE {t.edge_table(r.relation)} SET {emptied} "
                                 "WHERE src = ? AND dst = ? AND key = ?",
                                 (r.src, r.dst, r.key))
            for r in m.redirects:
                if r.end is not None:
                    conn.execute(
                        f"UPDATE OR IGNORE {t.edge_table(r.relation)} SET {r.end} = ? "
                        "WHERE src = ? AND dst = ? AND key = ?",
                        (m.merged_id, r.src, r.dst, r.key),
                    )
            for aside in m.set_aside:  # the merged record's own relations the kept one could not take
                rel = self.schema.relations[aside.relation]
                columns = [c for c in (*t.edge_columns(rel), *LINEAGE_COLUMNS) if c in aside.edge]
                conn.execute(
                    f"INSERT OR REPLACE INTO {t.edge_table(rel.name)} "
                    f"({', '.join(f'{chr(34)}{c}{chr(34)}' for c in columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    [t._to_sql(aside.edge[c]) for c in columns],
                )
            conn.execute("UPDATE merges SET state = 'undone', undone_at = ? WHERE merge_id = ?", (_now(), merge_id))
        return next(x for x in self.merges(m.label) if x.merge_id == merge_id)

    # ---- integrity
    def check_integrity(self) -> list[str]:
        t = _tables()
        problems = [r[0] for r in self._select("PRAGMA integrity_check") if r[0] != "ok"]
        for rel in self.schema.relations.values():
            for end, label in (("src", rel.source), ("dst", rel.target)):
                key = self.schema.nodes[label].key
                n = self._select(
                    f'SELECT COUNT(*) FROM {t.edge_table(rel.name)} e WHERE NOT EXISTS '
                    f'(SELECT 1 FROM {t.node_table(label)} n WHERE n."{key}" = e.{end})'
                )[0][0]
                if n:
                    problems.append(f"{rel.name}: {n} edge(s) whose {end} names no {label}")
        return problems

    # ---- plumbing (`_transaction` and `_select` are SQLiteStore's)
    if TYPE_CHECKING:  # declared for the type checker only, so that SQLiteStore's own methods stay the ones called
        def _transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
        def _select(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]: ...

    def _write(self, what: str) -> _Write:
        return _Write(self._transaction(), what)


class _Write:
    """A store transaction whose sqlite3 errors become `StoreError` naming what was being written."""

    def __init__(self, transaction: Any, what: str) -> None:
        self.transaction, self.what = transaction, what

    def __enter__(self) -> sqlite3.Connection:
        try:
            return self.transaction.__enter__()
        except sqlite3.Error as e:
            raise StoreError(f"{self.what}: {e}") from e

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.transaction.__exit__(exc_type, exc, tb)
        except sqlite3.Error as e:
            raise StoreError(f"{self.what}: {e}") from e
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"{self.what}: {exc}") from exc


def _merge(r: sqlite3.Row) -> MergeRecord:
    return MergeRecord(
        label=r["label"], kept_id=r["kept_id"], merged_id=r["merged_id"], rule=r["rule"], score=r["score"],
        load_id=r["load_id"], detail=r["detail"], merged_row=json.loads(r["merged_row"]) if r["merged_row"] else None,
        redirects=tuple(redirects_from_json(r["redirects"])), set_aside=tuple(set_aside_from_json(r["set_aside"])),
        merge_id=r["merge_id"], state=r["state"],
        created_at=_time(r["created_at"]), undone_at=_time(r["undone_at"]),
    )
