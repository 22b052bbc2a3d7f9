"""One source row -> the node and edge records its mapping source describes, validated against the ontology.

A `RowParser` compiles a mapping source once per file: every value of the
mapping becomes a function of the row (`loaders.values`) and every record
type a `records.record_builder`, so a row costs plain calls, not a walk over
the mapping. `parse` raises `RecordError` with a reason the quarantine shows.
References by id are listed for the loader's resolution phase; references by
natural key (`by: website`) are left as `Lookup`s that `loaders.lookup`
translates to ids once every file is parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graph.lineage import SOURCE_FILE, SOURCE_LINE
from loaders.mapping import Placeholder, RefSpec, SourceSpec, ValueSpec, WhenSpec
from loaders.records import RecordError, record_builder
from loaders.values import Row, compile_condition, compile_id, compile_refs, compile_value, where
from ontology import NodeType, Relation, Schema


@dataclass(slots=True)
class Lookup:
    """A reference by natural key, waiting to be translated to a node id."""

    column: str
    label: str
    by: str
    match: str
    value: str
    edge: int | None  # index in ParsedRow.edges whose `end` gets the id; None for a bare reference
    end: str = "dst"


@dataclass(slots=True)
class ParsedRow:
    """The records one row produces, the references they need resolved, and where the row came from.

    A load holds one of these per row until it writes, so they are lean: tuples rather than lists (a step
    that changes a reference replaces the tuple), and records made at their final size, lineage included
    (`_source_file`, `_source_line`).
    """

    nodes: tuple[tuple[str, dict[str, Any]], ...] = ()  # (label, record incl. key)
    edges: tuple[tuple[str, dict[str, Any]], ...] = ()  # (relation, record incl. src/dst)
    refs: tuple[tuple[str, str, str], ...] = ()  # (column, label, id) that must exist
    lookups: tuple[Lookup, ...] = ()
    file: Any = None  # what the caller passed: the loader's FileSummary
    line: int = 0  # the line the row starts on (header = 1)
    same_key: list[ParsedRow] | None = None  # the loader's: every row of the file giving this row's key
    # What stands in for an empty value (`loaders.stand_in`): (relation, target label, placeholder) for an
    # empty reference linked to the placeholder; (property, column) for a date still to take from the
    # earliest fact about the node (`if_empty: earliest_fact`), and the properties so filled.
    placeholders: tuple[tuple[str, str, Placeholder], ...] = ()
    unfilled: tuple[tuple[str, str], ...] = ()
    filled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Ref:
    """How a compiled reference is recorded: by id (`by` None) or as a lookup by natural key."""

    where: str
    label: str
    by: str | None
    match: str

    @classmethod
    def of(cls, spec: RefSpec, label: str) -> _Ref:
        return cls(where(spec), label, spec.by, spec.match)

    def add(self, refs: list, lookups: list, value: str, edge: int | None, end: str = "dst") -> None:
        if self.by is None:
            refs.append((self.where, self.label, value))
        else:
            lookups.append(Lookup(self.where, self.label, self.by, self.match, value, edge, end))


class RowParser:
    """One mapping source compiled against the Schema; `parse` makes the records of each of its rows.

    Example:
        >>> parser = RowParser(schema, mapping.sources[0])  # once per file
        >>> parser.parse({"Id": "005A", "Name": "Rita Rep", ...}, line=2).nodes
        (('Rep', {'active': True, ..., 'name': 'Rita Rep', 'id': '005A', '_source_file': 'User.csv', ...}),)
    """

    def __init__(self, schema: Schema, src: SourceSpec) -> None:
        self.src = src
        self.parse: Callable[..., ParsedRow] = _edge_parser(schema, src) if src.relation else _node_parser(schema, src)


def _builder(
    typed: NodeType | Relation, specs: dict[str, ValueSpec], keys: tuple[str, ...]
) -> Callable[[Row], dict[str, Any]]:
    return record_builder(typed, {prop: compile_value(spec) for prop, spec in specs.items()}, keys,
                          {prop: where(spec) for prop, spec in specs.items() if spec.value is None},
                          deferred=frozenset(prop for prop, spec in specs.items() if spec.if_empty))


def _requirement(spec: WhenSpec | None) -> Callable[[Row], None] | None:
    """A source's `require:` as a check of a row: `RecordError` naming the column, the value and what was asked;
    None without one (most sources: no call per row)."""
    if spec is None:
        return None
    holds, get, column, asked = compile_condition(spec), compile_value(spec), where(spec), spec.describe()

    def check(row: Row) -> None:
        if not holds(row):
            raise RecordError(f"{column}: {get(row)!r} is not {asked} (require)")

    return check


_NODE_KEYS = ("id", SOURCE_FILE, SOURCE_LINE)
_EDGE_KEYS = ("src", "dst", "key", SOURCE_FILE, SOURCE_LINE)


def _node_parser(schema: Schema, src: SourceSpec) -> Callable[..., ParsedRow]:
    label, key_spec = src.node_source()
    key, file_name = compile_id(key_spec, "key"), src.file
    build = _builder(schema.nodes[label], src.properties, _NODE_KEYS)
    relations = []
    for rel in src.relations:
        relation = schema.relations[rel.relation]
        relations.append((
            compile_condition(rel.when) if rel.when else None, relation, compile_refs(rel.target),
            _builder(relation, rel.properties, ()) if rel.properties else None, _Ref.of(rel.target, relation.target),
            rel.if_empty,
        ))
    references = [(compile_refs(ref), _Ref.of(ref, ref.node)) for ref in src.references]
    also = [(compile_condition(a.when) if a.when else None, a.node, compile_id(a.key, "key"),
             _builder(schema.nodes[a.node], a.properties, _NODE_KEYS), a.relation_from_parent) for a in src.also]
    deferred = tuple((prop, where(spec)) for prop, spec in src.properties.items() if spec.if_empty)
    require = _requirement(src.require)

    def parse(raw: Row, file: Any = None, line: int = 0) -> ParsedRow:
        if require is not None:
            require(raw)
        node_id = key(raw)
        record = build(raw)
        record["id"], record[SOURCE_FILE], record[SOURCE_LINE] = node_id, file_name, line
        nodes = [(label, record)]
        edges: list = []
        refs: list = []
        lookups: list = []
        placeholders: list = []
        for when, relation, targets_of, build_props, ref, placeholder in relations:
            if when is not None and not when(raw):
                continue
            targets = targets_of(raw)
            if not targets and placeholder is not None:
                # The placeholder is made by the loader, once per load: no reference to resolve.
                props = build_props(raw) if build_props is not None else {}
                edges.append((relation.name, {**props, "src": node_id, "dst": placeholder.id,
                                              SOURCE_FILE: file_name, SOURCE_LINE: line}))
                placeholders.append((relation.name, relation.target, placeholder))
                continue
            if not targets and relation.required:
                raise RecordError(f"{ref.where}: required ({relation.name}) but empty")
            if len(targets) > 1 and relation.functional:
                raise RecordError(f"{ref.where}: {relation.name} links one {relation.target}, got {len(targets)}")
            props = build_props(raw) if build_props is not None else {}
            for target in targets:
                edge = {**props, "src": node_id, "dst": target, SOURCE_FILE: file_name, SOURCE_LINE: line}
                if edges:
                    _add_edge(edges, refs, lookups, relation.name, edge, ref)
                else:  # the row's first edge: nothing to replace (most rows, so no call for it)
                    edges.append((relation.name, edge))
                    ref.add(refs, lookups, target, edge=0)
        for names_of, ref in references:
            for value in names_of(raw):
                ref.add(refs, lookups, value, edge=None)
        for when, also_label, also_key, also_build, relation_name in also:
            if when is not None and not when(raw):
                continue
            also_id = also_key(raw)
            also_record = also_build(raw)
            also_record["id"], also_record[SOURCE_FILE], also_record[SOURCE_LINE] = also_id, file_name, line
            nodes.append((also_label, also_record))
            edges.append((relation_name, {"src": node_id, "dst": also_id, SOURCE_FILE: file_name, SOURCE_LINE: line}))
        unfilled = tuple((prop, column) for prop, column in deferred if record[prop] is None) if deferred else ()
        return ParsedRow(tuple(nodes), tuple(edges), tuple(refs), tuple(lookups), file, line,
                         placeholders=tuple(placeholders), unfilled=unfilled)

    return parse


def _edge_parser(schema: Schema, src: SourceSpec) -> Callable[..., ParsedRow]:
    relation_name, source_spec, target_spec = src.edge_source()
    rel = schema.relations[relation_name]
    source, target = compile_id(source_spec, "source"), compile_id(target_spec, "target")
    key = compile_id(src.key, "key") if src.key else None
    build, relation, file_name = _builder(rel, src.properties, _EDGE_KEYS), rel.name, src.file
    source_ref, target_ref = _Ref.of(source_spec, rel.source), _Ref.of(target_spec, rel.target)
    by_id = source_ref.by is None and target_ref.by is None
    require = _requirement(src.require)

    def parse(raw: Row, file: Any = None, line: int = 0) -> ParsedRow:
        if require is not None:
            require(raw)
        s, d = source(raw), target(raw)
        edge_key = key(raw) if key is not None else ""
        record = build(raw)
        record["src"], record["dst"], record["key"] = s, d, edge_key
        record[SOURCE_FILE], record[SOURCE_LINE] = file_name, line
        if by_id:  # the usual case: both ends named by id, nothing to look up
            refs = ((source_ref.where, source_ref.label, s), (target_ref.where, target_ref.label, d))
            return ParsedRow((), ((relation, record),), refs, (), file, line)
        refs_found: list = []
        lookups: list = []
        source_ref.add(refs_found, lookups, s, edge=0, end="src")
        target_ref.add(refs_found, lookups, d, edge=0, end="dst")
        return ParsedRow((), ((relation, record),), tuple(refs_found), tuple(lookups), file, line)

    return parse


def _add_edge(edges: list, refs: list, lookups: list, relation: str, rec: dict[str, Any], ref: _Ref) -> None:
    """Add an edge; the same edge given twice by one row keeps the later mapping entry's properties."""
    for i, (rel, old) in enumerate(edges):
        if rel == relation and (old["src"], old["dst"]) == (rec["src"], rec["dst"]):
            edges[i] = (relation, rec)
            return
    edges.append((relation, rec))
    ref.add(refs, lookups, rec["dst"], edge=len(edges) - 1)

