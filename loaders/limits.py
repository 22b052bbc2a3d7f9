"""What every place a loaded value goes can hold, checked once at validation.

A value the loader accepts is written to SQLite or Neo4j, read into pandas
by the model and served through GraphQL. Each has limits of its own, and a
value beyond any of them fails far from the row that brought it: an integer
past 64 bits fails the SQLite write after earlier batches committed, a date
before 1677 breaks `train` for the whole store. So the loader rejects such a
value at validation, naming the limit; the row is quarantined, the load goes on.

Tighter bounds for one property (an account's employees, read as GraphQL's
32-bit Int) are declared in ontology/shapes.ttl (`sh:maxInclusive`), not here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

#: SQLite INTEGER and Neo4j's Integer are signed 64-bit.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
#: pandas' datetime64[ns] holds 1677-09-21 00:12:43 .. 2262-04-11 23:47:16; whole days inside it, so a date
#: at any offset or time of day fits too.
EARLIEST = datetime(1677, 9, 22, tzinfo=UTC)
LATEST = datetime(2262, 4, 10, 23, 59, 59, 999999, tzinfo=UTC)
DATE_RANGE = f"{EARLIEST.date()} .. {LATEST.date()}"


def integer_in_range(value: int, raw: object) -> int:
    """`value` when a 64-bit store can hold it.

    Raises:
        ValueError: it cannot; the message gives the value and the limit.
    """
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"beyond the 64-bit integer range the stores hold ({INT64_MIN} .. {INT64_MAX}; "
                         f"got {shown(raw)})")
    return value


def datetime_in_range(value: datetime, raw: object) -> datetime:
    """`value` in UTC when it lies in the range the model's pandas frames hold.

    Raises:
        ValueError: outside it, or so near the ends of the calendar that the offset cannot be applied
            (`9999-12-31T23:00:00-05:00` is in year 10000 in UTC).
    """
    try:
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc <= LATEST:
        raise ValueError(f"outside the date range the stores and the model hold ({DATE_RANGE}; got {shown(raw)})")
    return utc


def date_in_range(value: date, raw: object) -> date:
    """`value` when it lies in the same range as date-times (a date becomes one in the model's frames)."""
    if not EARLIEST.date() <= value <= LATEST.date():
        raise ValueError(f"outside the date range the stores and the model hold ({DATE_RANGE}; got {shown(raw)})")
    return value


def shown(raw: object, limit: int = 40) -> str:
    """`raw` as a message shows it: its repr, cut short when long (a mis-quoted cell can hold a whole file)."""
    text = str(raw)
    return repr(raw) if len(text) <= limit else f"{text[:limit]!r}… ({len(text)} characters)"
