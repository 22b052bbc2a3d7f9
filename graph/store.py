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

Load bookkeeping (`graph.lineage`): every write a load makes names its load
id, and its rows may carry `_source_file` / `_source_line`; a batch and the
load's progress counter commit together, so a crash leaves whole batches
only. Reads of the graph (`get_nodes`, `neighbours`, `read_tables`, ...)
return ontology properties only; the bookkeeping has its own methods.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from graph.explanation import Explanation
from graph.lineage import LoadRecord, LoadState, MergeRecord, MergeState, NodeLineage, Tombstone
from graph.records import Record
from ontology import Schema

if TYPE_CHECKING:
    from graph.snapshot import Snapshot

Direction = Literal["out", "in"]


class DealgraphError(Exception):
    """Root of every error dealgraph raises on purpose."""


class StoreError(DealgraphError):
    """The store could not be opened, read or written."""


class InvalidInput(DealgraphError):
    """Input that cannot be used as given (CLI exit code 1)."""


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


class GraphStore(ABC):
    """A property-graph store shaped by the ontology's `Schema`.

    Nodes are dictionaries of the node type's properties plus its key (`id`);
    edges carry `src`, `dst` and the relation's properties. Implementations
    must make each `upsert_*` batch atomic and idempotent by key.
    """

    schema: Schema
    #: Whether `changes_since` reports writes (else it returns None).
    tracks_changes: bool = False

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        """Insert or update nodes by key in one transaction; returns the number written.

        With `load_id`, the rows are tagged with it (with their `_source_file` /
        `_source_line` when given) and the load's `batches` / `rows_written`
        advance in the same transaction.
        """

    @abstractmethod
    def upsert_edges(self, relation: str, rows: Sequence[Mapping[str, Any]], load_id: str | None = None) -> int:
        """Insert or update edges (`src`, `dst`, optional `key`, properties) in one transaction.

        An edge is identified by (src, dst, key): `key` (default "") tells parallel
        edges apart, e.g. two line items for the same product on one deal. A
        functional relation keeps one edge per `src`. `load_id` as for `upsert_nodes`.
        """

    @abstractmethod
    def get_nodes(self, label: str, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The nodes of `label` with these ids that exist, by id."""

    def get_node(self, label: str, node_id: str) -> dict[str, Any] | None:
        return self.get_nodes(label, [node_id]).get(node_id)

    @abstractmethod
    def node_ids(self, label: str) -> set[str]:
        """Every id of `label` (the loader checks references against it)."""

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

    @abstractmethod
    def read_tables(self) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
        """Every node row by label and every edge row by relation: the raw snapshot."""

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

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of nodes per label and edges per relation."""

    # ---- scores
    @abstractmethod
    def write_scores(self, scores: Sequence[ScoreRecord]) -> int:
        """Store scores as the latest per deal and append them to the history."""

    @abstractmethod
    def latest_scores(self, deal_ids: Iterable[str]) -> dict[str, ScoreRecord]:
        """The latest score of each deal that has one."""

    @abstractmethod
    def open_deals_page(
        self,
        first: int,
        after: tuple[float, str] | None = None,
        account_id: str | None = None,
    ) -> DealPage:
        """Open deals ordered by score (highest first, then id), keyset-paginated."""

    # ---- load bookkeeping (graph.lineage)
    @abstractmethod
    def begin_load(self, record: LoadRecord) -> None:
        """Record a load as `running` before it writes anything."""

    @abstractmethod
    def finish_load(self, load_id: str, state: LoadState, summary: Mapping[str, Any] | None = None,
                    error: str | None = None) -> None:
        """Mark a load `finished` or `failed`. A finished load marks the earlier `running`
        loads of the same source and mapping `interrupted`: it has replaced their work."""

    @abstractmethod
    def loads(self, load_id: str | None = None) -> list[LoadRecord]:
        """Every load (or the one named), newest first."""

    @abstractmethod
    def lineage(self, node_id: str) -> list[NodeLineage]:
        """Provenance of each node with this id (one per label holding it) and of its edges."""

    @abstractmethod
    def edge_keys(self, relation: str) -> set[tuple[str, str, str]]:
        """Every (src, dst, key) of `relation` (incremental loads compare exports against it)."""

    @abstractmethod
    def end_edges(self, relation: str, keys: Iterable[tuple[str, str, str]], at: date, load_id: str,
                  reason: str) -> int:
        """Set the relation's `valid_to` to `at` on those edges still open, in one transaction.

        History is kept: the edge stays, now closed, tagged with `load_id` and `reason`
        (stored as its source file). Returns the number closed.
        """

    @abstractmethod
    def retire(self, load_id: str, nodes: Mapping[str, Iterable[str]],
               edges: Mapping[str, Iterable[tuple[str, str, str]]], reason: str) -> dict[str, int]:
        """Move nodes (with every edge touching them) and edges out of the graph into tombstones.

        One transaction; returns the number retired per label / relation.
        """

    @abstractmethod
    def tombstones(self, load_id: str | None = None) -> list[Tombstone]:
        """Retired records (of one load), oldest first."""

    @abstractmethod
    def record_merges(self, merges: Sequence[MergeRecord]) -> list[MergeRecord]:
        """Store identity decisions in one transaction; returns them with their `merge_id`.

        A decision already active for the same (label, merged id) is kept as it is. A
        merged id that lives in the graph is moved: its row is saved in the record,
        its edges re-pointed to the kept id (saved as redirects), the node removed.
        Each of `closes` (a stored job of the kept record) is ended if still open and
        saved as a redirect that filled its end time; its lineage is left as it was.
        """

    @abstractmethod
    def merges(self, label: str | None = None, state: MergeState | None = None) -> list[MergeRecord]:
        """Recorded identity decisions, oldest first."""

    @abstractmethod
    def undo_merge(self, merge_id: int) -> MergeRecord:
        """Restore the merged node, empty the times the merge filled in and point its redirected edges
        back, in one transaction.

        The record stays, marked `undone`, and later loads never merge the pair again.

        Raises:
            InvalidInput: no such merge, or it is already undone.
        """

    @abstractmethod
    def check_integrity(self) -> list[str]:
        """Problems with the stored graph (corruption, edges whose ends are missing); empty when sound."""

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
