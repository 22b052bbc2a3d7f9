"""The loader's identity step: resolve duplicates among parsed rows, drop the merged ones, redirect references.

Runs after parsing and before references are resolved, so a deal that names
a duplicate account is re-pointed at the kept account instead of being
quarantined, and natural-key lookups see one company per website. The
decisions themselves come from `loaders.identity`; this module applies them
to the rows and turns them into `MergeRecord`s for the store.

Which records are compared: in a full load, the export's records (the export
is the whole truth; anything else in the store is about to be retired); in a
delta load, the export's records and the stored ones. Earlier merges stay in
force; undone ones are never made again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from graph.lineage import LOAD_ID, SOURCE_FILE, SOURCE_LINE, MergeRecord, Redirect
from graph.store import GraphStore
from loaders.identity import Decision, IdentityRules, resolve


class _File(Protocol):
    file: str
    merged: int


class _Row(Protocol):
    file: _File
    line: int
    nodes: Sequence[tuple[str, dict[str, Any]]]
    edges: Sequence[tuple[str, dict[str, Any]]]
    refs: tuple[tuple[str, str, str], ...]


@dataclass
class IdentityOutcome:
    rows: list[Any]
    merges: list[MergeRecord] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)  # rows merged in this load, by rule
    blocked: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, int] = field(default_factory=dict)


def merge_duplicates(rows: list[Any], store: GraphStore, rules: IdentityRules | None, load_id: str,
                     include_stored: bool) -> IdentityOutcome:
    """Resolve duplicates of every node type the rules name; see the module docstring."""
    outcome = IdentityOutcome(rows)
    if rules is None:
        return outcome
    schema = store.schema
    decided: list[tuple[str, Decision, Any]] = []  # (label, decision, the merged row when it is in this load)
    into: dict[str, dict[str, str]] = {}  # label -> merged id -> kept id
    for label in rules.entities:
        if label not in schema.nodes:
            continue
        primary = {row.nodes[0][1]["id"]: row for row in rows if row.nodes and row.nodes[0][0] == label}
        records = [row.nodes[0][1] for row in primary.values()]
        if include_stored:
            stored_ids = store.node_ids(label) - primary.keys()
            records += list(store.get_nodes(label, stored_ids).values())
        earlier = store.merges(label)
        active = [Decision(m.kept_id, m.merged_id, m.rule, m.score, m.detail) for m in earlier if m.state == "active"]
        apart = [(m.kept_id, m.merged_id) for m in earlier if m.state == "undone"]
        result = resolve(label, records, rules, must_link=active, cannot_link=apart,
                         time_property=schema.nodes[label].time)
        for rule, n in result.blocked.items():
            outcome.blocked[f"{label}.{rule}"] = n
        for rule, n in result.ambiguous.items():
            outcome.ambiguous[f"{label}.{rule}"] = n
        if result.decisions:
            into[label] = {d.merged_id: d.kept_id for d in result.decisions}
            decided += [(label, d, primary.get(d.merged_id)) for d in result.decisions]
    if not decided:
        return outcome
    kept_rows = []
    for row in rows:
        if row.nodes and row.nodes[0][1]["id"] in into.get(row.nodes[0][0], ()):
            row.file.merged += 1  # read = loaded + quarantined + merged still holds
        else:
            kept_rows.append(row)
    outcome.rows = kept_rows
    redirects = _redirect(kept_rows, schema, into)  # after dropping: a merged row's own edges go with it
    for label, d, row in decided:
        merged_row = ({**row.nodes[0][1], LOAD_ID: load_id, SOURCE_FILE: row.file.file, SOURCE_LINE: row.line}
                      if row is not None else None)
        outcome.merges.append(MergeRecord(
            label=label, kept_id=d.kept_id, merged_id=d.merged_id, rule=d.rule, score=d.score, load_id=load_id,
            detail=d.detail, merged_row=merged_row, redirects=tuple(redirects.get((label, d.merged_id), ())),
        ))
        if row is not None:
            outcome.by_rule[f"{label}.{d.rule}"] = outcome.by_rule.get(f"{label}.{d.rule}", 0) + 1
    return outcome


def _redirect(rows: list[Any], schema: Any, into: dict[str, dict[str, str]]) -> dict[tuple[str, str], list[Redirect]]:
    """Point every edge end and reference naming a merged id at its kept id, in one pass over the rows.

    Returns the redirected edges by (label, merged id), for undo.
    """
    none: dict[str, str] = {}
    ends = {name: (into.get(rel.source, none), into.get(rel.target, none), rel.source, rel.target)
            for name, rel in schema.relations.items()}
    merged_ids = {merged for mapping in into.values() for merged in mapping}  # one test per reference
    out: dict[tuple[str, str], list[Redirect]] = {}
    for row in rows:
        for rel, rec in row.edges:
            src_map, dst_map, src_label, dst_label = ends[rel]
            if rec["src"] in src_map:
                _repoint(rel, rec, "src", src_map, src_label, out)
            if rec["dst"] in dst_map:
                _repoint(rel, rec, "dst", dst_map, dst_label, out)
        for reference in row.refs:
            if reference[2] in merged_ids:
                row.refs = tuple((column, label, into.get(label, none).get(ref, ref)) for column, label, ref in row.refs)
                break
    return out


def _repoint(rel: str, rec: dict[str, Any], end: str, mapping: dict[str, str], label: str,
             out: dict[tuple[str, str], list[Redirect]]) -> None:
    merged = rec[end]
    rec[end] = mapping[merged]
    out.setdefault((label, merged), []).append(Redirect(rel, rec["src"], rec["dst"], rec.get("key") or "", end))  # type: ignore[arg-type]
