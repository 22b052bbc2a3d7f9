"""The GraphStore contract, one suite for every backend.

Each test runs on SQLite (a real file) and on Neo4j when `DEALGRAPH_TEST_NEO4J_URI`
names a server (see `tests/graph/backends.py`; without it those runs skip and
say how to run them). Storage details of one backend are tested in
`test_sqlite_store.py` / `test_neo4j_store.py`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from graph import GraphStore, InvalidInput, ScoreRecord, StoreError
from graph.deals import DealShape
from graph.explanation import Explanation
from graph.ledger import Ledger
from graph.lineage import Close, LoadRecord, MergeRecord, Provenance, Redirect, SetAside
from tests.graph.backends import BACKENDS, open_test_store
from tests.loaders.test_identity import (
    MOVED,
    check_ann_moved,
    jobs,
    load_movers,
    mover_only,
    write_mover_export,
)

T = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


def at(days: float = 0, seconds: float = 0) -> datetime:
    return T + timedelta(days=days, seconds=seconds)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[GraphStore]:
    s = open_test_store(request.param, tmp_path)
    yield s
    s.close()


def add_accounts(store: GraphStore, *ids: str, created: datetime = T - timedelta(days=30)) -> None:
    store.upsert_nodes("Account", [{"id": i, "name": f"Account {i}", "created_at": created} for i in ids])


def add_deals(
    store: GraphStore, *ids: str, account: str | None = None, created: datetime = T - timedelta(days=10)
) -> None:
    store.upsert_nodes("Deal", [{"id": i, "name": f"Deal {i}", "created_at": created} for i in ids])
    if account:
        store.upsert_edges("FOR_ACCOUNT", [{"src": i, "dst": account} for i in ids])


def ids(neighbours: list) -> set[str]:
    return {n.node["id"] for n in neighbours}


# ---- upserts


def test_upsert_is_idempotent(store):
    rows = [{"id": "a1", "name": "Acme", "employees": 10, "created_at": T}, {"id": "a2", "name": "Globex"}]
    assert store.upsert_nodes("Account", rows) == 2
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "a1", "dst": "a2"}])
    first = (store.counts(), store.read_tables())
    store.upsert_nodes("Account", rows)
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "a1", "dst": "a2"}])
    assert (store.counts(), store.read_tables()) == first
    assert first[0]["Account"] == 2
    assert first[0]["SUBSIDIARY_OF"] == 1


def test_upsert_updates_by_key(store):
    store.upsert_nodes("Account", [{"id": "a1", "name": "Acme", "employees": 10}])
    store.upsert_nodes("Account", [{"id": "a1", "name": "Acme Corp", "employees": 12}])
    assert store.counts()["Account"] == 1
    node = store.get_node("Account", "a1")
    assert (node["name"], node["employees"]) == ("Acme Corp", 12)


def test_edge_upsert_updates_properties(store):
    add_deals(store, "d1")
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c1", "role": "user", "is_primary": False}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c1", "role": "champion", "is_primary": True}])
    [n] = store.neighbours("Deal", ["d1"], "INVOLVES")["d1"]
    assert n.edge["role"] == "champion"
    assert store.counts()["INVOLVES"] == 1


def test_functional_relation_repoint_replaces_edge(store):
    add_accounts(store, "a1", "a2")
    add_deals(store, "d1", account="a1")
    store.upsert_edges("FOR_ACCOUNT", [{"src": "d1", "dst": "a2"}])
    assert store.counts()["FOR_ACCOUNT"] == 1
    assert ids(store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]) == {"a2"}
    assert store.neighbours("Account", ["a1"], "FOR_ACCOUNT", "in") == {}


def test_non_functional_relation_keeps_both_edges(store):
    add_deals(store, "d1")
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}, {"id": "c2", "name": "Al"}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c1", "role": "user"}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c2", "role": "user"}])
    assert ids(store.neighbours("Deal", ["d1"], "INVOLVES")["d1"]) == {"c1", "c2"}


def test_failed_batch_writes_nothing(store):
    add_accounts(store, "a0")
    bad = [{"id": "a1", "name": "ok"}, {"id": "a2", "name": "ok"}, {"id": "a3", "name": {"not": "bindable"}}]
    with pytest.raises(StoreError):
        store.upsert_nodes("Account", bad)
    assert store.node_ids("Account") == {"a0"}


# ---- reads


def test_get_nodes_skips_unknown_ids(store):
    add_accounts(store, "a1", "a2")
    got = store.get_nodes("Account", ["a2", "nope", "a1", "a2"])
    assert set(got) == {"a1", "a2"}
    assert got["a1"]["name"] == "Account a1"
    assert store.get_node("Account", "nope") is None
    assert store.get_nodes("Account", []) == {}


def test_booleans_come_back_as_bool(store):
    store.upsert_nodes("Product", [{"id": "p1", "name": "Core", "active": True},
                                   {"id": "p2", "name": "Old", "active": False}])
    got = store.get_nodes("Product", ["p1", "p2"])
    assert got["p1"]["active"] is True
    assert got["p2"]["active"] is False
    add_deals(store, "d1")
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}])
    store.upsert_edges("INVOLVES", [{"src": "d1", "dst": "c1", "role": "champion", "is_primary": True}])
    [n] = store.neighbours("Deal", ["d1"], "INVOLVES")["d1"]
    assert n.edge["is_primary"] is True


# Each backend's own test checks how it stores them (text in SQLite, DATETIME in Neo4j).
DATETIMES_IN = [
    {"id": "a1", "name": "Aware", "created_at": datetime(2025, 3, 4, 12, 15, 30, tzinfo=timezone(timedelta(hours=2)))},
    {"id": "a2", "name": "Naive", "created_at": datetime(2025, 3, 4, 0, 30)},
    {"id": "a3", "name": "Midnight", "created_at": datetime(2025, 3, 4, 1, 0, tzinfo=timezone(timedelta(hours=2)))},
]
DATETIMES_OUT = {"a1": "2025-03-04T10:15:30Z", "a2": "2025-03-04T00:30:00Z", "a3": "2025-03-03T23:00:00Z"}


def test_datetimes_read_back_as_utc_text(store):
    store.upsert_nodes("Account", DATETIMES_IN)
    expected = DATETIMES_OUT
    assert {k: v["created_at"] for k, v in store.get_nodes("Account", expected).items()} == expected


def test_dates_stored_as_iso_date(store):
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}])
    add_accounts(store, "a1")
    store.upsert_edges("WORKS_AT", [{"src": "c1", "dst": "a1", "since": date(2024, 2, 29)}])
    [n] = store.neighbours("Contact", ["c1"], "WORKS_AT")["c1"]
    assert n.edge["since"] == "2024-02-29"
    assert n.edge["until"] is None


# ---- neighbours


def test_neighbours_both_directions_batched(store):
    add_accounts(store, "a1", "a2", "a3")
    add_deals(store, "d1", "d2", account="a1")
    add_deals(store, "d3", account="a2")
    out = store.neighbours("Deal", ["d1", "d2", "d3", "d404"], "FOR_ACCOUNT")
    assert {k: ids(v) for k, v in out.items()} == {"d1": {"a1"}, "d2": {"a1"}, "d3": {"a2"}}
    assert all(n.label == "Account" and n.direction == "out" for v in out.values() for n in v)
    back = store.neighbours("Account", ["a1", "a2", "a3"], "FOR_ACCOUNT", "in")
    assert {k: ids(v) for k, v in back.items()} == {"a1": {"d1", "d2"}, "a2": {"d3"}}
    assert all(n.label == "Deal" and n.direction == "in" for v in back.values() for n in v)


def test_neighbours_many_ids(store):
    # more ids than one IN (...) chunk holds
    deals = [f"d{i:04d}" for i in range(1000)]
    add_accounts(store, "a1")
    add_deals(store, *deals, account="a1")
    out = store.neighbours("Deal", deals, "FOR_ACCOUNT")
    assert set(out) == set(deals)
    assert len(store.neighbours("Account", ["a1"], "FOR_ACCOUNT", "in")["a1"]) == 1000


def test_neighbours_wrong_end_raises(store):
    with pytest.raises(ValueError):
        store.neighbours("Account", ["a1"], "FOR_ACCOUNT", "out")


def test_as_of_hides_nodes_created_at_or_after_t(store):
    store.upsert_nodes("Account", [
        {"id": "before", "name": "b", "created_at": at(seconds=-1)},
        {"id": "exactly", "name": "e", "created_at": T},
        {"id": "after", "name": "a", "created_at": at(seconds=1)},
        {"id": "undated", "name": "u"},
    ])
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo", "created_at": at(days=-100)}])
    store.upsert_edges("WORKS_AT", [{"src": "c1", "dst": a} for a in ("before", "exactly", "after", "undated")])
    seen = store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=T)["c1"]
    assert ids(seen) == {"before", "undated"}
    assert ids(store.neighbours("Contact", ["c1"], "WORKS_AT")["c1"]) == {"before", "exactly", "after", "undated"}


def test_as_of_hides_edges_of_nodes_not_yet_created(store):
    add_accounts(store, "a1", created=at(days=-30))
    add_deals(store, "d_old", account="a1", created=at(days=-1))
    add_deals(store, "d_new", account="a1", created=at(days=1))
    out = store.neighbours("Deal", ["d_old", "d_new"], "FOR_ACCOUNT", as_of=T)
    assert set(out) == {"d_old"}
    back = store.neighbours("Account", ["a1"], "FOR_ACCOUNT", "in", as_of=T)
    assert ids(back["a1"]) == {"d_old"}


def test_as_of_edge_valid_from(store):
    add_deals(store, "d1", created=at(days=-10))
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo", "created_at": at(days=-10)},
                                   {"id": "c2", "name": "Al", "created_at": at(days=-10)}])
    store.upsert_edges("INVOLVES", [
        {"src": "d1", "dst": "c1", "role": "user", "created_at": at(seconds=-1)},
        {"src": "d1", "dst": "c2", "role": "user", "created_at": T},
    ])
    assert ids(store.neighbours("Deal", ["d1"], "INVOLVES", as_of=T)["d1"]) == {"c1"}
    assert ids(store.neighbours("Deal", ["d1"], "INVOLVES", as_of=at(seconds=1))["d1"]) == {"c1", "c2"}


def test_as_of_works_at_interval(store):
    old = datetime(2020, 1, 1, tzinfo=UTC)
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo", "created_at": old}])
    store.upsert_nodes("Account", [{"id": a, "name": a, "created_at": old} for a in ("old_job", "new_job", "open_job")])
    store.upsert_edges("WORKS_AT", [
        {"src": "c1", "dst": "old_job", "since": date(2023, 1, 1), "until": date(2024, 1, 1)},
        {"src": "c1", "dst": "new_job", "since": date(2024, 1, 1)},
        {"src": "c1", "dst": "open_job"},
    ])

    def jobs(t: datetime) -> set[str]:
        return ids(store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=t).get("c1", []))

    assert jobs(datetime(2022, 6, 1, tzinfo=UTC)) == {"open_job"}
    assert jobs(datetime(2023, 6, 1, tzinfo=UTC)) == {"old_job", "open_job"}
    assert jobs(datetime(2023, 12, 31, 23, 59, 59, tzinfo=UTC)) == {"old_job", "open_job"}
    # Exactly midnight of the change (dates are midnight UTC): the old job has ended
    # (until is not later than t), the new one has not started (since is not earlier than t).
    assert jobs(datetime(2024, 1, 1, tzinfo=UTC)) == {"open_job"}
    assert jobs(datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC)) == {"new_job", "open_job"}
    assert jobs(datetime(2030, 1, 1, tzinfo=UTC)) == {"new_job", "open_job"}


# ---- scores


def score(deal: str, p: float, version: str = "v1", when: datetime = T) -> ScoreRecord:
    return ScoreRecord(deal_id=deal, probability=p, model_version=version, scored_at=when,
                       band="high" if p >= 0.5 else "low", explanation=Explanation(method=deal),
                       metadata={"run": version})


def test_rescoring_keeps_previous_probability(store):
    add_deals(store, "d1", "d2")
    store.write_scores([score("d1", 0.3, "v1", at(days=1)), score("d2", 0.6, "v1", at(days=1))])
    first = store.latest_scores(["d1"])["d1"]
    assert first.probability == pytest.approx(0.3)
    assert first.previous_probability is None

    store.write_scores([score("d1", 0.7, "v2", at(days=2))])
    latest = store.latest_scores(["d1", "d2", "nope"])
    assert set(latest) == {"d1", "d2"}
    d1 = latest["d1"]
    assert (d1.probability, d1.previous_probability) == (pytest.approx(0.7), pytest.approx(0.3))
    assert d1.model_version == "v2"
    assert d1.scored_at == at(days=2)
    assert d1.band == "high"
    assert d1.explanation == Explanation(method="d1")
    assert d1.metadata == {"run": "v2"}
    assert latest["d2"].probability == pytest.approx(0.6)
    assert latest["d2"].previous_probability is None


# ---- open deals page

# d_closed has the highest score but an outcome: never listed.
SCORES = {"d3": 0.9, "d1": 0.5, "d5": 0.5, "d2": 0.1, "d_closed": 0.99}
EXPECTED_ORDER = ["d3", "d1", "d5", "d2", "d4", "d6"]  # by score desc, ties by id, unscored last


@pytest.fixture
def pipeline(store):
    add_accounts(store, "a1", "a2")
    add_deals(store, "d1", "d2", "d6", "d_closed", account="a1")
    add_deals(store, "d3", "d4", "d5", account="a2")
    store.upsert_nodes("Outcome", [{"id": "o1", "result": "won", "closed_at": T}])
    store.upsert_edges("HAS_OUTCOME", [{"src": "d_closed", "dst": "o1"}])
    store.write_scores([score(d, p) for d, p in SCORES.items()])
    return store


def test_open_deals_order(pipeline):
    page = pipeline.open_deals_page(first=100)
    assert [d["id"] for d in page.deals] == EXPECTED_ORDER
    assert page.total == len(EXPECTED_ORDER)
    assert not page.has_next
    assert [d["_rank"] for d in page.deals[:4]] == pytest.approx([0.9, 0.5, 0.5, 0.1])
    # The snapshot's open deals (what scoring and the owners' health check read) are the page's.
    assert sorted(DealShape.of(pipeline.schema).open_in(pipeline.snapshot())) == sorted(EXPECTED_ORDER)


@pytest.mark.parametrize("size", [1, 2, 4, 6])
def test_open_deals_keyset_walk(pipeline, size):
    seen, after = [], None
    for _ in range(20):
        page = pipeline.open_deals_page(first=size, after=after)
        assert len(page.deals) <= size
        assert page.total == len(EXPECTED_ORDER)
        seen += [d["id"] for d in page.deals]
        if not page.has_next:
            break
        after = (page.deals[-1]["_rank"], page.deals[-1]["id"])
    assert seen == EXPECTED_ORDER


def test_open_deals_account_filter(pipeline):
    page = pipeline.open_deals_page(first=100, account_id="a1")
    assert [d["id"] for d in page.deals] == ["d1", "d2", "d6"]
    assert page.total == 3
    page = pipeline.open_deals_page(first=1, after=(0.5, "d1"), account_id="a1")
    assert [d["id"] for d in page.deals] == ["d2"]
    assert page.has_next
    assert pipeline.open_deals_page(first=5, account_id="nope").total == 0


# ---- concurrency


def test_reader_sees_whole_batches_while_writer_writes(store):
    batch, batches = 25, 40
    done = threading.Event()
    errors: list[BaseException] = []
    seen: list[int] = []

    def write() -> None:
        try:
            for b in range(batches):
                store.upsert_nodes("Account", [{"id": f"a{b:03d}-{i:02d}", "name": "x"} for i in range(batch)])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                seen.append(store.counts()["Account"])
                seen.append(len(store.read_tables()[0]["Account"]))
            seen.append(store.counts()["Account"])
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=write), threading.Thread(target=read)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not errors
    assert seen and all(n % batch == 0 for n in seen)
    assert seen[-1] == batch * batches
    assert seen == sorted(seen)  # a reader never goes back in time


# ---- load bookkeeping: loads, lineage, merges, tombstones (graph.lineage)


def begin(store: GraphStore, load_id: str = "L1", source: str = "/exports/crm") -> None:
    Ledger(store).begin_load(LoadRecord(load_id, source, "salesforce", T))


def test_a_load_is_running_until_finished_and_counts_its_batches(store):
    begin(store)
    add_accounts(store, "a0")  # outside the load: not counted
    store.upsert_nodes("Account", [{"id": "a1", "name": "A"}, {"id": "a2", "name": "B"}], load_id="L1")
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "a1", "dst": "a2"}], load_id="L1")
    [running] = Ledger(store).loads()
    assert (running.state, running.batches, running.rows_written, running.finished) == ("running", 2, 3, None)
    Ledger(store).finish_load("L1", "finished", {"totals": {"read": 3}})
    [done] = Ledger(store).loads("L1")
    assert done.state == "finished" and done.summary == {"totals": {"read": 3}} and done.finished is not None


def test_a_finished_load_marks_earlier_running_loads_of_its_source_interrupted(store):
    Ledger(store).begin_load(LoadRecord("L1", "/x", "salesforce", T))
    Ledger(store).begin_load(LoadRecord("other", "/y", "salesforce", T))
    Ledger(store).begin_load(LoadRecord("L2", "/x", "salesforce", at(seconds=5)))
    Ledger(store).finish_load("L2", "finished")
    states = {r.load_id: r.state for r in Ledger(store).loads()}
    assert states == {"L1": "interrupted", "other": "running", "L2": "finished"}
    assert [r.load_id for r in Ledger(store).loads()][0] == "L2"  # newest first


def test_lineage_names_file_line_and_load_of_a_node_and_its_edges(store):
    begin(store)
    store.upsert_nodes(
        "Account",
        [
            {"id": "a1", "name": "A", "_source_file": "Account.csv", "_source_line": 2},
            {"id": "a2", "name": "P", "_source_file": "Account.csv", "_source_line": 3},
        ],
        load_id="L1",
    )
    store.upsert_edges(
        "SUBSIDIARY_OF", [{"src": "a1", "dst": "a2", "_source_file": "Account.csv", "_source_line": 2}], load_id="L1"
    )
    add_deals(store, "d1", account="a1")  # written outside a load
    [node] = Ledger(store).lineage("a1")
    assert (node.label, node.node_id) == ("Account", "a1")
    assert node.provenance == Provenance("L1", "Account.csv", 2)
    edges = {(e.relation, e.direction): e for e in node.edges}
    assert edges[("SUBSIDIARY_OF", "out")].provenance == Provenance("L1", "Account.csv", 2)
    assert edges[("FOR_ACCOUNT", "in")].src == "d1"
    assert edges[("FOR_ACCOUNT", "in")].provenance == Provenance(None, None, None)
    assert Ledger(store).lineage("nope") == []
    # Lineage is bookkeeping, not graph: reads of the graph do not show it.
    assert "_load_id" not in store.get_node("Account", "a1")
    assert all("_source_file" not in r for r in store.read_tables()[0]["Account"])


def test_end_edges_closes_open_employment_and_keeps_it(store):
    begin(store)
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Jo"}])
    add_accounts(store, "old", "new")
    store.upsert_edges(
        "WORKS_AT",
        [
            {"src": "c1", "dst": "old", "key": "r1", "since": date(2024, 1, 1)},
            {"src": "c1", "dst": "new", "key": "r2", "since": date(2025, 1, 1)},
        ],
    )
    assert (
        Ledger(store).end_edges("WORKS_AT", [("c1", "old", "r1")], date(2025, 6, 1), "L1", "missing from the export")
        == 1
    )
    assert (
        Ledger(store).end_edges("WORKS_AT", [("c1", "old", "r1")], date(2025, 7, 1), "L1", "again") == 0
    )  # already closed
    jobs = {n.node["id"]: n.edge for n in store.neighbours("Contact", ["c1"], "WORKS_AT")["c1"]}
    assert jobs["old"]["until"] == "2025-06-01" and jobs["new"]["until"] is None
    assert Ledger(store).edge_keys("WORKS_AT") == {("c1", "old", "r1"), ("c1", "new", "r2")}


def test_retire_moves_nodes_with_their_edges_to_tombstones(store):
    begin(store)
    add_accounts(store, "a1", "a2")
    add_deals(store, "d1", "d2", account="a1")
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "a2", "dst": "a1"}])
    counts = Ledger(store).retire(
        "L1", {"Deal": ["d1"]}, {"SUBSIDIARY_OF": [("a2", "a1", "")]}, "missing from the export"
    )
    assert counts == {"Deal": 1, "FOR_ACCOUNT": 1, "SUBSIDIARY_OF": 1}
    assert store.node_ids("Deal") == {"d2"} and store.counts()["SUBSIDIARY_OF"] == 0
    assert store.check_integrity() == []
    stones = {(t.kind, t.name, t.ident) for t in Ledger(store).tombstones("L1")}
    assert stones == {
        ("node", "Deal", ("d1",)),
        ("edge", "FOR_ACCOUNT", ("d1", "a1", "")),
        ("edge", "SUBSIDIARY_OF", ("a2", "a1", "")),
    }
    [deal] = [t for t in Ledger(store).tombstones() if t.kind == "node"]
    assert deal.row["name"] == "Deal d1" and deal.reason == "missing from the export" and deal.load_id == "L1"


def test_merges_are_recorded_once_and_undo_restores_the_record(store):
    begin(store)
    add_accounts(store, "keep")
    add_deals(store, "d1", account="keep")
    merge = MergeRecord(
        label="Account",
        kept_id="keep",
        merged_id="dup",
        rule="same_website",
        score=1.0,
        load_id="L1",
        detail="website 'acme.com'",
        merged_row={
            "id": "dup",
            "name": "ACME CORP.",
            "_load_id": "L1",
            "_source_file": "Account.csv",
            "_source_line": 9,
        },
        redirects=(Redirect("FOR_ACCOUNT", "d1", "keep", "", "dst"),),
    )
    [recorded] = Ledger(store).record_merges([merge])
    assert recorded.merge_id is not None and recorded.state == "active"
    [again] = Ledger(store).record_merges([merge])  # the same decision in a later load: one record
    assert again.merge_id == recorded.merge_id and Ledger(store).merges() == [again]  # returned as the books say
    undone = Ledger(store).undo_merge(recorded.merge_id)
    assert undone.state == "undone" and undone.undone_at is not None
    assert store.get_node("Account", "dup")["name"] == "ACME CORP."
    assert Ledger(store).lineage("dup")[0].provenance == Provenance("L1", "Account.csv", 9)
    assert [n.node["id"] for n in store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]] == ["dup"]
    with pytest.raises(InvalidInput):
        Ledger(store).undo_merge(recorded.merge_id)
    with pytest.raises(InvalidInput):
        Ledger(store).undo_merge(999)
    assert Ledger(store).merges("Account", "undone") == [undone]


def test_merging_an_id_that_lives_in_the_graph_moves_its_edges(store):
    begin(store)
    add_accounts(store, "keep", "dup")
    add_deals(store, "d1", account="dup")
    [m] = Ledger(store).record_merges([MergeRecord("Account", "keep", "dup", "same_name", 1.0, "L1")])
    assert store.node_ids("Account") == {"keep"}
    assert [n.node["id"] for n in store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]] == ["keep"]
    assert m.redirects == (Redirect("FOR_ACCOUNT", "d1", "keep", "", "dst"),)
    Ledger(store).undo_merge(m.merge_id)
    assert store.node_ids("Account") == {"keep", "dup"}
    assert [n.node["id"] for n in store.neighbours("Deal", ["d1"], "FOR_ACCOUNT")["d1"]] == ["dup"]


def test_a_merge_fills_job_times_closes_open_stored_jobs_and_undo_empties_them(store):
    begin(store)
    move = date(2024, 9, 15)
    add_accounts(store, "old", "older", "new", created=T - timedelta(days=1000))
    store.upsert_nodes("Contact", [{"id": "c1", "name": "Ann Lee", "created_at": T - timedelta(days=600)}])
    store.upsert_edges(
        "WORKS_AT", [{"src": "c1", "dst": "old"}, {"src": "c1", "dst": "older", "until": date(2023, 1, 1)}]
    )
    # What a load gives when c2 (the same person, created at the move) merges into the stored c1.
    merge = MergeRecord(
        label="Contact",
        kept_id="c1",
        merged_id="c2",
        rule="same_email",
        score=1.0,
        load_id="L1",
        merged_row={"id": "c2", "name": "Ann Lee", "created_at": "2024-09-15T08:00:00Z"},
        redirects=(
            Redirect("WORKS_AT", "c1", "new", "", "src"),
            Redirect("WORKS_AT", "c1", "new", "", None, ("since",)),
        ),
        closes=(Close("WORKS_AT", "c1", "old", "", move), Close("WORKS_AT", "c1", "older", "", move)),
    )
    [m] = Ledger(store).record_merges([merge])
    store.upsert_edges("WORKS_AT", [{"src": "c1", "dst": "new", "since": move}], load_id="L1")
    assert jobs(store, "c1") == {
        ("old", None, "2024-09-15"),
        ("older", None, "2023-01-01"),
        ("new", "2024-09-15", None),
    }
    # Only the job that was open is closed, and only that one is recorded for undo.
    assert Redirect("WORKS_AT", "c1", "old", "", None, ("until",)) in m.redirects
    assert not [r for r in m.redirects if r.dst == "older"]
    for day, employer in (("2024-06-01", "old"), ("2024-12-01", "new")):
        t = datetime.fromisoformat(day).replace(tzinfo=UTC)
        assert ids(store.neighbours("Contact", ["c1"], "WORKS_AT", as_of=t)["c1"]) == {employer}
    [again] = Ledger(store).record_merges([merge])  # a later load with the same decision: nothing closes twice
    assert again.redirects == m.redirects
    Ledger(store).undo_merge(m.merge_id)
    assert jobs(store, "c1") == {("old", None, None), ("older", None, "2023-01-01")}
    assert jobs(store, "c2") == {("new", None, None)}


def test_a_relation_set_aside_by_a_merge_comes_back_on_undo(store):
    begin(store)
    add_accounts(store, "keep", "p1", "p2")
    store.upsert_edges("SUBSIDIARY_OF", [{"src": "keep", "dst": "p1"}])
    parent = SetAside(
        "SUBSIDIARY_OF",
        {"src": "dup", "dst": "p2", "key": "", "_load_id": "L1", "_source_file": "Account.csv", "_source_line": 4},
    )
    merge = MergeRecord(
        label="Account",
        kept_id="keep",
        merged_id="dup",
        rule="same_website",
        score=1.0,
        load_id="L1",
        merged_row={"id": "dup", "name": "Keep Inc"},
        set_aside=(parent,),
    )
    [m] = Ledger(store).record_merges([merge])
    [again] = Ledger(store).record_merges([merge])
    assert m.set_aside == again.set_aside == (parent,)
    assert ids(store.neighbours("Account", ["keep"], "SUBSIDIARY_OF")["keep"]) == {"p1"}
    Ledger(store).undo_merge(m.merge_id)
    assert ids(store.neighbours("Account", ["dup"], "SUBSIDIARY_OF")["dup"]) == {"p2"}
    assert ids(store.neighbours("Account", ["keep"], "SUBSIDIARY_OF")["keep"]) == {"p1"}
    [out] = [e for e in Ledger(store).lineage("dup")[0].edges if e.direction == "out"]
    assert out.provenance == Provenance("L1", "Account.csv", 4)


@pytest.mark.parametrize("how", ["one load", "delta load of the second record"])
def test_a_contact_who_changed_jobs_keeps_both_employments(store, tmp_path, how):
    if how == "one load":
        load_movers(store, write_mover_export(tmp_path / "export"))
    else:
        load_movers(store, write_mover_export(tmp_path / "one", mover_only("003A", "003C")))
        load_movers(store, write_mover_export(tmp_path / "two", mover_only("003B")), mode="delta")
    check_ann_moved(store)
    [merge] = Ledger(store).merges("Contact")
    Ledger(store).undo_merge(merge.merge_id)
    assert store.node_ids("Contact") == {"003A", "003B", "003C"}
    assert jobs(store, "003A") == {("001OLD", None, None)} and jobs(store, "003B") == {("001NEW", None, None)}
    assert ids(store.neighbours("Deal", ["006N"], "INVOLVES")["006N"]) == {"003B"}
    assert MOVED not in str(store.read_tables()[1]["WORKS_AT"])  # no time the merge made up is left


def test_integrity_check_finds_edges_without_ends(store):
    assert store.check_integrity() == []
