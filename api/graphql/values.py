"""Conversions from stored property values to GraphQL scalars.

The stores hold times as text (`2025-03-04T10:15:00Z`, `2025-03-04`) and
numbers as SQLite gives them back; GraphQL wants typed values.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from graph.timefmt import parse_iso, to_utc


def as_datetime(value: Any) -> datetime | None:
    """A stored time as an aware UTC datetime (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_utc(value)
    return parse_iso(str(value))


def as_date(value: Any) -> date | None:
    """A stored date (or the date part of a stored time)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def as_float(value: Any) -> float | None:
    return None if value is None or value == "" else float(value)


def as_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)
