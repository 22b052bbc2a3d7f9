"""The store contract: what every graph backend (SQLite, Neo4j) provides.

The contract is small on purpose: batched upserts of nodes and edges, lookup
by key, neighbours filtered by relation and time, a snapshot export for the
model, and scores with their explanations. Heavy traversal happens in memory
on snapshots, not in the database.

Time rule (one rule, used by every backend and by `Snapshot.as_of`): as of
time t, a node is visible when its time property is empty or earlier than t;
an edge is visible when both ends are, its `valid_from` is empty or earlier
than t, and its `valid_to` is empty or later than t. "Earlier" is strict: a
score at t sees only what was known before t.

Load bookkeeping (loads, lineage, merges, tombstones) is not the store's: it is
written once above the contract (`graph.ledger`), from `read_rows`, `apply`
and the record log. A write made for a load names its load id: its rows are
tagged with it (and their `_source_file` / `_source_line`), and the load's
progress record is appended in the same transaction, so a crash leaves whole
batches only. Reads of the graph (`get_nodes`, `neighbours`, `read_tables`)
return ontology properties only; `read_rows(..., lineage=True)` adds the tags.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from graph.errors import DealgraphError, InvalidInput, StoreError
from graph.explanation import Explanation
from graph.records import Record
from ontology import Schema

if TYPE_CHECKING:
    from graph.snapshot import Snapshot

Direction = Literal["out", "in"]


__all__ = ["ChangeMark", "ChangeSet", "Changes", "DealPage", "DealgraphError", "Direction", "EdgeKey", "GraphStore",
           "InvalidInput", "Neighbour", "ScoreRecord", "StoreError"]

#: An edge's identity: (src, dst, key).
EdgeKey = tuple[str, str, str]


@dataclass(frozen=True)
class Neighbour:
    """One step from a node: the edge's relation and properties, and the node at its other end."""

    relation: str
    direction: Direction
    edge: Mapping[str, Any]
    label: str
    node: Mapping[str, Any]


@dataclass(frozen=True)
class ScoreRecord:
    """A deal's win probability, with the model version and time that produced it."""

    deal_id: str
    probability: float
    model_version: str
    scored_at: datetime
    band: str
    explanation: Explanation | None = None
    previous_probability: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DealPage:
    """One page of open deals ordered by score, and the cursor of the last one."""

    deals: Sequence[Mapping[str, Any]]
    has_next: bool
    total: int


@dataclass(frozen=True)
class ChangeMark:
    """Where a store's writes stood at one moment: compare two with `GraphStore.changes_since`."""

    graph: int  # moves with every committed write other than scores
    scores: int  # position in the log of score writes


@dataclass(frozen=True)
class Changes:
    """What was written between a `ChangeMark` and `mark` (now)."""

    mark: ChangeMark
    graph_changed: bool
    scored: frozenset[str]  # deals whose scores were written (meaningful when the graph did not change)


@dataclass(frozen=True)
class ChangeSet:
    """Writes `GraphStore.apply` makes in one transaction, in this order: edges deleted, nodes deleted,
    nodes put, edges put, records appended.

    A put replaces the whole stored row by its identity (a missing property is emptied), bookkeeping
    columns (`graph.lineage.LINEAGE_COLUMNS`) included as given: what the ledger read, changed and writes
    back. Deleting a node does not delete its edges: name them too (the ledger tombstones each).
    """

    delete_edges: Mapping[str, Sequence[EdgeKey]] = field(default_factory=dict)
    delete_nodes: Mapping[str, Sequence[str]] = field(default_factory=dict)
    put_nodes: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    put_edges: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    records: Sequence[tuple[str, str, Mapping[str, Any]]] = ()  # (kind, key, body), as `append_records`

    def __bool__(self) -> bool:
        return any(v for v in (self.delete_edges, self.delete_nodes, self.put_nodes, self.put_edges, self.records))


