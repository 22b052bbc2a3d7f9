"""The load ledger, written once above the store contract: loads, lineage, merges and their undo, retired records.

Every backend keeps it the same way, through three parts of `graph.store.GraphStore`:
`read_rows(..., lineage=True)` to read what is stored with its provenance, `apply` to
change the graph and append the ledger's records in one transaction, and the record log
(`read_records`) to read the books back. The books are events, never updated: a load is
its `begin` record, one `batch` record per batch (appended by the store with the batch)
and its `finish`; a merge is its `merge` record, later `update`s and an `undo`; a
retired node or edge is one tombstone record. What the API shows is folded from them.

Example:
    >>> ledger = Ledger(store)
    >>> ledger.begin_load(LoadRecord("L1", "/exports/crm", "salesforce", started))
    >>> [m] = ledger.record_merges([MergeRecord("Account", "a1", "a9", "same_website", 1.0, "L1")])
    >>> ledger.undo_merge(m.merge_id)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

from graph.errors import InvalidInput
from graph.lineage import (
    LOAD_ID,
    LOAD_KIND,
    MERGE_KIND,
    SOURCE_FILE,
    SOURCE_LINE,
    TOMBSTONE_KIND,
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
    progress_entry,
    redirects_from_json,
    redirects_to_json,
    set_aside_from_json,
    set_aside_to_json,
)
from graph.store import ChangeSet, EdgeKey, GraphStore
from graph.timefmt import parse_iso, to_iso

#: Edges looked up by identity at a time (each names its src and dst: two lists of this length).
LOOKUP_BATCH = 400


def _now() -> str:
    return to_iso(datetime.now(UTC))


def _time(text: str | None) -> datetime | None:
    return parse_iso(text) if text else None


def _plain(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON keeps it: times as `graph.timefmt` text."""
    return {k: to_iso(v) if isinstance(v, datetime) else v.isoformat() if isinstance(v, date) else v
            for k, v in row.items()}


def _ident(row: Mapping[str, Any]) -> EdgeKey:
    return row["src"], row["dst"], row.get("key") or ""


