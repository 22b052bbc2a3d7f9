"""Incremental loads: what a new export changes beyond the rows it upserts.

Upserting by key already handles new records, changed values (a stage move,
a deal closing) and new job-history rows. What an upsert cannot express is a
record that is *gone*. The rule (documented in docs/loading.md):

- mode `delta` (the default): the export adds and changes records; nothing
  is retired, so a partial export (deals only, last week's changes) is safe.
- mode `full`: the export holds every record of the types its mapping covers.
  A node whose id is in the store but in no row of the
  export (not even a quarantined one) is retired: moved to the tombstones
  with the load id, with every edge touching it. An edge from a keyed
  relation file (AccountContactRelation, OpportunityContactRole, ...) whose
  key is no longer exported is retired too, except a time-bounded relation
  (WORKS_AT): there the edge is kept and, if still open, closed (`until` =
  the export date), so job history is never lost. An edge a node's row
  makes (a deal's account, an account's parent) is retired when that row,
  loaded now, no longer names it. A row that references a retiring node is
  dangling, like one naming a node that never existed.

A file with a row whose key could not be read is left out of the rule (a
record there might be missing only because its row was mangled), and a
full load that would retire more than `max_retire_share` of a type's stored
records stops before writing anything: such an export is more likely
incomplete than a mass deletion.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from graph.ledger import Ledger
from graph.store import GraphStore, InvalidInput
from loaders.mapping import Mapping, SourceSpec
from loaders.records import RecordError
from loaders.values import required_id

MODES = ("delta", "full")
#: Refuse a full load that would retire more than this share of a type's records (and at least MIN_GUARDED).
MAX_RETIRE_SHARE = 0.5
MIN_GUARDED = 20


@dataclass
class SeenKeys:
    """Every key an export holds, from rows loaded and rows quarantined alike."""

    nodes: dict[str, set[str]] = field(default_factory=dict)
    edge_keys: dict[str, set[str]] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)  # file -> rows whose key could not be read

    def note_rejected(self, src: SourceSpec, raw: dict[str, str]) -> None:
        """A row that failed to parse: its keys still count as present, when they can be read."""
        try:
            if "__error__" in raw:
                raise RecordError(raw["__error__"])
            if src.node:
                label, key_spec = src.node_source()
                self.nodes.setdefault(label, set()).add(required_id(key_spec, raw, "key"))
                for also in src.also:  # closed or not is unknown: keep what may exist
                    self.nodes.setdefault(also.node, set()).add(required_id(also.key, raw, "key"))
            elif src.key:
                relation = src.edge_source()[0]
                self.edge_keys.setdefault(relation, set()).add(required_id(src.key, raw, "key"))
        except RecordError:
            self.unreadable[src.file] = self.unreadable.get(src.file, 0) + 1

    def note_parsed(self, rows: Iterable[Any]) -> None:
        for row in rows:
            for label, rec in row.nodes:
                self.nodes.setdefault(label, set()).add(rec["id"])
            for rel, rec in row.edges:
                if rec.get("key"):
                    self.edge_keys.setdefault(rel, set()).add(rec["key"])


@dataclass
class ChangePlan:
    """What a full load does besides upserting: retire gone records, close gone employments."""

    retire_nodes: dict[str, list[str]] = field(default_factory=dict)
    retire_edges: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    end_edges: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # why a type was left out of the rule


def plan_retired_nodes(store: GraphStore, mapping: Mapping, seen: SeenKeys, mode: str,
                       max_retire_share: float = MAX_RETIRE_SHARE) -> ChangePlan:
    """The nodes a `full` load retires (none for `delta`): known before references are resolved.

    Raises:
        InvalidInput: the load would retire more than `max_retire_share` of a type's records.
    """
    plan = ChangePlan()
    if mode == "delta":
        return plan
    bad_files = set(seen.unreadable)
    for label, files in _node_files(mapping).items():
        if files & bad_files:
            plan.skipped.append(f"{label}: {', '.join(sorted(files & bad_files))} has rows whose key is unreadable")
            continue
        stored = store.node_ids(label)
        gone = sorted(stored - seen.nodes.get(label, set()))
        _guard(label, len(gone), len(stored), max_retire_share)
        if gone:
            plan.retire_nodes[label] = gone
    return plan


def plan_retired_edges(store: GraphStore, mapping: Mapping, seen: SeenKeys, written: Iterable[Any], plan: ChangePlan,
                       mode: str, max_retire_share: float = MAX_RETIRE_SHARE) -> ChangePlan:
    """Add to `plan` the edges a `full` load retires or closes (none for `delta`).

    Args:
        store: The store, before this load writes.
        mapping: The mapping (which files cover which types).
        seen: Keys of every row of the export.
        written: The rows this load will write (after identity and reference resolution).
        plan: The nodes being retired (`plan_retired_nodes`).
        mode: `full` or `delta`.
        max_retire_share: The guard against incomplete exports.

    Raises:
        InvalidInput: the load would retire more than `max_retire_share` of a relation's edges.
    """
    if mode == "delta":
        return plan
    schema = store.schema
    bad_files = set(seen.unreadable)
    made: dict[str, set[tuple[str, str, str]]] = {}
    parents: dict[str, set[str]] = {}
    row_relations = _row_relation_names(mapping)
    for row in written:
        for rel, rec in row.edges:
            made.setdefault(rel, set()).add((rec["src"], rec["dst"], rec.get("key") or ""))
        for rel in row_relations.get(row.nodes[0][0], ()) if row.nodes else ():
            parents.setdefault(rel, set()).add(row.nodes[0][1]["id"])
    for rel, file in _keyed_files(mapping).items():
        if file in bad_files:
            plan.skipped.append(f"{rel}: {file} has rows whose key is unreadable")
            continue
        stored_edges = Ledger(store).edge_keys(rel)
        keys, made_rel = seen.edge_keys.get(rel, set()), made.get(rel, set())
        made_keys = {k for _, _, k in made_rel}
        gone = sorted(e for e in stored_edges if e[2] not in keys or (e[2] in made_keys and e not in made_rel))
        _guard(rel, len(gone), len(stored_edges), max_retire_share)
        target = plan.end_edges if schema.relations[rel].valid_to else plan.retire_edges
        if gone:
            target[rel] = gone
    for rel in sorted({r for rels in row_relations.values() for r in rels}):
        sources = parents.get(rel, set())
        made_rel = made.get(rel, set())
        gone = sorted(e for e in Ledger(store).edge_keys(rel) if e[0] in sources and e not in made_rel)
        if gone:
            plan.retire_edges[rel] = gone
    return plan


def apply_changes(store: GraphStore, plan: ChangePlan, load_id: str, export_date: date) -> dict[str, dict[str, int]]:
    """Close and retire what `plan` says, each step one transaction; counts of what changed."""
    ended = {rel: Ledger(store).end_edges(rel, keys, export_date, load_id, "missing from the export: ended")
             for rel, keys in plan.end_edges.items()}
    retired = Ledger(store).retire(load_id, plan.retire_nodes, plan.retire_edges, "missing from the export") \
        if plan.retire_nodes or plan.retire_edges else {}
    return {"ended": {k: v for k, v in ended.items() if v}, "retired": retired}


def _guard(name: str, gone: int, stored: int, share: float) -> None:
    if stored >= MIN_GUARDED and gone > share * stored:
        raise InvalidInput(
            f"this full export lacks {gone} of the {stored} {name} records in the store ({gone / stored:.0%}); "
            "an export missing that much is more likely incomplete than a mass deletion. Load it with "
            "--mode delta, or raise --max-retire if the deletions are real"
        )


def _node_files(mapping: Mapping) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for src in mapping.sources:
        if src.node:
            out.setdefault(src.node, set()).add(src.file)
            for also in src.also:
                out.setdefault(also.node, set()).add(src.file)
    return out


def _keyed_files(mapping: Mapping) -> dict[str, str]:
    return {src.relation: src.file for src in mapping.sources if src.relation and src.key}


def _row_relation_names(mapping: Mapping) -> dict[str, list[str]]:
    """Node label -> relations its rows make (a deal's account and owner, an outcome link)."""
    return {src.node: [r.relation for r in src.relations] + [a.relation_from_parent for a in src.also]
            for src in mapping.sources if src.node}
