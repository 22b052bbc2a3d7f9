"""The loader's identity step: resolve duplicates among parsed rows, merge them, redirect references.

Runs after parsing and before references are resolved, so a deal that names
a duplicate account is re-pointed at the kept account instead of being
quarantined, and natural-key lookups see one company per website. The
decisions themselves come from `loaders.identity`; this module applies them
to the rows and turns them into `MergeRecord`s for the store.

A merged row loses its node but keeps everything else it says: its own
relations (a contact's WORKS_AT, an account's SUBSIDIARY_OF) and references
move to the kept record, go through reference resolution like any row's, and
are written (the row counts as merged, not loaded). Where such a relation
has validity (WORKS_AT since/until), the records' creation times order the
jobs (`order_jobs`): a later record's job starts when that record was
created, unless the export gives its start, and the earlier records' open
jobs end then, unless the export gives their end. Every edge a merge
re-points or fills a time on is recorded with the merge, so undo gives both
records their own relations back exactly.

Which records are compared: in a full load, the export's records (the export
is the whole truth; anything else in the store is about to be retired); in a
delta load, the export's records and the stored ones. Earlier merges stay in
force; undone ones are never made again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, Protocol

from graph.ledger import Ledger
from graph.lineage import LOAD_ID, SOURCE_FILE, SOURCE_LINE, Close, MergeRecord, Redirect, SetAside
from graph.store import GraphStore
from graph.timefmt import parse_iso, to_utc
from loaders.identity import Decision, IdentityRules, resolve, time_key
from ontology import Relation


class _File(Protocol):
    file: str
    merged: int


class _Row(Protocol):
    file: _File
    line: int
    nodes: Sequence[tuple[str, dict[str, Any]]]
    edges: Sequence[tuple[str, dict[str, Any]]]
    refs: tuple[tuple[str, str, str], ...]


Fills = dict[int, list[tuple[tuple[str, str], str]]]  # id(edge record) -> [((label, merged id), property filled)]


@dataclass
class IdentityOutcome:
    rows: list[Any]
    merges: list[MergeRecord] = field(default_factory=list)
    by_rule: dict[str, int] = field(default_factory=dict)  # rows merged in this load, by rule
    blocked: dict[str, int] = field(default_factory=dict)
    ambiguous: dict[str, int] = field(default_factory=dict)
    # id() of the merged rows: they stay in `rows` without their node, for the relations they carry, and count
    # as merged (not loaded) when written.
    carriers: set[int] = field(default_factory=set)
    # What `settle_carried` needs once references are resolved: label -> merged id -> kept id, the creation time
    # of every record compared, which of them are stored, and the record each re-pointed edge came from.
    into: dict[str, dict[str, str]] = field(default_factory=dict)
    times: dict[tuple[str, str], Any] = field(default_factory=dict)
    stored: set[tuple[str, str]] = field(default_factory=set)
    origin: dict[int, str] = field(default_factory=dict)  # id(edge record) -> the merged id its src named
    origin_dst: dict[int, str] = field(default_factory=dict)  # id(edge record) -> the merged id its dst named
    repointed: set[int] = field(default_factory=set)  # id() of the rows holding such an edge: the few to revisit


def merge_duplicates(rows: list[Any], store: GraphStore, rules: IdentityRules | None, load_id: str,
                     include_stored: bool) -> IdentityOutcome:
    """Resolve duplicates of every node type the rules name; see the module docstring."""
    outcome = IdentityOutcome(rows)
    if rules is None:
        return outcome
    schema = store.schema
    decided: list[tuple[str, Decision, Any]] = []  # (label, decision, the merged row when it is in this load)
    into, times, stored = outcome.into, outcome.times, outcome.stored
    for label in rules.entities:
        if label not in schema.nodes:
            continue
        time = schema.nodes[label].time
        primary = {row.nodes[0][1]["id"]: row for row in rows if row.nodes and row.nodes[0][0] == label}
        records = [row.nodes[0][1] for row in primary.values()]
        if include_stored:
            stored_ids = store.node_ids(label) - primary.keys()
            records += list(store.get_nodes(label, stored_ids).values())
            stored |= {(label, i) for i in stored_ids}
        times |= {(label, r["id"]): r.get(time) for r in records}
        earlier = Ledger(store).merges(label)
        active = [Decision(m.kept_id, m.merged_id, m.rule, m.score, m.detail) for m in earlier if m.state == "active"]
        apart = [(m.kept_id, m.merged_id) for m in earlier if m.state == "undone"]
        result = resolve(label, records, rules, must_link=active, cannot_link=apart, time_property=time)
        for rule, n in result.blocked.items():
            outcome.blocked[f"{label}.{rule}"] = n
        for rule, n in result.ambiguous.items():
            outcome.ambiguous[f"{label}.{rule}"] = n
        if result.decisions:
            into[label] = {d.merged_id: d.kept_id for d in result.decisions}
            decided += [(label, d, primary.get(d.merged_id)) for d in result.decisions]
    if not decided:
        return outcome
    merged_rows = {(label, d.merged_id): {**row.nodes[0][1], LOAD_ID: load_id, SOURCE_FILE: row.file.file,
                                          SOURCE_LINE: row.line}
                   for label, d, row in decided if row is not None}
    for row in rows:
        if row.nodes and row.nodes[0][1]["id"] in into.get(row.nodes[0][0], ()):
            row.nodes = row.nodes[1:]  # the merged node goes; what else the row says stays
            outcome.carriers.add(id(row))
    changed = _redirect(rows, schema, into, outcome)
    for label, d, row in decided:
        outcome.merges.append(MergeRecord(
            label=label, kept_id=d.kept_id, merged_id=d.merged_id, rule=d.rule, score=d.score, load_id=load_id,
            detail=d.detail, merged_row=merged_rows.get((label, d.merged_id)),
            redirects=tuple(changed.get((label, d.merged_id), ())),
        ))
        if row is not None:
            outcome.by_rule[f"{label}.{d.rule}"] = outcome.by_rule.get(f"{label}.{d.rule}", 0) + 1
    return outcome


def settle_carried(outcome: IdentityOutcome, rows: list[Any], store: GraphStore) -> None:
    """What the merged rows carry, once references are resolved (a rejected row carries nothing): the
    relations the kept record cannot also hold are set aside, then the jobs are ordered."""
    if not outcome.merges:
        return
    _set_aside_clashes(outcome, rows, store.schema)
    order_jobs(outcome, rows, store)


def _set_aside_clashes(outcome: IdentityOutcome, rows: list[Any], schema: Any) -> None:
    """A re-pointed edge the kept record cannot hold: a loop (one account was the other's subsidiary), or a
    carried second edge of a relation that allows one per source (two parents). The kept record's own edge
    (else the first carried one) stays; the others are kept with their merge as read, for undo."""
    src_of, dst_of = outcome.origin, outcome.origin_dst
    if not src_of and not dst_of:
        return
    kept = {k for mapping in outcome.into.values() for k in mapping.values()}
    held = {(rel, rec["src"]) for row in rows for rel, rec in row.edges
            if rec["src"] in kept and id(rec) not in src_of and schema.relations[rel].functional}
    aside: dict[tuple[str, str], list[SetAside]] = {}
    gone: set[tuple[str, str, str, str]] = set()  # (relation, src, dst, key) of the edges set aside
    for row in rows:
        # Only rows `_redirect` re-pointed an edge of can hold one (a set test; most rows are not among them).
        if id(row) not in outcome.repointed or not any(id(rec) in src_of or id(rec) in dst_of for _, rec in row.edges):
            continue
        keep = []
        for rel, rec in row.edges:
            relation, ident = schema.relations[rel], id(rec)
            loop = rec["src"] == rec["dst"] and (ident in src_of or ident in dst_of)
            second = relation.functional and ident in src_of and (rel, rec["src"]) in held
            if loop or second:
                merge = (relation.source, src_of[ident]) if ident in src_of else (relation.target, dst_of[ident])
                edge = {**rec, "src": src_of.get(ident, rec["src"]), "dst": dst_of.get(ident, rec["dst"])}
                aside.setdefault(merge, []).append(SetAside(rel, edge))
                gone.add((rel, rec["src"], rec["dst"], rec.get("key") or ""))
                continue
            if relation.functional:
                held.add((rel, rec["src"]))
            keep.append((rel, rec))
        row.edges = tuple(keep)
    if aside:
        outcome.merges = [replace(m, set_aside=tuple(aside.get((m.label, m.merged_id), ())), redirects=tuple(
            r for r in m.redirects if r.end is None or (r.relation, r.src, r.dst, r.key) not in gone))
            for m in outcome.merges]


def order_jobs(outcome: IdentityOutcome, rows: list[Any], store: GraphStore) -> None:
    """Order the jobs of each merged group by its records' creation times (relations with since and until).

    One record per job move is how a CRM without job history records it (a second contact with the same
    email at the new company), so each later record's jobs at companies no earlier record worked at start
    when that record was created, and the earlier records' open jobs elsewhere end then. A time the export
    gives is never changed, and a job that started after the move is not ended. Runs on the rows that
    passed reference resolution, so a rejected row moves nobody; each change joins the merge that made it
    (`outcome.merges`), for undo.
    """
    if not outcome.merges:
        return
    fills: Fills = {}
    closes: dict[tuple[str, str], list[Close]] = {}
    for rel in store.schema.relations.values():
        if rel.valid_from and rel.valid_to and rel.source in outcome.into:
            _order(rel, rows, store, outcome, fills, closes)
    if not fills and not closes:
        return
    filled: dict[tuple[str, str], list[Redirect]] = {}
    for row in rows:
        for rel_name, rec in row.edges:
            for merge, props in _by_merge(fills.get(id(rec), ())).items():
                filled.setdefault(merge, []).append(
                    Redirect(rel_name, rec["src"], rec["dst"], rec.get("key") or "", None, tuple(props)))
    outcome.merges = [replace(m, redirects=(*m.redirects, *filled.get((m.label, m.merged_id), ())),
                              closes=tuple(closes.get((m.label, m.merged_id), ())))
                      for m in outcome.merges]


def _by_merge(filled: Iterable[tuple[tuple[str, str], str]]) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for merge, prop in filled:
        out.setdefault(merge, []).append(prop)
    return out


def _order(rel: Relation, rows: list[Any], store: GraphStore, outcome: IdentityOutcome, fills: Fills,
           closes: dict[tuple[str, str], list[Close]]) -> None:
    label, since, until = rel.source, rel.valid_from, rel.valid_to
    if since is None or until is None:
        return
    times = outcome.times
    groups: dict[str, list[str]] = {}  # kept id -> its group
    for merged, kept in outcome.into[label].items():
        groups.setdefault(kept, [kept]).append(merged)
    jobs: dict[str, list[dict[str, Any]]] = {}  # record id -> its edges of `rel` in this load
    for row in rows:
        for name, rec in row.edges:
            if name == rel.name and rec["src"] in groups:  # references are redirected: a group's edges name its kept id
                jobs.setdefault(outcome.origin.get(id(rec), rec["src"]), []).append(rec)
    # A stored kept record's jobs this load does not rewrite: ended in the store, if still open (a delta load).
    stored_jobs: dict[str, list[tuple[str, str]]] = {}
    if any((label, kept) in outcome.stored for kept in groups):
        written = {(r["src"], r["dst"], r.get("key") or "") for recs in jobs.values() for r in recs}
        for s, d, k in sorted(Ledger(store).edge_keys(rel.name)):
            if s in groups and (label, s) in outcome.stored and (s, d, k) not in written:
                stored_jobs.setdefault(s, []).append((d, k))
    for kept, members in groups.items():
        timed = sorted((m for m in members if times.get((label, m)) not in (None, "")),
                       key=lambda m: (time_key(times[(label, m)]), m))
        earlier: list[str] = []
        for later in timed:
            held = {r["dst"] for e in earlier for r in jobs.get(e, ())}
            if kept in earlier:
                held |= {d for d, _ in stored_jobs.get(kept, ())}
            moves = [r for r in jobs.get(later, ()) if earlier and r["dst"] not in held]
            for r in moves:
                if r.get(since) is None:
                    r[since] = _day(times[(label, later)])
                    fills.setdefault(id(r), []).append(((label, later), since))
            if moves:
                start = min(_day(r[since]) for r in moves)
                stays = {r["dst"] for r in jobs.get(later, ())}  # a company both records name: one job
                for e in earlier:
                    for r in jobs.get(e, ()):
                        if r["dst"] in stays or r.get(until) is not None:
                            continue
                        if r.get(since) is not None and _day(r[since]) >= start:
                            continue  # started after the move: not the job it ended
                        r[until] = start
                        fills.setdefault(id(r), []).append(((label, later), until))
                if kept in earlier and stored_jobs.get(kept):
                    closes.setdefault((label, later), []).extend(
                        Close(rel.name, kept, d, k, start) for d, k in stored_jobs.pop(kept) if d not in stays)
            earlier.append(later)


def _day(value: Any) -> date:
    """A job's start or a record's creation time as a day (validity is by date)."""
    if isinstance(value, datetime):
        return to_utc(value).date()
    if isinstance(value, date):
        return value
    return parse_iso(str(value)).date()


def _redirect(rows: list[Any], schema: Any, into: dict[str, dict[str, str]],
              outcome: IdentityOutcome) -> dict[tuple[str, str], list[Redirect]]:
    """Point every edge end and reference naming a merged id at its kept id, in one pass over the rows.

    Returns the redirected edges by (label, merged id), for undo; notes in `outcome.origin` / `origin_dst` the
    merged id each re-pointed edge's src / dst named (the src: whose relation it was), and in `repointed` the
    rows holding such an edge.
    """
    origin, origin_dst, repointed = outcome.origin, outcome.origin_dst, outcome.repointed
    none: dict[str, str] = {}
    ends = {name: (into.get(rel.source, none), into.get(rel.target, none), rel.source, rel.target)
            for name, rel in schema.relations.items()}
    merged_ids = {merged for mapping in into.values() for merged in mapping}  # one test per reference
    out: dict[tuple[str, str], list[Redirect]] = {}
    for row in rows:
        for rel, rec in row.edges:
            src_map, dst_map, src_label, dst_label = ends[rel]
            if rec["src"] in src_map:
                origin[id(rec)] = rec["src"]
                repointed.add(id(row))
                _repoint(rel, rec, "src", src_map, src_label, out)
            if rec["dst"] in dst_map:
                origin_dst[id(rec)] = rec["dst"]
                repointed.add(id(row))
                _repoint(rel, rec, "dst", dst_map, dst_label, out)
        for reference in row.refs:
            if reference[2] in merged_ids:
                row.refs = tuple((column, label, into.get(label, none).get(ref, ref))
                                 for column, label, ref in row.refs)
                break
    return out


def _repoint(rel: str, rec: dict[str, Any], end: Literal["src", "dst"], mapping: dict[str, str], label: str,
             out: dict[tuple[str, str], list[Redirect]]) -> None:
    merged = rec[end]
    rec[end] = mapping[merged]
    out.setdefault((label, merged), []).append(Redirect(rel, rec["src"], rec["dst"], rec.get("key") or "", end))
