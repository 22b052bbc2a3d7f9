"""What stands in for an empty account or created date, so an open deal is still loaded and scored.

Real exports leave a deal's account or created date empty (a lead converted without a company, a record
imported without its history); rejecting those rows dropped most open deals of one export, unseen. The
mapping says what to do instead (`docs/mappings.md`, "Empty values that do not reject a row"):

* `if_empty: {id, name}` on a relation: an empty reference links to that placeholder node, a real node of
  the target type made once per load (so "a deal has exactly one account" still holds). A reference that
  names no node is still dangling: only an *empty* one stands in.
* `if_empty: earliest_fact` on a required date: an empty cell takes the earliest date or date-time this
  export records about the node: on the nodes its own row makes (a closed deal's Outcome `closed_at`) and on
  the edges from it, from any file (contact roles', line items' `created_at`). The node's own other dates
  are not used: an open deal's close date is a forecast, not a fact. Without any, the row is rejected with
  that reason.

Both are counted per file in the load summary (`StandIn`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from graph.deals import OUTCOME_RELATION
from graph.lineage import SOURCE_FILE, SOURCE_LINE
from loaders.parse import ParsedRow
from ontology import Schema

# A row that makes a node by the outcome relation describes a closed deal; the rest are open (`graph.deals`).
_DATE_TYPES = ("date", "dateTime")


@dataclass
class StandIn:
    """How many loaded rows of one file had an empty value that a stand-in replaced, and what that was."""

    file: str
    what: str  # the relation (FOR_ACCOUNT) or property (created_at)
    rows: int = 0
    open: int = 0  # of them, rows of deals without an outcome: the ones scored
    note: str = ""


def fill_earliest_dates(rows: list[ParsedRow], schema: Schema) -> list[tuple[ParsedRow, str]]:
    """Fill each row's empty `if_empty: earliest_fact` dates in place; the rows with no fact to take, with why."""
    pending: dict[str, list[ParsedRow]] = {}  # rows of one key (duplicates) share their facts
    for row in rows:
        if row.unfilled:
            pending.setdefault(row.nodes[0][1]["id"], []).append(row)
    if not pending:
        return []
    earliest: dict[str, datetime] = {}
    for row in rows:
        for rel, rec in row.edges:
            if rec["src"] in pending:
                _note(earliest, rec["src"], _dates(rec, schema.relations[rel].properties))
        if row.unfilled:  # the nodes its own row makes beside itself: an Outcome's closed_at
            for label, rec in row.nodes[1:]:
                _note(earliest, row.nodes[0][1]["id"], _dates(rec, schema.nodes[label].properties))
    failed = []
    for node_id, same in pending.items():
        first = earliest.get(node_id)
        for row in same:
            if first is None:
                failed.append((row, "; ".join(
                    f"{prop} (column {column}): required but empty, and this export records no dated fact about it "
                    "(an outcome, a contact role or line item with a date) to take it from"
                    for prop, column in row.unfilled)))
                continue
            record = row.nodes[0][1]
            for prop, _ in row.unfilled:
                record[prop] = first if _datatype(schema, row.nodes[0][0], prop) == "dateTime" else first.date()
            row.filled, row.unfilled = tuple(prop for prop, _ in row.unfilled), ()
    return failed


def placeholder_nodes(rows: Iterable[ParsedRow]) -> dict[str, list[dict[str, Any]]]:
    """The placeholder nodes the rows link to, one record each, with the lineage of the first row naming it."""
    made: dict[tuple[str, str], dict[str, Any]] = {}
    for row in rows:
        for _, label, placeholder in row.placeholders:
            if (label, placeholder.id) not in made:
                made[(label, placeholder.id)] = {"id": placeholder.id, "name": placeholder.name,
                                                 SOURCE_FILE: row.nodes[0][1][SOURCE_FILE],
                                                 SOURCE_LINE: row.nodes[0][1][SOURCE_LINE]}
    out: dict[str, list[dict[str, Any]]] = {}
    for (label, _), rec in made.items():
        out.setdefault(label, []).append(rec)
    return out


def count_stand_ins(rows: Iterable[ParsedRow]) -> list[StandIn]:
    """Per file and relation or property, the loaded rows a stand-in filled: what the load summary says."""
    counts: dict[tuple[str, str], StandIn] = {}
    for row in rows:
        if not row.placeholders and not row.filled:  # nearly every row: nothing stood in, nothing to count
            continue
        is_open = not any(rel == OUTCOME_RELATION for rel, _ in row.edges)
        named = [(rel, f"linked to the placeholder {label} '{p.name}'") for rel, label, p in row.placeholders]
        named += [(prop, "taken from the earliest fact about it in this export") for prop in row.filled]
        for what, how in named:
            c = counts.setdefault((row.file.file, what), StandIn(row.file.file, what, note=how))
            c.rows += 1
            c.open += is_open
    return list(counts.values())


def stand_in_lines(stand_ins: Iterable[StandIn]) -> list[str]:
    """`Opportunity.csv: 12 rows (9 open) had no FOR_ACCOUNT: linked to the placeholder Account '(no account)'`."""
    return [f"{s.file}: {s.rows} rows ({s.open} open) had no {s.what}: {s.note}" for s in stand_ins]


def _dates(rec: dict[str, Any], properties: Iterable[Any]) -> list[datetime]:
    values = (rec.get(p.name) for p in properties if p.datatype in _DATE_TYPES)
    # A date alone is midnight UTC, as a date-time column holding one is read (`records.parse_datetime`).
    return [(v if v.tzinfo else v.replace(tzinfo=UTC)) if isinstance(v, datetime)
            else datetime.combine(v, datetime.min.time(), UTC) for v in values if isinstance(v, date)]


def _note(earliest: dict[str, datetime], node_id: str, found: list[datetime]) -> None:
    if found:
        first = min(found)
        if node_id not in earliest or first < earliest[node_id]:
            earliest[node_id] = first


def _datatype(schema: Schema, label: str, prop: str) -> str:
    return next(p.datatype for p in schema.nodes[label].properties if p.name == prop)