class GraphStore(ABC):
    """A property-graph store shaped by the ontology's `Schema`.

    Nodes are dictionaries of the node type's properties plus its key (`id`);
    edges carry `src`, `dst` and the relation's properties. Implementations
    must make each `upsert_*` batch atomic and idempotent by key.
    """

    schema: Schema
    #: Whether `changes_since` reports writes (else it returns None).
    tracks_changes: bool = False
    #: Whether reads are quick and never wait (embedded, WAL): callers may run them inline rather than in a thread.
    reads_inline: bool = False

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        """Insert or update nodes by key in one transaction; returns the number written.

        With `load_id`, the rows are tagged with it (with their `_source_file` /
        `_source_line` when given) and the load's `batches` / `rows_written`
        advance in the same transaction.
        """

    def bulk_writes(self, relations: Iterable[str]) -> AbstractContextManager[None]:
        """Around a load's writes of `relations`: a store may defer work it can do once at the end (SQLite builds
        an empty edge table's `dst` index after the rows are in). Nothing by default."""
        return nullcontext()

    @abstractmethod
    def upsert_edges(self, relation: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        """Insert or update edges (`src`, `dst`, optional `key`, properties) in one transaction.

        An edge is identified by (src, dst, key): `key` (default "") tells parallel
        edges apart, e.g. two line items for the same product on one deal. A
        functional relation keeps one edge per `src`. `load_id` as for `upsert_nodes`.
        """

    @abstractmethod
    def read_rows(self, name: str, where: Mapping[str, Iterable[str]] | None = None, *,
                  lineage: bool = False) -> list[dict[str, Any]]:
        """Stored rows of a node type or relation `name`: lookup by key and the snapshot's raw rows.

        `where` keeps the rows whose column is one of the values given, for each column named: a node
        type's key, or an edge's `src` / `dst`. A node row is its key and properties; an edge row its
        `src`, `dst`, `key` and properties; `lineage` adds the bookkeeping columns. Order: by identity.
        """

    @abstractmethod
    def neighbours(
        self,
        label: str,
        node_ids: Iterable[str],
        relation: str,
        direction: Direction = "out",
        as_of: datetime | None = None,
    ) -> dict[str, list[Neighbour]]:
        """Neighbours of several nodes over one relation, by node id (batched for DataLoaders)."""

    def _walk(self, label: str, relation: str, direction: Direction) -> tuple[Any, Any]:
        """`relation` and the node type at its other end, walked `direction` from `label` (checked)."""
        rel = self.schema.relations[relation]
        if (rel.source if direction == "out" else rel.target) != label:
            raise ValueError(f"{relation} does not go {direction} of {label}")
        return rel, self.schema.nodes[rel.target if direction == "out" else rel.source]

    def snapshot(self, as_of: datetime | None = None) -> Snapshot:
        """The graph as it stood before `as_of` (everything when None)."""
        from graph.snapshot import Snapshot

        nodes, edges = self.read_tables()
        snap = Snapshot.from_rows(self.schema, nodes, edges)
        return snap if as_of is None else snap.as_of(as_of)

    # ---- scores
    @abstractmethod
    def write_scores(self, scores: Sequence[ScoreRecord]) -> int:
        """Store scores as the latest per deal and append them to the history."""

    @abstractmethod
    def read_scores(self, deal_ids: Iterable[str] | None = None, *, history: bool = False) -> list[ScoreRecord]:
        """The latest score of each deal that has one (of these deals; all when None), or with `history`
        every score written, oldest first."""

    @abstractmethod
    def open_deals_page(
        self,
        first: int,
        after: tuple[float, str] | None = None,
        account_id: str | None = None,
    ) -> DealPage:
        """Open deals ordered by score (highest first, then id), keyset-paginated."""

    # ---- one atomic change (the ledger's writes)
    @abstractmethod
    def apply(self, changes: ChangeSet) -> list[Record]:
        """Make the `changes` in one transaction, all or none; returns the records appended.

        Raises:
            StoreError: the change could not be written (nothing of it was).
        """

    # ---- the record log (graph.records): owners' bookkeeping, written once above the backends
    @abstractmethod
    def append_records(self, kind: str, entries: Sequence[tuple[str, Mapping[str, Any]]]) -> list[Record]:
        """Append (key, body) records of `kind` in one transaction; returns them with their `seq` and time.

        Append-only: nothing in the contract updates or deletes a record.

        Raises:
            InvalidInput: an empty or over-long kind or key.
        """

    @abstractmethod
    def read_records(self, kind: str, key: str | None = None, after: int = 0, limit: int | None = None) -> list[Record]:
        """Records of `kind` (of one `key`) with `seq` above `after`, oldest first, at most `limit`."""

    # ---- derived from the contract (a backend may answer faster, with the same result)
    def get_nodes(self, label: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The nodes of `label` with these ids that exist, by id."""
        key = self.schema.nodes[label].key
        wanted = list(dict.fromkeys(ids))
        return {r[key]: r for r in self.read_rows(label, {key: wanted})} if wanted else {}

    def get_node(self, label: str, node_id: str) -> dict[str, Any] | None:
        return self.get_nodes(label, [node_id]).get(node_id)

    def node_ids(self, label: str) -> set[str]:
        """Every id of `label` (the loader checks references against it)."""
        key = self.schema.nodes[label].key
        return {r[key] for r in self.read_rows(label)}

    def read_tables(self) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
        """Every node row by label and every edge row by relation: the raw snapshot."""
        return ({label: self.read_rows(label) for label in self.schema.nodes},
                {name: self.read_rows(name) for name in self.schema.relations})

    def counts(self) -> dict[str, int]:
        """Number of nodes per label and edges per relation."""
        return {name: len(self.read_rows(name)) for name in [*self.schema.nodes, *self.schema.relations]}

    def latest_scores(self, deal_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        """The latest score of each deal that has one."""
        wanted = list(dict.fromkeys(deal_ids))
        return {s.deal_id: s for s in self.read_scores(wanted)} if wanted else {}

    def check_integrity(self) -> list[str]:
        """Problems with the stored graph (edges whose ends are missing); empty when sound."""
        problems = []
        for rel in self.schema.relations.values():
            rows = self.read_rows(rel.name)
            for end, label in (("src", rel.source), ("dst", rel.target)):
                missing = {r[end] for r in rows} - self.node_ids(label)
                n = sum(1 for r in rows if r[end] in missing)
                if n:
                    problems.append(f"{rel.name}: {n} edge(s) whose {end} names no {label}")
        return problems

    def changes_since(self, mark: ChangeMark | None) -> Changes | None:
        """What was written since `mark` (None: since ever, so `graph_changed`), for caches of what was read.

        None when the backend does not track its writes (the default; Neo4j): then nothing read from it may
        be cached beyond one request.
        """
        return None

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> GraphStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
