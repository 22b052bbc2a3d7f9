"""Validation of loaded records: per-property checks compiled once from the Schema.

Each property of a node type or relation gets a check built from its xsd
type and the facets its SHACL shape gives (required, allowed values, lower
and upper bounds), within what every store and the model can hold
(`loaders.limits`); `record_builder` puts a record type's checks together once per
mapping source, so a row costs plain function calls and no model object.
Values arrive as CSV text; the coercers below accept the forms CRM exports
actually use (Salesforce's `2025-03-04T10:15:00.000+0000`, Excel's
`true`/`TRUE`; thousands separators are not guessed at).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from graph.errors import DealgraphError
from loaders.limits import INT64_MAX, date_in_range, datetime_in_range, integer_in_range
from ontology import NodeType, Property, Relation

# Extra date formats after ISO 8601; a mapping gives others per column (`format:`, see parse_formatted).
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d")
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}
_WHOLE = re.compile(r"[+-]?[0-9]+")
# `5,000`, `1.234,50 €`, `$24,000`: thousands separators, a decimal comma or a currency sign (`number:` reads them).
_FOR_PEOPLE = re.compile(r"[0-9][,'\u00a0 ][0-9]|[$€£¥%]|,[0-9]")
# 2025-02-30, 2025-13-01T10:00:00Z: written as ISO 8601, but no such day (or time); no `format:` would help.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Excel stores a date as days since this (its day 60 is a 29 February 1900 that never was; later days are right).
EXCEL_DAY_ZERO = datetime(1899, 12, 30)
# 45292: a date as Excel stores it, written out by a sheet whose cells are not formatted as dates (1927..2173).
_EXCEL_DAY = re.compile(r"[1-9][0-9]{4}(?:\.[0-9]+)?")
# 1700000000 or 1700000000000: seconds or milliseconds since 1970 (2001..2286), HubSpot's internal values.
_EPOCH = re.compile(r"[1-9][0-9]{9}(?:[0-9]{3})?(?:\.[0-9]+)?")
# French and other locales group thousands with a no-break space (`1 234,50 €`, U+00A0 or U+202F): read as a space.
_NO_BREAK_SPACES = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2007": " ", "\u2009": " "})
# 31/12/2025: no such date read month first, and so likely the day first (which MM/DD/YYYY would swap silently).
_DAY_FIRST = re.compile(r"(1[3-9]|2[0-9]|3[01])/(0?[1-9]|1[0-2])/[0-9]{4}")

Check = Callable[[Any], Any]


def _iso_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)  # reads `Z`, `+0000` and `.000+0000` itself since Python 3.11


def _date_only(text: str) -> date:
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        # YYYY-MM-DD, what nearly every export writes: fromisoformat is ~20x cheaper than strptime and, for
        # this shape, accepts exactly what "%Y-%m-%d" does (2025-02-30 fails both, and so falls through).
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    if _DAY_FIRST.fullmatch(text):  # 31/12/2025: the month-first reading failed because the day comes first
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD or month first, MM/DD/YYYY): the day comes "
                         "first, so the column's other d/m dates were read month first too; give the column "
                         '`format: "%d/%m/%Y"`')
    if hint := _number_date_hint(text):
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD): {hint}")
    if _ISO_DATE.match(text):
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD, but no such day)")
    raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD; for another form give the column a `format:`)")


def _number_date_hint(text: str) -> str | None:
    """The `format` a date written as a number most likely needs, as a quarantine reason says it; None if none."""
    if _EXCEL_DAY.fullmatch(text):
        return "an Excel serial day number (45292 is 2024-01-01)? give the column `format: excel_days`"
    if _EPOCH.fullmatch(text):
        return "seconds or milliseconds since 1970? give the column `format: epoch_s` or `format: epoch_ms`"
    return None


# The coercers take the text of a cell, or a value a mapping gives (a constant, a `map` result, a parsed
# `format`). Text, nearly every call, is tested first by exact class: cheaper than isinstance chains.


def parse_datetime(v: Any) -> datetime | None:
    if v.__class__ is str:
        text = v.strip()
        if not text:
            return None
    elif v is None:
        return v
    elif isinstance(v, datetime):  # a mapping's `format` made it: its range is checked here all the same
        return datetime_in_range(v, v)
    else:
        text = str(v).strip()
    if "T" in text or ":" in text:
        try:
            parsed = _iso_datetime(text)
        except ValueError:
            if _ISO_DATE.match(text):
                raise ValueError(f"{text!r} is not a date-time (ISO 8601, but no such day or time)") from None
            raise ValueError(f"{text!r} is not a date-time (expected ISO 8601, 2025-03-04T10:15:00Z; for another "
                             'form give the column a `format:`, e.g. "%m/%d/%Y %I:%M %p")') from None
    else:
        parsed = datetime.combine(_date_only(text), datetime.min.time())
    if parsed.tzinfo is UTC and 1677 < parsed.year < 2262:  # `Z` and `+00:00`, well inside the range: as it is
        return parsed
    return datetime_in_range(parsed, text)


def parse_date(v: Any) -> date | None:
    if v.__class__ is str:
        text = v.strip()
        if not text:
            return None
    elif v is None:
        return None
    elif isinstance(v, date):
        return date_in_range(v if not isinstance(v, datetime) else v.date(), v)
    else:
        text = str(v).strip()
    if "T" in text:
        parsed_time = parse_datetime(text)
        assert parsed_time is not None  # text is not empty
        return parsed_time.date()
    parsed = _date_only(text)
    return parsed if 1677 < parsed.year < 2262 else date_in_range(parsed, text)


def parse_decimal(v: Any) -> float | None:
    if v.__class__ is str:
        text = v.strip()
        if not text:
            return None
    elif v is None:
        return None
    else:
        text = str(v).strip()
    try:
        value = float(text)
    except ValueError:
        if _FOR_PEOPLE.search(text) and any(c.isdigit() for c in text):
            raise ValueError(f"{v!r} is not a number (written for people: give the column a `number:` with its "
                             'separators and symbols, e.g. {thousands: ".", decimal: ","})') from None
        raise ValueError(f"{v!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{v!r} is not a finite number")
    return value


def parse_integer(v: Any) -> int | None:
    if v.__class__ is str and _WHOLE.fullmatch(text := v.strip()):
        # Digits are read exactly (through a float, 9223372036854775808 would round into 64 bits); past 20 of
        # them the value is out of range anyway, and int() refuses thousands of digits.
        return integer_in_range(int(text) if len(text.lstrip("+-0")) <= 19 else INT64_MAX + 1, v)
    if isinstance(v, int) and not isinstance(v, bool):
        return integer_in_range(v, v)
    value = parse_decimal(v)  # `1e3`, `1000.0`: a whole number written with an exponent or a fraction
    if value is None:
        return None
    if value != int(value):
        raise ValueError(f"{v!r} is not a whole number")
    return integer_in_range(int(value), v)


def truth_word(text: str) -> str | None:
    """`"true"` or `"false"` for any spelling a boolean property accepts (`1`, `TRUE`, `no`), else None.

    A mapping's `map` or `when` written with `true`/`false` reads a cell through this, so a Salesforce report's
    `1`/`0` or Excel's `TRUE` means what it means in a boolean property (`loaders.values`).
    """
    folded = text.strip().lower()
    return "true" if folded in TRUE else "false" if folded in FALSE else None


def parse_boolean(v: Any) -> bool | None:
    if v.__class__ is str:
        text = v.strip().lower()
        if not text:
            return None
    elif v is None or isinstance(v, bool):
        return v
    else:
        text = str(v).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"{v!r} is not true/false")


def parse_string(v: Any) -> str | None:
    if v.__class__ is str:
        return v.strip() or None
    return None if v is None else str(v).strip()


def plain_number(text: str, thousands: str = "", decimal: str = ".", symbols: str = "") -> str:
    """`$1,234.50` -> `1234.50` given the export's separators and symbols; the type coercers take it from there.
    No-break and thin spaces count as spaces, so `{thousands: " ", symbols: " €"}` reads French Excel's amounts.

    Raises:
        RecordError: the thousands separator is not between groups of three digits: `12.5` in a column of
            `1.234,50` was typed with a decimal point, and dropping the `.` would read it as 125.
    """
    shown, text = text, text.translate(_NO_BREAK_SPACES)
    for ch in symbols:
        text = text.replace(ch, "")
    text = text.strip()
    if thousands and thousands in text:
        whole = text.split(decimal, 1)[0].lstrip("+-")
        if not re.fullmatch(rf"[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+", whole):
            raise RecordError(f"{shown!r} is not a number written with {thousands!r} between groups of three digits "
                              f"and {decimal!r} before the decimals (as this column's `number:` says)")
        text = text.replace(thousands, "")
    return text.replace(decimal, ".") if decimal != "." else text


def parse_formatted(text: str, formats: tuple[str, ...], timezone: str | None = None) -> datetime:
    """A date-time read with a mapping's explicit `format` (strptime patterns tried in order, or epoch_s / epoch_ms,
    or excel_days: Excel's serial day number, `45292.5` = 2024-01-01 12:00).

    A value without an offset is taken to be in `timezone` (default UTC); the result is aware.

    Raises:
        RecordError: no format matches; the message names the formats tried.
    """
    text = text.strip()
    for fmt in formats:
        try:
            if fmt in ("epoch_s", "epoch_ms"):
                return datetime.fromtimestamp(float(text) / (1000 if fmt == "epoch_ms" else 1), UTC)
            if fmt == "excel_days":  # local time, like a pattern's: the zone is applied below
                parsed = EXCEL_DAY_ZERO + timedelta(seconds=round(float(text) * 86400))
            else:
                parsed = datetime.strptime(text, fmt)
        except (ValueError, OverflowError, OSError):
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=ZoneInfo(timezone) if timezone else UTC)
    hint = _number_date_hint(text)
    raise RecordError(f"{text!r} does not match the date format {' or '.join(formats)}" + (f": {hint}" if hint else ""))


COERCERS: dict[str, Check] = {
    "string": parse_string,
    "integer": parse_integer,
    "decimal": parse_decimal,
    "boolean": parse_boolean,
    "date": parse_date,
    "dateTime": parse_datetime,
}


def property_check(p: Property) -> Check:
    """One property's check: a raw value -> its typed value (None when empty).

    Raises (from the returned function):
        ValueError: the value does not fit; the message says why (see `field_error`).
    """
    coerce = COERCERS[p.datatype]
    if not p.required and p.allowed is None and p.minimum is None and p.maximum is None:
        return coerce  # most properties: the type is the whole check
    required, allowed, minimum, maximum = p.required, p.allowed, p.minimum, p.maximum
    allowed_set = frozenset(allowed or ())

    def check(raw: Any) -> Any:
        value = coerce(raw)
        if value is None:
            if required:
                raise ValueError("required but empty")
            return None
        if allowed is not None and value not in allowed_set:
            raise ValueError(f"Input should be {_choices(allowed)} (got {value!r})")
        if minimum is not None and value < minimum:
            raise ValueError(f"Input should be greater than or equal to {_number(minimum)} (got {value!r})")
        if maximum is not None and value > maximum:
            raise ValueError(f"Input should be less than or equal to {_number(maximum)} (got {value!r})")
        return value

    return check


def record_builder(typed: NodeType | Relation, getters: Mapping[str, Callable[[Any], Any]],
                   keys: tuple[str, ...] = (), columns: Mapping[str, str] | None = None,
                   deferred: frozenset[str] = frozenset()) -> Callable[[Any], dict[str, Any]]:
    """Compile the validation of one node type's (or relation's) record, given how to get each mapped property.

    Args:
        typed: The node type or relation; its properties are checked in schema order.
        getters: Property name -> function of the source row giving the raw value. A property without a
            getter is None, or an error on every row when the schema requires it.
        keys: Further entries the caller fills in (key, edge ends, lineage), None until then: made with the
            record, so it is allocated at its final size once (a dict that grows is copied, and larger).
        columns: Property name -> the column (or template) its value comes from, named in error messages
            beside the property when the two differ (`employees (column NumberOfEmployees): ...`).
        deferred: Required properties that may be empty here: the loader fills them later or rejects the row
            (`if_empty: earliest_fact`, `loaders.stand_in`).

    Returns:
        A function of the row giving every property of `typed` (typed values, None where empty).
        It raises `RecordError` naming each property that does not fit; an error a getter raises (a value
        its `map` does not list, a date that does not match its `format`) passes through as it is.
    """
    fields: list[tuple[str, str, Callable[[Any], Any], Check]] = []
    for p in typed.properties:
        get = getters.get(p.name)
        column = (columns or {}).get(p.name, p.name)
        label = p.name if column == p.name else f"{p.name} (column {column})"
        if get is not None:
            fields.append((p.name, label, get, property_check(replace(p, required=False) if p.name in deferred else p)))
        elif p.required:
            fields.append((p.name, p.name, _no_value, _unmapped))
    names = typed.property_names + keys

    def build(row: Any) -> dict[str, Any]:
        record = dict.fromkeys(names)  # unmapped optional properties stay None; schema order, as stores list them
        errors = None
        for name, label, get, check in fields:
            raw = get(row)
            try:
                record[name] = check(raw)
            except ValueError as e:
                if errors is None:
                    errors = []
                errors.append(field_error(label, e, raw))
        if errors:
            raise RecordError("; ".join(errors))
        return record

    return build


def field_error(name: str, error: ValueError, raw: Any) -> str:
    """`property: why`, with the value that failed when the reason does not show it already."""
    msg = str(error)
    shown = raw is None or raw == "" or "got" in msg or repr(raw) in msg
    return f"{name}: {msg}" + ("" if shown else f" (got {raw!r})")


def _no_value(row: Any) -> None:
    return None


def _unmapped(raw: Any) -> Any:
    raise ValueError("required but the mapping gives no value for it")


def _choices(allowed: tuple[str, ...]) -> str:
    shown = [repr(a) for a in allowed]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


class RecordError(DealgraphError, ValueError):
    """A row's values do not fit the schema."""
