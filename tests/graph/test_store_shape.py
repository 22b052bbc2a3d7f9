"""The store contract stays small, and nothing above `graph/` asks which backend it has."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from graph.store import GraphStore

REPO = Path(__file__).resolve().parents[2]
#: What a caller above `graph/` must not do: name a backend class, or probe a store for a method it may lack.
ASKS_FOR_A_BACKEND = re.compile(r"\b(SQLiteStore|Neo4jStore)\b|getattr\(\s*(self\.)?_?store\s*,")


def test_a_backend_implements_at_most_twelve_methods():
    assert len(GraphStore.__abstractmethods__) <= 12, sorted(GraphStore.__abstractmethods__)


def test_the_ledger_is_not_the_stores():
    names = {name for name, _ in inspect.getmembers(GraphStore, inspect.isfunction)}
    assert not names & {"begin_load", "loads", "lineage", "record_merges", "undo_merge", "retire", "tombstones"}


def test_no_caller_asks_which_backend_it_has():
    found = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
             for package in ("api", "gnn", "loaders")
             for path in sorted((REPO / package).rglob("*.py"))
             for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
             if ASKS_FOR_A_BACKEND.search(line)]
    assert found == []
