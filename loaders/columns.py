"""The records of many rows at once, built column by column: the fast path of `RowParser`.

`records.record_builder` checks one row's values one call at a time (a getter, then the property's check:
~0.3 µs a value, most of a row's parse). A property whose value comes from one column (`column:` without
`when`) depends on that cell alone, so over a chunk of rows it is computed column by column: once per distinct
cell (stages, dates, amounts, flags repeat from row to row), and plain text in one pass. Other values (templates,
`when`, constants) go through the same getters as the row parser, row by row.

Exact by construction: the same functions give each value, and a row with any value that fails gets no record
here. The loader parses that row with the row parser, whose error is the reason the quarantine shows, so what
loads and what is quarantined (file, line, reason) is the same either way (`tests/loaders/test_columns.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from itertools import repeat
from typing import Any

from loaders.mapping import ValueSpec
from loaders.records import parse_string, property_check
from loaders.values import Row, compile_cell, compile_value
from ontology import NodeType, Relation

#: What `columnar_builder`'s function gives for a row it made no record for (a value failed its check).
NO_RECORD = None
_FAILED = object()

ColumnBuilder = Callable[[Sequence[Row]], list[dict[str, Any] | None]]


def columnar_builder(typed: NodeType | Relation, specs: Mapping[str, ValueSpec], keys: tuple[str, ...] = (),
                     deferred: frozenset[str] = frozenset()) -> ColumnBuilder:
    """The records `record_builder` makes from each of many rows, or None for a row whose values do not all pass.

    Args are `record_builder`'s, with the mapping's value specs in place of compiled getters.
    """
    fields: list[tuple[str, str | None, Callable[[str], Any] | None, Callable[[Any], Any],
                       Callable[[Row], Any] | None]] = []
    for p in typed.properties:
        spec = specs.get(p.name)
        if spec is None:
            if p.required:  # no value for a required property: every row fails, and the row parser says why
                return lambda rows: [NO_RECORD] * len(rows)
            continue
        check = property_check(replace(p, required=False) if p.name in deferred else p)
        cell = compile_cell(spec)
        fields.append((p.name, spec.column, cell, check, None if cell is not None else compile_value(spec)))
    names = typed.property_names + keys

    def build(rows: Sequence[Row]) -> list[dict[str, Any] | None]:
        failed: set[int] = set()
        values: dict[str, list[Any]] = {}
        for name, column, cell, check, get in fields:
            if cell is not None and column is not None:
                values[name] = _by_cell([row.get(column, "") for row in rows], cell, check, failed)
            elif get is not None:
                values[name] = _by_row(rows, get, check, failed)
        columns = [values[name] if name in values else repeat(None, len(rows)) for name in names]
        rows_of = zip(*columns, strict=False)  # `repeat` columns end with the others
        records: list[dict[str, Any] | None] = [dict(zip(names, row, strict=True)) for row in rows_of]
        for i in failed:
            records[i] = NO_RECORD
        return records

    return build


def _by_cell(cells: list[str], cell: Callable[[str], Any], check: Callable[[Any], Any], failed: set[int]) -> list[Any]:
    """A column's values, each distinct cell checked once; the rows of a cell that fails are added to `failed`."""
    if cell is str.strip and check is parse_string:  # plain text: no table, one pass
        return [c.strip() or None for c in cells]
    table: dict[str, Any] = {}
    for c in set(cells):
        try:
            table[c] = check(cell(c))
        except Exception:  # any error: the row parser raises it again, in the row's own order
            table[c] = _FAILED
    out = list(map(table.__getitem__, cells))
    if any(v is _FAILED for v in table.values()):
        failed.update(i for i, v in enumerate(out) if v is _FAILED)
    return out


def _by_row(rows: Sequence[Row], get: Callable[[Row], Any], check: Callable[[Any], Any], failed: set[int]) -> list[Any]:
    out: list[Any] = []
    for i, row in enumerate(rows):
        try:
            out.append(check(get(row)))
        except Exception:  # as in _by_cell
            out.append(None)
            failed.add(i)
    return out
