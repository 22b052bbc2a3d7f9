"""Check a mapping against the ontology and an export before loading: nothing is written.

`check_mapping` reports what a load would stop on (mapping errors, missing
files or columns, unreadable files) and what it would quarantine on a sample
of rows (values a map does not list, dates that do not parse, wrong types,
references that name no node), plus warnings a load goes on despite (unused
columns). Rows rejected only because a row they depend on is rejected are
left to the load to find.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from graph.store import GraphStore, InvalidInput
from loaders.absent import fit_to_export
from loaders.lookup import NaturalKeys
from loaders.mapping import SourceSpec, mapping_path, parse_mapping
from loaders.parse import ParsedRow, RowParser
from loaders.read import ERROR, check_files, column_warnings, source_rows
from loaders.records import RecordError
from loaders.stand_in import fill_earliest_dates
from loaders.values import compile_id, compile_value
from ontology import Schema

#: Rows per file whose values are checked; keys are collected from every row.
DEFAULT_SAMPLE = 1000
EXAMPLES = 3


@dataclass
class CheckReport:
    mapping: str
    source: str
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows_checked: dict[str, int] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)  # what the export leaves out and what that costs

    @property
    def clean(self) -> bool:
        return not self.problems


def check_mapping(name_or_path: str, schema: Schema, source_dir: Path, sample: int = DEFAULT_SAMPLE,
                  store: GraphStore | None = None) -> CheckReport:
    """Everything wrong with loading `source_dir` through the mapping, without loading it.

    Args:
        name_or_path: a shipped mapping's name or a YAML file.
        sample: rows per file whose values are parsed (0: all).
        store: if given, references may also name nodes already in it (read only).
    """
    report = CheckReport(str(name_or_path), str(source_dir))
    try:
        mapping = parse_mapping(mapping_path(name_or_path))
    except InvalidInput as e:
        report.problems.append(str(e))
        return report
    report.mapping = mapping.name
    report.problems += mapping.check_against(schema)
    if report.problems:
        return report  # rows cannot be checked against terms the ontology lacks
    if not source_dir.is_dir():
        report.problems.append(f"{source_dir}: no such folder")
        return report
    mapping, report.absent = fit_to_export(mapping, source_dir, schema)
    report.problems += check_files(mapping, source_dir)
    report.warnings += column_warnings(mapping, source_dir)
    bad_files = {p.split(":", 1)[0] for p in report.problems}
    readable = [src for src in mapping.sources if src.file not in bad_files]
    parsed = _check_rows(schema, readable, source_dir, sample or None, report)
    _check_references(schema, readable, source_dir, parsed, store, report)
    if not sample or all(n < sample for n in report.rows_checked.values()):  # a sample may miss the dating facts
        _check_undated(schema, parsed, report)
    return report


def _check_undated(schema: Schema, parsed: list[tuple[str, int, ParsedRow]], report: CheckReport) -> None:
    """Rows whose empty `if_empty: earliest_fact` date no fact of the export can fill: the load quarantines them."""
    where = {id(row): (file, line) for file, line, row in parsed}
    failures: dict[str, list[tuple[int, str]]] = {}
    for row, reason in fill_earliest_dates([row for _, _, row in parsed], schema):
        file, line = where[id(row)]
        failures.setdefault(file, []).append((line, reason))
    for file, fails in failures.items():
        report.problems.append(_summary(file, report.rows_checked[file], fails, "would be quarantined"))


def _check_rows(schema: Schema, sources: list[SourceSpec], source_dir: Path, sample: int | None,
                report: CheckReport) -> list[tuple[str, int, ParsedRow]]:
    parsed = []
    for src in sources:
        failures: list[tuple[int, str]] = []
        count = 0
        parse = RowParser(schema, src).parse
        for line, raw in islice(source_rows(src, source_dir), sample):
            count += 1
            try:
                if ERROR in raw:
                    raise RecordError(raw[ERROR])
                parsed.append((src.file, line, parse(raw)))
            except RecordError as e:
                failures.append((line, str(e)))
        if src.unpivot is None or src.file not in report.rows_checked:  # a file's rows, not its unpivoted cells
            report.rows_checked[src.file] = count
        if failures:
            report.problems.append(_summary(src.file, count, failures, "would be quarantined"))
    return parsed


def _check_references(schema: Schema, sources: list[SourceSpec], source_dir: Path,
                      parsed: list[tuple[str, int, ParsedRow]], store: GraphStore | None, report: CheckReport) -> None:
    lookups = [lk for _, _, row in parsed for lk in row.lookups]
    wanted = {(lk.label, lk.by, lk.match) for lk in lookups}
    nodes = list(_node_keys(sources, source_dir, wanted))
    known: dict[str, set[str]] = {label: set() for label in schema.nodes}
    for label, rec in nodes:
        known[label].add(rec["id"])
    keys = NaturalKeys(nodes, wanted, store)
    failures: dict[str, list[tuple[int, str]]] = {}
    for file, line, row in parsed:
        reason = _unresolved(row, keys, known, store)
        if reason:
            failures.setdefault(file, []).append((line, reason))
    for file, fails in failures.items():
        report.problems.append(_summary(file, report.rows_checked[file], fails, "name nodes that do not exist"))


def _unresolved(row: ParsedRow, keys: NaturalKeys, known: dict[str, set[str]], store: GraphStore | None) -> str | None:
    for lk in row.lookups:
        ids = keys.ids(lk)
        if len(ids) != 1:
            how = "names no" if not ids else f"is ambiguous ({len(ids)})"
            return f"{lk.column}: {lk.value!r} {how} {lk.label} by {lk.by}"
    for column, label, ref in row.refs:
        if ref not in known[label] and (store is None or not store.get_nodes(label, [ref])):
            return f"{column}: {ref!r} names no {label}"
    return None


def _node_keys(
    sources: list[SourceSpec], source_dir: Path, wanted: set[tuple[str, str, str]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(label, {id, looked-up properties}) of every row of every node file: cheap, no validation."""
    for src in sources:
        if not src.node:
            continue
        label, key_spec = src.node_source()
        records = [_light_record(label, key_spec, src.properties, wanted)]
        records += [_light_record(also.node, also.key, also.properties, wanted) for also in src.also]
        for _, raw in source_rows(src, source_dir):
            try:
                for record in records:
                    yield record(raw)
            except (RecordError, KeyError):
                continue  # an error row or a bad key: reported by _check_rows when sampled


def _light_record(label: str, key: Any, props: dict, wanted: set[tuple[str, str, str]]
                  ) -> Callable[[dict[str, str]], tuple[str, dict[str, Any]]]:
    """A function of a row giving (label, {id, the properties a lookup wants}), compiled once per file."""
    node_id = compile_id(key, "key")
    values = {by: compile_value(props[by]) for node, by, _ in wanted if node == label and by in props}

    def record(raw: dict[str, str]) -> tuple[str, dict[str, Any]]:
        return label, {"id": node_id(raw)} | {by: get(raw) for by, get in values.items()}

    return record


def _summary(file: str, checked: int, failures: list[tuple[int, str]], what: str) -> str:
    by_field = Counter(reason.split(":", 1)[0] for _, reason in failures)
    fields = ", ".join(f"{name} ({n})" for name, n in by_field.most_common())
    examples = "; ".join(f"line {line}: {reason}" for line, reason in failures[:EXAMPLES])
    return f"{file}: {len(failures)} of {checked} rows checked {what} [{fields}], e.g. {examples}"

