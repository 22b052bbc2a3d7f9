"""What the ledger's changes (`graph.ledger`, `graph.ledger_merges`) share: edges as a change will leave them
(`Draft`), read through from the store in batches and written back as one `ChangeSet`, and the small rules
about rows: an edge's identity, the ends of a relation a node sits at, times as the books keep them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, Literal

from graph.store import ChangeSet, Direction, EdgeKey, GraphStore
from graph.timefmt import parse_iso, to_iso
from ontology import Relation

#: Edges looked up by identity at a time (each names its src and dst: two lists of this length).
LOOKUP_BATCH = 400

#: An end of an edge, and the direction an edge leaves a node at that end in.
End = Literal["src", "dst"]
DIRECTION: dict[End, Direction] = {"src": "out", "dst": "in"}

#: A stored row of a node or an edge: its properties, and with `lineage=True` its `graph.lineage` tags.
Row = dict[str, Any]
#: A record for the store's log: (kind, key, body).
Entry = tuple[str, str, Mapping[str, Any]]


def now_text() -> str:
    return to_iso(datetime.now(UTC))


def time_of(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON keeps it: times as `graph.timefmt` text."""
    return {k: to_iso(v) if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
            for k, v in row.items()}


def ident(row: Mapping[str, Any]) -> EdgeKey:
    return row["src"], row["dst"], row.get("key") or ""


def ends_at(rel: Relation, label: str) -> list[End]:
    """The ends of `rel` a `label` node sits at (both, for a relation from a label to itself)."""
    ends: tuple[tuple[End, str], ...] = (("src", rel.source), ("dst", rel.target))
    return [end for end, end_label in ends if end_label == label]


class Draft:
    """Edges as a change will leave them: read through from the store, changed in memory, then one `ChangeSet`."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.edges: dict[tuple[str, EdgeKey], Row | None] = {}  # None: not stored, or deleted by this change
        self.stored: set[tuple[str, EdgeKey]] = set()
        self.dirty: list[tuple[str, EdgeKey]] = []
        self.nodes: dict[str, list[Mapping[str, Any]]] = {}
        self.gone_nodes: dict[str, list[str]] = {}

    def seen(self, relation: str, rows: Iterable[Row]) -> list[Row]:
        """Rows just read from the store, remembered (a row changed in this draft wins)."""
        out = []
        for row in rows:
            at = (relation, ident(row))
            if at not in self.edges:
                self.edges[at] = row
                self.stored.add(at)
            now = self.edges[at]
            if now is not None:
                out.append(now)
        return out

    def edge(self, relation: str, key: EdgeKey) -> Row | None:
        if (relation, key) not in self.edges:
            self.prefetch(relation, [key])
        return self.edges[(relation, key)]

    def prefetch(self, relation: str, keys: Sequence[EdgeKey]) -> None:
        """Read these edges (or learn they are not stored) in one lookup, not one per edge."""
        wanted = sorted({k for k in keys if (relation, k) not in self.edges})
        for start in range(0, len(wanted), LOOKUP_BATCH):  # both ends are listed: keep each lookup small
            some = set(wanted[start : start + LOOKUP_BATCH])
            where = {"src": [k[0] for k in some], "dst": [k[1] for k in some]}
            self.seen(relation, [r for r in self.store.read_rows(relation, where, lineage=True) if ident(r) in some])
        for k in wanted:
            self.edges.setdefault((relation, k), None)

    def prefetch_all(self, edges: Iterable[tuple[str, EdgeKey]]) -> None:
        """`prefetch` of edges of several relations: one lookup per relation."""
        by_relation: dict[str, list[EdgeKey]] = {}
        for relation, key in edges:
            by_relation.setdefault(relation, []).append(key)
        for relation, keys in by_relation.items():
            self.prefetch(relation, keys)

    def put(self, relation: str, row: Mapping[str, Any]) -> None:
        self.edge(relation, ident(row))
        self.edges[(relation, ident(row))] = {**row, "key": row.get("key") or ""}
        self.dirty.append((relation, ident(row)))

    def delete(self, relation: str, key: EdgeKey) -> None:
        self.edge(relation, key)
        self.edges[(relation, key)] = None
        self.dirty.append((relation, key))

    def changes(self, *records: Entry) -> ChangeSet:
        gone: dict[str, list[EdgeKey]] = {}
        put: dict[str, list[Row]] = {}
        for at in dict.fromkeys(self.dirty):
            if at in self.stored:
                gone.setdefault(at[0], []).append(at[1])
            row = self.edges[at]
            if row is not None:
                put.setdefault(at[0], []).append(row)
        return ChangeSet(delete_edges=gone, delete_nodes=self.gone_nodes, put_nodes=self.nodes, put_edges=put,
                         records=records)
