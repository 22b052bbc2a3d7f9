"""The Neo4j store's load bookkeeping (`graph.lineage`), mirroring `graph.sqlite_books`.

A mixin of `Neo4jStore`: it uses the store's `schema`, `_run` and `_read`.
Loads, merges and tombstones are nodes of the store's own labels (Cypher in
`graph.cypher_books`); lineage is the `_load_id` / `_source_file` /
`_source_line` properties on each node and relationship. Every method that
changes anything runs in one managed write transaction.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from graph import cypher_books as cb
from graph.lineage import (
    LINEAGE_COLUMNS,
    EdgeLineage,
    LoadRecord,
    LoadState,
    MergeRecord,
    MergeState,
    NodeLineage,
    Provenance,
    Redirect,
    Tombstone,
    redirects_from_json,
    redirects_to_json,
    set_aside_from_json,
    set_aside_to_json,
)
from graph.store import InvalidInput
from graph.timefmt import parse_iso, to_iso

if TYPE_CHECKING:
    from neo4j import ManagedTransaction

TOMBSTONE_PREFIX = "tombstone_"
T = TypeVar("T")


def _now() -> str:
    return to_iso(datetime.now(UTC))


def _load(props: Mapping[str, Any]) -> LoadRecord:
    return LoadRecord(
        load_id=props["load_id"], source=props["source"], mapping=props["mapping"], started=parse_iso(props["started"]),
        mode=props.get("mode", "full"), state=props["state"],
        finished=parse_iso(props["finished"]) if props.get("finished") else None,
        batches=props.get("batches", 0), rows_written=props.get("rows_written", 0),
        summary=json.loads(props["summary"]) if props.get("summary") else None, error=props.get("error"),
    )


def _merge(props: Mapping[str, Any]) -> MergeRecord:
    return MergeRecord(
        label=props["label"], kept_id=props["kept_id"], merged_id=props["merged_id"], rule=props["rule"],
        score=props["score"], load_id=props["load_id"], detail=props.get("detail", ""),
        merged_row=json.loads(props["merged_row"]) if props.get("merged_row") else None,
        redirects=tuple(redirects_from_json(props.get("redirects"))),
        set_aside=tuple(set_aside_from_json(props.get("set_aside"))),
        merge_id=props["merge_id"], state=props["state"],
        created_at=parse_iso(props["created_at"]) if props.get("created_at") else None,
        undone_at=parse_iso(props["undone_at"]) if props.get("undone_at") else None,
    )


class Neo4jBooks:
    """Loads, lineage, merges and tombstones on the Neo4j store's driver."""

    schema: Any
    batch_size: int

    if TYPE_CHECKING:  # Neo4jStore's, declared for the type checker only
        def _run(self, write: bool, work: Callable[[ManagedTransaction], T], what: str) -> T: ...
        def _read(self, query: str, what: str, **params: Any) -> list[dict[str, Any]]: ...

    # ---- loads
    def begin_load(self, record: LoadRecord) -> None:
        props = {"load_id": record.load_id, "source": record.source, "mapping": record.mapping, "mode": record.mode,
                 "started": to_iso(record.started), "state": "running", "batches": 0, "rows_written": 0,
                 "seq": time.time_ns()}  # orders loads started within one second
        self._run(True, lambda tx: tx.run(cb.create_load(), props=props).consume(), "recording the load")

    def finish_load(self, load_id: str, state: LoadState, summary: Mapping[str, Any] | None = None,
                    error: str | None = None) -> None:
        props = {"state": state, "finished": _now(), "error": error,
                 "summary": json.dumps(summary, default=str) if summary is not None else None}

        def work(tx: ManagedTransaction) -> None:
            tx.run(cb.finish_load(), load_id=load_id, props=props).consume()
            if state == "finished":
                tx.run(cb.interrupt_earlier(), load_id=load_id, running="running", interrupted="interrupted").consume()

        self._run(True, work, "recording the load")

    def loads(self, load_id: str | None = None) -> list[LoadRecord]:
        rows = self._read(cb.loads(load_id is not None), "reading loads", load_id=load_id)
        return [_load(r["props"]) for r in rows]

    @staticmethod
    def _count_batch(tx: ManagedTransaction, load_id: str | None, rows: int) -> None:
        if load_id is not None:
            tx.run(cb.count_batch(), load_id=load_id, rows=rows).consume()

    # ---- lineage
    def lineage(self, node_id: str) -> list[NodeLineage]:
        def work(tx: ManagedTransaction) -> list[NodeLineage]:
            out = []
            for label, node in self.schema.nodes.items():
                found = tx.run(cb.node_lineage(node), id=node_id).data()
                if not found:
                    continue
                edges = []
                for rel in self.schema.relations_touching(label):
                    ends: tuple[tuple[Literal["out", "in"], str], ...] = (("out", rel.source), ("in", rel.target))
                    for direction, end_label in ends:
                        if end_label != label:
                            continue
                        for r in tx.run(cb.edge_lineage(self.schema, rel, direction), id=node_id).data():
                            edges.append(EdgeLineage(rel.name, direction, r["src"], r["dst"], r["key"] or "",
                                                     Provenance.of(r)))
                out.append(NodeLineage(label, node_id, Provenance.of(found[0]), tuple(edges)))
            return out

        return self._run(False, work, "reading lineage")

    def edge_keys(self, relation: str) -> set[tuple[str, str, str]]:
        rel = self.schema.relations[relation]
        rows = self._read(cb.edge_keys(self.schema, rel), f"reading {relation} keys")
        return {(r["src"], r["dst"], r["key"] or "") for r in rows}

    # ---- incremental loads
    def end_edges(self, relation: str, keys: Iterable[tuple[str, str, str]], at: date, load_id: str,
                  reason: str) -> int:
        rel = self.schema.relations[relation]
        if not rel.valid_to:
            raise ValueError(f"{relation} has no end time to set")
        rows = [{"src": s, "dst": d, "key": k} for s, d, k in keys]
        if not rows:
            return 0

        def work(tx: ManagedTransaction) -> int:
            ended = 0
            for i in range(0, len(rows), self.batch_size):
                ended += tx.run(cb.end_edges(self.schema, rel), rows=rows[i : i + self.batch_size], at=at,
                                load_id=load_id, reason=reason).single(strict=True)["ended"]
            self._count_batch(tx, load_id, ended)
            return ended

        return self._run(True, work, f"ending {relation} edges")

    def retire(self, load_id: str, nodes: Mapping[str, Iterable[str]],
               edges: Mapping[str, Iterable[tuple[str, str, str]]], reason: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        base: dict[str, Any] = {"load_id": load_id, "at": _now(), "seq": time.time_ns()}

        def add(name: str, n: int) -> None:
            if n:
                counts[name] = counts.get(name, 0) + n

        def work(tx: ManagedTransaction) -> None:
            for label, ids in nodes.items():
                ids = list(ids)
                if not ids:
                    continue
                for rel in self.schema.relations_touching(label):
                    for end, end_label in (("src", rel.source), ("dst", rel.target)):
                        if end_label == label:
                            add(rel.name, tx.run(cb.retire_edges_of(self.schema, rel, end), ids=ids, kind="edge",
                                                 name=rel.name, reason=f"{reason}; its {label} was retired",
                                                 **base).single(strict=True)["retired"])
                add(label, tx.run(cb.retire_nodes(self.schema.nodes[label]), ids=ids, kind="node", name=label,
                                  reason=reason, **base).single(strict=True)["retired"])
            for relation, keys in edges.items():
                rows = [{"src": s, "dst": d, "key": k} for s, d, k in keys]
                if rows:
                    add(relation, tx.run(cb.retire_edges(self.schema, self.schema.relations[relation]), rows=rows,
                                         kind="edge", name=relation, reason=reason,
                                         **base).single(strict=True)["retired"])
            self._count_batch(tx, load_id, 0)

        self._run(True, work, "retiring records")
        return counts

    def tombstones(self, load_id: str | None = None) -> list[Tombstone]:
        from graph.neo4j import from_db  # graph.neo4j imports this module

        rows = self._read(cb.tombstones(load_id is not None), "reading tombstones", load_id=load_id)
        out = []
        for r in rows:
            props = r["props"]
            meta = {k[len(TOMBSTONE_PREFIX):]: v for k, v in props.items() if k.startswith(TOMBSTONE_PREFIX)}
            row = {k: from_db(v) for k, v in props.items() if not k.startswith(TOMBSTONE_PREFIX)}
            out.append(Tombstone(meta["kind"], meta["of"], tuple(meta["ident"]), meta["load_id"], meta["reason"],
                                 row, parse_iso(meta["at"])))
        return out

    # ---- merges
    def record_merges(self, merges: Sequence[MergeRecord]) -> list[MergeRecord]:
        def work(tx: ManagedTransaction) -> list[int]:
            last = tx.run(cb.last_merge_id()).single(strict=True)["last"]
            ids = []
            for m in merges:
                moved_row, moved = self._move_node(tx, m.label, m.merged_id, m.kept_id)
                redirects = [*m.redirects, *moved, *self._close(tx, m)]
                row = dict(m.merged_row) if m.merged_row is not None else moved_row
                row_json = json.dumps(row, default=str) if row is not None else None
                found = tx.run(cb.active_merge(), label=m.label, merged_id=m.merged_id, active="active").data()
                if found:
                    existing = _merge(found[0]["props"])
                    known = list(existing.redirects) + [r for r in redirects if r not in existing.redirects]
                    aside = set_aside_from_json(set_aside_to_json(m.set_aside))  # as stored: comparable
                    aside = list(existing.set_aside) + [e for e in aside if e not in existing.set_aside]
                    props: dict[str, Any] = {"kept_id": m.kept_id, "redirects": redirects_to_json(known),
                             "set_aside": set_aside_to_json(aside),
                             "merged_row": existing.merged_row and json.dumps(existing.merged_row) or row_json}
                    tx.run(cb.update_merge(), merge_id=existing.merge_id, props=props).consume()
                    assert existing.merge_id is not None  # read back from the store, which numbers every merge
                    ids.append(existing.merge_id)
                    continue
                last += 1
                props = {"merge_id": last, "label": m.label, "kept_id": m.kept_id, "merged_id": m.merged_id,
                         "rule": m.rule, "score": float(m.score), "detail": m.detail, "load_id": m.load_id,
                         "merged_row": row_json, "redirects": redirects_to_json(redirects),
                         "set_aside": set_aside_to_json(m.set_aside), "state": "active",
                         "created_at": _now()}
                tx.run(cb.create_merge(), props=props).consume()
                ids.append(last)
            return ids

        ids = self._run(True, work, "recording merges")
        by_id = {m.merge_id: m for m in self.merges()}
        return [by_id[i] for i in ids]

    def _move_node(
        self, tx: ManagedTransaction, label: str, merged: str, kept: str
    ) -> tuple[dict | None, list[Redirect]]:
        """A merged id that lives in the graph: remove it, re-pointing its edges to the kept id."""
        node = self.schema.nodes[label]
        found = tx.run(cb.get_node_props(node), id=merged).data()
        if not found:
            return None, []
        redirects = []
        for rel in self.schema.relations_touching(label):
            ends: tuple[tuple[Literal["src", "dst"], str], ...] = (("src", rel.source), ("dst", rel.target))
            for end, end_label in ends:
                if end_label != label:
                    continue
                for r in tx.run(cb.move_edges(self.schema, rel, end), {"from": merged, "to": kept}).data():
                    if r["moved"]:
                        src, dst = (kept, r["far"]) if end == "src" else (r["far"], kept)
                        redirects.append(Redirect(rel.name, src, dst, r["k"] or "", end))
        tx.run(cb.delete_node(node), id=merged).consume()
        props = found[0]["props"]
        return {k: (to_iso(v.to_native()) if hasattr(v, "to_native") else v) for k, v in props.items()}, redirects

    def _close(self, tx: ManagedTransaction, m: MergeRecord) -> list[Redirect]:
        """End the stored jobs `m.closes` names that are still open; each one ended, as a redirect for undo."""
        out = []
        for c in m.closes:
            rel = self.schema.relations[c.relation]
            ended = tx.run(cb.close_edge(self.schema, rel), src=c.src, dst=c.dst, key=c.key,
                           at=c.at).single(strict=True)["ended"]
            if ended:
                out.append(Redirect(c.relation, c.src, c.dst, c.key, None, (rel.valid_to,)))
        return out

    def merges(self, label: str | None = None, state: MergeState | None = None) -> list[MergeRecord]:
        rows = self._read(cb.merges(label is not None, state is not None), "reading merges",
                          label=label, state=state)
        return [_merge(r["props"]) for r in rows]

    def undo_merge(self, merge_id: int) -> MergeRecord:
        found = [m for m in self.merges() if m.merge_id == merge_id]
        if not found:
            raise InvalidInput(f"no merge {merge_id}")
        m = found[0]
        if m.state != "active":
            raise InvalidInput(f"merge {merge_id} is already undone")
        node = self.schema.nodes[m.label]

        def work(tx: ManagedTransaction) -> None:
            from graph.neo4j import _props  # graph.neo4j imports this module

            if m.merged_row:
                row = dict(m.merged_row)
                props = {**_props(node, row), node.key: m.merged_id,
                         **{c: row.get(c) for c in LINEAGE_COLUMNS}}
                tx.run(cb.create_node(node), id=m.merged_id, props=props).consume()
            # Times first, while every edge is still named as the merge left it: they were empty in the export.
            for r in m.redirects:
                if r.filled:
                    tx.run(cb.empty_edge_properties(self.schema, self.schema.relations[r.relation], r.filled),
                           src=r.src, dst=r.dst, key=r.key).consume()
            for r in m.redirects:
                if r.end is not None:
                    tx.run(cb.move_edge_back(self.schema, self.schema.relations[r.relation], r.end),
                           merged=m.merged_id, src=r.src, dst=r.dst, key=r.key).consume()
            for aside in m.set_aside:  # the merged record's own relations the kept one could not take
                rel = self.schema.relations[aside.relation]
                edge = dict(aside.edge)
                props = {**_props(rel, edge), "key": edge.get("key") or "", **{c: edge.get(c) for c in LINEAGE_COLUMNS}}
                tx.run(cb.restore_edge(self.schema, rel), src=edge["src"], dst=edge["dst"], key=props["key"],
                       props=props).consume()
            tx.run(cb.update_merge(), merge_id=merge_id, props={"state": "undone", "undone_at": _now()}).consume()

        self._run(True, work, "undoing a merge")
        return next(x for x in self.merges(m.label) if x.merge_id == merge_id)

    # ---- integrity
    def check_integrity(self) -> list[str]:
        """Neo4j cannot hold a relationship without both ends, and keeps its own store consistent."""
        return []
