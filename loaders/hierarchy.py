"""Hierarchies stay trees: the row that would close a cycle is rejected, with the cycle named.

A functional relation from a node type to the same type (SUBSIDIARY_OF: an
account has at most one parent account) is a hierarchy, and a cycle in it
(an account its own parent, or A under B under A) has no top: roll-ups and
the model's walk up the hierarchy never end. The cycle may run through edges
already in the store, so the graph checked is the store's edges with this
load's edges laid over them (a functional relation keeps one edge per
source: a new one replaces the old). Of the rows whose edges make a cycle,
the one read last closes it and is rejected.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from graph.ledger import Ledger
from graph.store import GraphStore
from loaders.parse import ParsedRow
from ontology import Relation, Schema


def hierarchies(schema: Schema) -> list[Relation]:
    """The relations that must stay acyclic: functional, from a node type to the same type."""
    return [r for r in schema.relations.values() if r.functional and r.source == r.target]


def cycle_closers(rows: list[ParsedRow], store: GraphStore, full: bool = False,
                  carried: Collection[int] = ()) -> list[tuple[ParsedRow, str]]:
    """The rows (in `rows`, in load order) that close a cycle of a hierarchy, each with its reason.

    Args:
        rows: the rows a load would write, after references are resolved.
        full: a full export: the store's edge from a node this load gives is replaced, even by none.
        carried: ids of the edge records identity resolution re-pointed to a kept record. Merging sets aside
            the loops and second parents they make (`merging.settle_carried`), so such an edge is no
            cycle of the row's making: a carried loop is left out, and a carried parent gives way to the
            kept record's own.
    """
    closers: list[tuple[ParsedRow, str]] = []
    order = {id(row): i for i, row in enumerate(rows)}
    for rel in hierarchies(store.schema):
        new: dict[str, tuple[str, ParsedRow]] = {}
        own: set[str] = set()  # sources whose edge is their own row's, not carried there by a merge
        for row in rows:  # rows come in load order: for a source given twice, the later edge stands
            for name, edge in row.edges:
                if name != rel.name:
                    continue
                src, is_carried = edge["src"], id(edge) in carried
                if is_carried and (src == edge["dst"] or src in own):
                    continue
                new[src] = (edge["dst"], row)
                if not is_carried:
                    own.add(src)
        if not new:
            continue
        given = {rec["id"] for row in rows for label, rec in row.nodes if label == rel.source} if full else set()
        parent = {src: dst for src, dst, _ in Ledger(store).edge_keys(rel.name) if src not in given}
        parent.update((src, dst) for src, (dst, _) in new.items())
        for cycle in _cycles(parent, new):
            made = [c for c in cycle if c in new]
            if not made:  # a cycle the store held before this check existed: no row of this load closes it
                continue
            closer = max(made, key=lambda c: order[id(new[c][1])])
            at = cycle.index(closer)
            named = " -> ".join([*cycle[at:], *cycle[:at], closer])
            row = new[closer][1]
            closers.append((row, f"{_column(row, rel, new[closer][0])}: {rel.name} would close a cycle {named} "
                                 f"(no {rel.source} may be its own ancestor)"))
    return closers


def _cycles(parent: dict[str, str], starts: Iterable[str]) -> list[list[str]]:
    """Each cycle of the one-parent graph `parent` that a walk up from `starts` meets, once, in walk order."""
    state: dict[str, int] = {}  # 1: on the current walk, 2: walked before
    cycles = []
    for start in starts:
        path: list[str] = []
        node: str | None = start
        while node is not None and node not in state:
            state[node] = 1
            path.append(node)
            node = parent.get(node)
        if node is not None and state[node] == 1:
            cycles.append(path[path.index(node):])
        for walked in path:
            state[walked] = 2
    return cycles


def _column(row: ParsedRow, rel: Relation, dst: str) -> str:
    """How the quarantine names the cell that gave the edge: its column, else the relation."""
    return next((column for column, label, ref in row.refs if label == rel.target and ref == dst), rel.name)
