"""What the ledger reads to record merges and undo one (`graph.ledger_merges`): the merge log once per call,
and the edges it changes one relation at a time, on the real SQLite store counting its reads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from graph.ledger import Ledger
from graph.lineage import MERGE_KIND, Close, MergeRecord, Redirect
from graph.records import Record
from graph.sqlite import SQLiteStore
from ontology import load_schema
from tests.graph.test_store_contract import T, add_accounts, begin
from tests.loaders.test_identity import jobs


class CountingReads(SQLiteStore):
    """The real SQLite store, counting the reads the ledger makes: (method, relation or record kind)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, load_schema())
        self.reads: Counter[tuple[str, str]] = Counter()

    def read_rows(self, name: str, where: Mapping[str, Iterable[str]] | None = None, *,
                  lineage: bool = False) -> list[dict[str, Any]]:
        self.reads["read_rows", name] += 1
        return super().read_rows(name, where, lineage=lineage)

    def read_records(self, kind: str, key: str | None = None, after: int = 0, limit: int | None = None) -> list[Record]:
        self.reads["read_records", kind] += 1
        return super().read_records(kind, key, after, limit)


def test_a_merge_and_its_undo_read_the_merge_log_once_and_each_relation_in_one_lookup(tmp_path):
    store = CountingReads(tmp_path / "graph.db")
    begin(store)
    move, employers = date(2024, 9, 15), [f"old{i}" for i in range(4)]
    add_accounts(store, "new", *employers, created=T - timedelta(days=1000))
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Ann Lee", "created_at": T - timedelta(days=600)}])
    store.upsert_edges("WORKS_AT", [{"src": "c1", "dst": e} for e in employers])
    merge = MergeRecord("Contact", "c1", "c2", "same_email", 1.0, "L1", merged_row={"id": "c2", "name": "Ann Lee"},
                        redirects=(Redirect("WORKS_AT", "c1", "new", "", "src"),),
                        closes=tuple(Close("WORKS_AT", "c1", e, "", move) for e in employers))
    store.reads.clear()
    [m] = Ledger(store).record_merges([merge])
    assert store.reads["read_records", MERGE_KIND] == 1  # folded once, and the new record folded in
    assert store.reads["read_rows", "WORKS_AT"] == 1  # every job it closes, in one lookup
    assert len([r for r in m.redirects if r.filled == ("until",)]) == len(employers)
    assert Ledger(store).merges() == [m]  # what it returned is what the books say
    store.reads.clear()
    undone = Ledger(store).undo_merge(m.merge_id)
    assert store.reads["read_records", MERGE_KIND] == 1
    assert store.reads["read_rows", "WORKS_AT"] == 1  # each redirect as the merge left it and pointed back
    assert Ledger(store).merges() == [undone] and undone.state == "undone"
    assert jobs(store, "c1") == {(e, None, None) for e in employers}
    store.close()
