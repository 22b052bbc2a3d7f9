"""The compiled property checks: strict dates and numbers, the schema's facets, and the reasons they give."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from loaders.records import RecordError, parse_date, parse_datetime, parse_decimal, parse_integer, record_builder
from ontology import load_schema


@pytest.mark.parametrize("text", ["2025-02-30", "31/12/2025", "20251231", "2025-W01-1", "2025-13-01", "yesterday"])
def test_dates_that_are_not_dates_are_rejected(text):
    with pytest.raises(ValueError, match="is not a date"):
        parse_date(text)
    with pytest.raises(ValueError, match="is not a date"):
        parse_datetime(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-04", date(2025, 3, 4)),  # the fast path
    ("2025-3-4", date(2025, 3, 4)),  # strptime's %Y-%m-%d, as before the fast path
    ("03/04/2025", date(2025, 3, 4)),  # month first
    ("2025/03/04", date(2025, 3, 4)),
    ("2025-03-04T23:30:00-05:00", date(2025, 3, 5)),  # a date-time's UTC date
])
def test_the_date_forms_the_docs_list_are_read(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2025-03-04T10:15:00.000+0000", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
    ("2025-03-04T10:15:00Z", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),
    ("2025-03-04T10:15:00+01:00", datetime(2025, 3, 4, 9, 15, tzinfo=UTC)),
    ("2025-03-04 10:15:00", datetime(2025, 3, 4, 10, 15, tzinfo=UTC)),  # no offset: UTC
    ("2025-03-04", datetime(2025, 3, 4, tzinfo=UTC)),  # a date alone: midnight UTC
])
def test_date_times_are_read_as_utc(text, expected):
    parsed = parse_datetime(text)
    assert parsed == expected and parsed.tzinfo is UTC


@pytest.mark.parametrize(("text", "message"), [
    ("1,000", "'1,000' is not a number"),
    ("nan", "'nan' is not a finite number"),
    ("inf", "'inf' is not a finite number"),
    ("$5", "'$5' is not a number"),
])
def test_numbers_are_strict(text, message):
    with pytest.raises(ValueError, match=message.replace("$", r"\$")):
        parse_decimal(text)


def test_integers_must_be_whole():
    assert parse_integer("120") == 120 and parse_integer("120.0") == 120
    with pytest.raises(ValueError, match="'1.5' is not a whole number"):
        parse_integer("1.5")


def build(typed_name: str, values: dict):
    schema = load_schema()
    typed = schema.nodes.get(typed_name) or schema.relations[typed_name]
    return record_builder(typed, {k: (lambda row, k=k: row[k]) for k in values}, keys=("id",))(values)


def test_a_record_gets_every_property_and_the_reserved_keys():
    record = build("Account", {"name": " Acme ", "employees": "120"})
    assert record == {"account_type": None, "annual_revenue": None, "country": None, "created_at": None,
                      "employees": 120, "industry": None, "name": "Acme", "website": None, "id": None}


@pytest.mark.parametrize(("typed", "values", "reason"), [
    ("Deal", {"name": "", "created_at": ""}, "created_at: required but empty; name: required but empty"),
    ("Deal", {"name": "x"}, "created_at: required but the mapping gives no value for it"),
    ("Deal", {"name": "x", "created_at": "2025-01-01", "amount": "-5"},
     "amount: Input should be greater than or equal to 0 (got -5.0)"),
    ("Outcome", {"result": "maybe", "closed_at": "2025-01-01"},
     "result: Input should be 'won' or 'lost' (got 'maybe')"),
    ("Deal", {"name": "x", "created_at": "2025-02-30", "amount": "abc"},
     "amount: 'abc' is not a number; created_at: '2025-02-30' is not a date (YYYY-MM-DD, but no such day)"),
    ("Account", {"name": "x", "employees": True}, "employees: True is not a number"),
])
def test_every_field_that_does_not_fit_is_named_in_schema_order(typed, values, reason):
    with pytest.raises(RecordError) as caught:
        build(typed, values)
    assert str(caught.value) == reason
