"""The ledger's identity decisions (`graph.ledger`): merges recorded with what they move, and their undo.

A merge is its `merge` record, later `update`s (a later load re-deciding the same pair) and an `undo`; what
the API shows is folded from them (`fold_merge`). Each call reads and folds the merge log once, and folds the
records it appends into what it read, rather than reading the log again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from graph.errors import InvalidInput
from graph.ledger_draft import Draft, Row, ends_at, ident, now_text, plain, time_of
from graph.lineage import (
    MERGE_KIND,
    MergeRecord,
    MergeState,
    Redirect,
    SetAside,
    redirects_from_json,
    redirects_to_json,
    set_aside_from_json,
    set_aside_to_json,
)
from graph.records import Record
from graph.store import EdgeKey, GraphStore
from ontology import Schema


def fold_merge(by_id: dict[int, MergeRecord], record: Record) -> None:
    """Fold one record of the merge log into the decisions by merge id."""
    b = record.body
    if b["event"] == "merge":
        merge_id = b.get("merge_id") or record.seq  # stores from before the ledger keep their merges' ids
        by_id[merge_id] = MergeRecord(
            label=record.key, kept_id=b["kept_id"], merged_id=b["merged_id"], rule=b["rule"], score=b["score"],
            load_id=b["load_id"], detail=b.get("detail", ""), merged_row=b.get("merged_row"),
            redirects=tuple(redirects_from_json(json.dumps(b["redirects"]))),
            set_aside=tuple(set_aside_from_json(json.dumps(b["set_aside"]))), merge_id=merge_id,
            created_at=time_of(b.get("created_at")))
    elif b["event"] == "update":
        m = by_id[b["merge_id"]]
        by_id[b["merge_id"]] = replace(
            m, kept_id=b["kept_id"], merged_row=m.merged_row or b.get("merged_row"),
            redirects=tuple(redirects_from_json(json.dumps(b["redirects"]))),
            set_aside=tuple(set_aside_from_json(json.dumps(b["set_aside"]))))
    elif b["event"] == "undo":
        by_id[b["merge_id"]] = replace(by_id[b["merge_id"]], state="undone", undone_at=time_of(b["undone_at"]))


class MergeBooks:
    """`Ledger`'s merges: the store and its schema are the ledger's."""

    store: GraphStore
    schema: Schema

    def merges(self, label: str | None = None, state: MergeState | None = None) -> list[MergeRecord]:
        """Recorded identity decisions, oldest first."""
        return [m for _, m in sorted(self._merge_log(label).items()) if state is None or m.state == state]

    def _merge_log(self, label: str | None = None) -> dict[int, MergeRecord]:
        by_id: dict[int, MergeRecord] = {}
        for r in self.store.read_records(MERGE_KIND, key=label):
            fold_merge(by_id, r)
        return by_id

    def record_merges(self, merges: Sequence[MergeRecord]) -> list[MergeRecord]:
        """Store identity decisions; returns them with their `merge_id`. Each is one transaction with what it moves.

        A decision already active for the same (label, merged id) is kept, with what this one adds. A merged id
        that lives in the graph is moved: its row saved in the record, its edges re-pointed to the kept id (saved
        as redirects) unless the kept one holds that edge already, has the one a functional relation allows, or
        the edge would join the two (then it is set aside, for undo), and the node removed. Each of `closes` (a
        stored job of the kept record) is ended if still open and saved as a redirect that filled its end time.
        """
        by_id = self._merge_log()
        active = {(m.label, m.merged_id): merge_id for merge_id, m in by_id.items() if m.state == "active"}
        ids = []
        for m in merges:
            draft = Draft(self.store)
            moved_row, moved, aside = self._move_node(draft, m.label, m.merged_id, m.kept_id)
            redirects = [*m.redirects, *moved, *self._close(draft, m)]
            aside = [*set_aside_from_json(set_aside_to_json([*m.set_aside, *aside]))]  # as stored: comparable
            row = plain(m.merged_row) if m.merged_row is not None else moved_row
            old_id = active.get((m.label, m.merged_id))
            body: dict[str, Any]
            if old_id is None:
                body = {"event": "merge", "kept_id": m.kept_id, "merged_id": m.merged_id, "rule": m.rule,
                        "score": float(m.score), "detail": m.detail, "load_id": m.load_id, "merged_row": row,
                        "created_at": now_text()}
            else:  # already decided: keep the decision, add the edges this load re-pointed or set aside
                old = by_id[old_id]
                redirects = [*old.redirects, *(r for r in redirects if r not in old.redirects)]
                aside = [*old.set_aside, *(e for e in aside if e not in old.set_aside)]
                body = {"event": "update", "merge_id": old_id, "kept_id": m.kept_id, "merged_row": row}
            body |= {"redirects": json.loads(redirects_to_json(redirects)),
                     "set_aside": json.loads(set_aside_to_json(aside))}
            [record] = self.store.apply(draft.changes((MERGE_KIND, m.label, body)))
            fold_merge(by_id, record)
            ids.append(record.seq if old_id is None else old_id)
            active[(m.label, m.merged_id)] = ids[-1]
        return [by_id[i] for i in ids]

    def _move_node(self, draft: Draft, label: str, merged: str, kept: str
                   ) -> tuple[Row | None, list[Redirect], list[SetAside]]:
        """A merged id that lives in the graph: its row, the edges moved to the kept id and those set aside."""
        key = self.schema.nodes[label].key
        found = self.store.read_rows(label, {key: [merged]}, lineage=True)
        if not found:
            return None, [], []
        redirects, aside = [], []
        for rel in self.schema.relations_touching(label):
            for end in ends_at(rel, label):
                far = "dst" if end == "src" else "src"
                held = draft.seen(rel.name, self.store.read_rows(rel.name, {end: [kept]}, lineage=True))
                rows = draft.seen(rel.name, self.store.read_rows(rel.name, {end: [merged]}, lineage=True))
                # Whether each moved edge is already stored: one lookup for all of them, not one per edge.
                draft.prefetch(rel.name, [ident({**row, end: kept}) for row in rows])
                for row in rows:
                    moved = {**row, end: kept}
                    draft.delete(rel.name, ident(row))
                    loop = rel.source == rel.target and moved[far] in (kept, merged)
                    if loop or draft.edge(rel.name, ident(moved)) or (rel.functional and end == "src" and held):
                        aside.append(SetAside(rel.name, row))
                        continue
                    draft.put(rel.name, moved)
                    redirects.append(Redirect(rel.name, moved["src"], moved["dst"], moved["key"], end))
        draft.gone_nodes[label] = [merged]
        return found[0], redirects, aside

    def _close(self, draft: Draft, m: MergeRecord) -> list[Redirect]:
        """End the stored jobs `m.closes` names that are still open; each one ended, as a redirect for undo."""
        draft.prefetch_all((c.relation, (c.src, c.dst, c.key)) for c in m.closes)
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
        by_id = self._merge_log()
        m = by_id.get(merge_id)
        if m is None:
            raise InvalidInput(f"no merge {merge_id}")
        if m.state != "active":
            raise InvalidInput(f"merge {merge_id} is already undone")
        draft = Draft(self.store)
        if m.merged_row:
            draft.nodes[m.label] = [{**m.merged_row, self.schema.nodes[m.label].key: m.merged_id}]
        # Every edge undo reads, as the merge left it and as it points back: one lookup per relation.
        draft.prefetch_all((r.relation, key) for r in m.redirects for key in (_named(r), _pointed_back(r, m)))
        # Times first, while every edge is still named as the merge left it: they were empty in the export.
        for r in m.redirects:
            row, names = draft.edge(r.relation, _named(r)), self.schema.relations[r.relation].property_names
            if row is not None and r.filled:
                draft.put(r.relation, {**row, **{p: None for p in r.filled if p in names}})
        for r in m.redirects:
            row = draft.edge(r.relation, _named(r))
            if r.end is not None and row is not None:
                back = {**row, r.end: m.merged_id}
                if draft.edge(r.relation, ident(back)) is None:  # the merged record holds it again unless it has it
                    draft.delete(r.relation, ident(row))
                    draft.put(r.relation, back)
        for aside in m.set_aside:  # the merged record's own relations the kept one could not take
            draft.put(aside.relation, dict(aside.edge))
        [record] = self.store.apply(draft.changes((MERGE_KIND, m.label, {"event": "undo", "merge_id": merge_id,
                                                                         "undone_at": now_text()})))
        fold_merge(by_id, record)
        return by_id[merge_id]


def _named(r: Redirect) -> EdgeKey:
    """The edge a redirect names, as the merge left it."""
    return r.src, r.dst, r.key


def _pointed_back(r: Redirect, m: MergeRecord) -> EdgeKey:
    """The edge a redirect names with its moved end at the merged id again (itself where no end moved)."""
    return (m.merged_id if r.end == "src" else r.src, m.merged_id if r.end == "dst" else r.dst, r.key)

