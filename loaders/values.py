"""Mapping values compiled into functions of a source row, as docs/mappings.md lists the steps.

A value is a column, a template over columns, or a constant; a column or
template value is then trimmed, translated by its `map`, read as a `number`
written for people, and parsed with its `format`. Compiling a value once per
file leaves a row plain calls, instead of a walk over the spec's options.
Keys and references are values too, with their own checks (`compile_id`,
`compile_refs`), and so are the conditions of `when:` (`compile_condition`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from loaders.mapping import TEMPLATE_FIELD, RefSpec, ValueSpec, WhenSpec
from loaders.records import RecordError, parse_formatted, plain_number, truth_word

Row = dict[str, str]
Getter = Callable[[Row], Any]


def compile_value(spec: ValueSpec) -> Getter:
    """`spec` as a function of a row (before type coercion): column or template, then map, number, format.

    With a `when`, the value is empty ("") on rows where the condition does not hold.
    The function raises `RecordError`, naming the column, for a value its `map` does not list or that
    matches none of its `format`s.
    """
    if spec.when is not None:
        holds, get = compile_condition(spec.when), compile_value(spec.model_copy(update={"when": None}))
        return lambda row: get(row) if holds(row) else ""
    if spec.value is not None:
        constant = spec.value
        return lambda row: constant
    if spec.template is not None:
        read = _template_reader(spec.template)
    elif spec.column is not None:
        read = _column_reader(spec.column)
    else:  # ValueSpec's own check makes this unreachable
        raise ValueError("a value needs one of column, template, value")
    steps = [s for s in (_map_step(spec), _number_step(spec), _format_step(spec)) if s is not None]
    if not steps:
        return read

    def evaluate(row: Row) -> Any:
        value = read(row)
        if value == "":  # an empty cell skips every step: it is "no value", whatever the map says
            return value
        for step in steps:
            value = step(value)
        return value

    return evaluate


def _column_reader(column: str) -> Getter:
    # A column an export left out (optional) reads as empty.
    return lambda row: row.get(column, "").strip()


def _template_reader(template: str) -> Getter:
    parts = TEMPLATE_FIELD.split(template)  # literal, column, literal, ..., literal
    literals, columns = parts[0::2], parts[1::2]
    pieces = list(zip(columns, literals[1:], strict=True))
    first = literals[0]

    def read(row: Row) -> str:
        text = first
        for column, literal in pieces:
            text += row.get(column, "") + literal
        return " ".join(text.split())

    return read


def _map_step(spec: ValueSpec) -> Callable[[Any], Any] | None:
    if spec.map is None:
        return None
    table, folded, default, keep = spec.map, spec.folded_map, spec.default, spec.keep_unmapped
    name, listed = where(spec), sorted(spec.map)
    # A map of true/false keys reads the cell as a boolean: `1`, `TRUE`, `yes` find the "true" entry.
    truths = _truth_table(spec.map)

    def translate(raw: Any) -> Any:
        if raw in table:
            return table[raw]
        if raw.casefold() in folded:
            return folded[raw.casefold()]
        if truths and (word := truth_word(raw)) in truths:
            return truths[word]
        if default is not None:
            return default
        if keep:
            return raw
        raise RecordError(f"{name}: {raw!r} is not one of the mapped values {listed}")

    return translate


def _of_truth(words: Iterable[str]) -> bool:
    """Whether a map's keys or a condition's values speak of truth: `true` or `false` among them, and each a
    spelling of one (`"1"`, `"no"`). Digits alone do not: `equals: "1"` may test a status code (2 is no error)."""
    folded = {w.strip().casefold() for w in words}
    return bool(folded & {"true", "false"}) and all(truth_word(w) for w in folded)


def _truth_table(table: dict[str, Any]) -> dict[str, Any] | None:
    """The map by truth ("true"/"false") when its keys speak of truth (`_of_truth`), else None."""
    if not _of_truth(table):
        return None
    return {word: value for key, value in table.items() if (word := truth_word(key))}


def _number_step(spec: ValueSpec) -> Callable[[Any], Any] | None:
    if spec.number is None:
        return None
    thousands, decimal, symbols, name = spec.number.thousands, spec.number.decimal, spec.number.symbols, where(spec)

    def plain(raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        try:
            return plain_number(raw, thousands, decimal, symbols)
        except RecordError as e:
            raise RecordError(f"{name}: {e}") from None

    return plain


def _format_step(spec: ValueSpec) -> Callable[[Any], Any] | None:
    if not spec.format:
        return None
    formats, timezone, name = spec.formats, spec.timezone, where(spec)

    def parse(raw: Any) -> Any:
        if not isinstance(raw, str):
            return raw
        try:
            return parse_formatted(raw, formats, timezone)
        except RecordError as e:
            raise RecordError(f"{name}: {e}") from None

    return parse


def compile_id(spec: ValueSpec, what: str) -> Callable[[Row], str]:
    """A key (or edge end) as a function of a row: its text, or `RecordError` when it is empty."""
    get, name = compile_value(spec), where(spec)

    def key(row: Row) -> str:
        value = str(get(row)).strip()
        if not value:
            raise RecordError(f"{name}: {what} is empty")
        if "E+" in value or "e+" in value:
            _check_not_rounded(name, value)
        return value

    return key


# `1.23457E+11`: a long numeric id (HubSpot's Record ID) as Excel shows and saves it once it read it as a number.
_EXCEL_ROUNDED = re.compile(r"[0-9](?:[.,][0-9]+)?E\+[0-9]+", re.IGNORECASE)


def _check_not_rounded(name: str, value: str) -> None:
    """`RecordError` for an id Excel rounded into scientific notation: its digits are gone, and it would name
    another record or none, so the row is quarantined with what to do instead of loading a wrong id."""
    if _EXCEL_ROUNDED.fullmatch(value):
        raise RecordError(f"{name}: {value!r} is an id Excel turned into a rounded number; its digits are lost: "
                          "export again and do not open the file in Excel, or import the column as text")


def compile_refs(ref: RefSpec) -> Callable[[Row], list[str]]:
    """The node names a reference cell holds, as a function of a row: none when empty, several when `split`."""
    get, separator, name = compile_value(ref), ref.split, where(ref)

    def names(row: Row) -> list[str]:
        value = str(get(row)).strip()
        if separator is None:
            found = [value] if value else []
        else:
            found = list(dict.fromkeys(v.strip() for v in value.split(separator) if v.strip()))
        if "E+" in value or "e+" in value:
            for one in found:
                _check_not_rounded(name, one)
        return found

    return names


def compile_condition(when: WhenSpec) -> Callable[[Row], bool]:
    """A `when:` as a function of a row; text is compared trimmed and case-insensitively.

    A test of true/false (`equals: "true"`) reads the cell as a boolean property would: `1`, `TRUE` and `yes` are
    true, and a cell that is no boolean at all raises `RecordError` rather than silently counting as false (a
    Salesforce report writes IsClosed as `1`: read as text, every closed deal would load as open).
    """
    get, name = compile_value(when), where(when)
    options = None if when.in_ is None else {x.strip().casefold() for x in when.in_}
    equals = when.equals.strip().casefold() if when.equals is not None else None
    prefix = when.starts_with.strip().casefold() if when.starts_with is not None else None
    truths = _of_truth(options if options is not None else {equals} if equals is not None else set())
    if truths:  # compared as truth words
        options = None if options is None else {w for x in options if (w := truth_word(x))}
        equals = None if equals is None else truth_word(equals)

    def holds(row: Row) -> bool:
        raw = get(row)
        value = "" if raw is None else str(raw).strip().casefold()
        if truths and value:
            word = truth_word(value)
            if word is None:
                raise RecordError(f"{name}: {raw!r} is not true/false")
            value = word
        if prefix is not None:
            return value.startswith(prefix)
        if options is not None:
            return value in options
        return value == equals if equals is not None else value != ""

    return holds


def required_id(spec: ValueSpec, row: Row, what: str) -> str:
    """One key of one row; for a single use (a loop compiles once with `compile_id`)."""
    return compile_id(spec, what)(row)


def where(spec: ValueSpec) -> str:
    """How a message names a value: its column, or its template."""
    return spec.column or spec.template or repr(spec.value)
