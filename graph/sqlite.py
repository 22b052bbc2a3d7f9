"""The embedded default store: SQLite in WAL mode, tables derived from the Schema.

One table per node type (`n_deal`: the key plus one typed column per
property) and one per relation (`e_involves`: src, dst and the relation's
properties), with indexes on keys and both endpoints. Every table also has
the bookkeeping columns of `graph.lineage.LINEAGE_COLUMNS` (load id, source
file and line); reads of the graph leave them out. WAL lets the API read
while a load writes; every batch is one transaction, so a crash loses only
the batch in flight. Each thread gets its own connection. `apply` (the
ledger's writes) lives in `graph.sqlite_changes`, the record log in
`graph.sqlite_records`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from datetime import date, datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graph.deals import DealShape
from graph.explanation import dump_explanation, load_explanation
from graph.lineage import LINEAGE_COLUMNS, LOAD_ID
from graph.sqlite_changes import ChangeSets, migrate_books
from graph.sqlite_records import RECORDS_DDL, RecordLog
from graph.store import ChangeMark, Changes, DealPage, Direction, Neighbour, ScoreRecord, StoreError
from graph.timefmt import to_iso
from ontology import NodeType, Relation, Schema

if TYPE_CHECKING:
    import pandas as pd

    from graph.snapshot import Snapshot

log = logging.getLogger(__name__)
LINEAGE_DDL = '"_load_id" TEXT, "_source_file" TEXT, "_source_line" INTEGER'
SQL_TYPES = {"string": "TEXT", "integer": "INTEGER", "decimal": "REAL", "boolean": "INTEGER", "date": "TEXT",
             "dateTime": "TEXT"}
# SQLite allows 32766 host parameters; stay well below for IN (...) lists.
MAX_PARAMS = 900
# Rows per multi-row INSERT of a batch write, within SQLite's host-parameter limit (32766 since 3.32; kept far below).
ROWS_PER_INSERT = 200
# Rows one writer-thread step inserts while the caller prepares the next (`SQLiteStore._upsert`).
PIPELINE_ROWS = 5000
MAX_HOST_PARAMS = 8000
# Page cache per connection, KiB (negative: a size, not pages): SQLite's default 2 MB thrashes once a table's key
# indexes outgrow it, and every insert then reads its index pages back from the OS.
CACHE_KIB = 64 * 1024


def node_table(label: str) -> str:
    return f"n_{label.lower()}"


def edge_table(relation: str) -> str:
    return f"e_{relation.lower()}"


def node_ddl(node: NodeType) -> list[str]:
    cols = ", ".join(f'"{p.name}" {SQL_TYPES[p.datatype]}' for p in node.properties)
    table = node_table(node.name)
    return [f'CREATE TABLE IF NOT EXISTS {table} ("{node.key}" TEXT PRIMARY KEY, {cols}, {LINEAGE_DDL})']


def edge_ddl(rel: Relation) -> list[str]:
    cols = "".join(f', "{p.name}" {SQL_TYPES[p.datatype]}' for p in rel.properties)
    # A functional relation has one edge per source: re-pointing it replaces the edge.
    # Otherwise `key` tells parallel edges apart (two line items for one product).
    key = "src" if rel.functional else "src, dst, key"
    table = edge_table(rel.name)
    return [
        f"CREATE TABLE IF NOT EXISTS {table} "
        f"(src TEXT NOT NULL, dst TEXT NOT NULL, key TEXT NOT NULL DEFAULT ''{cols}, "
        f"{LINEAGE_DDL}, PRIMARY KEY ({key}))",
        _dst_index(table),
        # No index on src alone: the primary key's index starts with src and serves those lookups. Stores made
        # when there was one lose it (a fourth B-tree per edge table cost a third of a load's edge writes).
        f"DROP INDEX IF EXISTS {table}_src",
    ]


def _dst_index(table: str) -> str:
    return f"CREATE INDEX IF NOT EXISTS {table}_dst ON {table} (dst)"


SCORE_DDL = [
    """CREATE TABLE IF NOT EXISTS scores (
        deal_id TEXT PRIMARY KEY, probability REAL NOT NULL, model_version TEXT NOT NULL,
        scored_at TEXT NOT NULL, band TEXT NOT NULL, previous_probability REAL,
        explanation TEXT, metadata TEXT)""",
    "CREATE INDEX IF NOT EXISTS scores_rank ON scores (probability DESC, deal_id)",
    """CREATE TABLE IF NOT EXISTS score_history (
        deal_id TEXT NOT NULL, probability REAL NOT NULL, model_version TEXT NOT NULL,
        scored_at TEXT NOT NULL, band TEXT NOT NULL, explanation TEXT, metadata TEXT)""",
    "CREATE INDEX IF NOT EXISTS score_history_deal ON score_history (deal_id, scored_at)",
]

# `graph_version` moves with every committed transaction except score writes, whose own log is score_history
# (append-only, so its rowids say which scores changed since a mark): see `SQLiteStore.changes_since`.
CHANGES_DDL = [
    "CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO store_meta VALUES ('graph_version', 0)",
]


# Values SQLite binds as they are; everything else goes through `_to_sql`.
_PLAIN = frozenset({str, int, float, type(None)})


def _to_sql(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "isoformat"):  # date
        return value.isoformat()
    return value


# A column of one type (and None) converted in one pass without a call per value: what `_to_sql` gives each.
_COLUMN_CONVERTERS: dict[type, Callable[[list[Any]], list[Any]]] = {
    datetime: lambda column: [v if v is None else to_iso(v) for v in column],
    date: lambda column: [v if v is None else v.isoformat() for v in column],
    bool: lambda column: [v if v is None else int(v) for v in column],
}


def _sql_column(column: list[Any]) -> list[Any]:
    """A column's values as SQLite binds them (`_to_sql`); a column of plain values (most) is returned as it is."""
    types = set(map(type, column))
    if types <= _PLAIN:
        return column
    types.discard(type(None))
    convert = _COLUMN_CONVERTERS.get(types.pop()) if len(types) == 1 else None
    if convert is not None:
        return convert(column)
    return [v if v.__class__ in _PLAIN else _to_sql(v) for v in column]


