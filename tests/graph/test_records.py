"""The record log of the store contract (`graph.records`) on every backend, and its Cypher as strings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import GraphStore, InvalidInput, cypher_records
from tests.graph.backends import BACKENDS, open_test_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    s = open_test_store(request.param, tmp_path)
    yield s
    s.close()


def test_records_come_back_in_the_order_written_per_kind_and_key(store):
    first = store.append_records("audit", [("006-a", {"text": "too high", "n": 1}), ("006-b", {"text": "ok"})])
    store.append_records("alert", [("", {"what": "drift"})])
    later = store.append_records("audit", [("006-a", {"text": "still too high", "nested": {"p": 0.4}})])
    assert [r.seq for r in first] == sorted(r.seq for r in first) and later[0].seq > first[-1].seq
    audit = store.read_records("audit")
    assert [(r.key, r.body["text"]) for r in audit] == [
        ("006-a", "too high"), ("006-b", "ok"), ("006-a", "still too high")]
    assert audit[2].body["nested"] == {"p": 0.4} and audit[0].at.tzinfo is not None
    assert [r.body["text"] for r in store.read_records("audit", key="006-a")] == ["too high", "still too high"]
    assert [r.body for r in store.read_records("alert")] == [{"what": "drift"}]
    assert [r.body["text"] for r in store.read_records("audit", after=first[0].seq, limit=1)] == ["ok"]
    assert store.read_records("nothing") == []


def test_records_refuse_bad_names_and_write_nothing(store):
    with pytest.raises(InvalidInput):
        store.append_records("", [("k", {})])
    with pytest.raises(InvalidInput):
        store.append_records("audit", [("ok", {}), ("x" * 500, {})])
    assert store.read_records("audit") == []


def test_record_cypher_takes_every_value_as_a_parameter():
    queries = [*cypher_records.schema_statements(), cypher_records.append_records(), cypher_records.read_records()]
    for q in queries:
        assert set(re.findall(r"[(\[]\w*:`(\w+)`", q)) <= set(cypher_records.RECORD_LABELS), q
    assert "$rows" in cypher_records.append_records()
    assert {"$kind", "$key", "$after", "$limit"} <= set(re.findall(r"\$\w+", cypher_records.read_records()))
