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
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Literal, Mapping, Sequence

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
    explanation: Mapping[str, Any] | None = None
    previous_probability: float | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DealPage:
    """One page of open deals ordered by score, and the cursor of the last one."""

    deals: list[Mapping[str, Any]]
    has_next: bool
    total: int


class GraphStore(ABC):
    """A property-graph store shaped by the ontology's `Schema`.

    Nodes are dictionaries of the node type's properties plus its key (`id`);
    edges carry `src`, `dst` and the relation's properties. Implementations
    must make each `upsert_*` batch atomic and idempotent by key.
    """

    schema: Schema

    @abstractmethod
    def upsert_nodes(self, label: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or update nodes by key in one transaction; returns the number written."""

    @abstractmethod
    def upsert_edges(self, relation: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or update edges (`src`, `dst`, optional `key`, properties) in one transaction.

        An edge is identified by (src, dst, key): `key` (default "") tells parallel
        edges apart, e.g. two line items for the same product on one deal. A
        functional relation keeps one edge per `src`.
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

    def snapshot(self, as_of: datetime | None = None) -> "Snapshot":
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

    @abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> "GraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