def _time_sql(alias: str, typed: NodeType | Relation, name: str) -> str:
    """A stored time as `YYYY-MM-DDTHH:MM:SSZ` text: a date is midnight UTC (`graph.timefmt`),
    so `'2024-01-01'` compares as `'2024-01-01T00:00:00Z'`, as `Snapshot.as_of` compares it."""
    column = f'{alias}."{name}"'
    return f"({column} || 'T00:00:00Z')" if typed.prop(name).datatype == "date" else column


@lru_cache(maxsize=8192)
def _parsed(text: str) -> Any:
    """Stored JSON, parsed once per distinct text (score metadata: read on every request that shows a score).
    The result is shared between callers, so it is read-only (`ScoreRecord` types it as a Mapping)."""
    return json.loads(text)


def _chunks(items: list, size: int = MAX_PARAMS) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def node_columns(node: NodeType) -> list[str]:
    """The graph columns of a node table (key and properties, no bookkeeping)."""
    return [node.key, *node.property_names]


def edge_columns(rel: Relation) -> list[str]:
    return ["src", "dst", "key", *rel.property_names]


def _select_list(alias: str, columns: Sequence[str]) -> str:
    return ", ".join(f'{alias}."{c}"' for c in columns)


def _add_lineage_columns(conn: sqlite3.Connection, table: str) -> None:
    """Stores made before lineage existed get its columns (empty for the rows already there)."""
    have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
    for column, sql_type in zip(LINEAGE_COLUMNS, ("TEXT", "TEXT", "INTEGER"), strict=True):
        if column not in have:
            conn.execute(f'ALTER TABLE {table} ADD COLUMN "{column}" {sql_type}')


