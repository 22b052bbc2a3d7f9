"""The production store: Neo4j through the official driver, shaped by the `Schema`.

Nodes carry their type's label and properties; relations are relationships of
the relation's type (a functional one keeps one per source, the others are
told apart by (src, dst, `key`)). Constraints and indexes come from the
schema on open; the Cypher comes from `graph.cypher`, always parameterised.

Writes: each `upsert_*` / `write_scores` call is one managed write
transaction (`Session.execute_write`, which retries transient errors such as
deadlocks and leader switches), sending `UNWIND $rows` batches; the whole call
commits or nothing does. Reads run in managed read transactions
(`execute_read`, routed to readers in a cluster). Sessions are per call and
share the driver's bookmark manager, so a read sees the writes before it, and
threads can share one store (the driver is thread-safe, sessions are not).

Times are stored as native temporal values (DATETIME in UTC for xsd:dateTime,
DATE for xsd:date), truncated to whole seconds like `graph.timefmt`, so Cypher
users get real temporal arithmetic and range indexes; they are read back as
the same ISO text the SQLite store returns, so callers see one contract.

Lineage: a write made for a load (`load_id`) sets `_load_id`, `_source_file`
and `_source_line` on each node and relationship, and advances the load's
progress record in the same transaction; the ledger's books are records
(`graph.ledger`, `graph.neo4j_records`).

Example:
    >>> store = Neo4jStore.connect("neo4j://localhost:7687", load_schema(), user="neo4j", password="...")
    >>> store.upsert_nodes("Account", [{"id": "a1", "name": "Acme"}])
    1
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from graph import cypher
from graph.deals import DealShape
from graph.explanation import dump_explanation, load_explanation
from graph.lineage import LINEAGE_COLUMNS, LOAD_ID, LOAD_KIND, SOURCE_FILE, SOURCE_LINE, progress_entry
from graph.neo4j_records import Neo4jRecordLog
from graph.records import Record
from graph.store import ChangeSet, DealPage, Direction, GraphStore, InvalidInput, Neighbour, ScoreRecord, StoreError
from graph.timefmt import parse_iso, to_iso, to_utc
from ontology import NodeType, Relation, Schema

if TYPE_CHECKING:
    from neo4j import Driver, ManagedTransaction

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
#: Rows per `UNWIND $rows` statement; a call with more sends several in its one transaction.
BATCH_SIZE = 5000
INDEX_WAIT_S = 300


def redact(url: str) -> str:
    """The URL without its password, for messages: `neo4j://neo4j:***@host:7687`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def parse_url(url: str) -> tuple[str, str | None, str | None, str | None]:
    """`neo4j://user:pw@host:7687/db?policy=x` -> (driver URI without credentials or path, database, user, password).

    Raises:
        InvalidInput: not a Neo4j URL, or no host.
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise InvalidInput(f"{redact(url)!r} is not a Neo4j URL ({', '.join(s + '://' for s in SCHEMES)})")
    if not parts.hostname:
        raise InvalidInput(f"store URL {redact(url)!r} names no host; use neo4j://HOST:7687")
    database = parts.path.strip("/") or None
    if database and "/" in database:
        raise InvalidInput(f"store URL {redact(url)!r}: the path names one database, e.g. neo4j://host:7687/neo4j")
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    uri = urlunsplit((parts.scheme, netloc, "", parts.query, ""))
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return uri, database, user, password


# ---- values in and out


def to_db(datatype: str, value: Any) -> Any:
    """A property value as the driver should send it for the schema's xsd datatype.

    Raises:
        StoreError: a value no Neo4j property can hold as that type (e.g. a dict).
    """
    if value is None:
        return None
    try:
        if datatype == "dateTime":
            if isinstance(value, str):
                value = parse_iso(value)
            elif not isinstance(value, datetime) and isinstance(value, date):
                value = datetime(value.year, value.month, value.day, tzinfo=UTC)
            if isinstance(value, datetime):
                return to_utc(value).replace(microsecond=0)
        elif datatype == "date":
            if isinstance(value, datetime):
                return to_utc(value).date()
            if isinstance(value, date):
                return value
            if isinstance(value, str):
                return date.fromisoformat(value[:10])
        elif datatype == "boolean":
            if isinstance(value, (bool, int)):
                return bool(value)
        elif datatype == "integer":
            if isinstance(value, (int, float)) and not isinstance(value, bool) and float(value).is_integer():
                return int(value)
        elif datatype == "decimal":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
        elif isinstance(value, str):
            return value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    except ValueError as e:
        raise StoreError(f"cannot store {value!r} as xsd:{datatype}: {e}") from e
    raise StoreError(f"cannot store {value!r} ({type(value).__name__}) as xsd:{datatype}")


def from_db(value: Any) -> Any:
    """A value read from Neo4j as the contract returns it: times as `graph.timefmt` text."""
    if value is None:
        return None
    to_native = getattr(value, "to_native", None)  # neo4j.time.DateTime / Date
    if to_native is not None:
        value = to_native()
    if isinstance(value, datetime):
        return to_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _native_datetime(value: Any) -> datetime:
    to_native = getattr(value, "to_native", None)
    return to_utc(to_native() if to_native is not None else value)


def _props(typed: NodeType | Relation, row: Mapping[str, Any]) -> dict[str, Any]:
    """Every property of the type (null removes it), converted for the driver."""
    return {p.name: to_db(p.datatype, row.get(p.name)) for p in typed.properties}


def _lineage(row: Mapping[str, Any], load_id: str | None) -> dict[str, Any]:
    """The bookkeeping properties of a row written for a load (none outside a load)."""
    if load_id is None:
        return {}
    return {LOAD_ID: load_id, SOURCE_FILE: row.get(SOURCE_FILE), SOURCE_LINE: row.get(SOURCE_LINE)}


def _last_per(rows: Iterable[Mapping[str, Any]], key: Callable[[Mapping[str, Any]], Any]) -> list[Mapping[str, Any]]:
    """One row per identity, the last one winning: what a row-by-row upsert would leave."""
    out: dict[Any, Mapping[str, Any]] = {}
    for row in rows:
        out.pop(key(row), None)
        out[key(row)] = row
    return list(out.values())


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


class DanglingEdges(StoreError):
    """Edges whose source or target node does not exist (Neo4j cannot hold them)."""


class Neo4jStore(Neo4jRecordLog, GraphStore):
    """`GraphStore` on a Neo4j database. Build it with `connect` (or inject a driver for tests)."""

    def __init__(
        self, driver: Driver, schema: Schema, database: str | None = None, *, batch_size: int = BATCH_SIZE
    ) -> None:
        clash = set(cypher.STORE_LABELS) & set(schema.nodes)
        if clash:
            raise ValueError(f"schema node types {sorted(clash)} clash with the store's own labels")
        self.schema = schema
        self.database = database
        self.batch_size = batch_size
        self._driver = driver
        self._ensure_schema()

    @classmethod
    def connect(
        cls, url: str, schema: Schema, *, user: str | None = None, password: str | None = None,
        database: str | None = None,
    ) -> Neo4jStore:
        """Open the database a `neo4j://` / `bolt://` URL names (credentials in the URL win over the arguments).

        Raises:
            InvalidInput: the URL is not a usable Neo4j URL.
            StoreError: no server answers, or it refuses the credentials.
        """
        from neo4j import GraphDatabase
        from neo4j.exceptions import AuthError, DriverError, Neo4jError

        uri, url_database, url_user, url_password = parse_url(url)
        user, password = url_user or user, url_password if url_password is not None else password
        auth = (user, password or "") if user else None
        try:
            driver = GraphDatabase.driver(uri, auth=auth, connection_timeout=10.0)
        except (DriverError, ValueError) as e:
            raise InvalidInput(f"store URL {redact(url)!r}: {e}") from e
        try:
            driver.verify_connectivity()
        except AuthError as e:
            driver.close()
            who = f"user {user!r}" if user else "no credentials"
            raise StoreError(f"Neo4j at {redact(url)} refused {who}: {e.message or e}") from e
        except (DriverError, Neo4jError) as e:
            driver.close()
            raise StoreError(f"cannot reach Neo4j at {redact(url)}: {e}") from e
        try:
            return cls(driver, schema, database or url_database)
        except BaseException:
            driver.close()
            raise

    # ---- plumbing
    def _session(self):
        # One session per call (sessions are not thread-safe); the shared bookmark manager
        # gives causal consistency across them: a read after a write sees it, in a cluster too.
        return self._driver.session(
            database=self.database, bookmark_manager=self._driver.execute_query_bookmark_manager
        )

    def _run(self, write: bool, work: Callable[[ManagedTransaction], T], what: str) -> T:
        from neo4j.exceptions import DriverError, Neo4jError

        try:
            with self._session() as session:
                return session.execute_write(work) if write else session.execute_read(work)
        except StoreError:
            raise
        except (Neo4jError, DriverError) as e:
            raise StoreError(f"Neo4j {what}: {e}") from e

    def _read(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]:
        return self._run(False, lambda tx: tx.run(query, params).data(), what)

    def _ensure_schema(self) -> None:
        from neo4j.exceptions import DriverError, Neo4jError

        try:
            for statement in cypher.schema_statements(self.schema):
                self._driver.execute_query(statement, database_=self.database)
            self._driver.execute_query(cypher.AWAIT_INDEXES, {"seconds": INDEX_WAIT_S}, database_=self.database)
            log.debug("Neo4j constraints and indexes in place for schema %s", self.schema.fingerprint)
        except (Neo4jError, DriverError) as e:
            raise StoreError(f"creating Neo4j constraints and indexes: {e}") from e

    def _node(self, node: NodeType, props: Mapping[str, Any]) -> dict[str, Any]:
        return {node.key: props.get(node.key), **{p: from_db(props.get(p)) for p in node.property_names}}

    # ---- writes
    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        node = self.schema.nodes[label]
        if not rows:
            return 0
        payload = [{"key": r[node.key], "props": {**_props(node, r), **_lineage(r, load_id)}}
                   for r in _last_per(rows, lambda r: r[node.key])]
        query = cypher.merge_nodes(node)
        if load_id is not None:
            self._records_schema()

        def work(tx: ManagedTransaction) -> None:
            for chunk in _chunks(payload, self.batch_size):
                tx.run(query, rows=chunk).consume()
            self._count_batch(tx, load_id, len(payload))

        self._run(True, work, f"writing {label}")
        return len(rows)

    def upsert_edges(self, relation: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        rel = self.schema.relations[relation]
        if not rows:
            return 0
        identity = (lambda r: r["src"]) if rel.functional else (lambda r: (r["src"], r["dst"], r.get("key") or ""))
        payload = [
            {"src": r["src"], "dst": r["dst"], "key": r.get("key") or "",
             "props": {"key": r.get("key") or "", **_props(rel, r), **_lineage(r, load_id)}}
            for r in _last_per(rows, identity)
        ]
        query, missing = cypher.merge_edges(self.schema, rel), cypher.missing_ends(self.schema, rel)
        if load_id is not None:
            self._records_schema()

        def work(tx: ManagedTransaction) -> None:
            for chunk in _chunks(payload, self.batch_size):
                written = tx.run(query, rows=chunk).single(strict=True)["written"]
                if written != len(chunk):
                    found = [(r["src"], r["dst"]) for r in tx.run(missing, rows=chunk)]
                    # Raising inside the transaction function rolls the whole call back.
                    raise DanglingEdges(
                        f"{relation}: {len(chunk) - written} edge(s) name a node that does not exist, e.g. {found}"
                    )
            self._count_batch(tx, load_id, len(payload))

        self._run(True, work, f"writing {relation}")
        return len(rows)

    # ---- reads
    def read_rows(self, name: str, where: Mapping[str, Iterable[str]] | None = None, *,
                  lineage: bool = False) -> list[dict[str, Any]]:
        params = {c: list(dict.fromkeys(v)) for c, v in (where or {}).items()}
        node = self.schema.nodes.get(name)
        allowed = [node.key] if node else ["src", "dst"]
        if set(params) - set(allowed):
            raise ValueError(f"{name} rows are looked up by {allowed}, not {sorted(set(params) - set(allowed))}")
        if any(not v for v in params.values()):
            return []
        extra = LINEAGE_COLUMNS if lineage else ()
        rows = self._read(cypher.read_rows(self.schema, name, tuple(params)), f"reading {name}", **params)
        if node is not None:
            return [{**self._node(node, r["props"]), **{c: r["props"].get(c) for c in extra}} for r in rows]
        rel = self.schema.relations[name]
        return [{"src": r["src"], "dst": r["dst"], "key": r["props"].get("key") or "",
                 **{p: from_db(r["props"].get(p)) for p in rel.property_names}, **{c: r["props"].get(c) for c in extra}}
                for r in rows]

    def node_ids(self, label: str) -> set[str]:
        node = self.schema.nodes[label]
        return {r["id"] for r in self._read(cypher.node_ids(node), f"reading {label} ids")}

    def neighbours(
        self,
        label: str,
        node_ids: Iterable[str],
        relation: str,
        direction: Direction = "out",
        as_of: datetime | None = None,
    ) -> dict[str, list[Neighbour]]:
        rel, other = self._walk(label, relation, direction)
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return {}
        params: dict[str, Any] = {"ids": ids}
        if as_of is not None:
            params["as_of"] = to_utc(as_of).replace(microsecond=0)  # the precision times are stored at
        query = cypher.neighbours(self.schema, rel, direction, as_of is not None)
        out: dict[str, list[Neighbour]] = {}
        for r in self._read(query, f"reading {relation} neighbours", **params):
            edge = {p: from_db(r["edge"].get(p)) for p in rel.property_names}
            neighbour = Neighbour(relation, direction, edge, other.name, self._node(other, r["node"]))
            out.setdefault(r["near"], []).append(neighbour)
        return out

    def counts(self) -> dict[str, int]:
        def work(tx: ManagedTransaction) -> dict[str, int]:
            out = {label: tx.run(cypher.count_nodes(node)).single(strict=True)["n"]
                   for label, node in self.schema.nodes.items()}
            out.update({name: tx.run(cypher.count_edges(rel)).single(strict=True)["n"]
                        for name, rel in self.schema.relations.items()})
            return out

        return self._run(False, work, "counting")

    # ---- scores
    def write_scores(self, scores: Sequence[ScoreRecord]) -> int:
        if not scores:
            return 0
        seq = time.time_ns()
        rows: list[dict[str, Any]] = []
        for i, s in enumerate(scores):
            values = {
                "probability": float(s.probability),
                "model_version": s.model_version,
                "scored_at": to_utc(s.scored_at).replace(microsecond=0),
                "band": s.band,
                "explanation": dump_explanation(s.explanation),
                "metadata": json.dumps(dict(s.metadata)),
            }
            rows.append({"deal_id": s.deal_id, "props": values,
                         "history": {"deal_id": s.deal_id, "seq": seq + i, **values}})
        # A deal named twice in one call is written twice, in order: round k holds each deal's k-th score,
        # so one `UNWIND` statement never names a deal twice.
        rounds: list[list[dict]] = []
        seen: dict[str, int] = {}
        for row in rows:
            k = seen.get(row["deal_id"], 0)
            seen[row["deal_id"]] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(row)
        query = cypher.write_scores()

        def work(tx: ManagedTransaction) -> None:
            for batch in rounds:
                for chunk in _chunks(batch, self.batch_size):
                    tx.run(query, rows=chunk).consume()

        self._run(True, work, "writing scores")
        return len(rows)

    @staticmethod
    def _score(props: Mapping[str, Any]) -> ScoreRecord:
        return ScoreRecord(
            deal_id=props["deal_id"],
            probability=props["probability"],
            model_version=props["model_version"],
            scored_at=_native_datetime(props["scored_at"]),
            band=props["band"],
            explanation=load_explanation(props.get("explanation")),
            previous_probability=props.get("previous_probability"),
            metadata=json.loads(props.get("metadata") or "{}"),
        )

    def read_scores(self, deal_ids: Iterable[str] | None = None, *, history: bool = False) -> list[ScoreRecord]:
        ids = None if deal_ids is None else list(dict.fromkeys(deal_ids))
        if ids == []:
            return []
        rows = self._read(cypher.read_scores(history, ids is None), "reading scores", ids=ids)
        return [self._score(r["props"]) for r in rows]

    def open_deals_page(
        self,
        first: int,
        after: tuple[float, str] | None = None,
        account_id: str | None = None,
    ) -> DealPage:
        deal = DealShape.of(self.schema).deal
        by_account = account_id is not None
        total_query = cypher.count_open_deals(self.schema, by_account)
        page_query = cypher.open_deals_page(self.schema, by_account)
        params: dict[str, Any] = {"account_id": account_id} if by_account else {}
        page_params = {
            **params, "page_size": first + 1,
            "after_rank": float(after[0]) if after else None, "after_id": after[1] if after else None,
        }

        def work(tx: ManagedTransaction) -> tuple[int, list[dict]]:
            total = tx.run(total_query, params).single(strict=True)["total"]
            return total, tx.run(page_query, page_params).data()

        total, rows = self._run(False, work, "reading open deals")
        deals = [{**self._node(deal, r["props"]), "_rank": r["rank"]} for r in rows[:first]]
        return DealPage(deals=deals, has_next=len(rows) > first, total=total)

    # ---- the ledger's writes (`graph.ledger`)
    def _count_batch(self, tx: ManagedTransaction, load_id: str | None, rows: int) -> None:
        if load_id is not None:
            self._append_in(tx, [(LOAD_KIND, *progress_entry(load_id, rows))])

    def apply(self, changes: ChangeSet) -> list[Record]:
        self._records_schema()

        def work(tx: ManagedTransaction) -> list[Record]:
            for name, keys in changes.delete_edges.items():
                gone = [{"src": s, "dst": d, "key": k} for s, d, k in keys]
                tx.run(cypher.delete_edges(self.schema, self.schema.relations[name]), rows=gone).consume()
            for label, ids in changes.delete_nodes.items():
                tx.run(cypher.delete_nodes(self.schema.nodes[label]), ids=list(ids)).consume()
            for label, node_rows in changes.put_nodes.items():
                node = self.schema.nodes[label]
                tx.run(cypher.merge_nodes(node), rows=[
                    {"key": r[node.key], "props": {**_props(node, r), **{c: r.get(c) for c in LINEAGE_COLUMNS}}}
                    for r in node_rows]).consume()
            for name, edge_rows in changes.put_edges.items():
                rel = self.schema.relations[name]
                payload = [{"src": r["src"], "dst": r["dst"], "key": r.get("key") or "", "props": {
                    "key": r.get("key") or "", **_props(rel, r), **{c: r.get(c) for c in LINEAGE_COLUMNS}}}
                    for r in edge_rows]
                written = tx.run(cypher.merge_edges(self.schema, rel), rows=payload).single(strict=True)["written"]
                if written != len(payload):
                    raise DanglingEdges(f"{name}: an edge names a node that does not exist")
            return self._append_in(tx, list(changes.records))

        return self._run(True, work, "applying a change to the graph")

    def close(self) -> None:
        self._driver.close()
