"""`SQLiteStore.changes_since`: what caches of reads (the API's response cache) rely on to see every write."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from graph import open_store, sqlite_url
from graph.store import ScoreRecord

NOW = datetime(2025, 3, 4, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]


def score(deal_id: str, p: float = 0.5) -> ScoreRecord:
    return ScoreRecord(deal_id=deal_id, probability=p, model_version="v1", scored_at=NOW, band="medium")


@pytest.fixture()
def url(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "graph.db")
    with open_store(url) as store:
        store.upsert_nodes("Deal", [{"id": f"d{i}", "name": f"Deal {i}"} for i in range(4)])
    return url


def test_nothing_written_means_no_changes(url):
    with open_store(url) as store:
        first = store.changes_since(None)
        assert first.graph_changed  # since ever
        again = store.changes_since(first.mark)
        assert again.mark == first.mark and not again.graph_changed and not again.scored


def test_score_writes_name_exactly_the_deals_scored(url):
    with open_store(url) as store:
        mark = store.changes_since(None).mark
        store.write_scores([score("d1"), score("d2")])
        store.write_scores([score("d2", 0.7)])
        changes = store.changes_since(mark)
        assert not changes.graph_changed and changes.scored == {"d1", "d2"}
        assert store.changes_since(changes.mark).scored == frozenset()


def test_any_other_write_is_a_graph_change(url):
    with open_store(url) as store:
        mark = store.changes_since(None).mark
        store.upsert_edges("FOR_ACCOUNT", [])  # writes nothing: no transaction, no change
        assert not store.changes_since(mark).graph_changed
        store.upsert_nodes("Account", [{"id": "a1", "name": "Acme"}])
        assert store.changes_since(mark).graph_changed


def test_writes_through_another_connection_are_seen(url):
    with open_store(url) as reader, open_store(url) as writer:
        mark = reader.changes_since(None).mark
        writer.write_scores([score("d3")])
        assert reader.changes_since(mark).scored == {"d3"}
        mark = reader.changes_since(mark).mark
        writer.upsert_nodes("Deal", [{"id": "d0", "name": "Renamed"}])
        assert reader.changes_since(mark).graph_changed


def test_writes_from_another_process_are_seen(url):
    with open_store(url) as reader:
        mark = reader.changes_since(None).mark
        code = ("from graph import open_store; from tests.graph.test_changes import score; "
                f"s = open_store({url!r}); s.write_scores([score('d0')]); s.close()")
        subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)
        assert reader.changes_since(mark).scored == {"d0"}