def _bound_values(rows: Sequence[Mapping[str, Any]], columns: list[str], load_id: str | None,
                  empty_as_text: str | None) -> tuple[list[Any], int]:
    """The rows' values as SQLite binds them, row after row in one flat list; and how many rows."""
    # Column by column: one pass per column is much cheaper than a generator per row (the load's hot path),
    # and a column whose values are all plain (most: text, numbers) skips the conversion pass altogether.
    by_column = []
    for c in columns:
        column: list[Any]
        if c == LOAD_ID and load_id is not None:
            column = [load_id] * len(rows)
        elif c == empty_as_text:
            column = [r.get(c) or "" for r in rows]
        else:
            column = [r.get(c) for r in rows]
        by_column.append(_sql_column(column))
    return list(chain.from_iterable(zip(*by_column, strict=True))), len(rows)


def upsert_statements(table: str, columns: list[str], key: list[str]) -> tuple[str, str, int]:
    """The INSERT ... ON CONFLICT statements a batch write runs: one row, and `per` rows at once; and `per`."""
    quoted = ", ".join(f'"{c}"' for c in columns)
    updates = ", ".join(f'"{c}"=excluded."{c}"' for c in columns if c not in key) or None
    conflict = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    row_marks = f"({', '.join('?' * len(columns))})"
    sql = f"INSERT INTO {table} ({quoted}) VALUES {row_marks} ON CONFLICT({', '.join(key)}) {conflict}"
    # Many rows per statement: the sqlite3 module's cost is per statement executed (reset, bind setup, step),
    # so a statement of `per` rows pays it once for all of them. SQLite applies the rows of one VALUES list in
    # order, so a key given twice in a batch still ends as its last row, as one statement per row did.
    per = max(1, min(ROWS_PER_INSERT, MAX_HOST_PARAMS // len(columns)))
    return sql, sql.replace(f"VALUES {row_marks}", f"VALUES {', '.join([row_marks] * per)}", 1), per


def insert_flat(
    conn: sqlite3.Connection, one: str, many: str, per: int, width: int, values: tuple[list[Any], int]
) -> None:
    """Insert flat row values: `per` rows a statement (`many`), the rest one by one (`one`)."""
    flat, count = values
    whole = (count - count % per) * width
    step = per * width
    if whole:
        conn.executemany(many, (flat[i : i + step] for i in range(0, whole, step)))
    if whole < len(flat):
        conn.executemany(one, (flat[i : i + width] for i in range(whole, len(flat), width)))


class SQLiteStore(ChangeSets, RecordLog):
    """`GraphStore` on a SQLite file. Example: `SQLiteStore(Path("graph.db"), load_schema())`."""

    tracks_changes = True
    reads_inline = True

    def __init__(self, path: Path, schema: Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self._local = threading.local()
        self._all_conns: list[sqlite3.Connection] = []
        self._conns_lock = threading.Lock()
        self._commits = 0  # commits through this object: `PRAGMA data_version` does not see a connection's own
        self._booleans = {
            name: {p.name for p in t.properties if p.datatype == "boolean"}
            for name, t in [*schema.nodes.items(), *schema.relations.items()]
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Creating missing tables changes no data: opening a store must not outdate what caches hold.
            with self._transaction(graph_write=False) as conn:
                for node in schema.nodes.values():
                    for stmt in node_ddl(node):
                        conn.execute(stmt)
                    _add_lineage_columns(conn, node_table(node.name))
                for rel in schema.relations.values():
                    for stmt in edge_ddl(rel):
                        conn.execute(stmt)
                    _add_lineage_columns(conn, edge_table(rel.name))
                for stmt in [*SCORE_DDL, *RECORDS_DDL, *CHANGES_DDL]:
                    conn.execute(stmt)
                migrate_books(conn)
        except sqlite3.Error as e:
            raise StoreError(f"cannot open SQLite store at {self.path}: {e}") from e

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE in _Transaction)
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            # Checkpoint every ~40 MB of WAL rather than SQLite's 4 MB: each checkpoint syncs the file, which
            # took half the commit time of a load; what a crash keeps is the same (committed batches).
            conn.execute("PRAGMA wal_autocheckpoint=10000")
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            self._local.conn = conn
            with self._conns_lock:
                self._all_conns.append(conn)
        return conn

    def _transaction(self, graph_write: bool = True) -> _Transaction:
        return _Transaction(self._connection(), self._committed, graph_write)

    def _committed(self) -> None:
        self._commits += 1

    def _row(self, kind: str, row: Mapping[str, Any] | sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        for name in self._booleans.get(kind, ()):
            if out.get(name) is not None:
                out[name] = bool(out[name])
        return out

    # ---- writes
    def _upsert(
        self, table: str, columns: list[str], key: list[str], rows: Sequence[Mapping[str, Any]], load_id: str | None,
        empty_as_text: str | None = None,
    ) -> int:
        """Insert or update `rows` by `key` in one transaction; `empty_as_text` names a column whose missing or
        empty values are written as '' (an edge's `key`: part of the primary key, so never NULL)."""
        if not rows:
            return 0
        columns = [*columns, *LINEAGE_COLUMNS]
        sql, many, per = upsert_statements(table, columns, key)
        # Overlapped: while a writer thread inserts one slice of the batch (sqlite3 releases the GIL while SQLite
        # works), this thread turns the next slice into parameters. The connection is used by one thread at a
        # time: the writer between submit and result, this one for BEGIN, the batch count and COMMIT.
        pending: Future[None] | None = None
        try:
            with self._transaction() as conn, ThreadPoolExecutor(1, thread_name_prefix="sqlite-write") as writer:
                try:
                    for start in range(0, len(rows), PIPELINE_ROWS):
                        values = _bound_values(rows[start : start + PIPELINE_ROWS], columns, load_id, empty_as_text)
                        if pending is not None:
                            pending.result()
                        pending = writer.submit(insert_flat, conn, sql, many, per, len(columns), values)
                    if pending is not None:
                        pending.result()
                finally:
                    if pending is not None:
                        wait([pending])  # an error here must not roll back under the writer's feet
                if load_id is not None:
                    self._count_batch(conn, load_id, len(rows))  # commits with the batch, or not at all
        except sqlite3.Error as e:
            raise StoreError(f"writing {table}: {e}") from e
        return len(rows)

    @contextmanager
    def bulk_writes(self, relations: Iterable[str]) -> Iterator[None]:
        """The `dst` index of each edge table of `relations` that is empty now is built after the writes, not
        kept up to date row by row: one sort instead of a B-tree insert in random order per edge (a third of the
        writes of a first load, measured in docs/loading.md). Each step is its own transaction, and the index is
        built again however the writes end; a load killed meanwhile leaves the table without it until the store
        is next opened (`edge_ddl` makes it), so reads stay right, only slower, and a reader meanwhile reads a
        table that was empty when the load began."""
        deferred = []
        try:
            with self._transaction(graph_write=False) as conn:
                for relation in dict.fromkeys(relations):
                    table = edge_table(relation)
                    if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is None:
                        conn.execute(f"DROP INDEX IF EXISTS {table}_dst")
                        deferred.append(table)
        except sqlite3.Error as e:
            raise StoreError(f"preparing a load's writes: {e}") from e
        try:
            yield
        except BaseException:
            try:
                self._index_dst(deferred)
            except StoreError:  # the writes' own error is the one to report; opening the store builds it later
                log.exception("could not build the dst indexes of %s", ", ".join(deferred))
            raise
        self._index_dst(deferred)

    def _index_dst(self, tables: list[str]) -> None:
        try:
            with self._transaction(graph_write=False) as conn:
                for table in tables:
                    conn.execute(_dst_index(table))
        except sqlite3.Error as e:
            raise StoreError(f"indexing a load's edges: {e}") from e

    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        node = self.schema.nodes[label]
        return self._upsert(node_table(label), node_columns(node), [node.key], rows, load_id)

    def upsert_edges(self, relation: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        rel = self.schema.relations[relation]
        key = ["src"] if rel.functional else ["src", "dst", "key"]
        return self._upsert(edge_table(relation), edge_columns(rel), key, rows, load_id, empty_as_text="key")

    # ---- reads
    def _select(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        try:
            return self._connection().execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise StoreError(f"reading {self.path}: {e}") from e

    def read_rows(self, name: str, where: Mapping[str, Iterable[str]] | None = None, *,
                  lineage: bool = False) -> list[dict[str, Any]]:
        node = self.schema.nodes.get(name)
        if node is not None:
            table, columns, order, keys = node_table(name), node_columns(node), f'"{node.key}"', [node.key]
        else:
            rel = self.schema.relations[name]
            table, columns, order, keys = edge_table(name), edge_columns(rel), "src, dst, key", ["src", "dst"]
        select = _select_list("t", [*columns, *(LINEAGE_COLUMNS if lineage else ())])
        filters = {c: list(dict.fromkeys(v)) for c, v in (where or {}).items()}
        for column in filters:
            if column not in keys:
                raise ValueError(f"{name} rows are looked up by {keys}, not {column!r}")
        if any(not v for v in filters.values()):
            return []
        # Chunk the longest list (the others stay whole: lookups name few values of the second column).
        longest = max(filters, key=lambda c: len(filters[c]), default=None)
        out: list[dict[str, Any]] = []
        for chunk in _chunks(filters[longest]) if longest else [[]]:
            conds, params = [], []
            for column, values in filters.items():
                values = chunk if column == longest else values
                conds.append(f't."{column}" IN ({", ".join("?" * len(values))})')
                params += values
            where_sql = f" WHERE {' AND '.join(conds)}" if conds else ""
            query = f"SELECT {select} FROM {table} t{where_sql} ORDER BY {order}"
            out += [self._row(name, r) for r in self._select(query, params)]
        return out

    def snapshot(self, as_of: datetime | None = None) -> Snapshot:
        """The graph read table by table as plain tuples straight into frames, already in the snapshot's order
        (each table's key index gives it), in one read transaction: one consistent state of the store. At 1M rows
        a several-fold cut from `read_rows`' dict per row and the frames' sort (docs/design.md, "Scale")."""
        from graph.snapshot import Snapshot, snapshot_columns  # pandas: only for those that take snapshots

        conn = self._connection()
        began = not conn.in_transaction
        try:
            if began:
                conn.execute("BEGIN")  # deferred: a read snapshot of the WAL, writers go on
            try:
                nodes = {label: self._frame(conn, node_table(label), snapshot_columns(node), f'"{node.key}"')
                         for label, node in self.schema.nodes.items()}
                edges = {name: self._frame(conn, edge_table(name), snapshot_columns(rel), "src, dst, key")
                         for name, rel in self.schema.relations.items()}
            finally:
                if began:
                    conn.execute("COMMIT")
        except sqlite3.Error as e:
            raise StoreError(f"reading {self.path}: {e}") from e
        snap = Snapshot.from_frames(self.schema, nodes, edges, ordered=True)
        return snap if as_of is None else snap.as_of(as_of)

    @staticmethod
    def _frame(conn: sqlite3.Connection, table: str, columns: list[str], order: str) -> pd.DataFrame:
        import pandas as pd

        cursor = conn.cursor()
        cursor.row_factory = None  # plain tuples: no Row object per row
        rows = cursor.execute(f"SELECT {_select_list(table, columns)} FROM {table} ORDER BY {order}").fetchall()
        return pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))

    def node_ids(self, label: str) -> set[str]:
        key = self.schema.nodes[label].key
        return {r[0] for r in self._select(f'SELECT "{key}" FROM {node_table(label)}')}

    def neighbours(
        self,
        label: str,
        node_ids: Iterable[str],
        relation: str,
        direction: Direction = "out",
        as_of: datetime | None = None,
    ) -> dict[str, list[Neighbour]]:
        near, far = ("src", "dst") if direction == "out" else ("dst", "src")
        rel, other = self._walk(label, relation, direction)
        this = self.schema.nodes[label]
        edge_cols = ", ".join(f'e."{p}" AS "e.{p}"' for p in rel.property_names)
        conds, params, join_near = [], [], ""
        if as_of is not None:
            t = to_iso(as_of)
            # Both ends must be visible: the node asked about as well as the one found.
            join_near = f'JOIN {node_table(this.name)} m ON m."{this.key}" = e.{near} '
            conds.append(f'(m."{this.time}" IS NULL OR {_time_sql("m", this, this.time)} < ?)')
            conds.append(f'(n."{other.time}" IS NULL OR {_time_sql("n", other, other.time)} < ?)')
            params += [t, t]
            if rel.valid_from:
                conds.append(f'(e."{rel.valid_from}" IS NULL OR {_time_sql("e", rel, rel.valid_from)} < ?)')
                params.append(t)
            if rel.valid_to:
                conds.append(f'(e."{rel.valid_to}" IS NULL OR {_time_sql("e", rel, rel.valid_to)} > ?)')
                params.append(t)
        out: dict[str, list[Neighbour]] = {}
        ids = list(dict.fromkeys(node_ids))
        for chunk in _chunks(ids):
            where = " AND ".join([f"e.{near} IN ({', '.join('?' * len(chunk))})", *conds])
            sql = (
                f"SELECT e.{near} AS _near{', ' + edge_cols if edge_cols else ''}, "
                f"{_select_list('n', node_columns(other))} "
                f"FROM {edge_table(relation)} e {join_near}JOIN {node_table(other.name)} n "
                f'ON n."{other.key}" = e.{far} '
                f'WHERE {where} ORDER BY e.{near}, n."{other.key}"'
            )
            for row in self._select(sql, [*chunk, *params]):
                data = dict(row)
                edge = {p: data.pop(f"e.{p}") for p in rel.property_names}
                for name in self._booleans[relation]:
                    if edge.get(name) is not None:
                        edge[name] = bool(edge[name])
                near_id = data.pop("_near")
                node = self._row(other.name, data)
                out.setdefault(near_id, []).append(Neighbour(relation, direction, edge, other.name, node))
        return out

    def counts(self) -> dict[str, int]:
        out = {label: self._select(f"SELECT COUNT(*) FROM {node_table(label)}")[0][0] for label in self.schema.nodes}
        out.update(
            {rel: self._select(f"SELECT COUNT(*) FROM {edge_table(rel)}")[0][0] for rel in self.schema.relations}
        )
        return out

    # ---- scores
    def write_scores(self, scores: Sequence[ScoreRecord]) -> int:
        if not scores:
            return 0
        rows = [
            (
                s.deal_id,
                float(s.probability),
                s.model_version,
                to_iso(s.scored_at),
                s.band,
                dump_explanation(s.explanation),
                json.dumps(dict(s.metadata)),
            )
            for s in scores
        ]
        try:
            with self._transaction(graph_write=False) as conn:
                # The latest score keeps the one before it so the widget can show a trend.
                conn.executemany(
                    "INSERT INTO scores (deal_id, probability, model_version, scored_at, band, explanation, metadata) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(deal_id) DO UPDATE SET "
                    "previous_probability = scores.probability, probability = excluded.probability, "
                    "model_version = excluded.model_version, scored_at = excluded.scored_at, band = excluded.band, "
                    "explanation = excluded.explanation, metadata = excluded.metadata",
                    rows,
                )
                conn.executemany("INSERT INTO score_history VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except sqlite3.Error as e:
            raise StoreError(f"writing scores: {e}") from e
        return len(rows)

    @staticmethod
    def _score(row: sqlite3.Row) -> ScoreRecord:
        return ScoreRecord(
            deal_id=row["deal_id"],
            probability=row["probability"],
            model_version=row["model_version"],
            scored_at=datetime.fromisoformat(row["scored_at"]),
            band=row["band"],
            explanation=load_explanation(row["explanation"]),
            previous_probability=row["previous_probability"] if "previous_probability" in row.keys() else None,  # noqa: SIM118 (sqlite3.Row: `in` tests values)
            metadata=_parsed(row["metadata"] or "{}"),
        )

    def read_scores(self, deal_ids: Iterable[str] | None = None, *, history: bool = False) -> list[ScoreRecord]:
        select = "SELECT rowid AS _seq, * FROM " + ("score_history" if history else "scores")
        if deal_ids is None:
            rows = self._select(select)
        else:
            rows = []
            for chunk in _chunks(list(dict.fromkeys(deal_ids))):
                rows += self._select(f"{select} WHERE deal_id IN ({', '.join('?' * len(chunk))})", chunk)
        return [self._score(r) for r in sorted(rows, key=lambda r: r["_seq"])]  # history: in the order written

    def open_deals_page(
        self,
        first: int,
        after: tuple[float, str] | None = None,
        account_id: str | None = None,
    ) -> DealPage:
        deal = DealShape.of(self.schema)
        key = f'd."{deal.deal.key}"'
        base = (  # open: no edge of the closing relation (`graph.deals`)
            f"FROM {node_table(deal.deal.name)} d LEFT JOIN {edge_table(deal.outcome.name)} o ON o.src = {key} "
            f"LEFT JOIN scores s ON s.deal_id = {key} "
            + (f"JOIN {edge_table(deal.account.name)} a ON a.src = {key} AND a.dst = ? " if account_id else "")
            + "WHERE o.src IS NULL"
        )
        params: list[Any] = [account_id] if account_id else []
        total = self._select(f"SELECT COUNT(*) {base}", params)[0][0]
        # Unscored deals rank last (-1); ties break on id, so the order is total and stable.
        rank = "COALESCE(s.probability, -1.0)"
        page_sql = f"SELECT {_select_list('d', node_columns(deal.deal))}, {rank} AS _rank {base}"
        page_params = list(params)
        if after is not None:
            page_sql += f" AND ({rank} < ? OR ({rank} = ? AND {key} > ?))"
            page_params += [after[0], after[0], after[1]]
        page_sql += f" ORDER BY {rank} DESC, {key} ASC LIMIT ?"
        rows = self._select(page_sql, [*page_params, first + 1])
        deals = [self._row(deal.deal.name, r) for r in rows[:first]]
        return DealPage(deals=deals, has_next=len(rows) > first, total=total)

    # ---- change tracking (for caches of what the API read)
    def changes_since(self, mark: ChangeMark | None) -> Changes:
        try:
            now = self._change_mark()
        except sqlite3.Error as e:
            raise StoreError(f"reading what changed: {e}") from e
        if mark is None or now.graph != mark.graph or now.scores < mark.scores:  # a shorter log: rewritten
            return Changes(now, True, frozenset())
        if now.scores == mark.scores:
            return Changes(now, False, frozenset())
        rows = self._select(
            "SELECT DISTINCT deal_id FROM score_history WHERE rowid > ? AND rowid <= ?", (mark.scores, now.scores)
        )
        return Changes(now, False, frozenset(r[0] for r in rows))

    def _change_mark(self) -> ChangeMark:
        # `PRAGMA data_version` changes when another connection commits; with this object's own commit count it
        # says in microseconds whether anything was written since the last look, which is the usual answer.
        conn = self._connection()
        seen = (conn.execute("PRAGMA data_version").fetchone()[0], self._commits)
        memo = getattr(self._local, "mark_memo", None)
        if memo is not None and memo[0] == seen:
            return memo[1]
        graph, scores = conn.execute(  # one statement: one consistent read of both
            "SELECT (SELECT value FROM store_meta WHERE key = 'graph_version'), "
            "(SELECT COALESCE(MAX(rowid), 0) FROM score_history)"
        ).fetchone()
        mark = ChangeMark(graph, scores)
        self._local.mark_memo = (seen, mark)
        return mark

    def close(self) -> None:
        with self._conns_lock:
            for conn in self._all_conns:
                conn.close()
            self._all_conns = []
        self._local = threading.local()


class _Transaction:
    """`with store._transaction() as conn:` runs one BEGIN IMMEDIATE ... COMMIT transaction.

    Unless it only writes scores (`graph_write=False`), it moves `graph_version` in the same transaction.
    """

    def __init__(self, conn: sqlite3.Connection, committed: Callable[[], None], graph_write: bool = True) -> None:
        self.raw = conn
        self._committed = committed
        self._graph_write = graph_write

    def __enter__(self) -> sqlite3.Connection:
        self.raw.execute("BEGIN IMMEDIATE")
        return self.raw

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type:
            self.raw.execute("ROLLBACK")
            return
        if self._graph_write:
            self.raw.execute("UPDATE store_meta SET value = value + 1 WHERE key = 'graph_version'")
        self.raw.execute("COMMIT")
        self._committed()
