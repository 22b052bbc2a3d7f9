"""The load ledger, written once above the store contract: loads, lineage, merges and their undo, retired records.

Every backend keeps it the same way, through three parts of `graph.store.GraphStore`:
`read_rows(..., lineage=True)` to read what is stored with its provenance, `apply` to
change the graph and append the ledger's records in one transaction, and the record log
(`read_records`) to read the books back. The books are events, never updated: a load is
its `begin` record, one `batch` record per batch (appended by the store with the batch)
and its `finish`; a merge is its `merge` record, later `update`s and an `undo`; a
retired node or edge is one tombstone record. What the API shows is folded from them.
Merges and their undo live in `graph.ledger_merges`; what a change reads and writes, in
`graph.ledger_draft`.

Example:
    >>> ledger = Ledger(store)
    >>> ledger.begin_load(LoadRecord("L1", "/exports/crm", "salesforce", started))
    >>> [m] = ledger.record_merges([MergeRecord("Account", "a1", "a9", "same_website", 1.0, "L1")])
    >>> ledger.undo_merge(m.merge_id)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import date
from typing import Any

from graph.ledger_draft import DIRECTION, Draft, Entry, ends_at, ident, now_text, plain, time_of
from graph.ledger_merges import MergeBooks
from graph.lineage import (
    LOAD_ID,
    LOAD_KIND,
    SOURCE_FILE,
    SOURCE_LINE,
    TOMBSTONE_KIND,
    EdgeLineage,
    LoadRecord,
    LoadState,
    NodeLineage,
    Provenance,
    Tombstone,
    progress_entry,
)
from graph.store import EdgeKey, GraphStore
from graph.timefmt import parse_iso, to_iso


class Ledger(MergeBooks):
    """The books of one store's loads (`graph.lineage` types); holds nothing but the store."""

    def __init__(self, store: GraphStore) -> None:
        self.store, self.schema = store, store.schema

    # ---- loads
    def begin_load(self, record: LoadRecord) -> None:
        """Record a load as `running` before it writes anything."""
        self.store.append_records(LOAD_KIND, [(record.load_id, {
            "event": "begin", "source": record.source, "mapping": record.mapping, "mode": record.mode,
            "started": to_iso(record.started)})])

    def finish_load(self, load_id: str, state: LoadState, summary: Mapping[str, Any] | None = None,
                    error: str | None = None) -> None:
        """Mark a load `finished` or `failed`. A finished load makes the earlier `running` loads of the same
        source and mapping `interrupted`: it has replaced their work."""
        self.store.append_records(LOAD_KIND, [(load_id, {
            "event": "finish", "state": state, "finished": now_text(), "error": error,
            "summary": json.loads(json.dumps(summary, default=str)) if summary is not None else None})])

    def loads(self, load_id: str | None = None) -> list[LoadRecord]:
        """Every load (or the one named), newest first."""
        found: dict[str, LoadRecord] = {}
        begun: dict[str, int] = {}
        for r in self.store.read_records(LOAD_KIND):
            b, old = r.body, found.get(r.key)
            if b["event"] == "begin":
                found[r.key] = LoadRecord(r.key, b["source"], b["mapping"], parse_iso(b["started"]),
                                          b.get("mode", "full"))
                begun[r.key] = r.seq
            elif old is not None and b["event"] == "batch":  # a batch written outside a begun load counts nowhere
                found[r.key] = replace(old, batches=old.batches + b.get("batches", 1),
                                       rows_written=old.rows_written + b["rows"])
            elif old is not None and b["event"] == "finish":
                found[r.key] = replace(old, state=b["state"], finished=time_of(b["finished"]), summary=b.get("summary"),
                                       error=b.get("error"))
        done = [f for f in found.values() if f.state == "finished"]
        out = [replace(x, state="interrupted") if x.state == "running" and any(
            f.load_id != x.load_id and (f.source, f.mapping) == (x.source, x.mapping) and x.started <= f.started
            for f in done) else x for x in found.values()]
        out.sort(key=lambda x: (x.started, begun[x.load_id]), reverse=True)
        return [x for x in out if load_id is None or x.load_id == load_id]

    # ---- lineage
    def lineage(self, node_id: str) -> list[NodeLineage]:
        """Provenance of each node with this id (one per label holding it) and of its edges."""
        out = []
        for label, node in self.schema.nodes.items():
            found = self.store.read_rows(label, {node.key: [node_id]}, lineage=True)
            if not found:
                continue
            edges = [EdgeLineage(rel.name, DIRECTION[end], r["src"], r["dst"], r["key"], Provenance.of(r))
                     for rel in self.schema.relations_touching(label) for end in ends_at(rel, label)
                     for r in self.store.read_rows(rel.name, {end: [node_id]}, lineage=True)]
            out.append(NodeLineage(label, node_id, Provenance.of(found[0]), tuple(edges)))
        return out

    def edge_keys(self, relation: str) -> set[EdgeKey]:
        """Every (src, dst, key) of `relation` (incremental loads compare exports against it)."""
        return {ident(r) for r in self.store.read_rows(relation)}

    # ---- incremental loads
    def end_edges(self, relation: str, keys: Iterable[EdgeKey], at: date, load_id: str, reason: str) -> int:
        """Set the relation's `valid_to` to `at` on those edges still open, in one transaction. History is kept:
        the edge stays, closed, tagged with `load_id` and `reason` (as its source file). Returns the number closed."""
        until = self.schema.relations[relation].valid_to
        if not until:
            raise ValueError(f"{relation} has no end time to set")
        draft, keys = Draft(self.store), list(dict.fromkeys(keys))
        draft.prefetch(relation, keys)
        for row in [draft.edge(relation, k) for k in keys]:
            if row is not None and row.get(until) is None:
                draft.put(relation, {**row, until: at, LOAD_ID: load_id, SOURCE_FILE: reason, SOURCE_LINE: None})
        ended = len(draft.dirty)
        if ended:
            self.store.apply(draft.changes((LOAD_KIND, *progress_entry(load_id, ended))))
        return ended

    def retire(self, load_id: str, nodes: Mapping[str, Iterable[str]], edges: Mapping[str, Iterable[EdgeKey]],
               reason: str) -> dict[str, int]:
        """Move nodes (with every edge touching them) and edges out of the graph into tombstones, in one
        transaction; returns the number retired per label / relation."""
        draft, at = Draft(self.store), now_text()
        stones: list[Entry] = []
        counts: dict[str, int] = {}

        def bury(kind: str, name: str, row: Mapping[str, Any], identity: tuple[str, ...], why: str) -> None:
            stones.append((TOMBSTONE_KIND, load_id, {"kind": kind, "name": name, "ident": list(identity), "reason": why,
                                                     "row": plain(row), "at": at}))
            counts[name] = counts.get(name, 0) + 1

        for label, ids in nodes.items():
            node, ids = self.schema.nodes[label], list(dict.fromkeys(ids))
            for rel in self.schema.relations_touching(label):  # edges first: an edge never outlives either end
                for end in ends_at(rel, label):
                    for row in draft.seen(rel.name, self.store.read_rows(rel.name, {end: ids}, lineage=True)):
                        bury("edge", rel.name, row, ident(row), f"{reason}; its {label} {row[end]} was retired")
                        draft.delete(rel.name, ident(row))
            for row in self.store.read_rows(label, {node.key: ids}, lineage=True) if ids else []:
                bury("node", label, row, (row[node.key],), reason)
                draft.gone_nodes.setdefault(label, []).append(row[node.key])
        for relation, named in edges.items():
            keys = list(dict.fromkeys(named))
            draft.prefetch(relation, keys)
            for found in [draft.edge(relation, k) for k in keys]:
                if found is not None:
                    bury("edge", relation, found, ident(found), reason)
                    draft.delete(relation, ident(found))
        self.store.apply(draft.changes(*stones, (LOAD_KIND, *progress_entry(load_id, 0))))
        return counts

    def tombstones(self, load_id: str | None = None) -> list[Tombstone]:
        """Retired records (of one load), oldest first."""
        return [Tombstone(b["kind"], b["name"], tuple(b["ident"]), r.key, b["reason"], b["row"], time_of(b["at"]))
                for r in self.store.read_records(TOMBSTONE_KIND, key=load_id) for b in [r.body]]
