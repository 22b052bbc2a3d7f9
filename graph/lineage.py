"""Load bookkeeping the store keeps beside the graph: loads, lineage, merges and tombstones.

These records answer "where did this fact come from, and what did the
loader decide about it?":

- `LoadRecord`: one per load (source, mapping, start, state, progress), so an
  interrupted load stays visible as `running` (or `interrupted` once a later
  load of the same source finished);
- `Provenance`: the load, source file and line that last wrote a node or edge
  (stored on the row itself, in the `LINEAGE_COLUMNS`);
- `MergeRecord`: an identity-resolution decision (kept id, merged id, rule,
  score), with what is needed to undo it;
- `Tombstone`: a record a full export no longer holds, moved out of the graph
  with the load that noticed, never deleted silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

#: Bookkeeping columns on every node and edge; never part of the ontology's properties.
LOAD_ID, SOURCE_FILE, SOURCE_LINE = "_load_id", "_source_file", "_source_line"
LINEAGE_COLUMNS = (LOAD_ID, SOURCE_FILE, SOURCE_LINE)

#: Record kinds (`graph.records`) the ledger (`graph.ledger`) keeps its books in: one record per event.
LOAD_KIND, MERGE_KIND, TOMBSTONE_KIND = "ledger.load", "ledger.merge", "ledger.tombstone"

LoadState = Literal["running", "finished", "failed", "interrupted"]
MergeState = Literal["active", "undone"]


@dataclass(frozen=True)
class LoadRecord:
    """One load: what it read, through which mapping, and how far it got.

    `batches` and `rows_written` advance in the same transaction as each
    batch, so after a crash they say exactly what was committed.
    """

    load_id: str
    source: str
    mapping: str
    started: datetime
    mode: str = "full"
    state: LoadState = "running"
    finished: datetime | None = None
    batches: int = 0
    rows_written: int = 0
    summary: Mapping[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a stored node or edge was last written from (all None when written outside a load)."""

    load_id: str | None
    source_file: str | None
    source_line: int | None

    @classmethod
    def of(cls, row: Any) -> Provenance:
        """From a row holding the `LINEAGE_COLUMNS` (a dict, or a database row that converts to one)."""
        data = row if isinstance(row, Mapping) else dict(row)
        return cls(data.get(LOAD_ID), data.get(SOURCE_FILE), data.get(SOURCE_LINE))


@dataclass(frozen=True)
class EdgeLineage:
    relation: str
    direction: Literal["out", "in"]
    src: str
    dst: str
    key: str
    provenance: Provenance


@dataclass(frozen=True)
class NodeLineage:
    """A node's own provenance and that of every edge touching it."""

    label: str
    node_id: str
    provenance: Provenance
    edges: tuple[EdgeLineage, ...] = ()


@dataclass(frozen=True)
class Redirect:
    """An edge a merge changed: its `end` re-pointed from the merged id to the kept id (None: not moved),
    and the properties in `filled` set where they were empty (a job's `since` / `until` ordered by the
    records' times). `src` / `dst` / `key` name the edge as it is after the merge; undo empties `filled`
    again and points `end` back, so both records get their own relations exactly as they were.
    """

    relation: str
    src: str
    dst: str
    key: str
    end: Literal["src", "dst"] | None
    filled: tuple[str, ...] = ()


@dataclass(frozen=True)
class Close:
    """A stored edge of the kept record that a merge ends at `at` if it is still open: the kept record's
    job ended when the merged record's began. The store records each one it closed as a `Redirect`."""

    relation: str
    src: str
    dst: str
    key: str
    at: date


@dataclass(frozen=True)
class SetAside:
    """A relation of the merged record the kept one cannot also hold (a second parent where one is allowed,
    or a loop between the two), kept with the merge as it was read (`edge`: src, dst, key, properties,
    lineage) and written back by undo."""

    relation: str
    edge: Mapping[str, Any]


@dataclass(frozen=True)
class MergeRecord:
    """One identity decision: `merged_id` is the same real-world thing as `kept_id`.

    `merged_row` is the merged record as it was read (restored by undo);
    `redirects` are the edges that were re-pointed to `kept_id` or had a time filled in;
    `closes` are stored jobs of `kept_id` to end (only on the way in: `record_merges`
    turns each one it closed into a redirect); `set_aside` are the merged record's
    relations the kept one could not take.
    """

    label: str
    kept_id: str
    merged_id: str
    rule: str
    score: float
    load_id: str
    detail: str = ""
    merged_row: Mapping[str, Any] | None = None
    redirects: tuple[Redirect, ...] = ()
    closes: tuple[Close, ...] = ()
    set_aside: tuple[SetAside, ...] = ()
    merge_id: int | None = None
    state: MergeState = "active"
    created_at: datetime | None = None
    undone_at: datetime | None = None


@dataclass(frozen=True)
class Tombstone:
    """A node or edge a full export no longer holds: moved out of the graph, kept here."""

    kind: Literal["node", "edge"]
    name: str  # label or relation
    ident: tuple[str, ...]  # (id,) or (src, dst, key)
    load_id: str
    reason: str
    row: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None


def redirects_to_json(redirects: Sequence[Redirect]) -> str:
    """How both stores keep a merge's redirects: one JSON list per edge (`filled` only when set)."""
    return json.dumps([[r.relation, r.src, r.dst, r.key, r.end, *([list(r.filled)] if r.filled else [])]
                       for r in redirects])


def redirects_from_json(text: str | None) -> list[Redirect]:
    """Redirects as `redirects_to_json` wrote them (records written before `filled` existed read the same)."""
    return [Redirect(relation, src, dst, key, end, tuple(rest[0]) if rest else ())
            for relation, src, dst, key, end, *rest in json.loads(text or "[]")]


def set_aside_to_json(edges: Sequence[SetAside]) -> str:
    return json.dumps([[e.relation, dict(e.edge)] for e in edges], default=str)


def set_aside_from_json(text: str | None) -> list[SetAside]:
    return [SetAside(relation, edge) for relation, edge in json.loads(text or "[]")]


def progress_entry(load_id: str, rows: int) -> tuple[str, dict[str, Any]]:
    """The record (key, body) of `LOAD_KIND` a store appends with each batch written for a load, in the
    batch's own transaction: `graph.ledger` counts them into `LoadRecord.batches` / `rows_written`."""
    return load_id, {"event": "batch", "rows": rows}