class _Draft:
    """Edges as a change will leave them: read through from the store, changed in memory, then one `ChangeSet`."""

    def __init__(self, store: GraphStore) -> None:
        self.store = store
        self.edges: dict[tuple[str, EdgeKey], dict[str, Any] | None] = {}
        self.stored: set[tuple[str, EdgeKey]] = set()
        self.dirty: list[tuple[str, EdgeKey]] = []
        self.nodes: dict[str, list[Mapping[str, Any]]] = {}
        self.gone_nodes: dict[str, list[str]] = {}

    def seen(self, relation: str, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows just read from the store, remembered (a row changed in this draft wins)."""
        out = []
        for row in rows:
            at = (relation, _ident(row))
            if at not in self.edges:
                self.edges[at] = row
                self.stored.add(at)
            if self.edges[at] is not None:
                out.append(self.edges[at])
        return out  # type: ignore[return-value]

    def edge(self, relation: str, ident: EdgeKey) -> dict[str, Any] | None:
        if (relation, ident) not in self.edges:
            self.prefetch(relation, [ident])
        return self.edges[(relation, ident)]

    def prefetch(self, relation: str, idents: Sequence[EdgeKey]) -> None:
        """Read these edges (or learn they are not stored) in one lookup, not one per edge."""
        wanted = sorted({i for i in idents if (relation, i) not in self.edges})
        for start in range(0, len(wanted), LOOKUP_BATCH):  # both ends are listed: keep each lookup small
            some = set(wanted[start : start + LOOKUP_BATCH])
            where = {"src": [i[0] for i in some], "dst": [i[1] for i in some]}
            self.seen(relation, [r for r in self.store.read_rows(relation, where, lineage=True) if _ident(r) in some])
        for i in wanted:
            self.edges.setdefault((relation, i), None)

    def put(self, relation: str, row: Mapping[str, Any]) -> None:
        self.edge(relation, _ident(row))
        self.edges[(relation, _ident(row))] = {**row, "key": row.get("key") or ""}
        self.dirty.append((relation, _ident(row)))

    def delete(self, relation: str, ident: EdgeKey) -> None:
        self.edge(relation, ident)
        self.edges[(relation, ident)] = None
        self.dirty.append((relation, ident))

    def changes(self, *records: tuple[str, str, Mapping[str, Any]]) -> ChangeSet:
        gone: dict[str, list[EdgeKey]] = {}
        put: dict[str, list[dict[str, Any]]] = {}
        for at in dict.fromkeys(self.dirty):
            if at in self.stored:
                gone.setdefault(at[0], []).append(at[1])
            if self.edges[at] is not None:
                put.setdefault(at[0], []).append(self.edges[at])  # type: ignore[arg-type]
        return ChangeSet(delete_edges=gone, delete_nodes=self.gone_nodes, put_nodes=self.nodes, put_edges=put,
                         records=records)


class Ledger:
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
            "event": "finish", "state": state, "finished": _now(), "error": error,
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
                found[r.key] = replace(old, state=b["state"], finished=_time(b["finished"]), summary=b.get("summary"),
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
            edges = [EdgeLineage(rel.name, direction, r["src"], r["dst"], r["key"], Provenance.of(r))  # type: ignore[arg-type]
                     for rel in self.schema.relations_touching(label)
                     for end, direction, end_label in (("src", "out", rel.source), ("dst", "in", rel.target))
                     if end_label == label
                     for r in self.store.read_rows(rel.name, {end: [node_id]}, lineage=True)]
            out.append(NodeLineage(label, node_id, Provenance.of(found[0]), tuple(edges)))
        return out

    def edge_keys(self, relation: str) -> set[EdgeKey]:
        """Every (src, dst, key) of `relation` (incremental loads compare exports against it)."""
        return {_ident(r) for r in self.store.read_rows(relation)}

    # ---- incremental loads
    def end_edges(self, relation: str, keys: Iterable[EdgeKey], at: date, load_id: str, reason: str) -> int:
        """Set the relation's `valid_to` to `at` on those edges still open, in one transaction. History is kept:
        the edge stays, closed, tagged with `load_id` and `reason` (as its source file). Returns the number closed."""
        until = self.schema.relations[relation].valid_to
        if not until:
            raise ValueError(f"{relation} has no end time to set")
        draft, keys = _Draft(self.store), list(dict.fromkeys(keys))
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
        draft, at = _Draft(self.store), _now()
        stones: list[tuple[str, str, Mapping[str, Any]]] = []
        counts: dict[str, int] = {}

        def bury(kind: str, name: str, row: Mapping[str, Any], ident: tuple[str, ...], why: str) -> None:
            stones.append((TOMBSTONE_KIND, load_id, {"kind": kind, "name": name, "ident": list(ident), "reason": why,
                                                     "row": _plain(row), "at": at}))
            counts[name] = counts.get(name, 0) + 1

        for label, ids in nodes.items():
            node, ids = self.schema.nodes[label], list(dict.fromkeys(ids))
            for rel in self.schema.relations_touching(label):  # edges first: an edge never outlives either end
                for end in [e for e, end_label in (("src", rel.source), ("dst", rel.target)) if end_label == label]:
                    for row in draft.seen(rel.name, self.store.read_rows(rel.name, {end: ids}, lineage=True)):
                        bury("edge", rel.name, row, _ident(row), f"{reason}; its {label} {row[end]} was retired")
                        draft.delete(rel.name, _ident(row))
            for row in self.store.read_rows(label, {node.key: ids}, lineage=True) if ids else []:
                bury("node", label, row, (row[node.key],), reason)
                draft.gone_nodes.setdefault(label, []).append(row[node.key])
        for relation, named in edges.items():
            keys = list(dict.fromkeys(named))
            draft.prefetch(relation, keys)
            for found in [draft.edge(relation, k) for k in keys]:
                if found is not None:
                    bury("edge", relation, found, _ident(found), reason)
                    draft.delete(relation, _ident(found))
        self.store.apply(draft.changes(*stones, (LOAD_KIND, *progress_entry(load_id, 0))))
        return counts

    def tombstones(self, load_id: str | None = None) -> list[Tombstone]:
        """Retired records (of one load), oldest first."""
        return [Tombstone(b["kind"], b["name"], tuple(b["ident"]), r.key, b["reason"], b["row"], _time(b["at"]))
                for r in self.store.read_records(TOMBSTONE_KIND, key=load_id) for b in [r.body]]

    # ---- merges
    def merges(self, label: str | None = None, state: MergeState | None = None) -> list[MergeRecord]:
        """Recorded identity decisions, oldest first."""
        by_id: dict[int, MergeRecord] = {}
        for r in self.store.read_records(MERGE_KIND, key=label):
            b = r.body
            if b["event"] == "merge":
                merge_id = b.get("merge_id") or r.seq  # stores from before the ledger keep their merges' ids
                by_id[merge_id] = MergeRecord(
                    label=r.key, kept_id=b["kept_id"], merged_id=b["merged_id"], rule=b["rule"], score=b["score"],
                    load_id=b["load_id"], detail=b.get("detail", ""), merged_row=b.get("merged_row"),
                    redirects=tuple(redirects_from_json(json.dumps(b["redirects"]))),
                    set_aside=tuple(set_aside_from_json(json.dumps(b["set_aside"]))), merge_id=merge_id,
                    created_at=_time(b.get("created_at")))
            elif b["event"] == "update":
                m = by_id[b["merge_id"]]
                by_id[m.merge_id] = replace(  # type: ignore[index]
                    m, kept_id=b["kept_id"], merged_row=m.merged_row or b.get("merged_row"),
                    redirects=tuple(redirects_from_json(json.dumps(b["redirects"]))),
                    set_aside=tuple(set_aside_from_json(json.dumps(b["set_aside"]))))
            elif b["event"] == "undo":
                by_id[b["merge_id"]] = replace(by_id[b["merge_id"]], state="undone", undone_at=_time(b["undone_at"]))
        return [m for _, m in sorted(by_id.items()) if state is None or m.state == state]

    def record_merges(self, merges: Sequence[MergeRecord]) -> list[MergeRecord]:
        """Store identity decisions; returns them with their `merge_id`. Each is one transaction with what it moves.

        A decision already active for the same (label, merged id) is kept, with what this one adds. A merged id
        that lives in the graph is moved: its row saved in the record, its edges re-pointed to the kept id (saved
        as redirects) unless the kept one holds that edge already, has the one a functional relation allows, or
        the edge would join the two (then it is set aside, for undo), and the node removed. Each of `closes` (a
        stored job of the kept record) is ended if still open and saved as a redirect that filled its end time.
        """
        active = {(m.label, m.merged_id): m for m in self.merges(state="active")}
        ids = []
        for m in merges:
            draft = _Draft(self.store)
            moved_row, moved, aside = self._move_node(draft, m.label, m.merged_id, m.kept_id)
            redirects = [*m.redirects, *moved, *self._close(draft, m)]
            aside = [*set_aside_from_json(set_aside_to_json([*m.set_aside, *aside]))]  # as stored: comparable
            row = _plain(m.merged_row) if m.merged_row is not None else moved_row
            old = active.get((m.label, m.merged_id))
            if old is None:
                body = {"event": "merge", "kept_id": m.kept_id, "merged_id": m.merged_id, "rule": m.rule,
                        "score": float(m.score), "detail": m.detail, "load_id": m.load_id, "merged_row": row,
                        "created_at": _now()}
            else:  # already decided: keep the decision, add the edges this load re-pointed or set aside
                redirects = [*old.redirects, *(r for r in redirects if r not in old.redirects)]
                aside = [*old.set_aside, *(e for e in aside if e not in old.set_aside)]
                body = {"event": "update", "merge_id": old.merge_id, "kept_id": m.kept_id, "merged_row": row}
            body |= {"redirects": json.loads(redirects_to_json(redirects)),
                     "set_aside": json.loads(set_aside_to_json(aside))}
            [record] = self.store.apply(draft.changes((MERGE_KIND, m.label, body)))
            ids.append(old.merge_id if old is not None else record.seq)
            active[(m.label, m.merged_id)] = replace(m, merge_id=ids[-1], redirects=tuple(redirects),
                                                     set_aside=tuple(aside))
        by_id = {m.merge_id: m for m in self.merges()} if ids else {}
        return [by_id[i] for i in ids]

    def _move_node(self, draft: _Draft, label: str, merged: str, kept: str
                   ) -> tuple[dict[str, Any] | None, list[Redirect], list[SetAside]]:
        """A merged id that lives in the graph: its row, the edges moved to the kept id and those set aside."""
        key = self.schema.nodes[label].key
        found = self.store.read_rows(label, {key: [merged]}, lineage=True)
        if not found:
            return None, [], []
        redirects, aside = [], []
        for rel in self.schema.relations_touching(label):
            for end in [e for e, end_label in (("src", rel.source), ("dst", rel.target)) if end_label == label]:
                far = "dst" if end == "src" else "src"
                held = draft.seen(rel.name, self.store.read_rows(rel.name, {end: [kept]}, lineage=True))
                rows = draft.seen(rel.name, self.store.read_rows(rel.name, {end: [merged]}, lineage=True))
                # Whether each moved edge is already stored: one lookup for all of them, not one per edge.
                draft.prefetch(rel.name, [_ident({**row, end: kept}) for row in rows])
                for row in rows:
                    moved = {**row, end: kept}
                    draft.delete(rel.name, _ident(row))
                    loop = rel.source == rel.target and moved[far] in (kept, merged)
                    if loop or draft.edge(rel.name, _ident(moved)) or (rel.functional and end == "src" and held):
                        aside.append(SetAside(rel.name, row))
                        continue
                    draft.put(rel.name, moved)
                    redirects.append(Redirect(rel.name, moved["src"], moved["dst"], moved["key"], end))  # type: ignore[arg-type]
        draft.gone_nodes[label] = [merged]
        return found[0], redirects, aside

    def _close(self, draft: _Draft, m: MergeRecord) -> list[Redirect]:
        """End the stored jobs `m.closes` names that are still open; each one ended, as a redirect for undo."""
        out = []
        for c in m.closes:
            until = self.schema.relations[c.relation].valid_to
            row = draft.edge(c.relation, (c.src, c.dst, c.key))
            if until and row is not None and row.get(until) is None:
                draft.put(c.relation, {**row, until: c.at})
                out.append(Redirect(c.relation, c.src, c.dst, c.key, None, (until,)))
        return out

    def undo_merge(self, merge_id: int) -> MergeRecord:
        """Restore the merged node, empty the times the merge filled in and point its redirected edges back, in
        one transaction. The record stays, marked `undone`, and later loads never merge the pair again.

        Raises:
            InvalidInput: no such merge, or it is already undone.
        """
        found = [m for m in self.merges() if m.merge_id == merge_id]
        if not found:
            raise InvalidInput(f"no merge {merge_id}")
        m = found[0]
        if m.state != "active":
            raise InvalidInput(f"merge {merge_id} is already undone")
        draft = _Draft(self.store)
        if m.merged_row:
            draft.nodes[m.label] = [{**m.merged_row, self.schema.nodes[m.label].key: m.merged_id}]
        # Times first, while every edge is still named as the merge left it: they were empty in the export.
        for r in m.redirects:
            row, names = draft.edge(r.relation, (r.src, r.dst, r.key)), self.schema.relations[r.relation].property_names
            if row is not None and r.filled:
                draft.put(r.relation, {**row, **{p: None for p in r.filled if p in names}})
        for r in m.redirects:
            row = draft.edge(r.relation, (r.src, r.dst, r.key))
            if r.end is not None and row is not None:
                back = {**row, r.end: m.merged_id}
                if draft.edge(r.relation, _ident(back)) is None:  # the merged record holds it again unless it has it
                    draft.delete(r.relation, _ident(row))
                    draft.put(r.relation, back)
        for aside in m.set_aside:  # the merged record's own relations the kept one could not take
            draft.put(aside.relation, dict(aside.edge))
        self.store.apply(draft.changes((MERGE_KIND, m.label, {"event": "undo", "merge_id": merge_id,
                                                              "undone_at": _now()})))
        return next(x for x in self.merges(m.label) if x.merge_id == merge_id)
